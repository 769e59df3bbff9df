"""Experiment 6, ES arms (SCIENCE.md): CartPole-v1 reward vs episode cap.

NeuronES (fixed random weights, four properties per hidden neuron trained) against WeightES
(homogeneous neurons, all weights trained) at equal trainable count; ES population 128 for
30 generations with one episode per individual, i.e. 3,840 training episodes.
"""

import dataclasses
from dataclasses import dataclass

from hetsnn.experiments.base import Experiment, Point, es_options, neuron_arm, weight_arm
from hetsnn.tasks import CartPoleTask


@dataclass(frozen=True)
class CartPoleSettings:
    caps: tuple[int, ...]
    n_hidden: int  # hidden size of the NeuronES arm; WeightES matches its budget
    population: int
    generations: int
    episodes: int  # episodes per individual per generation
    seeds: int
    chunk: int
    eval_episodes: int


PRESETS = {
    "smoke": CartPoleSettings(
        caps=(50,),
        n_hidden=8,
        population=8,
        generations=2,
        episodes=1,
        seeds=2,
        chunk=2,
        eval_episodes=2,
    ),
    "small": CartPoleSettings(
        caps=(100, 200, 500, 1000),
        n_hidden=64,
        population=128,
        generations=30,
        episodes=1,
        seeds=5,
        chunk=10,
        eval_episodes=16,
    ),
}
PRESETS["paper"] = dataclasses.replace(PRESETS["small"], seeds=100)


def make_points(s: CartPoleSettings) -> list[Point]:
    options = es_options(s, eval_episodes=s.eval_episodes)
    points = []
    for cap in s.caps:
        task = CartPoleTask(max_steps=cap, episodes=s.episodes)
        points.append(
            Point(f"neuron-cap{cap}", "NeuronES", cap, neuron_arm(task, s.n_hidden, **options))
        )
        points.append(
            Point(f"weight-cap{cap}", "WeightES", cap, weight_arm(task, s.n_hidden, **options))
        )
    return points


EXPERIMENT = Experiment(
    name="cartpole",
    summary="CartPole-v1 with evolution strategies: NeuronES vs WeightES over episode caps",
    x_label="episode cap (steps)",
    y_label="return of the final centre",
    presets=PRESETS,
    make_points=make_points,
)
