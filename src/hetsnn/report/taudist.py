"""Learned membrane time constants against biology (docs/specification.md, experiment 4).

For every task of a run directory, the hidden-layer tau_m of the final centres (all seeds
pooled) of the run that trained tau_m with the most properties and the most neurons; for
biology, ``ef__tau`` of the Allen Cell Types populations in
:data:`hetsnn.data.allen.POPULATIONS`. Gamma and lognormal fits with location 0 (see
:mod:`hetsnn.analysis.distributions` for which number is the shape and which the scale).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hetsnn import storage  # noqa: E402
from hetsnn.analysis.distributions import FAMILIES, fit_all  # noqa: E402
from hetsnn.data.images import DataNotFound  # noqa: E402
from hetsnn.report import biology  # noqa: E402
from hetsnn.report.common import csv_table, finished_points, fmt, save_figure  # noqa: E402
from hetsnn.rundir import read_centres, read_config  # noqa: E402


def task_label(task: dict) -> str:
    """``"hopper"`` for a Brax task, else the task's name."""
    return task.get("env", task["name"])


def learned_time_constants(run_dir: Path, manifest: dict) -> dict[str, np.ndarray]:
    """Per task: learned tau_m in ms, ``(seeds * n_hidden,)``, of its chosen run."""
    chosen: dict[str, tuple] = {}
    for _, folder in finished_points(run_dir, manifest):
        config = read_config(folder)
        if "tau_m" not in config.trainable:
            continue
        rank = (len(config.trainable), config.network.n_hidden)
        label = task_label(config.to_dict()["task"])
        if label not in chosen or rank > chosen[label][0]:
            chosen[label] = (rank, folder)
    return {label: read_centres(folder)["tau_m"].ravel() for label, (_, folder) in chosen.items()}


def report_section(run_dir: Path, manifest: dict, out: Path) -> str:
    """Markdown table of the fits; writes ``taudist.png`` and ``taudist.csv``."""
    samples = {f"model: {k}": v for k, v in learned_time_constants(run_dir, manifest).items()}
    if not samples:
        return ""
    note = ""
    try:
        taus, origin = biology.time_constants(out)
        samples.update({f"biology: {k}": v for k, v in taus.items()})
        note = f"\nBiology rows: {origin}.\n" if origin else ""
    except DataNotFound as error:
        note = f"\nNo biological reference: {error}\n"
    fits = {label: fit_all(x) for label, x in samples.items()}
    rows = []
    for label, x in samples.items():
        gamma, lognormal = fits[label]["gamma"], fits[label]["lognormal"]
        better = max(fits[label].values(), key=lambda f: f.log_likelihood).family
        rows.append(
            {
                "population": label,
                "n": x.size,
                "mean_ms": float(x.mean()),
                "std_ms": float(x.std()),
                "gamma_shape": gamma.shape,
                "gamma_scale_ms": gamma.scale,
                "lognormal_shape": lognormal.shape,
                "lognormal_scale_ms": lognormal.scale,
                "gamma_ks": gamma.ks_statistic,
                "lognormal_ks": lognormal.ks_statistic,
                "higher_likelihood": better,
            }
        )
    storage.atomic_write_bytes(out / "taudist.csv", csv_table(rows).encode())
    lines = [
        "\n## Membrane time constants: learned vs measured\n",
        "| population | cells | mean ± std (ms) | gamma shape k | gamma scale θ (ms) "
        "| lognormal shape σ | lognormal scale e^μ (ms) | KS gamma / lognormal |",
        "|" + " --- |" * 8,
    ]
    for r in rows:
        lines.append(
            f"| {r['population']} | {r['n']} | {fmt(r['mean_ms'])} ± {fmt(r['std_ms'], 2)} "
            f"| {fmt(r['gamma_shape'])} | {fmt(r['gamma_scale_ms'])} "
            f"| {fmt(r['lognormal_shape'])} | {fmt(r['lognormal_scale_ms'])} "
            f"| {fmt(r['gamma_ks'], 2)} / {fmt(r['lognormal_ks'], 2)} |"
        )
    lines += [
        "",
        "Maximum-likelihood fits with location 0 (scipy.stats). Gamma: shape k, scale θ, "
        "mean kθ. Lognormal: shape σ = std of log tau, scale e^μ = median. Model rows: the "
        "hidden neurons of the final centres of the run that trained tau_m with the most "
        "properties and neurons, seeds pooled; the untrained value is 20 ms for every neuron.",
        note,
    ]
    taudist_figure(samples, fits, out / "taudist.png")
    return "\n".join(lines) + "\n"


def taudist_figure(samples: dict, fits: dict, path: Path) -> None:
    """Histograms with both fitted densities, one panel per population (model and biology)."""
    fig, axes = plt.subplots(
        1, len(samples), figsize=(3.4 * len(samples), 3.0), dpi=110, squeeze=False
    )
    for ax, (label, x) in zip(axes.flat, samples.items(), strict=True):
        top = float(np.quantile(x, 0.995))
        ax.hist(x, bins=40, range=(0, top), density=True, color="0.75", label="data")
        grid = np.linspace(top / 400, top, 400)
        for i, family in enumerate(FAMILIES):
            ax.plot(grid, fits[label][family].pdf(grid), color=f"C{i}", label=family)
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("tau_m (ms)")
    axes[0, 0].set_ylabel("density")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
