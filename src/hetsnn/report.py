"""Tables and figures rebuilt from a run directory alone.

``build_report(run_dir)`` writes into ``run_dir/report/``:

* ``table.md`` / ``table.csv``: per arm and x, the final centre's reward (mean +- std over
  seeds) and the reward of all individuals of the last generation (pooled over seeds);
* ``reward.png``: final reward vs x per arm: every seed as a dot, the mean with its 95 %
  bootstrap interval (:mod:`hetsnn.analysis.intervals`);
* ``curves.png``: the centre's reward over generations (or training episodes), one panel per
  x, mean over seeds with its bootstrap interval;
* ``membrane.png`` (BPTT runs): distribution of the pre-reset potential relative to
  threshold during training, with the share of local BPTT factors above 1;
* ``firing-<x>.png`` (runs with firing-rate probes, e.g. classification): heat maps of the
  per-class mean firing rate of the probed hidden neurons (neurons x classes), one row per
  arm, one column per recorded generation (seed 0);
* ``firing-rate.png``: the mean firing rate of all hidden neurons over training, per arm;
* ``heterogeneity.png`` (runs that train neuron properties): each property's coefficient of
  variation over training and tau_m's distance to biology (:mod:`hetsnn.analysis.trajectories`);
* the experiment's own sections (``Experiment.sections``), appended to ``table.md``: the
  ablation table, Shapley values and ``shapley.png`` (:mod:`hetsnn.analysis.ablation`);
  learned vs measured time constants, ``taudist.csv`` and ``taudist.png``
  (:mod:`hetsnn.analysis.taudist`); decision margins of the memory task, ``margins.csv``
  and ``margins.png`` (:mod:`hetsnn.analysis.margins`).
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from hetsnn import storage  # noqa: E402
from hetsnn.analysis.intervals import caption, mean_interval  # noqa: E402
from hetsnn.errors import RunDirError  # noqa: E402
from hetsnn.experiments.base import MANIFEST  # noqa: E402
from hetsnn.run import METRICS, PROBES, RESULT  # noqa: E402


def pooled_mean_std(means, stds) -> tuple[float, float]:
    """Mean and std of the union of equally sized groups given each group's mean and std."""
    means, stds = np.asarray(means, float), np.asarray(stds, float)
    mean = means.mean()
    return float(mean), float(np.sqrt(np.mean(stds**2 + (means - mean) ** 2)))


def collect(run_dir: Path) -> tuple[dict, list[dict]]:
    """The experiment manifest and one summary row per finished point."""
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).exists():
        raise RunDirError(
            f"{run_dir} holds no experiment ({MANIFEST} missing): run `hetsnn run` first"
        )
    manifest = read_manifest(run_dir)
    rows = []
    for point, folder in finished_points(run_dir, manifest):
        result = storage.read_json(folder / RESULT, dict)
        try:
            rows.append(
                {
                    "arm": point["arm"],
                    "x": point["x"],
                    "name": point["name"],
                    **summarise(result),
                    "trainable_parameters": result["trainable_parameters"],
                    "seconds_per_generation": result["timing"]["seconds_per_generation"],
                    "env_steps_per_second": result["timing"]["env_steps_per_second"],
                }
            )
        except (KeyError, TypeError, ValueError) as error:
            raise storage.DamagedFile(
                f"{folder / RESULT} is damaged (no valid {error}): remove {folder} and "
                "resume the experiment to retrain that point"
            ) from None
    return manifest, rows


def read_manifest(run_dir: Path) -> dict:
    """``run_dir``'s experiment.json, checked to list its points."""
    manifest = storage.read_json(Path(run_dir) / MANIFEST, dict)
    points = manifest.get("points")
    if not isinstance(points, list) or not all(
        isinstance(p, dict) and {"name", "arm", "x"} <= set(p) for p in points
    ):
        raise storage.DamagedFile(
            f"{Path(run_dir) / MANIFEST} is damaged (its points are not a list of "
            "{name, arm, x}): restore it, or rerun the experiment into a new directory"
        )
    return manifest


