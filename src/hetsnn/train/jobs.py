"""The run loop of the studies that train no RunConfig (reservoirs, STDP, the E/I network).

Such a study is a list of :class:`Job` s, each one result file in the run directory.
:func:`run_jobs` computes, in order, every job whose file is missing or damaged and writes it
atomically, under one progress bar: a resumed run skips what is done, a job interrupted
half-way leaves no file, and a result file that is not a JSON object (a disk fault or a hand
edit; a kill cannot leave one) is computed again and replaced. A long job checkpoints its own
steps through :func:`checkpointed_steps` (one atomic file holding the state and the history of
the steps that made it).
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from hetsnn import interrupts, storage
from hetsnn.errors import RunDirError


@dataclass(frozen=True)
class Job:
    """One unit of a study.

    Attributes:
        path: its result file, relative to the run directory.
        compute: ``(run_dir, progress) -> result`` (a JSON-serialisable dict), or None when there is
            nothing to write (the job then runs again on resume; it must skip its own
            finished work, as the resumable Bayesian search does).
        after: the paths of the jobs that must finish before this one starts (a job that
            reads another's result); the sequential loop meets it by running jobs in order,
            a cluster (:mod:`hetsnn.train.cluster`) by waiting for them.
    """

    path: str
    compute: Callable[[Path, bool], dict | None]
    after: tuple[str, ...] = ()


def is_done(job: Job, out: Path) -> bool:
    """Whether ``out / job.path`` holds the job's result: a JSON object. A damaged file
    does not count (it is said on stderr) and is replaced when the job runs again."""
    path = Path(out) / job.path
    if not path.exists():
        return False
    try:
        storage.read_json(path, dict)
    except storage.DamagedFile as error:
        tqdm.write(f"hetsnn: computing it again: {error}", file=sys.stderr)
        return False
    return True


def run_job(job: Job, out: Path, progress: bool) -> None:
    """Compute ``job`` and write its result file atomically (nothing when it returns None)."""
    result = job.compute(out, progress)
    if result is not None:
        storage.write_json(out / job.path, result)


def run_jobs(jobs: list[Job], out: Path, description: str, progress: bool = True) -> None:
    """Compute every job of ``jobs`` whose result file ``out / job.path`` is not done
    (:func:`is_done`)."""
    out = Path(out)
    for job in tqdm(jobs, desc=description, unit="job", disable=not progress):
        if not is_done(job, out):
            run_job(job, out, progress)
            interrupts.stop_if_interrupted()  # a Ctrl-C that a callback swallowed


def checkpointed_steps(
    checkpoint: Path,
    fingerprint: str,
    state: Any,
    steps: int,
    step: Callable[[Any, int], tuple[Any, dict[str, float]]],
) -> tuple[Any, dict[str, list[float]]]:
    """Run ``step(state, i) -> (state, numbers)`` for ``i`` up to ``steps``, saving the state
    and every step's numbers to ``checkpoint`` after each step; resume from it when present.

    ``fingerprint`` names what shapes the steps (a hash of the job's settings): a
    checkpoint with another one is refused rather than continued. Returns the final state
    and the history ``{name: [value per step]}``.

    Raises:
        RunDirError: the checkpoint belongs to another job or holds no consistent history.
    """
    history: dict[str, list[float]] = {}
    if checkpoint.exists():
        state, meta = storage.load_pytree(checkpoint, state)
        if meta.get("config") != fingerprint:
            raise RunDirError(f"{checkpoint} belongs to another cell or settings: remove it")
        history = {k: list(v) for k, v in meta.items() if k != "config"}
        lengths = {len(v) for v in history.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise RunDirError(f"{checkpoint} holds no consistent history: remove it to retrain")
    done = len(next(iter(history.values()), []))
    for i in range(done, steps):
        state, numbers = step(state, i)
        for name, value in numbers.items():
            history.setdefault(name, []).append(value)
        storage.save_pytree(checkpoint, state, config=fingerprint, **history)
    return state, history
