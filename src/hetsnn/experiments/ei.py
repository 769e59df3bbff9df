"""Companion study 2: E/I balance under Dale's law on Fashion-MNIST (the study itself:
:mod:`hetsnn.studies.ei`)."""

from hetsnn.experiments.base import Experiment, no_points
from hetsnn.studies.ei import EISettings, check_data, jobs

PRESETS = {
    "smoke": EISettings(
        ratios=(0.5, 0.8), seeds=1, n_hidden=32, epochs=1, steps=5, batch=50,
        train_images=200, test_images=100, diversity_images=8,
    ),
    "small": EISettings(
        ratios=(0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0), seeds=3, n_hidden=200, epochs=2,
        train_images=20_000, init_rates=(5.0, 50.0),
    ),
    "paper": EISettings(
        ratios=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), seeds=5, n_hidden=1000,
        epochs=20, steps=25, init_rates=(2.0, 10.0, 50.0, None),
    ),
}  # fmt: skip


EXPERIMENT = Experiment(
    name="ei",
    summary="Dale's-law E/I recurrent SNN on Fashion-MNIST by BPTT: sweep of the E:I ratio",
    x_label="excitatory share",
    y_label="test accuracy",
    presets=PRESETS,
    make_points=no_points,
    check=check_data,
    jobs=jobs,
)
