"""What an experiment is, and the one function that runs any of them.

An experiment module only declares presets (frozen dataclasses of settings) and how a
preset expands into *points*: single :class:`~hetsnn.config.RunConfig` runs, each placed on
a curve (``arm``) at a position (``x``). Every point is trained by the run loop
(:func:`hetsnn.train.loop.train_together`, points that share a compiled program side by
side) in ``RUN_DIR/points/<name>``; ``RUN_DIR/experiment.json`` records what was asked.
"""

import contextlib
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
from tqdm.auto import tqdm

from hetsnn import storage
from hetsnn.config import NetworkConfig, NeuronConfig, RunConfig, StrategyConfig
from hetsnn.errors import ConfigError, RunDirError
from hetsnn.experiments import protocols
from hetsnn.model.genome import PROPERTIES, WEIGHTS, hidden_size_for_budget
from hetsnn.model.neuron_models import as_model, neuron_model
from hetsnn.provenance import provenance
from hetsnn.rundir import RESULT
from hetsnn.train import cluster as ray_cluster
from hetsnn.train.jobs import Job, run_jobs
from hetsnn.train.loop import shares_program, train_together
from hetsnn.train.memory import check_fits
from hetsnn.train.spec import RunSpec

MANIFEST = "experiment.json"


@dataclass(frozen=True)
class Point:
    """One run of an experiment.

    Attributes:
        name: directory name, unique within the experiment (e.g. ``"neuron-L10"``).
        arm: the curve / table column it belongs to.
        x: its position on the x-axis (memory length, episode cap, ...).
        config: the run.
    """

    name: str
    arm: str
    x: float
    config: RunConfig


@dataclass(frozen=True)
class Experiment:
    """A registry entry: presets and how a preset becomes points."""

    name: str
    summary: str
    x_label: str
    y_label: str
    presets: dict[str, Any]
    make_points: Callable[[Any], list[Point]]
    curve_x: str = "generation"  # learning curves against "generation" or "episodes" seen
    x_categorical: bool = False  # x numbers categories, points named ARM-CATEGORY (reports)
    sections: tuple[str, ...] = ()  # extra report sections (names in hetsnn.report.build.SECTIONS)
    # Studies that train no RunConfig (reservoirs, STDP, Bayesian design) are lists of jobs
    # (hetsnn.train.jobs), run by the same loop; make_points then returns [] (their
    # report: hetsnn.report.build.REPORTS).
    jobs: Callable[[Any], list[Job]] | None = None
    check: Callable[[Any], None] | None = None  # raise before anything is written (data)
    source: str | None = None  # the file of a researcher's own experiment (hetsnn.plugins)

    def resolve(self, preset: str, overrides: dict | None = None) -> Any:
        """The preset's settings with ``overrides`` applied (None values ignored)."""
        if preset not in self.presets:
            raise ConfigError(
                f"unknown preset {preset!r} for {self.name}: choose one of {sorted(self.presets)}"
            )
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        settings = self.presets[preset]
        unknown = set(overrides) - {f.name for f in dataclasses.fields(settings)}
        if unknown:
            raise ConfigError(f"{self.name} has no setting {sorted(unknown)} to override")
        return dataclasses.replace(settings, **overrides)

    def points(self, preset: str, overrides: dict | None = None) -> list[Point]:
        return self.make_points(self.resolve(preset, overrides))


def es_options(settings: Any, **extra) -> dict:
    """RunConfig options shared by every arm: PGPE at ``settings.population`` and the
    preset's generations, seeds and chunk."""
    return dict(
        optimiser=StrategyConfig(population=settings.population),
        generations=settings.generations,
        seeds=settings.seeds,
        chunk=settings.chunk,
        **extra,
    )


