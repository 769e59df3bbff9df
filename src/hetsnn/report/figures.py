"""The figures of every trained experiment: final reward against x, learning curves, the
membrane-potential diagnostics of BPTT runs and the firing-rate probes."""

from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from hetsnn import storage
from hetsnn.analysis.intervals import caption, mean_interval
from hetsnn.optim.gradient import U_EDGES
from hetsnn.report.common import finished_points, plt, point_folder, save_figure
from hetsnn.rundir import METRICS, PROBES, RESULT, read_rows


def reward_figure(manifest: dict, rows: list[dict], path: Path, categorical: bool = False) -> None:
    """Final score vs x per arm: every seed as a dot, the mean as a line, and its 95 %
    bootstrap interval as a band (which, unlike mean +- std, stays within the score's
    bounds). Arms are shifted sideways a little so their dots do not cover each other.
    Categories (``categorical``: the experiment's ``x_categorical``, e.g. the ablation's
    subsets) and a single x are drawn at evenly spaced named ticks, with error bars and no
    line between them."""
    by_arm = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["x"]):
        by_arm[r["arm"]].append(r)
    xs = sorted({r["x"] for r in rows})
    named = categorical
    categorical = categorical or len(xs) == 1
    position = {x: i for i, x in enumerate(xs)} if categorical else {x: x for x in xs}
    shift = 0.15 if categorical else 0.012 * (xs[-1] - xs[0] if len(xs) > 1 else 1.0)
    fig, ax = plt.subplots(figsize=(7.5, 4), dpi=120)
    for i, (arm, arm_rows) in enumerate(by_arm.items()):
        x = np.array([position[r["x"]] for r in arm_rows]) + (i - (len(by_arm) - 1) / 2) * shift
        mean, low, high = map(
            np.asarray,
            zip(*(mean_interval(r["centre_values"]) for r in arm_rows), strict=True),
        )
        if categorical:
            bars = ax.errorbar(x, mean, yerr=[mean - low, high - mean], fmt="o", markersize=4,
                               capsize=3, label=arm)  # fmt: skip
            colour = bars.lines[0].get_color()
        else:
            (line,) = ax.plot(x, mean, marker="o", markersize=3, label=arm)
            colour = line.get_color()
            ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
        for xi, r in zip(x, arm_rows, strict=True):
            seeds = np.asarray(r["centre_values"])
            ax.scatter(np.full(seeds.size, xi), seeds, s=8, color=colour, alpha=0.45,
                       linewidths=0)  # fmt: skip
    if categorical:
        names = _category_names(manifest) if named else {}
        labels = [names.get(x, f"{x:g}") for x in xs]
        long = max(map(len, labels)) > 6
        ax.set_xticks(range(len(xs)), labels, rotation=40 if long else 0,
                      ha="right" if long else "center", fontsize=8 if long else None)  # fmt: skip
        ax.set_xlim(-0.6, len(xs) - 0.4)
    ax.set_xlabel(manifest["x_label"])
    ax.set_ylabel(manifest["y_label"])
    marks, mean = ("error bars", "large dots") if categorical else ("band", "line")
    ax.set_title(
        f"{manifest['experiment']} ({manifest['preset']} preset)\nsmall dots: seeds; "
        + caption([r["seeds"] for r in rows], marks, mean),
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    save_figure(fig, path)


def _category_names(manifest: dict) -> dict:
    """x -> the name its points share once their arm's prefix is dropped (the ablation's
    ``cartpole-tau_m+v_th`` -> ``tau_m+v_th``)."""
    return {p["x"]: p["name"].removeprefix(f"{p['arm']}-") for p in reversed(manifest["points"])}


def curves_figure(run_dir: Path, manifest: dict, path: Path) -> None:
    """The centre's score over training, one panel per x: the mean over seeds with its
    95 % bootstrap interval as a band; the legend sits below the panels."""
    xs = sorted({p["x"] for p in manifest["points"]})
    cols = min(3, len(xs))
    nrows = -(-len(xs) // cols)
    fig, axes = plt.subplots(
        nrows, cols, figsize=(4 * cols, 3 * nrows + 0.6), dpi=100, squeeze=False, sharey=True,
        layout="constrained",
    )  # fmt: skip
    colours, seeds = {}, set()
    by_episodes = manifest.get("curve_x") == "episodes"
    for point, folder in finished_points(run_dir, manifest):
        metrics = read_rows(folder / METRICS, required=True)
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
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), fontsize=8)
    fig.suptitle(caption(sorted(seeds) or [0]), fontsize=9)
    save_figure(fig, path)


def membrane_summary(run_dir: Path, manifest: dict) -> list[dict]:
    """Per BPTT point: the histogram of ``u - v_th`` summed over training, and the mean
    fraction of local BPTT factors above 1. Empty for runs without those metrics."""
    rows = []
    for point in manifest["points"]:
        metrics = read_rows(point_folder(run_dir, point) / METRICS)
        if not metrics or "u_histogram" not in metrics[0]:
            continue
        histogram = np.sum([m["u_histogram"] for m in metrics], axis=(0, 1))
        above_one = float(np.mean([m["jacobian_above_one"] for m in metrics]))
        rows.append({**point, "histogram": histogram, "edges": U_EDGES, "above_one": above_one})
    return rows


def membrane_figure(manifest: dict, rows: list[dict], path: Path) -> None:
    xs = sorted({r["x"] for r in rows})
    fig, axes = plt.subplots(
        1, len(xs), figsize=(4 * len(xs), 3.9), dpi=100, squeeze=False, layout="constrained"
    )
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
        ax.legend(
            fontsize=6,
            title="share of |dv/dv_prev| > 1",
            title_fontsize=6,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
        )  # below: the data fill the panel
    axes[0, 0].set_ylabel("density during BPTT training")
    save_figure(fig, path)


def probe_summary(run_dir: Path, manifest: dict) -> list[dict]:
    """Per point with recorded probes: generations ``(G,)``, ``class_rates (G, seeds, n, 10)``
    and ``mean_rate (G, seeds)`` in Hz. Empty for runs without probes."""
    rows = []
    for point in manifest["points"]:
        probes = read_rows(point_folder(run_dir, point) / PROBES)
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


def silent_share(row: dict, probe: int) -> float:
    """Share of probed neurons (all seeds) whose rate averaged over classes is below 1 Hz."""
    return float((row["class_rates"][probe].mean(axis=-1) < 1.0).mean())


def selectivity(row: dict, probe: int) -> float:
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
