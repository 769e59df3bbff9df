"""Report of the image variants study (:mod:`hetsnn.experiments.classify_variants`).

Writes ``report/variants.md``, ``variants.csv`` and ``variants.png``:

* per data set, the variants ranked by the Neuron arm's validation accuracy, each arm's
  accuracy (mean ± std over seeds) and its change against the default (mean of the per-seed
  differences, seeds paired by index: same random weights and search noise, with its 95 %
  bootstrap interval);
* the final numbers: test accuracy of the default and of the variant the validation split
  chose, per arm and data set. The test split is read here and nowhere else in the study.
"""

import dataclasses
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hetsnn import storage  # noqa: E402
from hetsnn.analysis.intervals import mean_interval  # noqa: E402
from hetsnn.report.common import csv_table, finished_points, fmt, save_figure  # noqa: E402
from hetsnn.rundir import RESULT, load_centres, read_config  # noqa: E402
from hetsnn.train.programs import evaluate_params  # noqa: E402
from hetsnn.train.spec import RunSpec  # noqa: E402


def accuracy_on_test_split(folder: Path) -> np.ndarray:
    """``(seeds,)`` test accuracy of a finished run's final centres."""
    config = read_config(folder)
    config = config.replace(task=dataclasses.replace(config.task, score_on="test"))
    spec = RunSpec.from_config(config)
    params = load_centres(folder, config.network.neuron)
    data = spec.task.load_data("test")
    return np.asarray(evaluate_params(spec, params, data, config.eval_episodes, config.seed))


def _cell(values: np.ndarray) -> str:
    return f"{fmt(values.mean())} ± {fmt(values.std(), 2)}"


def _change(values: np.ndarray, default: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(x) for x in mean_interval(values - default))


def collect(run_dir: Path, manifest: dict) -> tuple[dict, dict]:
    """``({dataset label: {arm: {variant: (seeds,) validation accuracy}}}, {(dataset label,
    arm, variant): run folder})`` over the finished points."""
    variants = manifest["settings"]["variants"]
    scores, folders = defaultdict(lambda: defaultdict(dict)), {}
    for point, folder in finished_points(run_dir, manifest):
        dataset, arm = point["arm"].rsplit(" ", 1)
        variant = variants[int(point["x"])]
        result = storage.read_json(folder / RESULT, dict)
        scores[dataset][arm][variant] = np.asarray(result["final_centre_reward"], float)
        folders[dataset, arm, variant] = folder
    return scores, folders


def report(run_dir: Path, manifest: dict, out: Path) -> str:
    scores, folders = collect(run_dir, manifest)
    seeds = manifest["settings"]["seeds"]
    lines = [
        f"# Image variants ({manifest['preset']}): validation accuracy, {seeds} seeds",
        "",
        "Each variant changes one choice from the defaults. Validation: the last "
        f"{manifest['settings']['validation_images']:,} training images, never trained on. "
        "Change: mean of the per-seed differences to the default [95 % bootstrap interval].",
    ]
    rows, final = [], []
    for dataset, arms in scores.items():
        neuron = arms.get("Neuron", {})
        ranked = sorted(neuron, key=lambda v: -neuron[v].mean())
        ranked += [v for v in arms.get("Weight", {}) if v not in ranked]
        lines += ["", f"## {dataset}", "", "| variant | Neuron | change | Weight | change |"]
        lines.append("| --- | --- | --- | --- | --- |")
        for variant in ranked:
            cells = [variant]
            for arm in ("Neuron", "Weight"):
                values, default = arms.get(arm, {}).get(variant), arms.get(arm, {}).get("default")
                if values is None:
                    cells += ["–", "–"]
                    continue
                cells.append(_cell(values))
                if default is None or variant == "default":
                    cells.append("–")
                    continue
                mean, low, high = _change(values, default)
                cells.append(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]")
                rows.append({"dataset": dataset, "arm": arm, "variant": variant,
                             "validation": values.tolist(), "change": mean,
                             "change_low": low, "change_high": high})  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        for arm, by_variant in arms.items():
            if "default" not in by_variant:
                continue
            chosen = max(by_variant, key=lambda v: by_variant[v].mean())
            test_default = accuracy_on_test_split(folders[dataset, arm, "default"])
            test_chosen = (
                test_default
                if chosen == "default"
                else accuracy_on_test_split(folders[dataset, arm, chosen])
            )
            final.append((dataset, arm, chosen, test_default, test_chosen))
    if final:
        lines += [
            "",
            "## Final numbers (test split)",
            "",
            "| data set | arm | default | chosen on validation | its test accuracy |",
            "| --- | --- | --- | --- | --- |",
        ]
        for dataset, arm, chosen, test_default, test_chosen in final:
            lines.append(
                f"| {dataset} | {arm} | {_cell(test_default)} | {chosen} | {_cell(test_chosen)} |"
            )
    table = "\n".join(lines) + "\n"
    storage.atomic_write_bytes(out / "variants.md", table.encode())
    storage.atomic_write_bytes(out / "variants.csv", csv_table(rows).encode())
    if rows:
        _figure(rows, seeds, out / "variants.png")
    return table


def _figure(rows: list[dict], seeds: int, path: Path) -> None:
    """Per data set, each variant's change of validation accuracy against the default."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.2), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        mine = [r for r in rows if r["dataset"] == dataset]
        variants = list(dict.fromkeys(r["variant"] for r in mine))
        for offset, (arm, colour) in zip((-0.15, 0.15), (("Neuron", "C0"), ("Weight", "C1")),
                                          strict=True):  # fmt: skip
            for i, variant in enumerate(variants):
                row = next((r for r in mine if r["arm"] == arm and r["variant"] == variant), None)
                if row is None:
                    continue
                low, high = row["change"] - row["change_low"], row["change_high"] - row["change"]
                ax.errorbar(row["change"], i + offset, xerr=[[low], [high]], fmt="o",
                            color=colour, capsize=2, label=arm if i == 0 else None)  # fmt: skip
        ax.axvline(0.0, color="k", linewidth=0.8)
        ax.invert_yaxis()  # ranked: the best variant on top
        ax.set_yticks(range(len(variants)), variants, fontsize=8)
        ax.set_xlabel("change of validation accuracy against the default")
        ax.set_title(dataset, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(
        f"dot: mean change over {seeds} seeds (paired by seed); error bars: 95 % bootstrap CI",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, path)
