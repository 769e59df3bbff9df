"""The static structure of a run: what fixes shapes and compiled programs.

What fixes a compiled program (layer sizes, genome layout, task, optimiser settings) is the
hashable :class:`RunSpec`; numbers that vary between runs of one experiment (homogeneous
tau_m, random weights, keys, and which properties fill the genome's property slots) are
data.
"""

from dataclasses import dataclass, field

import jax

from hetsnn.config import Optimiser, RunConfig
from hetsnn.model.genome import Genome, GenomeBase, GenomeLayout
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.optim import Trainer, trainer_for
from hetsnn.tasks import Task


@dataclass(frozen=True)
class RunSpec:
    """Static structure of a run: everything that fixes shapes and the compiled program.

    ``rows`` (which properties the genome's slots hold, :attr:`Genome.rows`) is left out of
    equality and hash: it is the data :func:`hetsnn.train.programs.init_states` puts into
    each seed's :class:`~hetsnn.model.genome.GenomeBase`, and no compiled program reads it
    from the spec, so specs that differ only in it share their programs.
    """

    network: FeedforwardSNN
    genome: GenomeLayout
    task: Task | None
    optimiser: Optimiser
    rows: tuple[int, ...] = field(default=(), compare=False)

    @classmethod
    def from_config(cls, config: RunConfig) -> "RunSpec":
        net, task, neuron = config.network, config.task, config.network.neuron
        model = type(neuron).model
        network = FeedforwardSNN.around(
            net, n_in=task.n_inputs, n_out=task.n_outputs, dt=neuron.dt, model=model
        )
        gap = neuron.v_th - neuron.v_rest
        genome = Genome(config.trainable, config.search_space, gap, model)
        return cls(network, genome.layout, task, config.optimiser, rows=genome.rows)

    @property
    def num_dims(self) -> int:
        return self.genome.size(self.network)

    @property
    def trainer(self) -> Trainer:
        """The trainer of this spec's optimiser (:data:`hetsnn.optim.TRAINERS`)."""
        return trainer_for(self.optimiser)

    def fitness(self, flat: jax.Array, base: GenomeBase, key: jax.Array, data=None):
        """The task's fitness of the genome ``flat: (num_dims,)`` written onto ``base``."""
        return self.task.evaluate(self.network, self.genome.unflatten(flat, base), key, data)