def neuron_arm(task, n_hidden: int, network: dict | None = None, **options) -> RunConfig:
    """Heterogeneous arm: fixed random weights, all four properties of each neuron trained.

    ``network`` holds extra NetworkConfig fields (surrogate, detach_reset, ...).
    """
    config = NetworkConfig(n_hidden=n_hidden, **(network or {}))
    return RunConfig(task, config, trainable=PROPERTIES, **options)


def weight_arm(
    task,
    budget_hidden: int,
    neuron: NeuronConfig | None = None,
    network: dict | None = None,
    **options,
) -> RunConfig:
    """Homogeneous arm: every weight trained, with the trainable budget of
    ``neuron_arm(task, budget_hidden)``."""
    budget = len(PROPERTIES) * budget_hidden
    n_hidden = hidden_size_for_budget(WEIGHTS, budget, task.n_inputs, task.n_outputs)
    config = NetworkConfig(n_hidden=n_hidden, neuron=neuron or NeuronConfig(), **(network or {}))
    return RunConfig(task, config, trainable=(WEIGHTS,), **options)


def no_points(settings: Any) -> list[Point]:
    """``make_points`` of an experiment made of ``jobs``."""
    return []


def with_strategy(points: list[Point], changes: dict) -> list[Point]:
    """``points`` whose evolution strategies take ``changes`` (StrategyConfig fields, e.g.
    ``{"centre_optimiser": "adam", "lr": 0.01}``); gradient-trained points are kept as
    they are. A ClipUp rate without a velocity cap gets the default cap,
    :func:`hetsnn.config.clipup_cap` of the rate, as a StrategyConfig built in Python does."""
    if not changes:
        return points
    if "lr" in changes:
        changes = {"max_velocity": None, **changes}
    changed = []
    for point in points:
        optimiser = point.config.optimiser
        if isinstance(optimiser, StrategyConfig):
            optimiser = dataclasses.replace(optimiser, **changes)
            point = dataclasses.replace(point, config=point.config.replace(optimiser=optimiser))
        changed.append(point)
    return changed


def with_neuron(points: list[Point], model: str | None) -> list[Point]:
    """``points`` whose hidden neurons are of the registered ``model`` (None or ``"lif"``:
    as they are), at the same LIF defaults (dt, tau_m, v_th, v_rest, R) and the model's
    own defaults for its other properties. What each point trains is unchanged: the
    Neuron arms train the LIF properties of the new neurons, whose extra properties (ALIF's
    tau_a, beta) stay homogeneous, so every arm keeps its parameter budget."""
    if model is None or model == "lif":
        return points
    changed = []
    for point in points:
        network = point.config.network
        network = dataclasses.replace(network, neuron=as_model(network.neuron, model))
        changed.append(dataclasses.replace(point, config=point.config.replace(network=network)))
    return changed


def _settings_dict(settings: Any) -> dict:
    """The settings as experiment.json records them; a study's ``neuron`` is left out at
    "lif", as in manifests written before studies took other models."""
    data = dataclasses.asdict(settings)
    if data.get("neuron") == "lif":
        del data["neuron"]
    return data


def manifest(
    experiment: Experiment,
    preset: str,
    settings: Any,
    points: list[Point],
    strategy: dict | None = None,
    neuron: str | None = None,
    protocol: str | None = None,
) -> dict:
    data = {
        "experiment": experiment.name,
        "preset": preset,
        "settings": _settings_dict(settings),
        "x_label": experiment.x_label,
        "y_label": experiment.y_label,
        "curve_x": experiment.curve_x,
        "points": [{"name": p.name, "arm": p.arm, "x": p.x} for p in points],
    }
    if strategy:  # absent when the preset's optimiser is used, as in older manifests
        data["strategy"] = strategy
    if neuron not in (None, "lif"):  # absent for LIF, as in older manifests
        data["neuron"] = neuron
    if protocols.canonical(protocol):  # absent for the default conventions
        data["protocol"] = protocols.canonical(protocol)
    if experiment.source is not None:  # the code that reads the run back
        data["source"] = experiment.source
    return data


