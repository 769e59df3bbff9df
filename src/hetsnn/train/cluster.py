"""An experiment's units of work spread over a Ray cluster (``hetsnn run --cluster ray``).

The units are the ones the sequential loop runs one after another: a group of points
that trains in one compiled program (:func:`hetsnn.train.loop.train_together`), or one job
of a study (:class:`hetsnn.train.jobs.Job`). Each becomes a Ray task that trains into its
own directory under the run directory, which every node must see at the same path (a
shared filesystem). Nothing else changes: a task runs the ordinary training loop, so its
files are the ones the sequential run writes, and a task that Ray retries after its worker
died resumes from the point's last checkpoint, losing no finished generation.

Ray is an optional dependency (``pip install "hetsnn[cluster]"``), imported only here and
only when a cluster is asked for.
"""

import contextlib
import heapq
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from hetsnn import plugins
from hetsnn.data.locations import DataNotFound
from hetsnn.errors import ClusterError, ConfigError, RunDirError, TrainingDiverged
from hetsnn.train.jobs import Job, is_done, run_job
from hetsnn.train.loop import train_together

# What a task raises for a user's mistake or a run directory's state: re-raised as itself,
# so the command line prints its one line instead of Ray's wrapped traceback.
USER_ERRORS = (ConfigError, RunDirError, DataNotFound, TrainingDiverged, OSError)

# Environment variables a task needs to see as the driver does: hetsnn's data locations
# and JAX's / XLA's settings. Workers on other hosts do not inherit the driver's.
FORWARDED_PREFIXES = ("HETSNN_", "JAX_", "XLA_")

RETRIES = 3  # times Ray reruns a task whose worker process died (kill -9, lost node)


@dataclass(frozen=True)
class Cluster:
    """Where and how the tasks run.

    Attributes:
        address: the Ray cluster to join: None for ``$RAY_ADDRESS`` when set, else a new
            Ray instance on this machine with all its CPUs and GPUs; ``"auto"`` for the
            cluster that ``ray start`` began on this node; or ``HOST:PORT`` of its head.
        cpus: CPUs a task asks for. A task also asks for one GPU when the cluster has any.
    """

    address: str | None = None
    cpus: float = 1.0

    @classmethod
    def parse(cls, spec: str) -> "Cluster":
        """``"ray"``, ``"ray:auto"`` or ``"ray:HOST:PORT"`` (the ``--cluster`` value)."""
        engine, _, address = spec.partition(":")
        if engine != "ray":
            raise ConfigError(
                f"--cluster {spec!r}: only Ray is supported; write ray, ray:auto or ray:HOST:PORT"
            )
        if ":" in spec and not address:
            raise ConfigError(f"--cluster {spec!r} names no address after 'ray:'")
        return cls(address=address or None)


def forwarded_environment() -> dict[str, str]:
    """The driver's variables that tasks must share (:data:`FORWARDED_PREFIXES`)."""
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIXES)}