def finished_points(run_dir: Path, manifest: dict) -> Iterator[tuple[dict, Path]]:
    """``(point, its run directory)`` for every point of ``manifest`` that has finished."""
    for point in manifest["points"]:
        folder = Path(run_dir) / "points" / point["name"]
        if (folder / RESULT).exists():
            yield point, folder


def summarise(result: dict) -> dict:
    """Seeds, the final centre's reward (each seed's, mean, std) and the last generation's
    population reward (pooled over seeds) of one run's result."""
    centre = np.asarray(result["final_centre_reward"], float)
    pop_mean, pop_std = pooled_mean_std(
        result["last_generation_reward_mean"], result["last_generation_reward_std"]
    )
    return {
        "seeds": centre.size,
        "centre_values": centre.tolist(),
        "centre_mean": float(centre.mean()),
        "centre_std": float(centre.std()),
        "population_mean": pop_mean,
        "population_std": pop_std,
    }


def cell(summary: dict | None) -> str:
    """A table cell 'centre mean ± std (population mean ± std)' of :func:`summarise`."""
    if summary is None:
        return "not run"
    return (
        f"{fmt(summary['centre_mean'])} ± {fmt(summary['centre_std'], 2)} "
        f"({fmt(summary['population_mean'])} ± {fmt(summary['population_std'], 2)})"
    )


