"""Heterogeneity controls: does diversity itself matter, or only where training moved the mean?

Training per-neuron properties does two things at once: it spreads them out and it moves
their average. Each control below re-scores a run's trained centres after changing one
property (or all trained ones together) in a way that keeps one of those and removes the
other, on the run's own evaluation episodes or test split:

* ``homogenise``: every neuron gets the property's mean over the layer (keeps the mean,
  removes the diversity);
* ``permute``: the values are shuffled across neurons (keeps the distribution, breaks each
  value's pairing with its neuron's weights);
* ``resample``: fresh values from the distribution fitted to the learned ones (keeps the
  distribution's shape, drops every individual value): the better of a gamma and a
  lognormal fit (location 0) for a positive property, a normal fit otherwise;
* ``quantise-k``: k levels, each neuron's value replaced by the mean of its quantile bin
  (k = 2, 4, 8: how many distinct neuron types are needed);
* ``reset``: back to the homogeneous default, the untrained value.

Each seed's layer is transformed on its own. A resampled tau_m is floored just above dt,
the reparameterisation's bound. The table gives the mean change of the score over seeds
with a 95 % bootstrap interval over the paired seed differences (scipy.stats.bootstrap,
percentile method); with one seed there is no interval.
"""

from pathlib import Path

import matplotlib
import numpy as np
from scipy import stats

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hetsnn import storage  # noqa: E402
from hetsnn.analysis.distributions import fit_all  # noqa: E402
from hetsnn.analysis.intervals import mean_interval  # noqa: E402
from hetsnn.errors import RunDirError  # noqa: E402
from hetsnn.model.neuron_models import NEURON_MODELS, model_of  # noqa: E402
from hetsnn.report.common import (  # noqa: E402
    csv_table,
    finished_points,
    fmt,
    read_manifest,
    save_figure,
)
from hetsnn.rundir import centres_to_params, read_centres, read_config  # noqa: E402
from hetsnn.train.programs import evaluate_params  # noqa: E402
from hetsnn.train.spec import RunSpec  # noqa: E402

TRANSFORMS = (
    "homogenise",
    "permute",
    "resample",
    "quantise-2",
    "quantise-4",
    "quantise-8",
    "reset",
)
ALL = "all"  # every trained property transformed together
TAU_FLOOR = 1.001  # resampled time constants (tau_m, tau_a) >= TAU_FLOOR * dt
# one colour per property everywhere: every registered model's properties, then ALL
COLOURS = (*dict.fromkeys(n for m in NEURON_MODELS.values() for n in m.names), ALL)


def _quantise(row: np.ndarray, levels: int) -> np.ndarray:
    """Each value replaced by the mean of its quantile bin (``levels`` bins)."""
    inner = np.quantile(row, np.linspace(0, 1, levels + 1)[1:-1])
    bins = np.searchsorted(inner, row, side="right")
    means = np.array([row[bins == b].mean() if (bins == b).any() else 0.0 for b in range(levels)])
    return means[bins]


