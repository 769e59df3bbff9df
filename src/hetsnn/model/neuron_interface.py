"""What a neuron model is: one module, one registry entry (:mod:`hetsnn.model.neuron_models`).

A neuron model owns, in one place (as Norse's ``functional/lif.py`` or one evosax algorithm
file does):

* its **config**, a frozen dataclass of homogeneous defaults with units, validated on
  construction (:class:`hetsnn.model.neurons.NeuronConfig` for LIF; a model with more
  properties subclasses it); the class attribute ``model`` names the model;
* its **parameters**, a pytree of per-neuron arrays ``(n_neurons,)``;
* its **state** between two simulation steps, a pytree whose field ``u`` is the membrane
  potential *before* the last step's reset (the network resets at the start of the next
  step, :mod:`hetsnn.model.networks` says why); more fields for more state (adaptation);
* its **step**: reset from the carried state, integrate the input current, fire;
* its **trainable properties as one table** (:class:`Property`): name, unit, how the
  optimiser searches it, and its key in ``centres.npz``.

Everything that handles neuron properties (genome, run loop, storage, summaries, controls,
reports, NIR export) iterates over the table, so a new model is one module and one
registry entry (docs/architecture.md: "Add a neuron model").
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from hetsnn.model.surrogates import SpikeFn

# How the optimiser's coordinates map to a property (Property.kind), per search space
# (hetsnn.model.genome.SEARCH_SPACES):
#   "time_constant": always the logit of the Euler decay dt / tau;
#   "threshold": the value; in "relative" in units of the default gap v_th - v_rest; in
#       "log" log(v_th - v_rest), so the threshold stays above rest;
#   "rest": the value; in "relative" in units of the gap;
#   "resistance": the value; in "log" its logarithm, so it stays positive;
#   "direct": the value in every space.
KINDS = ("time_constant", "threshold", "rest", "resistance", "direct")


def decay_logit(tau, dt: float) -> jax.Array:
    """``logit(dt / tau)``, the search coordinate of a time constant ``tau`` (ms) at the
    Euler step ``dt`` (ms); needs ``tau > dt``."""
    k = dt / jnp.asarray(tau, jnp.float32)
    return jnp.log(k) - jnp.log1p(-k)


@dataclass(frozen=True)
class Property:
    """One row of a model's table of trainable per-neuron properties.

    Attributes:
        name: the name in ``RunConfig.trainable`` and properties.jsonl (``"tau_m"``).
        unit: of its natural value (``"ms"``, ``"voltage"``, ``"1"``).
        field: the parameters' field holding it (``"tau_logit"``).
        stored: its key in ``centres.npz``, also the config field of its homogeneous
            default (``"tau_m"``, ``"resistance"``).
        kind: how it is searched, one of ``KINDS``.
    """

    name: str
    unit: str
    field: str
    stored: str
    kind: str = "direct"

    def natural(self, params: Any, dt: float) -> jax.Array:
        """Its value in natural units (a time constant in ms), ``(..., n_neurons)``."""
        value = getattr(params, self.field)
        return dt / jax.nn.sigmoid(value) if self.kind == "time_constant" else value

    def parameter(self, natural, dt: float):
        """The inverse of :meth:`natural` (float32 for a time constant)."""
        return decay_logit(natural, dt) if self.kind == "time_constant" else natural


def with_noise(u: jax.Array, noise: jax.Array | None) -> jax.Array:
    """``u + noise``, or ``u`` itself when there is no noise."""
    return u if noise is None else u + noise


class NeuronModel:
    """The interface of a neuron model; subclasses fill in the class attributes and
    :meth:`step`, :meth:`after_reset` and :meth:`reset_jacobian`.

    Attributes:
        name: its registry name (``--neuron NAME``).
        summary: one line for ``hetsnn list``.
        config: its config class (homogeneous defaults).
        properties: its trainable properties (:class:`Property`), in the order of the
            rows of :meth:`stack`; the genome's flat vector holds them sorted by name.
        binary: its spikes are 0 or 1 (False for the bipolar neuron's -1, 0, +1).
        nir_refusal: why NIR cannot express it, or None when it can.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    config: ClassVar[type]
    properties: ClassVar[tuple[Property, ...]]
    binary: ClassVar[bool] = True
    nir_refusal: ClassVar[str | None] = None

    def __repr__(self) -> str:
        return f"<neuron model {self.name}>"

    # ----- the table -------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)

    def property(self, name: str) -> Property:
        return self.properties[self.names.index(name)]

    def homogeneous(self, config: Any, n: int) -> Any:
        """``n`` identical neurons at ``config``'s defaults: parameters ``(n,)`` each."""
        values = {
            p.field: jnp.full((n,), p.parameter(getattr(config, p.stored), config.dt), jnp.float32)
            for p in self.properties
        }
        return self.params(**values)

    def params(self, **fields) -> Any:
        """The parameters pytree from its fields."""
        raise NotImplementedError

    def stack(self, params: Any) -> jax.Array:
        """The properties as rows ``(n_properties, n_neurons)``, in table order."""
        return jnp.stack([getattr(params, p.field) for p in self.properties])

    def unstack(self, rows: jax.Array) -> Any:
        """The inverse of :meth:`stack`."""
        return self.params(**{p.field: row for p, row in zip(self.properties, rows, strict=True)})

    def to_arrays(self, params: Any, dt: float) -> dict[str, np.ndarray]:
        """The properties in natural units, keyed by their ``stored`` names."""
        return {p.stored: np.asarray(p.natural(params, dt)) for p in self.properties}

    def from_arrays(self, arrays: dict, dt: float) -> Any:
        """The inverse of :meth:`to_arrays` (a time constant in ms goes back through its
        logit at ``dt``, in float32, so decays match the trained ones to rounding)."""
        return self.params(
            **{p.field: jnp.asarray(p.parameter(arrays[p.stored], dt)) for p in self.properties}
        )

    # ----- the dynamics ----------------------------------------------------------------
    def rest(self, params: Any, batch_shape: tuple[int, ...] = ()) -> Any:
        """The state of neurons at rest, fields ``(*batch_shape, n_neurons)``."""
        raise NotImplementedError

    def step(
        self,
        params: Any,
        state: Any,
        current: jax.Array,
        spike_fn: SpikeFn,
        detach_reset: bool,
        store: jnp.dtype,
        compute: jnp.dtype,
        noise: jax.Array | None = None,
    ) -> tuple[Any, jax.Array, jax.Array]:
        """One simulation step: reset what the last step fired, integrate ``current``,
        fire.

        Args:
            state: the carried state (fields stored as ``store``).
            current: input current ``(..., n_neurons)``.
            spike_fn: Heaviside with a surrogate derivative (:mod:`surrogates`).
            detach_reset: cut the gradient through the reset.
            store, compute: the dtype the state is stored in between steps, and the one
                the step computes in.
            noise: added to the integrated potential before it fires (membrane noise,
                ``(..., n_neurons)``), or None; :func:`with_noise` does it. The network
                passes it only when a noise probe asks for it.

        Returns:
            ``(state, u, spikes)``: the new state (as ``store``), the pre-reset
            potentials ``u: (..., n_neurons)`` (rounded to ``store``, in ``compute``) and
            the spikes.
        """
        raise NotImplementedError

    def after_reset(self, params: Any, state: Any, spike_fn: SpikeFn, detach_reset: bool):
        """The membrane potentials after the reset of the step that left ``state``."""
        raise NotImplementedError

    def events(self, spikes: jax.Array) -> jax.Array:
        """Spike events per neuron (what firing rates count): the spikes themselves for a
        binary model."""
        return spikes

    def reset_jacobian(self, params: Any, u: jax.Array, spike_fn: SpikeFn, detach_reset: bool):
        """The local BPTT factor ``dv(t)/dv(t-dt)`` of each neuron at pre-reset ``u``."""
        raise NotImplementedError
