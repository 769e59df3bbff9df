"""The trainer interface, written as code.

A trainer turns a run's static structure (a :class:`Problem`: network, genome, task and the
trainer's own settings) into a sequence of per-seed states. It is a :class:`Trainer`: six
pure functions, each taking the problem first so that compiled programs can key on it.
``hetsnn.optim.TRAINERS`` maps each optimiser config type to its trainer; adding a trainer
is one module exporting a ``TRAINER`` and one entry there.
"""

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax

from hetsnn.model.genome import GenomeBase, GenomeLayout
from hetsnn.model.networks import FeedforwardSNN


class Problem(Protocol):
    """What a trainer reads from a run (:class:`hetsnn.train.spec.RunSpec` is one)."""

    network: FeedforwardSNN
    genome: GenomeLayout
    task: Any  # a hetsnn.tasks Task
    optimiser: Any  # the trainer's own config (StrategyConfig, GradientConfig)

    @property
    def num_dims(self) -> int: ...

    def fitness(self, flat: jax.Array, base: GenomeBase, key: jax.Array, data=None): ...


State = Any  # a trainer's per-seed state: a pytree with fields ``base`` and ``generation``


class Trainer(NamedTuple):
    """The functions every trainer provides.

    Attributes:
        init_seed: ``(problem, hidden, rows, key) -> state`` of one seed around the
            homogeneous hidden layer ``hidden`` (the neuron model's parameters), its
            genome's property slots holding the properties ``rows``
            (:class:`~hetsnn.model.genome.GenomeBase`).
        generation: ``(problem, state, data) -> (state, metrics)``: one ES generation or
            one gradient update of one seed; ``data`` is the task's training split or None.
        centre: ``(problem, state) -> (num_dims,)`` the seed's current solution.
        episodes_per_generation: ``problem -> int`` episodes simulated per generation and
            seed (the work done).
        training_episodes_per_generation: ``problem -> int`` episodes whose outcome
            informs the update (the experience used).
        state_is_finite: ``(problem, state) -> bool`` scalar: every floating-point number
            the trainer moves on is finite (a resumed checkpoint is refused otherwise).
    """

    init_seed: Callable[[Problem, Any, jax.Array, jax.Array], State]
    generation: Callable[[Problem, State, Any], tuple[State, dict[str, jax.Array]]]
    centre: Callable[[Problem, State], jax.Array]
    episodes_per_generation: Callable[[Problem], int]
    training_episodes_per_generation: Callable[[Problem], int]
    state_is_finite: Callable[[Problem, State], jax.Array]
