"""Companion study 3: an E/I reservoir with heterogeneous STDP and a Bayesian design of its
heterogeneity (the study itself: :mod:`hetsnn.studies.hrsnn`)."""

from hetsnn.experiments.base import Experiment, no_points
from hetsnn.studies.hrsnn import HRSNNSettings, jobs
from hetsnn.tasks.temporal import SMOKE_SUITE

PRESETS = {
    "smoke": HRSNNSettings(
        n_neurons=30,
        seeds=1,
        trials=3,
        search_seeds=1,
        stdp_steps=200,
        suite=SMOKE_SUITE,
        min_memory_capacity=0.0,
    ),
    "small": HRSNNSettings(n_neurons=200, seeds=5, trials=60, search_seeds=2, stdp_steps=2000),
    "paper": HRSNNSettings(n_neurons=1000, seeds=10, trials=300, search_seeds=3, stdp_steps=10_000),
}


EXPERIMENT = Experiment(
    name="hrsnn",
    summary="recurrent E/I SNN with heterogeneous STDP; Bayesian design of spikes per MC",
    x_label="arm",
    y_label="spikes per unit memory capacity",
    presets=PRESETS,
    make_points=no_points,
    jobs=jobs,
)
