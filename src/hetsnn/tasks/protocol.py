"""The task interface, written as code.

A task is a small frozen dataclass (its fields are its configuration, so it is hashable and
compiled programs key on it). Its data set, if any, is loaded by ``load_data(split)`` and
reaches the compiled programs as an argument. Every method is pure and jit-/vmap-able.
Adding a task is one module with such a class and one entry in ``hetsnn.tasks.TASKS``.

A task drives its network through the network interface
(:class:`~hetsnn.model.network_interface.SpikingNetwork`: ``init_state`` and ``step``); the
built-in tasks, which the run loop gives a
:class:`~hetsnn.model.networks.FeedforwardSNN`, also use its faster whole-sequence paths
(``trace``, ``final_readout``).
"""

from typing import Any, ClassVar, Protocol

import jax

from hetsnn.model.network_interface import SpikingNetwork
from hetsnn.model.networks import NetworkParams


class Task(Protocol):
    """What trainers, the run loop and the reports rely on.

    Attributes:
        name: the registry name (``"memory"``, ``"classify"``, ...).
        supervised: trained by BPTT on a supervised loss (then also :class:`Supervised`).
        samples_episodes: has a stochastic policy for REINFORCE (then also
            :class:`EpisodeSampler`).
        has_probe: ``probe`` records something at checkpoints.
    """

    name: ClassVar[str]
    supervised: ClassVar[bool]
    samples_episodes: ClassVar[bool]
    has_probe: ClassVar[bool]

    @property
    def n_inputs(self) -> int: ...

    @property
    def n_outputs(self) -> int: ...

    @property
    def episodes(self) -> int:
        """Episodes (or mini-batches) one fitness evaluation averages over."""

    @property
    def steps_per_episode(self) -> int: ...

    def to_dict(self) -> dict: ...

    def data_spec(self, split: str) -> Any:
        """The shapes of ``load_data(split)`` (``jax.ShapeDtypeStruct`` leaves) or None."""

    def load_data(self, split: str) -> Any:
        """The split ("train", "test", "validation") as device arrays, or None."""

    def evaluate(
        self, network: SpikingNetwork, params: NetworkParams, key: jax.Array, data: Any
    ) -> jax.Array:
        """The training fitness, a float32 scalar (higher is better)."""

    def final_score(
        self, network: SpikingNetwork, params: NetworkParams, key: jax.Array, data: Any,
        episodes: int,
    ) -> jax.Array:  # fmt: skip
        """The reported score of a trained network (greedy episodes, or the test split)."""

    def probe(self, network: SpikingNetwork, params: NetworkParams, data: Any, key: jax.Array):
        """Recordings of a network at a checkpoint (a dict of arrays), or None."""


class EpisodeSampler(Task, Protocol):
    """A task REINFORCE can train: episodes under the softmax policy of the read-out."""

    def sample_episode(
        self, network: SpikingNetwork, params: NetworkParams, key: jax.Array, episode: jax.Array
    ):
        """One sampled episode (:class:`hetsnn.tasks.base.Trajectory`)."""


class Supervised(Task, Protocol):
    """A task trained on labelled inputs (the cross-entropy of the read-out)."""

    def sample_batch(self, key: jax.Array, data: Any, size: int) -> tuple[jax.Array, jax.Array]:
        """``(inputs, labels)`` of ``size`` examples drawn from ``data``."""

    def forward(self, network: SpikingNetwork, params: NetworkParams, inputs, key: jax.Array):
        """``(logits, spikes, pre-reset potentials)`` of a batch of inputs."""

    def scores(self, logits: jax.Array, labels: jax.Array) -> jax.Array:
        """Per-input score of the task's fitness (1.0 for a correct class)."""

    def training_loss(self, network, params, inputs, labels, key: jax.Array):
        """``(loss, scores (B,), pre-reset potentials)`` of a labelled batch for BPTT."""


# What :class:`Task` asks of an object: its class attributes, properties and methods.
TASK_MEMBERS = frozenset(Task.__annotations__) | {n for n in vars(Task) if not n.startswith("_")}


def missing_members(task: object) -> list[str]:
    """The members of :class:`Task` that ``task`` (an instance or a class) lacks, sorted."""
    return sorted(m for m in TASK_MEMBERS if not hasattr(task, m))
