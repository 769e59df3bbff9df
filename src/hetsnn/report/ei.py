"""Report of the E/I study (:mod:`hetsnn.studies.ei`).

Writes into ``out``: ``table.md`` (per initial-rate arm and E:I ratio: test accuracy,
initial and trained firing rates of E and I neurons, spike-pattern diversity, accuracy
under weight noise), ``results.csv`` (one row per trained network) and ``ei.png`` (the
same against the excitatory share).
"""

import csv
import io
from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from hetsnn import storage
from hetsnn.analysis.intervals import caption, mean_interval
from hetsnn.errors import RunDirError
from hetsnn.report.common import fmt, save_figure

COLUMNS = (
    ("accuracy", "test accuracy"),
    ("initial_rate_hz", "initial rate (Hz)"),
    ("rate_e_hz", "E rate (Hz)"),
    ("rate_i_hz", "I rate (Hz)"),
    ("diversity_i", "I diversity"),
    ("diversity_e", "E diversity"),
)


def _flat(result: dict) -> dict:
    row = {k: result[k] for k in ("ratio", "seed", "accuracy", "initial_rate_hz",
                                  "rate_e_hz", "rate_i_hz")}  # fmt: skip
    row["arm"] = _arm(result["init_rate_target_hz"])
    row["diversity_i"] = result["diversity"]["inhibitory"]
    row["diversity_e"] = result["diversity"]["excitatory"]
    for sd, acc in zip(result["weight_noise"], result["noise_accuracy"], strict=True):
        row[f"noise_{sd:g}"] = acc
    return row


def _arm(init_rate) -> str:
    return "no rate control" if init_rate is None else f"initial rate {init_rate:g} Hz"


def _mean_std(values) -> tuple[float, float]:
    """Mean and std of the non-NaN values (NaN, NaN when there are none: e.g. the
    inhibitory rate of a network without inhibitory neurons)."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    return (float(values.mean()), float(values.std())) if values.size else (np.nan, np.nan)


def _cell(values) -> str:
    mean, std = _mean_std(values)
    return "–" if np.isnan(mean) else f"{fmt(mean)} ± {fmt(std, 2)}"


def report(run_dir: Path, manifest: dict, out: Path) -> str:
    """Write the study's tables and figures into ``out``; return the Markdown."""
    settings = manifest["settings"]
    paths = sorted(Path(run_dir).glob("cells/*/result.json"))
    if not paths:
        raise RunDirError(f"{run_dir} has no trained networks yet: nothing to report")
    rows = [_flat(storage.read_json(p)) for p in paths]
    noise = [f"noise_{sd:g}" for sd in settings["weight_noise"]]
    groups = defaultdict(lambda: defaultdict(list))  # arm -> ratio -> rows
    for row in rows:
        groups[row["arm"]][row["ratio"]].append(row)
    table = (
        f"# E/I balance ({manifest['preset']}): {settings['dataset']}, H = "
        f"{settings['n_hidden']}, {settings['steps']} steps per image, {settings['epochs']} "
        f"epochs of BPTT (Adam {settings['lr']:g}); mean ± std over seeds. Diversity: mean "
        f"pairwise van Rossum distance (tau {settings['van_rossum_tau']:g} ms) within a "
        "population, per test image\n"
    )
    header = [label for _, label in COLUMNS] + [f"acc., weight noise {n[6:]}" for n in noise[1:]]
    for arm, by_ratio in groups.items():
        table += f"\n### {arm}\n\n| E:I | " + " | ".join(header) + " |\n"
        table += "| --- |" + " --- |" * len(header) + "\n"
        for ratio in sorted(by_ratio):
            group = by_ratio[ratio]
            cells = [_cell([r[key] for r in group]) for key, _ in COLUMNS]
            cells += [_cell([r[n] for r in group]) for n in noise[1:]]
            e = round(100 * ratio)
            table += f"| {e}:{100 - e} | " + " | ".join(cells) + " |\n"
    out = Path(out)
    storage.atomic_write_bytes(out / "table.md", table.encode())
    buffer = io.StringIO()
    fields = ["arm", "ratio", "seed", *(k for k, _ in COLUMNS), *noise]
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    storage.atomic_write_bytes(out / "results.csv", buffer.getvalue().encode())
    _figure(groups, noise, out / "ei.png")
    return table


def _interval(values) -> tuple[float, float, float]:
    """Mean over seeds and its bootstrap interval, NaN seeds left out (NaNs if none)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return np.nan, np.nan, np.nan
    return tuple(float(v) for v in mean_interval(values))


def _figure(groups: dict, noise: list[str], path: Path) -> None:
    """Per arm (one colour each), against the excitatory share: the mean over seeds with its
    95 % bootstrap interval as error bars and each seed as a small dot, in every panel; the
    rate panel draws E solid and I dashed; the last panel is each seed's accuracy lost to
    the largest weight noise. Legends below the panels."""
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.3))
    panels = (
        (axes[0], [("accuracy", "", "-")]),
        (axes[1], [("rate_e_hz", ", E", "-"), ("rate_i_hz", ", I", "--")]),
        (axes[2], [("diversity_i", "", "-")]),
    )
    for index, (arm, by_ratio) in enumerate(groups.items()):
        colour = f"C{index}"
        ratios = sorted(by_ratio)
        per_seed = {
            key: [[r[key] for r in by_ratio[x]] for x in ratios]
            for key in ("accuracy", "rate_e_hz", "rate_i_hz", "diversity_i")
        }
        per_seed["loss"] = [
            [r[noise[0]] - r[noise[-1]] for r in by_ratio[x]] for x in ratios
        ]  # paired: each seed's clean accuracy minus its own noisy accuracy
        for ax, series in (*panels, (axes[3], [("loss", "", "-")])):
            for key, suffix, style in series:
                mean, low, high = np.array([_interval(v) for v in per_seed[key]]).T
                ax.errorbar(ratios, mean, (mean - low, high - mean), marker="o", capsize=2,
                            color=colour, linestyle=style, label=f"{arm}{suffix}")  # fmt: skip
                for x, values in zip(ratios, per_seed[key], strict=True):
                    ax.scatter([x] * len(values), values, s=8, alpha=0.45, color=colour,
                               linewidths=0)  # fmt: skip
    axes[0].set(xlabel="excitatory share", ylabel="test accuracy")
    axes[1].set(xlabel="excitatory share", ylabel="mean firing rate (Hz)")
    axes[2].set(xlabel="excitatory share", ylabel="inhibitory diversity (van Rossum)")
    axes[3].set(xlabel="excitatory share", ylabel=f"accuracy lost at weight noise {noise[-1][6:]}")
    seeds = {len(runs) for by_ratio in groups.values() for runs in by_ratio.values()}
    fig.suptitle(
        f"small dots: seeds; {caption(sorted(seeds), 'error bars', 'large dots')}", fontsize=9
    )
    for ax in axes:  # each panel's own legend, under it
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    save_figure(fig, path)
