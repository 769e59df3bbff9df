"""Experiment 6, ES arms only (docs/specification.md): CartPole-v1 reward vs episode cap.

NeuronES (fixed random weights, four properties per hidden neuron trained) against WeightES
(homogeneous neurons, all weights trained) at equal trainable count; PGPE population 128 for
30 generations with one episode per individual (3,840 episodes). The same points as
``bp-vs-es`` without its BPTT arms.
"""

import dataclasses

from hetsnn.experiments import bp_vs_es
from hetsnn.experiments.base import Experiment

PRESETS = {
    name: dataclasses.replace(settings, bp_arms=False)
    for name, settings in bp_vs_es.PRESETS.items()
}

EXPERIMENT = Experiment(
    name="cartpole",
    summary="CartPole-v1 with evolution strategies: NeuronES vs WeightES over episode caps",
    x_label="episode cap (steps)",
    y_label="return of the final centre",
    presets=PRESETS,
    make_points=bp_vs_es.make_points,
    curve_x="episodes",
)
