"""TensorBoard event files of a run directory (``hetsnn tb RUN_DIR``, ``hetsnn run
--tensorboard``), written with tensorboardX from the files the run loop already keeps.

Per point, in ``RUN_DIR/tensorboard/<point>/`` (view with ``tensorboard --logdir
RUN_DIR/tensorboard``):

* scalars per generation from metrics.jsonl: every metric's mean over seeds
  (``<metric>/mean``), and each seed's ``centre_reward`` and ``reward_mean``;
* per trained neuron property, at every checkpoint (properties.jsonl): the mean, std and cv
  over the hidden layer (means over seeds), and a histogram drawn from the 101 recorded
  quantiles of each seed's layer (so its counts are quantile points, not neurons);
* at the last generation: a histogram of the final centres' values, every neuron of every
  seed (centres.npz), and each seed's final evaluation score (result.json).

The files are rebuilt from scratch on every call (into a temporary folder that then
replaces the old one), so calling it again after more training adds no duplicate events.
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np

from hetsnn import storage
from hetsnn.rundir import (
    CONFIG,
    METRICS,
    PROPERTIES,
    RESULT,
    centre_keys,
    read_centres,
    read_config,
    read_rows,
    run_folders,
)

PER_SEED = ("centre_reward", "reward_mean")
FOLDER = "tensorboard"


def _run_folders(run_dir: Path) -> dict[str, Path]:
    """``{name: folder}`` of every started run in ``run_dir`` (itself, or its points)."""
    if (run_dir / CONFIG).exists():
        return {run_dir.name: run_dir}
    return {p.name: p for p in run_folders(run_dir, METRICS)}


def _write_point(writer, folder: Path) -> None:
    for row in read_rows(folder / METRICS, torn_tail_ok=True):
        step = row["generation"]
        for name, values in row.items():
            values = np.asarray(values, dtype=np.float64) if name != "generation" else None
            if values is None or values.ndim != 1:
                continue
            writer.add_scalar(f"{name}/mean", values.mean(), step)
            if name in PER_SEED:
                for seed, value in enumerate(values):
                    writer.add_scalar(f"{name}/seed{seed}", value, step)
    if (folder / PROPERTIES).exists():
        for row in read_rows(folder / PROPERTIES, torn_tail_ok=True):
            step = row.pop("generation")
            for prop, summary in row.items():
                for stat in ("mean", "std", "cv"):
                    writer.add_scalar(f"{prop}/{stat}", np.mean(summary[stat]), step)
                if "quantiles" in summary:
                    points = np.asarray(summary["quantiles"], np.float64).ravel()
                    writer.add_histogram(f"{prop}/quantiles", points, step, bins="auto")
    if (folder / RESULT).exists():
        result = storage.read_json(folder / RESULT, dict)
        last = result["generations"]
        for seed, score in enumerate(result["final_centre_reward"]):
            writer.add_scalar(f"final_score/seed{seed}", score, last)
        config = read_config(folder)
        arrays = read_centres(folder, config.network.neuron)
        for prop, stored in centre_keys(config.network.neuron).items():
            if prop in config.trainable:
                values = np.asarray(arrays[stored], np.float64).ravel()
                writer.add_histogram(f"{prop}/final_centres", values, last, bins="auto")


def write_events(run_dir: Path) -> Path:
    """Write the event files of every started run in ``run_dir``; return their folder."""
    from tensorboardX import SummaryWriter

    run_dir = Path(run_dir)
    folders = _run_folders(run_dir)
    if not folders:
        raise storage.DamagedFile(f"{run_dir} holds no started hetsnn run (no {METRICS})")
    root = run_dir / FOLDER
    root.mkdir(exist_ok=True)
    for name, folder in folders.items():
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}."))
        try:
            with SummaryWriter(logdir=str(staging)) as writer:
                _write_point(writer, folder)
            shutil.rmtree(root / name, ignore_errors=True)
            staging.rename(root / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return root