@contextlib.contextmanager
def connected(cluster: Cluster) -> Iterator[Any]:
    """The ``ray`` module, joined to ``cluster`` for the ``with`` block; a Ray instance this
    process started is shut down at the end, one it found (an earlier ``ray.init``) is left
    running."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            '--cluster ray needs Ray: pip install "hetsnn[cluster]" (or ray), then rerun'
        ) from None
    if ray.is_initialized():
        yield ray
        return
    runtime_env = {"env_vars": forwarded_environment()}
    with warnings.catch_warnings():
        # Ray starts its processes with fork + exec, which JAX's fork warning cannot tell
        # from a bare fork; nothing of JAX's runs in them before the exec.
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
        if cluster.address is None and "RAY_ADDRESS" not in os.environ:
            ray.init(include_dashboard=False, runtime_env=runtime_env, logging_level="WARNING")
        else:
            try:
                ray.init(address=cluster.address, runtime_env=runtime_env, logging_level="WARNING")
            except ConnectionError as error:
                raise ConfigError(f"cannot join the Ray cluster: {error}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def ship_plugins(ray: Any) -> None:
    """Send the code of the researcher's files (:func:`hetsnn.plugins.load_file`) with the
    tasks: a worker cannot import them by their module name, so their classes (a task of
    one's own) are pickled by value."""
    for module in plugins.loaded_modules():
        ray.cloudpickle.register_pickle_by_value(module)


def has_gpus(ray: Any) -> bool:
    return ray.cluster_resources().get("GPU", 0) > 0


def _train_group(configs: list, run_dirs: list[str], description: str) -> None:
    """A task: one group of points, trained as the sequential loop trains it."""
    train_together(configs, [Path(d) for d in run_dirs], progress=False, description=description)


def _compute_job(job: Job, out: str) -> None:
    """A task: one job of a study, written as :func:`run_jobs` writes it."""
    run_job(job, Path(out), False)


@dataclass(frozen=True)
class Unit:
    """One task: ``run(*arguments)`` in a worker; ``name`` labels it, ``size`` counts
    what it finishes (points) on the progress bar, and ``after`` names the units that must
    finish before it starts."""

    name: str
    run: Callable[..., None]
    arguments: tuple
    size: int = 1
    after: tuple[str, ...] = ()


def point_groups(groups: Sequence[tuple[str, list, list[Path]]]) -> list[Unit]:
    """Units of ``(description, configs, run_dirs)`` groups of points."""
    return [
        Unit(name, _train_group, (configs, [str(d) for d in run_dirs], name), len(configs))
        for name, configs, run_dirs in groups
    ]


def study_jobs(jobs: Sequence[Job], out: Path) -> list[Unit]:
    """Units of a study's jobs that are not done in ``out`` (:func:`is_done`)."""
    return [
        Unit(job.path, _compute_job, (job, str(out)), after=job.after)
        for job in jobs
        if not is_done(job, Path(out))
    ]


def run_units(
    ray: Any,
    units: list[Unit],
    cluster: Cluster,
    *,
    description: str,
    counting: str = "run",
    progress: bool = True,
    after_each: Callable[[], None] | None = None,
) -> None:
    """Run ``units`` as Ray tasks, each once the units it waits for have finished; show
    one progress bar over them (in ``counting`` units) and call ``after_each()`` as each
    finishes.

    A task whose worker dies is rerun by Ray (:data:`RETRIES` times); a task that raises
    stops the sweep: the other tasks are cancelled and its exception is raised here
    (:func:`_unwrapped`).
    """
    ship_plugins(ray)
    gpus = 1 if has_gpus(ray) else 0
    remote = {
        run: ray.remote(num_cpus=cluster.cpus, num_gpus=gpus, max_retries=RETRIES)(run)
        for run in {unit.run for unit in units}
    }
    names = {unit.name for unit in units}
    waiting = list(units)
    running: dict[Any, Unit] = {}
    finished: set[str] = set()
    bar = tqdm(
        total=sum(u.size for u in units), desc=description, unit=counting, disable=not progress
    )

    def submit_ready() -> None:
        for unit in list(waiting):
            if all(name in finished or name not in names for name in unit.after):
                waiting.remove(unit)
                running[remote[unit.run].remote(*unit.arguments)] = unit

    with bar:
        try:
            submit_ready()
            while running:
                [done], _ = ray.wait(list(running), num_returns=1)
                unit = running.pop(done)
                ray.get(done)
                finished.add(unit.name)
                bar.update(unit.size)
                if after_each is not None:
                    after_each()
                submit_ready()
        except BaseException as error:  # a failed task, or Ctrl-C: stop the others
            for ref in running:
                ray.cancel(ref, force=True)
            raise _unwrapped(ray, error) from None


def _unwrapped(ray: Any, error: BaseException) -> BaseException:
    """What the driver raises for a failed task: the task's own exception when it is a
    user's mistake; a one-line :class:`ClusterError` when the cluster lost the task (a
    worker died past its retries, a raylet or node died); anything else as it came (Ray's
    error carries the worker's traceback of a bug)."""
    if isinstance(error, ray.exceptions.RayTaskError):
        cause = getattr(error, "cause", None)
        return cause if isinstance(cause, USER_ERRORS) else error
    if isinstance(error, ray.exceptions.RayError):
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return ClusterError(
            f"the Ray cluster lost a task ({type(error).__name__}: {first_line}); finished "
            "points are kept: rerun with --resume"
        )
    return error


def projected_wall_seconds(point_seconds: Sequence[float], workers: int) -> float:
    """Wall time of points that take ``point_seconds`` each (compile included) on
    ``workers`` devices, when each device, once free, takes the next point in the given
    order, as Ray runs the tasks :func:`run_units` submits in the experiment's order.
    Never less than the longest point."""
    loads = [0.0] * max(1, workers)
    for seconds in point_seconds:
        heapq.heappush(loads, heapq.heappop(loads) + seconds)
    return max(loads)
