"""Trainers behind one interface (:mod:`hetsnn.optim.trainer`): evolution strategies
through evosax (:mod:`~hetsnn.optim.evolution`) and backprop through time through optax
(:mod:`~hetsnn.optim.gradient`), chosen by the type of the optimiser config."""

from hetsnn.errors import ConfigError
from hetsnn.optim import evolution, gradient
from hetsnn.optim.es import Maximiser, make_maximiser, sanitize_rewards
from hetsnn.optim.evolution import StrategyConfig
from hetsnn.optim.gradient import GradientConfig
from hetsnn.optim.trainer import Problem, Trainer

TRAINERS: dict[type, Trainer] = {
    StrategyConfig: evolution.TRAINER,
    GradientConfig: gradient.TRAINER,
}
# The optimiser names each trainer's config takes (a run config names its optimiser).
NAMES: dict[type, tuple[str, ...]] = {
    StrategyConfig: evolution.STRATEGY_NAMES,
    GradientConfig: gradient.GRADIENT_NAMES,
}
Optimiser = StrategyConfig | GradientConfig


def optimiser_config(name: str) -> type:
    """The config class of the trainer whose optimiser is called ``name``."""
    for config, names in NAMES.items():
        if name in names:
            return config
    known = tuple(n for names in NAMES.values() for n in names)
    raise ConfigError(f"optimiser.name {name!r} is unknown: choose one of {known}")


def trainer_for(optimiser: Optimiser) -> Trainer:
    """The trainer of an optimiser config (a StrategyConfig trains by ES, a
    GradientConfig by BPTT)."""
    return TRAINERS[type(optimiser)]


__all__ = [
    "NAMES",
    "TRAINERS",
    "GradientConfig",
    "Optimiser",
    "StrategyConfig",
    "Maximiser",
    "Problem",
    "Trainer",
    "make_maximiser",
    "optimiser_config",
    "sanitize_rewards",
    "trainer_for",
]
