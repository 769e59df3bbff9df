"""How heterogeneity emerges during training, from ``properties.jsonl`` (see hetsnn.train.loop).

Per run that trained neuron properties: the spread of every trained property over the
hidden layer at each checkpoint (mean over seeds): its coefficient of variation (std /
|mean|), except for v_rest, whose default is 0, where the cv measures the mean rather than
the spread and the std is shown instead; and the
Kolmogorov-Smirnov distance of the learned tau_m to the gamma distribution fitted
(location 0) to the Allen mouse VISp L4 spiny cells. The distance is evaluated at the 101
recorded quantiles of each seed's tau_m, so it is exact to within 0.01 (plus 1 / n_hidden);
without the Allen table the report says so and plots the cv alone.
"""

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hetsnn.analysis.distributions import fit  # noqa: E402
from hetsnn.data import allen  # noqa: E402
from hetsnn.data.images import DataNotFound  # noqa: E402
from hetsnn.model.neuron_models import NEURON_MODELS  # noqa: E402
from hetsnn.report import biology  # noqa: E402
from hetsnn.report.common import finished_points, fmt, save_figure  # noqa: E402
from hetsnn.rundir import PROPERTIES, QUANTILES, read_rows  # noqa: E402

# every registered model's properties, in table order; the spread statistic shown is the
# std for properties centred near 0 (a rest potential, a direct one such as ALIF's beta),
# else the coefficient of variation
_ROWS = {p.name: p for model in NEURON_MODELS.values() for p in model.properties}
PROPERTY_NAMES = tuple(_ROWS)
SPREAD = {name: "std" if p.kind in ("rest", "direct") else "cv" for name, p in _ROWS.items()}


def allen_reference(out: Path):
    """The gamma fit to the Allen mouse VISp L4 spiny cells and where the cells' values came
    from (:func:`hetsnn.report.biology.time_constants`, never a download: a report reads
    local files only), or ``(None, "")`` without them."""
    try:
        taus, origin = biology.time_constants(out, download=False)
    except DataNotFound:
        return None, ""
    return fit(taus[allen.POPULATIONS[0].label], "gamma"), origin


def ks_to_reference(quantiles: np.ndarray, reference) -> np.ndarray:
    """KS distance ``(seeds,)`` between samples given by their quantiles at ``QUANTILES``
    (``(seeds, 101)``, ms) and the fitted distribution ``reference``."""
    from scipy import stats

    cdf = stats.gamma.cdf(np.asarray(quantiles), reference.shape, scale=reference.scale)
    return np.abs(cdf - QUANTILES).max(axis=-1)


def trajectories(run_dir: Path, manifest: dict, reference) -> list[dict]:
    """One row per finished point with properties.jsonl: generations, the spread of each
    property (``SPREAD``, mean over seeds), the tau_m KS distance when ``reference``."""
    rows = []
    for point, folder in finished_points(run_dir, manifest):
        if not (folder / PROPERTIES).exists():
            continue
        history = read_rows(folder / PROPERTIES, required=True)
        props = [p for p in PROPERTY_NAMES if p in history[0]]
        row = {
            "arm": point["arm"],
            "x": point["x"],
            "generations": np.array([h["generation"] for h in history]),
            "spread": {p: np.array([np.mean(h[p][SPREAD[p]]) for h in history]) for p in props},
        }
        if reference is not None and "tau_m" in props:
            row["ks"] = np.array(
                [ks_to_reference(h["tau_m"]["quantiles"], reference).mean() for h in history]
            )
        rows.append(row)
    return rows


def section(run_dir: Path, manifest: dict, out: Path) -> str:
    """Markdown lines (first -> last checkpoint) and ``heterogeneity.png``; "" when no
    point recorded its properties."""
    reference, origin = allen_reference(out)
    rows = trajectories(run_dir, manifest, reference)
    if not rows:
        return ""
    text = (
        "\nHeterogeneity over training, first -> last checkpoint (mean over seeds): "
        "spread of each trained property over the hidden layer (cv; std for "
        + ", ".join(n for n in PROPERTY_NAMES if SPREAD[n] == "std")
        + ")"
        + ("; tau_m's KS distance to the gamma fit of Allen mouse VISp L4 spiny cells"
           + (f" ({origin})" if origin else "") + "\n"
           if reference is not None else
           "; no Allen Cell Types table here, so no KS distance to biology\n")
    )  # fmt: skip
    for r in rows:
        spreads = ", ".join(f"{p} {fmt(v[0])} -> {fmt(v[-1])}" for p, v in r["spread"].items())
        ks = f"; KS {fmt(r['ks'][0])} -> {fmt(r['ks'][-1])}" if "ks" in r else ""
        text += f"- {r['arm']}, {manifest['x_label']} {r['x']:g}: {spreads}{ks}\n"
    save_figure(_figure(manifest, rows, reference is not None), out / "heterogeneity.png")
    return text


def _figure(manifest: dict, rows: list[dict], with_ks: bool):
    props = [p for p in PROPERTY_NAMES if any(p in r["spread"] for r in rows)]
    panels = props + (["ks"] if with_ks else [])
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels), 3.4), squeeze=False, layout="constrained"
    )
    for i, r in enumerate(rows):
        label, style = f"{r['arm']}, {r['x']:g}", dict(color=f"C{i % 10}", lw=1.2)
        for ax, panel in zip(axes[0], panels, strict=True):
            values = r.get("ks") if panel == "ks" else r["spread"].get(panel)
            if values is not None:
                ax.plot(r["generations"], values, label=label, **style)
    for ax, panel in zip(axes[0], panels, strict=True):
        ylabel = "KS distance to Allen mouse L4" if panel == "ks" else f"{SPREAD[panel]} of {panel}"
        ax.set(xlabel="generation", ylabel=ylabel)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize="x-small")
    fig.suptitle(f"{manifest['experiment']}: heterogeneity of the trained centres over training "
                 "(mean over seeds)")  # fmt: skip
    return fig
