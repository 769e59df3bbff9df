"""Companion study 1: reservoirs with quenched membrane time constants on a generated task
suite (the study itself: :mod:`hetsnn.studies.quenched`)."""

from hetsnn.experiments.base import Experiment, no_points
from hetsnn.studies.quenched import MATCHED, QuenchedSettings, distributions, jobs
from hetsnn.tasks.temporal import SMOKE_SUITE, SuiteConfig

PAPER_SUITE = SuiteConfig(
    stream_steps=5000,
    washout=100,
    delays=tuple(range(1, 101)),
    narma_orders=(2, 3, 5, 10, 15, 20, 30),
    pattern_classes=(2, 5, 10, 20),
    pattern_noise=(0.25, 0.5, 1.0, 2.0),
    pattern_lengths=(10, 30, 50),
    pattern_samples=400,
)

PRESETS = {
    "smoke": QuenchedSettings(
        sizes=(20, 40),
        seeds=1,
        robustness_size=20,
        suite=SMOKE_SUITE,
        distributions=("homogeneous", "gamma"),
        scales=(0.5, 1.0),
        removed=(0.0, 1.0),
    ),
    "small": QuenchedSettings(
        sizes=(25, 50, 100, 200, 400),
        seeds=5,
        robustness_size=100,
        distributions=("homogeneous", "gamma", "lognormal", "uniform", "allen-mouse"),
    ),
    "paper": QuenchedSettings(
        sizes=(50, 100, 200, 400, 800, 1600),
        seeds=10,
        robustness_size=400,
        suite=PAPER_SUITE,
        distributions=(*MATCHED, "allen-mouse", "allen-human"),
        scales=(0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0),
        removed=(0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0),
    ),
}


EXPERIMENT = Experiment(
    name="quenched",
    summary="reservoirs with quenched tau_m: homogeneous vs heterogeneous on a task suite",
    x_label="reservoir size N",
    y_label="suite score",
    presets=PRESETS,
    make_points=no_points,
    jobs=jobs,
    check=distributions,  # the Allen table must be readable before anything is written
)
