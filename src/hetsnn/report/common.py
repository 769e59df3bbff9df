"""What every report section shares: reading a run directory's manifest and finished
points, per-point summaries, Markdown and CSV tables, and atomic figure files."""

import csv
import io
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hetsnn import plugins, storage  # noqa: E402
from hetsnn.errors import RunDirError  # noqa: E402
from hetsnn.experiments.base import MANIFEST  # noqa: E402
from hetsnn.report.layout import FigureLayoutWarning, layout_faults  # noqa: E402
from hetsnn.rundir import CONFIG, RESULT, read_config  # noqa: E402


def pooled_mean_std(means, stds) -> tuple[float, float]:
    """Mean and std of the union of equally sized groups given each group's mean and std."""
    means, stds = np.asarray(means, float), np.asarray(stds, float)
    mean = means.mean()
    return float(mean), float(np.sqrt(np.mean(stds**2 + (means - mean) ** 2)))


def collect(run_dir: Path) -> tuple[dict, list[dict]]:
    """The experiment manifest and one summary row per finished point."""
    run_dir = Path(run_dir)
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


SINGLE_RUN = "."  # the point name of a run made by train(): the directory is its own point


def read_manifest(run_dir: Path) -> dict:
    """``run_dir``'s experiment.json, checked to list its points; the researcher's file
    that defines the experiment, if it records one, is loaded (:mod:`hetsnn.plugins`). A
    run directory made by :func:`hetsnn.train.loop.train` (no experiment.json) reads as an
    experiment of one point (:func:`single_run_manifest`).

    Raises:
        RunDirError: neither an experiment nor a run is there.
    """
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).exists():
        if (run_dir / CONFIG).exists():
            return single_run_manifest(run_dir)
        raise RunDirError(
            f"{run_dir} holds no experiment ({MANIFEST} missing) and no run ({CONFIG} "
            "missing): run `hetsnn run` or `train()` first"
        )
    manifest = storage.read_json(Path(run_dir) / MANIFEST, dict)
    points = manifest.get("points")
    if not isinstance(points, list) or not all(
        isinstance(p, dict) and {"name", "arm", "x"} <= set(p) for p in points
    ):
        raise storage.DamagedFile(
            f"{Path(run_dir) / MANIFEST} is damaged (its points are not a list of "
            "{name, arm, x}): restore it, or rerun the experiment into a new directory"
        )
    plugins.load_recorded(manifest)
    return manifest


def single_run_manifest(run_dir: Path) -> dict:
    """The manifest of a run directory made by ``train()``: one point, the directory itself,
    on a curve named after what it trained."""
    config = read_config(run_dir)
    return {
        "experiment": "train()",
        "preset": Path(run_dir).resolve().name,
        "settings": {"seeds": config.seeds},
        "x_label": "run",
        "y_label": "final score",
        "curve_x": "generation",
        "points": [{"name": SINGLE_RUN, "arm": f"trains {', '.join(config.trainable)}", "x": 0}],
    }


def point_folder(run_dir: Path, point: dict) -> Path:
    """The run directory of ``point`` (the directory itself for a single run)."""
    if point["name"] == SINGLE_RUN:
        return Path(run_dir)
    return Path(run_dir) / "points" / point["name"]


def finished_points(run_dir: Path, manifest: dict) -> Iterator[tuple[dict, Path]]:
    """``(point, its run directory)`` for every point of ``manifest`` that has finished."""
    for point in manifest["points"]:
        folder = point_folder(run_dir, point)
        if (folder / RESULT).exists():
            yield point, folder


def summarise(result: dict) -> dict:
    """Seeds, the final centre's reward (each seed's, mean, std) and the last generation's
    population reward (pooled over seeds) of one run's result."""
    centre = np.asarray(result["final_centre_reward"], float)
    pop_mean, pop_std = pooled_mean_std(
        result["last_generation_reward_mean"], result["last_generation_reward_std"]
    )
    best = result.get("best_centre") or {}
    return {
        "seeds": centre.size,
        "centre_values": centre.tolist(),
        "centre_mean": float(centre.mean()),
        "centre_std": float(centre.std()),
        "population_mean": pop_mean,
        "population_std": pop_std,
        "best_split": best.get("split"),
        "best_values": best.get("final_score"),
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


def best_centre_table(manifest: dict, rows: list[dict]) -> str:
    """The third statistic (``result.json``'s ``best_centre``): the score of each seed's
    best centre over the periodic evaluations, chosen on the selection split; empty when no
    run recorded one (runs made before it, image tasks without validation images)."""
    rows = [r for r in rows if r.get("best_split")]
    if not rows:
        return ""
    arms = list(dict.fromkeys(p["arm"] for p in manifest["points"]))
    cells = {(r["arm"], r["x"]): np.asarray(r["best_values"], float) for r in rows}
    lines = [
        "",
        "The third statistic: each seed's best centre over the periodic evaluations, chosen "
        f"on {rows[0]['best_split']} (never the test split), then scored once on the final "
        "centre's episodes or test split; mean ± std over seeds.",
        "",
        f"| {manifest['x_label']} | " + " | ".join(arms) + " |",
        "|" + " --- |" * (len(arms) + 1),
    ]
    for x in sorted({r["x"] for r in rows}):
        values = [cells.get((arm, x)) for arm in arms]
        row = [f"{fmt(v.mean())} ± {fmt(v.std(), 2)}" if v is not None else "–" for v in values]
        lines.append(f"| {x:g} | " + " | ".join(row) + " |")
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


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` to ``path`` (PNG, atomically), cropped to what it draws so that no
    label or legend is cut off; overlapping texts raise a FigureLayoutWarning first."""
    faults = layout_faults(fig)
    if faults:
        warnings.warn(f"{Path(path).name}: {'; '.join(faults)}", FigureLayoutWarning,
                      stacklevel=2)  # fmt: skip
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    storage.atomic_write_bytes(path, buffer.getvalue())
