"""Report of the HRSNN study (:mod:`hetsnn.studies.hrsnn`).

Writes into ``out``: ``table.md`` (each arm's memory capacity, firing rate, spikes per unit
memory and suite scores; the designs; the search's summary), ``arms.csv`` and, when the
search ran, ``search.png`` (objective per trial with the running best, and rate vs MC of
every trial) and ``trials.csv``.
"""

import csv
import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from hetsnn import storage
from hetsnn.errors import RunDirError
from hetsnn.report.common import fmt, save_figure
from hetsnn.report.quenched import suite_from_manifest
from hetsnn.studies.hrsnn import ARMS, SEARCH_SPACE, STUDY, arm_path, is_feasible
from hetsnn.studies.suite import family_scores

COLUMNS = ("memory capacity", "rate (Hz)", "rate / MC", "NARMA R2", "pattern above chance",
           "suite score")  # fmt: skip


def arm_metrics(result: dict, suite) -> dict[str, np.ndarray]:
    """Per-seed metrics ``(seeds,)`` of one arm's result file."""
    families = family_scores(np.asarray(result["scores"], float), suite)
    rate = np.asarray(result["rate_hz"], float)
    mc = families["memory capacity"]
    return {
        "memory capacity": mc,
        "rate (Hz)": rate,
        "rate / MC": rate / np.where(mc > 0, mc, np.nan),
        "NARMA R2": families["NARMA R2"],
        "pattern above chance": families["pattern above chance"],
        "suite score": families["suite score"],
    }


def _trials(run_dir: Path) -> list:
    db = Path(run_dir) / "optuna.db"
    if not db.exists():
        return []
    import optuna

    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{db}")
    return [t for t in study.get_trials(deepcopy=False) if t.value is not None]


def _search_figure(trials: list, min_memory_capacity: float, path: Path) -> None:
    numbers = np.array([t.number for t in trials])
    values = np.array([t.value for t in trials])
    feasible = np.array([is_feasible(t, min_memory_capacity) for t in trials])
    best = np.minimum.accumulate(np.where(feasible, values, np.inf))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.scatter(numbers[feasible], values[feasible], s=12, label="feasible")
    left.scatter(numbers[~feasible], values[~feasible], s=12, marker="x", label="MC too low")
    left.step(numbers, best, where="post", color="k", label="best feasible")
    left.set(xlabel="trial", ylabel="rate / MC (Hz per step)", yscale="log")
    left.legend(fontsize="small")
    points = right.scatter(
        [t.user_attrs["memory_capacity"] for t in trials],
        [t.user_attrs["rate_hz"] for t in trials],
        c=numbers,
        s=14,
    )
    fig.colorbar(points, ax=right, label="trial")
    right.set(xlabel="memory capacity (steps)", ylabel="firing rate (Hz)")
    fig.tight_layout()
    save_figure(fig, path)


def _csv(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def report(run_dir: Path, manifest: dict, out: Path) -> str:
    """Write the study's tables and figures into ``out``; return the Markdown."""
    settings = manifest["settings"]
    suite = suite_from_manifest(manifest)
    results = {
        a: storage.read_json(arm_path(run_dir, a)) for a in ARMS if arm_path(run_dir, a).exists()
    }
    if not results:
        raise RunDirError(f"{run_dir} has no finished arms yet: nothing to report")
    metrics = {arm: arm_metrics(r, suite) for arm, r in results.items()}
    table = (
        f"# HRSNN ({manifest['preset']}): N = {settings['n_neurons']}, E share "
        f"{settings['excitatory_fraction']:g}, {settings['stdp_steps']} STDP steps, "
        f"{settings['seeds']} test seeds (mean ± std)\n\n"
        "| arm | " + " | ".join(COLUMNS) + " |\n| --- |" + " --- |" * len(COLUMNS) + "\n"
    )
    for arm, m in metrics.items():
        cells = [f"{fmt(np.mean(m[c]))} ± {fmt(np.std(m[c]), 2)}" for c in COLUMNS]
        table += f"| {arm} | " + " | ".join(cells) + " |\n"
    names = list(SEARCH_SPACE)
    table += "\nDesigns (tau_m gamma mean/cv, STDP amplitudes, time constant and cv; plastic)\n\n"
    table += "| arm | " + " | ".join(names) + " | STDP |\n| --- |" + " --- |" * (len(names) + 1)
    for arm, r in results.items():
        values = " | ".join(fmt(r["design"][n]) for n in names)
        table += f"\n| {arm} | {values} | {'yes' if r['plastic'] else 'no'} |"
    table += "\n"
    out = Path(out)
    rows = [["arm", "seed", *COLUMNS]]
    for arm, m in metrics.items():
        rows += [[arm, i, *(f"{m[c][i]:.6g}" for c in COLUMNS)] for i in range(len(m["rate (Hz)"]))]
    storage.atomic_write_bytes(out / "arms.csv", _csv(rows))
    trials = _trials(run_dir)
    if trials:
        feasible = [t for t in trials if is_feasible(t, settings["min_memory_capacity"])]
        table += (
            f"\nBayesian optimisation (optuna TPE, objective rate / MC on "
            f"{settings['search_seeds']} search seeds, constraint MC >= "
            f"{settings['min_memory_capacity']:g}): {len(trials)} trials, "
            f"{len(feasible)} feasible"
        )
        if feasible:
            best = min(feasible, key=lambda t: t.value)
            table += (
                f"; best trial {best.number}: {fmt(best.value)} Hz per step of memory "
                f"(rate {fmt(best.user_attrs['rate_hz'])} Hz, MC "
                f"{fmt(best.user_attrs['memory_capacity'])})"
            )
        table += "\n"
        _search_figure(trials, settings["min_memory_capacity"], out / "search.png")
        header = ["trial", "objective", "rate_hz", "memory_capacity", *names]
        storage.atomic_write_bytes(
            out / "trials.csv",
            _csv(
                [header]
                + [
                    [t.number, t.value, t.user_attrs["rate_hz"], t.user_attrs["memory_capacity"]]
                    + [t.params[n] for n in names]
                    for t in trials
                ]
            ),
        )
    storage.atomic_write_bytes(out / "table.md", table.encode())
    return table
