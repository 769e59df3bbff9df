"""The static structure of a run: what fixes shapes and compiled programs.

What fixes a compiled program (layer sizes, genome, task, optimiser settings) is the
hashable :class:`RunSpec`; numbers that vary between runs of one experiment (homogeneous
tau_m, random weights, keys) are data.
"""

from dataclasses import dataclass

import jax

from hetsnn.config import Optimiser, RunConfig
from hetsnn.model.genome import Genome
from hetsnn.model.networks import FeedforwardSNN, NetworkParams
from hetsnn.optim import Trainer, trainer_for
from hetsnn.tasks import Task


@dataclass(frozen=True)
class RunSpec:
    """Static structure of a run: everything that fixes shapes and the compiled program."""

    network: FeedforwardSNN
    genome: Genome
    task: Task | None
    optimiser: Optimiser

    @classmethod
    def from_config(cls, config: RunConfig) -> "RunSpec":
        net, task = config.network, config.task
        network = FeedforwardSNN.around(
            net, n_in=task.n_inputs, n_out=task.n_outputs, dt=net.neuron.dt
        )
        neuron = net.neuron
        genome = Genome(config.trainable, config.search_space, neuron.v_th - neuron.v_rest)
        return cls(network, genome, task, config.optimiser)

    @property
    def num_dims(self) -> int:
        return self.genome.size(self.network)

    @property
    def trainer(self) -> Trainer:
        """The trainer of this spec's optimiser (:data:`hetsnn.optim.TRAINERS`)."""
        return trainer_for(self.optimiser)

    def fitness(self, flat: jax.Array, base: NetworkParams, key: jax.Array, data=None):
        """The task's fitness of the genome ``flat: (num_dims,)`` on top of ``base``."""
        return self.task.evaluate(self.network, self.genome.unflatten(flat, base), key, data)
