"""The one interface of hetsnn's networks: ``init``, ``init_state``, ``step``.

The feedforward network of the paper's experiments
(:class:`~hetsnn.model.networks.FeedforwardSNN`), the companion studies' recurrent E/I
network (:class:`~hetsnn.model.recurrent_ei.EINetwork`) and reservoirs
(:class:`~hetsnn.model.reservoir.ReservoirNetwork`) all provide it, as gymnax's
environments all provide ``reset`` and ``step``: a task or study can drive any of them one
simulation step at a time. Each keeps faster whole-sequence paths of its own (the
feedforward network's fused image pass and open-loop read-out, the E/I network's
``forward``, the reservoir's ``run``), tested equal to stepping it.
"""

from typing import Any, Protocol, runtime_checkable

import jax


@runtime_checkable
class SpikingNetwork(Protocol):
    """A network's static structure (hashable); its numbers live in ``params``.

    * ``init(key, hidden) -> params``: random weights around the hidden layer's per-neuron
      properties ``hidden`` (the neuron model's parameters, fields ``(n_hidden,)``).
    * ``init_state(params, batch_shape=()) -> state``: every neuron at rest.
    * ``step(params, state, x) -> (state, readout, spikes)``: present the input
      ``x: (..., n_in)`` for one step of the network (the feedforward network: its
      ``steps_per_input`` simulation steps); ``readout: (..., n_out)``, ``spikes:
      (..., n_hidden)`` spike events of the step.
    """

    def init(self, key: jax.Array, hidden: Any) -> Any: ...

    def init_state(self, params: Any, batch_shape: tuple[int, ...] = ()) -> Any: ...

    def step(self, params: Any, state: Any, x: jax.Array) -> tuple[Any, jax.Array, jax.Array]: ...