def fmt(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, without exponent notation."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - int(np.floor(np.log10(abs(value)))))
    return f"{value:.{decimals}f}"


def markdown_table(manifest: dict, rows: list[dict]) -> str:
    """x rows, arm columns; cells 'centre mean +- std (population mean +- std)'."""
    arms = list(dict.fromkeys(p["arm"] for p in manifest["points"]))
    cells = {(r["arm"], r["x"]): r for r in rows}
    xs = sorted({p["x"] for p in manifest["points"]})
    header = f"| {manifest['x_label']} | " + " | ".join(arms) + " |"
    lines = [header, "|" + " --- |" * (len(arms) + 1)]
    for x in xs:
        row = [f"{x:g}"]
        row += [cell(cells.get((arm, x))) for arm in arms]
        lines.append("| " + " | ".join(row) + " |")
    seeds = sorted({r["seeds"] for r in rows})
    params = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["x"]):
        if r["trainable_parameters"] not in params[r["arm"]]:
            params[r["arm"]].append(r["trainable_parameters"])
    lines += [
        "",
        f"Cells: {manifest['y_label']}, mean ± std over {'/'.join(map(str, seeds))} seeds; in "
        "brackets, the training fitness of the last generation's population (ES) or sampled "
        "batch (BPTT), pooled over seeds.",
        "Trainable parameters: "
        + ", ".join(f"{a} {' / '.join(f'{n:,}' for n in ns)}" for a, ns in params.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def csv_table(rows: list[dict]) -> str:
    """CSV of ``rows``; a list (e.g. one value per seed) becomes space-separated values."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()}
            )
    return buffer.getvalue()


def reward_figure(manifest: dict, rows: list[dict], path: Path) -> None:
    """Final score vs x per arm: every seed as a dot, the mean as a line, and its 95 %
    bootstrap interval as a band (which, unlike mean +- std, stays within the score's
    bounds). Arms are shifted sideways a little so their dots do not cover each other."""
    by_arm = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["x"]):
        by_arm[r["arm"]].append(r)
    xs = sorted({r["x"] for r in rows})
    shift = 0.012 * (xs[-1] - xs[0] if len(xs) > 1 else 1.0)
    fig, ax = plt.subplots(figsize=(7.5, 4), dpi=120)
    for i, (arm, arm_rows) in enumerate(by_arm.items()):
        x = np.array([r["x"] for r in arm_rows]) + (i - (len(by_arm) - 1) / 2) * shift
        mean, low, high = zip(*(mean_interval(r["centre_values"]) for r in arm_rows), strict=True)
        (line,) = ax.plot(x, mean, marker="o", markersize=3, label=arm)
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        for xi, r in zip(x, arm_rows, strict=True):
            seeds = np.asarray(r["centre_values"])
            ax.scatter(np.full(seeds.size, xi), seeds, s=8, color=line.get_color(), alpha=0.45,
                       linewidths=0)  # fmt: skip
    ax.set_xlabel(manifest["x_label"])
    ax.set_ylabel(manifest["y_label"])
    ax.set_title(
        f"{manifest['experiment']} ({manifest['preset']} preset)\ndots: seeds; "
        + caption([r["seeds"] for r in rows]),
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    save_figure(fig, path)


def curves_figure(run_dir: Path, manifest: dict, path: Path) -> None:
    """The centre's score over training, one panel per x: the mean over seeds with its
    95 % bootstrap interval as a band; the legend sits below the panels."""
    xs = sorted({p["x"] for p in manifest["points"]})
    cols = min(3, len(xs))
    nrows = -(-len(xs) // cols)
    fig, axes = plt.subplots(
        nrows, cols, figsize=(4 * cols, 3 * nrows + 0.6), dpi=100, squeeze=False, sharey=True
    )
    colours, seeds = {}, set()
    by_episodes = manifest.get("curve_x") == "episodes"
    for point, folder in finished_points(run_dir, manifest):
        metrics = storage.read_jsonl(folder / METRICS)
        if not metrics:
            continue
        ax = axes.flat[xs.index(point["x"])]
        generation = np.array([m["generation"] for m in metrics])
        if by_episodes:
            result = storage.read_json(folder / RESULT)
            generation = generation * result["training_episodes_per_generation"]
        centre = np.array([m["centre_reward"] for m in metrics])  # (generations, seeds)
        seeds.add(centre.shape[1])
        mean, low, high = mean_interval(centre, axis=1)
        colour = colours.setdefault(point["arm"], f"C{len(colours)}")
        ax.plot(generation, mean, color=colour, label=point["arm"], linewidth=1)
        ax.fill_between(generation, low, high, color=colour, alpha=0.2, linewidth=0)
        ax.set_title(f"{manifest['x_label']} = {point['x']:g}", fontsize=9)
    for ax in axes.flat[: len(xs)]:
        ax.set_xlabel("training episodes" if by_episodes else "generation")
        ax.set_ylabel("the centre's training fitness", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(xs) :]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=c, label=a) for a, c in colours.items()]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=8)
    fig.suptitle(caption(sorted(seeds) or [0]), fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    save_figure(fig, path)


def membrane_summary(run_dir: Path, manifest: dict) -> list[dict]:
    """Per BPTT point: the histogram of ``u - v_th`` summed over training, and the mean
    fraction of local BPTT factors above 1. Empty for runs without those metrics."""
    from hetsnn.optim.gradient import U_EDGES

    rows = []
    for point in manifest["points"]:
        metrics = storage.read_jsonl(run_dir / "points" / point["name"] / METRICS)
        if not metrics or "u_histogram" not in metrics[0]:
            continue
        histogram = np.sum([m["u_histogram"] for m in metrics], axis=(0, 1))
        above_one = float(np.mean([m["jacobian_above_one"] for m in metrics]))
        rows.append({**point, "histogram": histogram, "edges": U_EDGES, "above_one": above_one})
    return rows


def membrane_figure(manifest: dict, rows: list[dict], path: Path) -> None:
    xs = sorted({r["x"] for r in rows})
    fig, axes = plt.subplots(1, len(xs), figsize=(4 * len(xs), 3.2), dpi=100, squeeze=False)
    for r in rows:
        ax = axes[0, xs.index(r["x"])]
        edges = np.asarray(r["edges"])
        density = r["histogram"] / max(r["histogram"].sum(), 1) / np.diff(edges)
        ax.stairs(density, edges, label=f"{r['arm']} ({100 * r['above_one']:.2g}% > 1)")
        ax.set_title(f"{manifest['x_label']} = {r['x']:g}", fontsize=9)
    for ax in axes.flat:
        ax.axvline(0.0, color="k", linestyle="--", linewidth=1)
        ax.text(0.05, 0.97, "threshold", transform=ax.get_xaxis_transform(), fontsize=7, va="top")
        ax.set_yscale("log")
        ax.set_xlabel("pre-reset potential u - v_th (clipped to ±3)")
        ax.legend(fontsize=6, title="share of |dv/dv_prev| > 1", title_fontsize=6)
    axes[0, 0].set_ylabel("density during BPTT training")
    fig.tight_layout()
    save_figure(fig, path)


def probe_summary(run_dir: Path, manifest: dict) -> list[dict]:
    """Per point with recorded probes: generations ``(G,)``, ``class_rates (G, seeds, n, 10)``
    and ``mean_rate (G, seeds)`` in Hz. Empty for runs without probes."""
    rows = []
    for point in manifest["points"]:
        probes = storage.read_jsonl(run_dir / "points" / point["name"] / PROBES)
        if not probes:
            continue
        rows.append(
            {
                **point,
                "generations": np.array([p["generation"] for p in probes]),
                "class_rates": np.array([p["class_rates"] for p in probes], float),
                "mean_rate": np.array([p["mean_rate"] for p in probes], float),
            }
        )
    return rows


def _silent(row: dict, probe: int) -> float:
    """Share of probed neurons (all seeds) whose rate averaged over classes is below 1 Hz."""
    return float((row["class_rates"][probe].mean(axis=-1) < 1.0).mean())


def _selectivity(row: dict, probe: int) -> float:
    """Std of a probed neuron's rate across classes (Hz), averaged over neurons and seeds."""
    return float(row["class_rates"][probe].std(axis=-1).mean())


def _columns(generations: np.ndarray, most: int = 4) -> list[int]:
    """Indices of up to ``most`` recorded generations, first and last included."""
    picks = np.linspace(0, len(generations) - 1, min(most, len(generations)))
    return sorted(set(np.round(picks).astype(int).tolist()))


def firing_heatmaps(rows: list[dict], x: float, x_label: str, path: Path) -> None:
    """Neurons x classes heat maps of seed 0, one row per arm, columns over training."""
    rows = [r for r in rows if r["x"] == x]
    columns = max(len(_columns(r["generations"])) for r in rows)
    top = max(float(r["class_rates"][:, 0].max()) for r in rows) or 1.0
    fig, axes = plt.subplots(
        len(rows), columns, figsize=(2.2 * columns + 1, 2.6 * len(rows)), dpi=100, squeeze=False
    )
    image = None
    for i, r in enumerate(rows):
        picks = _columns(r["generations"])
        for j in range(columns):
            ax = axes[i, j]
            if j >= len(picks):
                ax.set_visible(False)
                continue
            rates = r["class_rates"][picks[j], 0]  # (neurons, classes)
            image = ax.imshow(rates, aspect="auto", cmap="magma", vmin=0, vmax=top)
            ax.set_title(f"{r['arm']}\ngeneration {r['generations'][picks[j]]}", fontsize=7)
            ax.set_xticks(range(rates.shape[1]))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.tick_params(labelsize=6)
            ax.set_xlabel("class", fontsize=7)
            if j == 0:
                ax.set_ylabel("probed neuron", fontsize=7)
    fig.suptitle(f"per-class firing rate, {x_label} {x:g} (seed 0)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.86, 0.97))
    colourbar = fig.add_axes((0.88, 0.15, 0.02, 0.7))
    fig.colorbar(image, cax=colourbar, label="Hz")
    save_figure(fig, path)


def firing_rate_figure(manifest: dict, rows: list[dict], path: Path) -> None:
    """Mean firing rate of all hidden neurons vs generation, one panel per x: the mean over
    seeds with its 95 % bootstrap interval."""
    xs = sorted({r["x"] for r in rows})
    fig, axes = plt.subplots(
        1, len(xs), figsize=(4.5 * len(xs), 3.6), dpi=100, squeeze=False, sharey=True
    )
    colours = {}
    for r in rows:
        ax = axes[0, xs.index(r["x"])]
        mean, low, high = mean_interval(r["mean_rate"], axis=1)
        colour = colours.setdefault(r["arm"], f"C{len(colours)}")
        ax.plot(r["generations"], mean, marker=".", color=colour)
        ax.fill_between(r["generations"], low, high, color=colour, alpha=0.2, linewidth=0)
        ax.set_title(f"{manifest['x_label']} {r['x']:g}", fontsize=9)
    for ax in axes.flat:
        ax.set_xlabel("generation (or update)")
        ax.set_ylabel("mean hidden firing rate (Hz)", fontsize=8)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=c, label=a) for a, c in colours.items()]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=7)
    fig.suptitle(caption([r["mean_rate"].shape[1] for r in rows]), fontsize=9)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    save_figure(fig, path)


