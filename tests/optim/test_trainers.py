"""Trainers are chosen by the optimiser config's type, each behind the Trainer interface."""

from hetsnn.config import GradientConfig, StrategyConfig
from hetsnn.optim import TRAINERS, Trainer, evolution, gradient, trainer_for


def test_each_optimiser_config_has_its_trainer():
    assert trainer_for(StrategyConfig()) is evolution.TRAINER
    assert trainer_for(GradientConfig()) is gradient.TRAINER
    assert trainer_for(StrategyConfig(name="snes")) is evolution.TRAINER
    for trainer in TRAINERS.values():
        assert isinstance(trainer, Trainer)
        assert all(callable(f) for f in trainer)
