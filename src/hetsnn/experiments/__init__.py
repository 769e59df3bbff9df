"""Experiment registry: one module per paper experiment, one entry each."""

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


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}: choose one of {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name]


__all__ = ["EXPERIMENTS", "Experiment", "Point", "get_experiment", "run_experiment"]
