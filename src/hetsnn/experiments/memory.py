"""Experiment 1 (docs/specification.md): working memory, reward vs memory length.

Arms at equal trainable-parameter count:
* Neuron: fixed random weights, the four properties of every hidden neuron trained.
* Weight: homogeneous neurons (tau_m 20 ms), all weights trained.
* Weight at other homogeneous tau_m values (the tau_m sweep).
With 2 inputs and 2 outputs a hidden neuron carries 4 weights and 4 properties, so both arms
have the same hidden size.
"""

from dataclasses import dataclass

from hetsnn.config import NeuronConfig
from hetsnn.experiments.base import Experiment, Point, es_options, neuron_arm, weight_arm
from hetsnn.tasks import MemoryTask


@dataclass(frozen=True)
class MemorySettings:
    lengths: tuple[int, ...]
    n_hidden: int  # hidden size of the Neuron arm; the Weight arm matches its budget
    taus: tuple[float, ...]  # extra homogeneous tau_m values (ms) for the Weight arm
    population: int
    generations: int
    seeds: int
    chunk: int


PRESETS = {
    "smoke": MemorySettings(
        lengths=(2, 4), n_hidden=8, taus=(50.0,), population=8, generations=4, seeds=2, chunk=2
    ),
    "small": MemorySettings(
        lengths=(5, 10, 25, 40, 60),
        n_hidden=64,
        taus=(50.0, 100.0),
        population=128,
        generations=200,
        seeds=10,
        chunk=50,
    ),
    "paper": MemorySettings(
        lengths=(5, 10, 15, 20, 25, 30, 40, 50),
        n_hidden=128,
        taus=(10.0, 50.0, 100.0, 200.0),
        population=256,
        generations=1000,
        seeds=50,
        chunk=100,
    ),
}


def make_points(s: MemorySettings) -> list[Point]:
    # Cues alternate and the network is deterministic, so 2 evaluation episodes are exact.
    options = es_options(s, eval_episodes=2)
    points = []
    for length in s.lengths:
        task = MemoryTask(memory_length=length)
        config = neuron_arm(task, s.n_hidden, **options)
        points.append(Point(f"neuron-L{length}", "Neuron (heterogeneous)", length, config))
        for tau in (NeuronConfig().tau_m, *s.taus):
            config = weight_arm(task, s.n_hidden, NeuronConfig(tau_m=tau), **options)
            points.append(
                Point(f"weight-tau{tau:g}-L{length}", f"Weight (tau_m {tau:g} ms)", length, config)
            )
    return points


EXPERIMENT = Experiment(
    name="memory",
    summary="working memory (bsuite memory length): reward vs memory length, both arms",
    x_label="memory length (steps)",
    y_label="reward of the final centre",
    presets=PRESETS,
    make_points=make_points,
    sections=("margins",),
)
