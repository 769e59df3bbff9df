"""Experiment 2 (docs/specification.md): Brax locomotion, reward vs trainable-parameter count.

Per environment and budget: the Neuron arm (fixed random weights, four properties of each
of H hidden neurons trained, 4H parameters) against the Weight arm (homogeneous neurons,
every weight trained, the hidden size whose weight count is nearest to 4H). PGPE with the
paper's settings; the report gives the final centre's reward and the last generation's
population, and fits the learned time constants against biology (experiment 4).
"""

from dataclasses import dataclass

from hetsnn.experiments.base import Experiment, Point, es_options, neuron_arm, weight_arm
from hetsnn.model.genome import PROPERTIES
from hetsnn.tasks.control import BraxTask


@dataclass(frozen=True, kw_only=True)
class BraxSettings:
    """What the control and ablation experiments share: environments, PGPE and episodes."""

    envs: tuple[str, ...]
    population: int
    generations: int
    seeds: int
    chunk: int
    max_steps: int  # episode length
    episodes: int = 1  # episodes per fitness evaluation
    eval_episodes: int = 16  # episodes for the final centre
    backend: str = "spring"
    normaliser_episodes: int = 16


@dataclass(frozen=True, kw_only=True)
class ControlSettings(BraxSettings):
    neuron_hidden: tuple[int, ...]  # hidden sizes of the Neuron arm; budgets are 4x these


def brax_task(s: BraxSettings, env: str) -> BraxTask:
    """The Brax task of settings ``s`` for environment ``env``."""
    return BraxTask(
        env=env,
        backend=s.backend,
        max_steps=s.max_steps,
        episodes=s.episodes,
        normaliser_episodes=s.normaliser_episodes,
    )


def make_points(s: ControlSettings) -> list[Point]:
    options = es_options(s, eval_episodes=s.eval_episodes)
    points = []
    for env in s.envs:
        task = brax_task(s, env)
        for n_hidden in s.neuron_hidden:
            budget = len(PROPERTIES) * n_hidden
            neuron = neuron_arm(task, n_hidden, **options)
            weight = weight_arm(task, n_hidden, **options)
            points.append(Point(f"neuron-{env}-{budget}", f"{env} Neuron", budget, neuron))
            points.append(Point(f"weight-{env}-{budget}", f"{env} Weight", budget, weight))
    return points


PRESETS = {
    "smoke": ControlSettings(
        envs=("hopper",),
        neuron_hidden=(8,),
        population=4,
        generations=2,
        seeds=1,
        chunk=1,
        max_steps=20,
        eval_episodes=2,
        normaliser_episodes=2,
    ),
    "small": ControlSettings(
        envs=("hopper",),
        neuron_hidden=(16, 64, 256),
        population=64,
        generations=100,
        seeds=3,
        chunk=25,
        max_steps=200,
    ),
    "paper": ControlSettings(
        envs=("ant", "halfcheetah", "hopper", "walker2d"),
        neuron_hidden=(64, 256, 1024, 4096),
        population=256,
        generations=1000,
        seeds=5,
        chunk=50,
        max_steps=1000,
    ),
}

EXPERIMENT = Experiment(
    name="control",
    summary="Brax ant/halfcheetah/hopper/walker2d: reward vs trainable parameters, both arms",
    x_label="trainable budget",
    y_label="return of the final centre",
    presets=PRESETS,
    make_points=make_points,
    sections=("taudist",),
)