def _resample(row: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``row.size`` draws from the distribution fitted to ``row``."""
    if np.ptp(row) == 0:
        return row.copy()
    if np.all(row > 0):
        best = max(fit_all(row).values(), key=lambda f: f.log_likelihood)
        family = {"gamma": stats.gamma, "lognormal": stats.lognorm}[best.family]
        return family.rvs(best.shape, scale=best.scale, size=row.size, random_state=rng)
    return rng.normal(row.mean(), row.std(), size=row.size)


def transform(
    values: np.ndarray, name: str, default: float, rng: np.random.Generator
) -> np.ndarray:
    """``values: (seeds, n_hidden)`` of one property after the control ``name``."""
    values = np.asarray(values, dtype=np.float64)
    if name == "homogenise":
        return np.broadcast_to(values.mean(axis=-1, keepdims=True), values.shape).copy()
    if name == "permute":
        return np.stack([rng.permutation(row) for row in values])
    if name == "resample":
        return np.stack([_resample(row, rng) for row in values])
    if name.startswith("quantise-"):
        return np.stack([_quantise(row, int(name.split("-")[1])) for row in values])
    if name == "reset":
        return np.full_like(values, default)
    raise ValueError(f"unknown control {name!r}: choose one of {TRANSFORMS}")


def paired_interval(deltas: np.ndarray) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the mean of per-seed differences
    (:func:`hetsnn.analysis.intervals.mean_interval`); NaNs with fewer than two seeds."""
    deltas = np.asarray(deltas, dtype=np.float64)
    if deltas.size < 2:
        return float("nan"), float("nan")
    _, low, high = mean_interval(deltas)
    return float(low), float(high)


def controlled_arrays(arrays: dict, config, prop: str, name: str, rng) -> dict:
    """``centres.npz`` arrays with control ``name`` applied to ``prop`` (or to every
    trained property when ``prop`` is ``ALL``)."""
    neuron = config.network.neuron
    model = model_of(neuron)
    changed = dict(arrays)
    for p in trained_properties(config) if prop == ALL else (prop,):
        row = model.property(p)
        key = row.stored  # also the neuron config's field holding the default
        values = transform(arrays[key], name, getattr(neuron, key), rng)
        if row.kind == "time_constant":
            values = np.maximum(values, TAU_FLOOR * neuron.dt)
        changed[key] = values.astype(np.float32)
    return changed


def trained_properties(config) -> tuple[str, ...]:
    """The neuron properties ``config`` trains, in its model's table order."""
    return tuple(p for p in model_of(config.network.neuron).names if p in config.trainable)


def point_controls(folder: Path, seed: int = 0) -> list[dict]:
    """Every control on every trained property of one finished run: one row each, with
    the per-seed scores, their change from the trained centres and its interval."""
    config = read_config(folder)
    properties = trained_properties(config)
    if not properties:
        return []
    spec, neuron = RunSpec.from_config(config), config.network.neuron
    arrays = read_centres(folder, neuron)
    data = spec.task.load_data("test")

    def score(arrays):
        params = centres_to_params(arrays, neuron)
        return np.asarray(evaluate_params(spec, params, data, config.eval_episodes, config.seed))

    baseline = score(arrays)
    rng = np.random.default_rng(seed)
    rows = []
    for prop in (*properties, ALL) if len(properties) > 1 else properties:
        for name in TRANSFORMS:
            scores = score(controlled_arrays(arrays, config, prop, name, rng))
            deltas = scores - baseline
            low, high = paired_interval(deltas)
            rows.append({
                "property": prop, "control": name, "baseline": float(baseline.mean()),
                "score": float(scores.mean()), "change": float(deltas.mean()),
                "low": low, "high": high, "seeds": int(deltas.size),
            })  # fmt: skip
    return rows


def run_controls(run_dir: Path) -> str:
    """Apply every control to every finished point of ``run_dir`` that trained neuron
    properties; write ``report/controls.md``, ``controls.csv`` and ``controls.png``; return
    the Markdown."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    panels = []
    for point, folder in finished_points(run_dir, manifest):
        rows = point_controls(folder)
        if rows:
            panels.append((point, rows))
    if not panels:
        raise RunDirError(
            f"{run_dir} has no finished run that trained neuron properties: nothing to probe"
        )
    lines = [
        f"# Heterogeneity controls: {manifest['experiment']} ({manifest['preset']})",
        "",
        "Change of the final score after each control (mean over seeds, 95 % bootstrap "
        "interval of the paired seed differences); the trained score in each heading.",
    ]
    for point, rows in panels:
        lines += ["", f"## {point['arm']}, {manifest['x_label']} {point['x']:g}: "
                  f"trained {fmt(rows[0]['baseline'])} ({rows[0]['seeds']} seeds)", ""]  # fmt: skip
        props = list(dict.fromkeys(r["property"] for r in rows))
        lines += ["| control | " + " | ".join(props) + " |", "| --- |" + " --- |" * len(props)]
        by = {(r["property"], r["control"]): r for r in rows}
        for name in TRANSFORMS:
            cells = [_cell(by[(p, name)], fmt) for p in props]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    out = run_dir / "report"
    flat = [{"arm": pt["arm"], "x": pt["x"], **r} for pt, rows in panels for r in rows]
    storage.atomic_write_bytes(out / "controls.md", table.encode())
    storage.atomic_write_bytes(out / "controls.csv", csv_table(flat).encode())
    save_figure(_figure(manifest, panels), out / "controls.png")
    return table


def _cell(row: dict, fmt) -> str:
    if np.isnan(row["low"]):
        return f"{fmt(row['change'])}"
    return f"{fmt(row['change'])} [{fmt(row['low'])}, {fmt(row['high'])}]"


def _figure(manifest: dict, panels: list):
    cols = min(len(panels), 3)
    rows_n = -(-len(panels) // cols)
    fig, axes = plt.subplots(
        rows_n, cols, figsize=(5.2 * cols, 3.6 * rows_n), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (point, rows) in zip(axes.flat, panels, strict=False):
        props = list(dict.fromkeys(r["property"] for r in rows))
        width = 0.8 / len(props)
        by = {(r["property"], r["control"]): r for r in rows}
        for i, prop in enumerate(props):
            x = np.arange(len(TRANSFORMS)) + (i - (len(props) - 1) / 2) * width
            change = np.array([by[(prop, t)]["change"] for t in TRANSFORMS])
            low = np.array([by[(prop, t)]["low"] for t in TRANSFORMS])
            high = np.array([by[(prop, t)]["high"] for t in TRANSFORMS])
            err = None if np.isnan(low).all() else np.stack([change - low, high - change])
            color = f"C{COLOURS.index(prop) % 10}"
            ax.bar(x, change, width, yerr=err, capsize=2, color=color, label=prop)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(np.arange(len(TRANSFORMS)), TRANSFORMS, rotation=35, ha="right")
        ax.set(
            ylabel="change of score",
            title=f"{point['arm']}, {point['x']:g} ({rows[0]['seeds']} seeds)",
        )
    legend = {}
    for ax in axes.flat[: len(panels)]:
        legend.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=len(legend))
    fig.suptitle(
        f"score change after each control (panels: arm, {manifest['x_label']}); bars: mean "
        "over seeds, whiskers: 95 % bootstrap interval of the paired differences"
    )
    return fig
