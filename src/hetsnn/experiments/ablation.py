"""Experiment 3 (docs/specification.md): which neuron properties matter? All 15 non-empty subsets of
{tau_m, v_th, v_rest, R} trained at one trainable budget, the others fixed at the
homogeneous defaults; the report adds exact Shapley values of the four properties (the empty
coalition is the untrained network) and the learned time constants against biology.

With k properties trainable the hidden layer has ``budget / k`` neurons, so every subset
trains about the same number of parameters (16,384 in the paper: 16,384 neurons for one
property, 4,096 for all four).
"""

import itertools
from dataclasses import dataclass

from hetsnn.config import NetworkConfig, RunConfig
from hetsnn.errors import ConfigError
from hetsnn.experiments.base import Experiment, Point, es_options
from hetsnn.experiments.control import BraxSettings, brax_task
from hetsnn.model.genome import PROPERTIES, canonical_trainable, hidden_size_for_budget
from hetsnn.tasks import CartPoleTask
from hetsnn.tasks.control import BRAX_ENVS


@dataclass(frozen=True, kw_only=True)
class AblationSettings(BraxSettings):
    """``envs`` may also name "cartpole" (gymnax) for a quick look."""

    budget: int  # trainable parameters of every subset
    properties: tuple[str, ...] = PROPERTIES  # the players; subsets of these are trained


def subsets(properties) -> list[tuple[str, ...]]:
    """Non-empty subsets in canonical order, by size: (tau_m,), (v_th,), ... (all four)."""
    properties = canonical_trainable(properties)
    return [
        combo for size in range(1, len(properties) + 1)
        for combo in itertools.combinations(properties, size)
    ]  # fmt: skip


def subset_name(subset) -> str:
    return "+".join(subset)


def _task(s: AblationSettings, env: str):
    if env == "cartpole":
        return CartPoleTask(max_steps=s.max_steps, episodes=s.episodes)
    if env not in BRAX_ENVS:
        raise ConfigError(f"ablation env {env!r} is unknown: choose from {BRAX_ENVS} or cartpole")
    return brax_task(s, env)


def make_points(s: AblationSettings) -> list[Point]:
    options = es_options(s, eval_episodes=s.eval_episodes)
    points = []
    for env in s.envs:
        task = _task(s, env)
        for index, subset in enumerate(subsets(s.properties), start=1):
            n_hidden = hidden_size_for_budget(subset, s.budget, task.n_inputs, task.n_outputs)
            config = RunConfig(task, NetworkConfig(n_hidden=n_hidden), trainable=subset, **options)
            points.append(Point(f"{env}-{subset_name(subset)}", env, index, config))
    return points


PRESETS = {
    # CartPole: 15 Brax programs would take 15-20 minutes to compile on a laptop
    "smoke": AblationSettings(
        envs=("cartpole",),
        budget=48,
        population=4,
        generations=2,
        seeds=1,
        chunk=1,
        max_steps=50,
        eval_episodes=2,
    ),
    "small": AblationSettings(
        envs=("hopper",),
        budget=1024,
        population=64,
        generations=100,
        seeds=3,
        chunk=25,
        max_steps=200,
    ),
    "paper": AblationSettings(
        envs=("ant", "halfcheetah", "hopper", "walker2d"),
        budget=16_384,
        population=256,
        generations=1000,
        seeds=5,
        chunk=50,
        max_steps=1000,
    ),
}


EXPERIMENT = Experiment(
    name="ablation",
    summary="which properties matter: 15 trainable subsets, Shapley values, learned tau_m",
    x_label="trainable subset (number)",
    y_label="return of the final centre",
    presets=PRESETS,
    make_points=make_points,
    sections=("ablation", "taudist"),
    x_categorical=True,
)
