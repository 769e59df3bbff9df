"""Experiment registry: one module per paper experiment, one entry each; a researcher's own
experiment is added with :func:`register_experiment` (:mod:`hetsnn.plugins`)."""

import dataclasses

from hetsnn import plugins
from hetsnn.errors import ConfigError
from hetsnn.experiments import (
    ablation,
    bp_vs_es,
    cartpole,
    classify,
    classify_variants,
    control,
    ei,
    hrsnn,
    memory,
    quenched,
)
from hetsnn.experiments.base import Experiment, Point, run_experiment

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        memory.EXPERIMENT,
        cartpole.EXPERIMENT,
        bp_vs_es.EXPERIMENT,
        bp_vs_es.LR_EXPERIMENT,
        bp_vs_es.SURROGATE_EXPERIMENT,
        classify.EXPERIMENT,
        classify_variants.EXPERIMENT,
        control.EXPERIMENT,
        ablation.EXPERIMENT,
        quenched.EXPERIMENT,
        hrsnn.EXPERIMENT,
        ei.EXPERIMENT,
    )
}


BUILT_IN = frozenset(EXPERIMENTS)


def register_experiment(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry and return it as registered: defined in a file that
    :func:`hetsnn.plugins.load_file` is importing, it records that file as its ``source``
    (``experiment.json`` keeps it, so reports load the file again).

    Raises:
        ConfigError: not an Experiment, or a built-in experiment's name.
    """
    if not isinstance(experiment, Experiment):
        raise ConfigError(f"{experiment!r} is not a hetsnn.experiments.Experiment")
    if experiment.name in BUILT_IN:
        raise ConfigError(
            f"experiment {experiment.name!r} is built into hetsnn: give yours another name"
        )
    source = plugins.loading()
    if source is not None and experiment.source is None:
        experiment = dataclasses.replace(experiment, source=source)
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        plugins.load_installed()  # an installed package may register it
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}: choose one of {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def experiment_in_file(path) -> Experiment:
    """The experiment the Python file ``path`` registers (loading it once).

    Raises:
        ConfigError: the file registers none, or several.
    """
    source = str(plugins.load_file(path).__file__)
    found = [e for e in EXPERIMENTS.values() if e.source == source]
    if len(found) != 1:
        names = ", ".join(e.name for e in found) or "none"
        raise ConfigError(
            f"{source} must register exactly one experiment with "
            f"hetsnn.experiments.register_experiment (it registers {names})"
        )
    return found[0]


__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "Point",
    "experiment_in_file",
    "get_experiment",
    "register_experiment",
    "run_experiment",
]