_BOOKKEEPING = {MANIFEST, "config.json", ".lock"}  # written before any training


def trained_anything(out: Path) -> bool:
    """True when ``out`` holds a file that training wrote (anything but the manifest, the
    points' config.json and lock files)."""
    return any(f.is_file() and f.name not in _BOOKKEEPING for f in Path(out).rglob("*"))


def forget_unstarted(out: Path) -> None:
    """Remove the bookkeeping of a start that trained nothing, so a corrected start can
    claim ``out``; refused while a process still holds ``out``'s or a point's lock (a start
    that is still compiling has trained nothing yet either)."""
    for lock in [Path(out) / ".lock", *Path(out).glob("points/*/.lock")]:
        if lock.exists():
            try:
                with storage.locked(lock.parent, "starting it"):
                    pass
            except BlockingIOError as error:
                raise RunDirError(str(error)) from None
    for name in ("config.json", ".lock"):
        for leftover in Path(out).glob(f"points/*/{name}"):
            leftover.unlink()
    for folder in sorted(Path(out).glob("points/*"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def describe_difference(stored: dict, wanted: dict) -> str:
    """``"memory/smoke with other settings (seeds 2 -> 3)"``, or ``"another experiment or
    preset (ei/small)"``: what ``stored`` holds against ``wanted`` (two manifests)."""
    held = f"{stored.get('experiment')}/{stored.get('preset')}"
    if (stored.get("experiment"), stored.get("preset")) != (
        wanted["experiment"],
        wanted["preset"],
    ):
        return f"another experiment or preset ({held})"
    old, new = stored.get("settings", {}), wanted["settings"]
    changes = [f"{k} {old.get(k)} -> {new.get(k)}" for k in sorted(new) if old.get(k) != new.get(k)]
    for key in ("strategy", "neuron", "protocol"):
        if stored.get(key) != wanted.get(key):
            changes.append(f"{key} {stored.get(key)} -> {wanted.get(key)}")
    return f"{held} with other settings ({'; '.join(changes) or 'points differ'})"


def run_experiment(
    experiment: Experiment,
    preset: str,
    out: Path,
    *,
    resume: bool = False,
    overrides: dict | None = None,
    strategy: dict | None = None,
    progress: bool = True,
    after_point: Callable[[Path], None] | None = None,
    together: bool | None = None,
    neuron: str | None = None,
    protocol: str | None = None,
    cluster: str | ray_cluster.Cluster | None = None,
) -> Path:
    """Train every point of ``experiment`` at ``preset`` into ``out``; return ``out``.

    ``after_point(out)`` is called after each point (or group of points trained together)
    of the shared run loop finishes (the CLI's ``--tensorboard`` rewrites the event files
    there).

    With ``together``, consecutive points that share one compiled program (the ablation's
    subsets of one size) train side by side in it (:func:`program_groups`); without, one
    after another (they still share its compilation). None (the default) chooses together
    on an accelerator, which a single point's batch leaves mostly idle, and one after
    another on a CPU, where the larger batch was slower (docs/cost.md). The numbers agree
    up to floating-point rounding of the other batch size, which chaotic dynamics (Brax)
    can amplify over generations, as on another device.

    ``overrides`` change the preset's settings (seeds, generations); ``strategy`` changes
    the evolution strategy of every ES point (see :func:`with_strategy`); ``neuron`` names
    the neuron model of every point (:func:`with_neuron`; None: the preset's, LIF);
    ``protocol`` applies a protocol or switches of :mod:`hetsnn.experiments.protocols`
    (after the strategy and neuron; None: hetsnn's defaults). All are recorded in
    ``out/experiment.json``, so a resume with other values is refused.

    ``cluster`` (``"ray"``, ``"ray:auto"``, ``"ray:HOST:PORT"`` or a
    :class:`~hetsnn.train.cluster.Cluster`) spreads the points (each group, with
    ``together``) or a study's jobs over a Ray cluster as tasks; ``out`` must then be on a
    filesystem every node shares. The files are those of the sequential run. None (the
    default): one after another in this process.

    Raises:
        RunDirError: ``out`` holds another experiment or config, or holds this one and
            ``resume`` is False. Nothing in ``out`` is overwritten in either case.
        DataNotFound: a task's data set is neither on disk nor downloadable (checked before
            anything is written).
    """
    out = Path(out)
    if neuron not in (None, "lif") and experiment.jobs is not None:
        # a study of jobs builds its own networks: the model is one of its settings
        overrides = {**(overrides or {}), "neuron": neuron}
    if isinstance(cluster, str):
        cluster = ray_cluster.Cluster.parse(cluster)
    settings = experiment.resolve(preset, overrides)
    strategy = {k: v for k, v in (strategy or {}).items() if v is not None}
    points = _points(experiment, settings, strategy, neuron, protocol)
    wanted = storage.as_json(
        manifest(experiment, preset, settings, points, strategy, neuron, protocol)
    )
    _claim(out, wanted, resume)
    for point in points:  # fail before writing anything: sizes, then data
        check_fits(RunSpec.from_config(point.config), point.config.seeds)
    for task in dict.fromkeys(p.config.task for p in points):
        for split in ("train", "test"):
            task.load_data(split)
    if experiment.check is not None:
        experiment.check(settings)
    finished = experiment.jobs is None and all(
        (out / "points" / p.name / RESULT).exists() for p in points
    )
    if finished:  # read the results only: a finished run resumes from a read-only copy
        _write_manifest(out, wanted)
        _train_points(experiment, preset, points, out, progress, after_point, together)
        return out
    with contextlib.ExitStack() as stack:
        # join the cluster first: an unreachable one is refused before anything is written
        ray = None if cluster is None else stack.enter_context(ray_cluster.connected(cluster))
        _write_manifest(out, wanted)
        try:
            stack.enter_context(storage.locked(out, f"running {experiment.name}"))
        except BlockingIOError as error:  # another process runs this experiment in ``out``
            raise RunDirError(str(error)) from None
        # a study's jobs write anywhere below ``out``; each point sweeps its own folder
        storage.remove_stale_temporaries(out, recursive=experiment.jobs is not None)
        if ray is not None:
            _on_cluster(ray, experiment, preset, settings, points, out, progress, after_point,
                        together, cluster)  # fmt: skip
        elif experiment.jobs is not None:
            run_jobs(experiment.jobs(settings), out, experiment.name, progress)
        else:
            _train_points(experiment, preset, points, out, progress, after_point, together)
    return out


def _points(
    experiment: Experiment, settings: Any, strategy: dict, neuron: str | None, protocol
) -> list[Point]:
    """The points of ``settings`` with the strategy, neuron model and protocol asked for,
    after checking that the experiment takes them."""
    if strategy and experiment.jobs is not None:
        raise ConfigError(f"{experiment.name} trains no evolution strategy to change")
    if neuron is not None:
        neuron_model(neuron)  # an unknown name fails here, with the choices
    if protocols.switches_of(protocol) and experiment.jobs is not None:
        raise ConfigError(
            f"{experiment.name} is a study of jobs: the protocols change trained networks "
            "only; drop --protocol"
        )
    points = with_neuron(with_strategy(experiment.make_points(settings), strategy), neuron)
    idle = protocols.idle_switches([p.config for p in points], protocol)
    if idle:  # not an error: a protocol bundles switches that not every experiment has
        print(
            f"note: {'switch' if len(idle) == 1 else 'switches'} {' and '.join(idle)} "
            f"{'changes' if len(idle) == 1 else 'change'} nothing in {experiment.name}'s "
            "points (the convention is already the default there, or does not apply)",
            file=sys.stderr,
        )
    return [
        dataclasses.replace(p, config=protocols.apply_protocol(p.config, protocol)) for p in points
    ]


def _claim(out: Path, wanted: dict, resume: bool) -> None:
    """Check that ``out`` is free for the manifest ``wanted``, or holds it and ``resume``;
    forget an earlier start that trained nothing."""
    path = out / MANIFEST
    if path.exists():
        stored = storage.read_json(path, dict)
        stored.pop("provenance", None)  # what ran it first; not part of what was asked
        stored.pop("source", None)  # the experiment's file may have moved since
        if stored != {k: v for k, v in wanted.items() if k != "source"}:
            if trained_anything(out):
                raise RunDirError(
                    f"{out} holds {describe_difference(stored, wanted)}: choose another --out "
                    "directory, or --resume with the options it was started with"
                )
            forget_unstarted(out)  # an earlier start failed before training anything
        elif not resume:
            raise RunDirError(f"{out} already holds this run: pass --resume to continue it")
    elif out.exists() and not out.is_dir():
        raise RunDirError(f"{out} is a file, not a directory: choose another --out")
    elif out.exists() and any(f.name != ".lock" for f in out.iterdir()):
        raise RunDirError(
            f"{out} is not empty and holds no hetsnn experiment: choose another --out"
        )


def _write_manifest(out: Path, wanted: dict) -> None:
    """Write ``out/experiment.json`` unless it holds ``wanted`` already (a finished run's
    resume writes nothing, so a read-only copy works)."""
    path = out / MANIFEST
    if path.exists():
        stored = storage.read_json(path, dict)
        stored.pop("provenance", None)
        if stored == wanted:
            return
    storage.write_json(path, {**wanted, "provenance": provenance()})


def _train_points(experiment, preset, points, out, progress, after_point, together) -> None:
    """Train ``points`` through the run loop, in program groups when ``together``."""
    bar = tqdm(
        total=len(points), desc=f"{experiment.name}/{preset}", unit="run", disable=not progress
    )
    with bar:
        if together is None:
            together = jax.default_backend() != "cpu"
        for group in program_groups(points) if together else [[p] for p in points]:
            train_together(
                [point.config for point in group],
                [out / "points" / point.name for point in group],
                progress=progress,
                description=group[0].name + (f" +{len(group) - 1}" if len(group) > 1 else ""),
            )
            bar.update(len(group))
            if after_point is not None:
                after_point(out)


def _on_cluster(
    ray, experiment, preset, settings, points, out, progress, after_point, together, cluster
) -> None:
    """The points (groups of points, with ``together``) or the study's jobs as Ray tasks."""
    if experiment.jobs is not None:
        units = ray_cluster.study_jobs(experiment.jobs(settings), out.resolve())
        counting = "job"
    else:
        if together is None:  # as on one machine: together where the tasks get a GPU
            together = ray_cluster.has_gpus(ray)
        groups = program_groups(points) if together else [[p] for p in points]
        units = ray_cluster.point_groups(
            [
                (
                    group[0].name + (f" +{len(group) - 1}" if len(group) > 1 else ""),
                    [p.config for p in group],
                    [out.resolve() / "points" / p.name for p in group],
                )
                for group in groups
            ]
        )
        counting = "run"
    ray_cluster.run_units(
        ray,
        units,
        cluster,
        description=f"{experiment.name}/{preset} on Ray",
        counting=counting,
        progress=progress,
        after_each=None if after_point is None else (lambda: after_point(out)),
    )


def program_groups(points: list[Point]) -> list[list[Point]]:
    """``points`` in order, consecutive points that share one compiled program
    (:func:`hetsnn.train.loop.shares_program`) grouped, to be trained side by side."""
    groups: list[list[Point]] = []
    for point in points:
        if groups and shares_program(groups[-1][0].config, point.config):
            groups[-1].append(point)
        else:
            groups.append([point])
    return groups