def save_figure(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    storage.atomic_write_bytes(path, buffer.getvalue())


def _section(name: str):
    """An experiment's extra report section: ``section(run_dir, manifest, out) -> markdown``."""
    from hetsnn.analysis import ablation, margins, taudist

    sections = {
        "ablation": ablation.report_section,
        "margins": margins.report_section,
        "taudist": taudist.report_section,
    }
    return sections[name]


def build_report(run_dir: Path) -> str:
    """Write the report files of ``run_dir`` and return the Markdown table."""
    from hetsnn.analysis import trajectories
    from hetsnn.experiments import EXPERIMENTS

    run_dir = Path(run_dir)
    if (run_dir / MANIFEST).exists():
        manifest = read_manifest(run_dir)
        experiment = EXPERIMENTS.get(manifest["experiment"])
        if experiment is not None and experiment.report is not None:
            return experiment.report(run_dir, manifest, run_dir / "report")
    manifest, rows = collect(run_dir)
    if not rows:
        raise RunDirError(f"{run_dir} has no finished runs yet: nothing to report")
    out = run_dir / "report"
    table = markdown_table(manifest, rows)
    storage.atomic_write_bytes(out / "table.md", table.encode())
    storage.atomic_write_bytes(out / "table.csv", csv_table(rows).encode())
    reward_figure(manifest, rows, out / "reward.png")
    curves_figure(run_dir, manifest, out / "curves.png")
    membrane = membrane_summary(run_dir, manifest)
    if membrane:
        membrane_figure(manifest, membrane, out / "membrane.png")
        table += "\nBPTT: share of local factors |dv(t)/dv(t-dt)| > 1 during training\n"
        table += "".join(
            f"- {r['arm']}, {manifest['x_label']} {r['x']:g}: {100 * r['above_one']:.3g}%\n"
            for r in membrane
        )
        storage.atomic_write_bytes(out / "table.md", table.encode())
    probes = probe_summary(run_dir, manifest)
    if probes:
        for x in sorted({r["x"] for r in probes}):
            firing_heatmaps(probes, x, manifest["x_label"], out / f"firing-{x:g}.png")
        firing_rate_figure(manifest, probes, out / "firing-rate.png")
        table += (
            "\nFiring, first -> last probe (mean over seeds): mean rate of all hidden neurons; "
            "share of probed neurons that are silent (< 1 Hz); class selectivity (std of a "
            "probed neuron's rate across classes, Hz)\n"
        )
        table += "".join(
            f"- {r['arm']}, {manifest['x_label']} {r['x']:g}: "
            f"{fmt(r['mean_rate'][0].mean())} -> {fmt(r['mean_rate'][-1].mean())} Hz; silent "
            f"{_silent(r, 0):.0%} -> {_silent(r, -1):.0%}; selectivity "
            f"{fmt(_selectivity(r, 0))} -> {fmt(_selectivity(r, -1))} Hz "
            f"(generation {r['generations'][-1]})\n"
            for r in probes
        )
        storage.atomic_write_bytes(out / "table.md", table.encode())
    heterogeneity = trajectories.section(run_dir, manifest, out)
    if heterogeneity:
        table += heterogeneity
        storage.atomic_write_bytes(out / "table.md", table.encode())
    experiment = EXPERIMENTS.get(manifest["experiment"])
    for name in experiment.sections if experiment else ():
        table += _section(name)(run_dir, manifest, out)
        storage.atomic_write_bytes(out / "table.md", table.encode())
    return table
