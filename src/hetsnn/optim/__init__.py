"""Trainers behind one interface (:mod:`hetsnn.optim.trainer`): evolution strategies
through evosax (:mod:`~hetsnn.optim.evolution`) and backprop through time through optax
(:mod:`~hetsnn.optim.gradient`), chosen by the type of the optimiser config."""

from hetsnn.config import GradientConfig, Optimiser, StrategyConfig
from hetsnn.optim import evolution, gradient
from hetsnn.optim.es import Maximiser, make_maximiser, sanitize_rewards
from hetsnn.optim.trainer import Problem, Trainer

TRAINERS: dict[type, Trainer] = {
    StrategyConfig: evolution.TRAINER,
    GradientConfig: gradient.TRAINER,
}


def trainer_for(optimiser: Optimiser) -> Trainer:
    """The trainer of an optimiser config (a StrategyConfig trains by ES, a
    GradientConfig by BPTT)."""
    return TRAINERS[type(optimiser)]


__all__ = [
    "TRAINERS",
    "Maximiser",
    "Problem",
    "Trainer",
    "make_maximiser",
    "sanitize_rewards",
    "trainer_for",
]
