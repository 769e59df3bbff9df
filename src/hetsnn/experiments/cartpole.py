"""Experiment 6, ES arms (SCIENCE.md): CartPole-v1 reward vs episode cap.

NeuronES (fixed random weights, four properties per hidden neuron trained) against WeightES
(homogeneous neurons, all weights trained) at equal trainable count; ES population 128 for
30 generations with one episode per individual, i.e. 3,840 training episodes.
"""

from dataclasses import dataclass

from hetsnn.config import NetworkConfig, RunConfig, StrategyConfig
from hetsnn.experiments.base import Experiment, Point
from hetsnn.genome import PROPERTIES, WEIGHTS, hidden_size_for_budget
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
    "paper": CartPoleSettings(
        caps=(100, 200, 500, 1000),
        n_hidden=64,
        population=128,
        generations=30,
        episodes=1,
        seeds=100,
        chunk=10,
        eval_episodes=16,
    ),
}


def make_points(s: CartPoleSettings) -> list[Point]:
    probe = CartPoleTask()
    n_weight = hidden_size_for_budget(
        WEIGHTS, len(PROPERTIES) * s.n_hidden, probe.n_inputs, probe.n_outputs
    )
    common = dict(
        strategy=StrategyConfig(population=s.population),
        generations=s.generations,
        seeds=s.seeds,
        chunk=s.chunk,
        eval_episodes=s.eval_episodes,
    )
    points = []
    for cap in s.caps:
        task = CartPoleTask(max_steps=cap, episodes=s.episodes)
        points.append(
            Point(
                f"neuron-cap{cap}",
                "NeuronES",
                cap,
                RunConfig(task, NetworkConfig(n_hidden=s.n_hidden), trainable=PROPERTIES, **common),
            )
        )
        points.append(
            Point(
                f"weight-cap{cap}",
                "WeightES",
                cap,
                RunConfig(task, NetworkConfig(n_hidden=n_weight), trainable=(WEIGHTS,), **common),
            )
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
