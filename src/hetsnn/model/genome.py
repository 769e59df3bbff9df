"""Which numbers of a network are trained, and the flat vector an optimiser sees.

A genome is a selection of leaves of :class:`~hetsnn.model.networks.NetworkParams`: the
``"weights"`` (both weight matrices), any non-empty subset of the per-neuron properties of
the hidden layer (the neuron model's table, :mod:`hetsnn.model.neuron_interface`: LIF's
four, ``tau_m, v_th, v_rest, R``), or both. Everything not selected stays at the value it
has in the *base* parameters (the fixed random weights, or the homogeneous defaults).

A selection has a static half and a data half:

* :class:`GenomeLayout` (static): the neuron model, whether the weights are in it, *how
  many* properties, and the search space. It fixes the flat vector's length, so it is what
  a compiled program depends on.
* *which* properties fill the property slots: ``rows``, indices into the model's table,
  carried as an array next to the base parameters in a :class:`GenomeBase`. Runs that train
  different properties of the same number (the ablation's subsets of one size) therefore
  share one compiled program.

:class:`Genome` names a selection, as a config does, and gives both halves.

The flat vector holds the selected properties sorted by name (for LIF ``R, tau_m, v_rest,
v_th``), ``n_hidden`` entries each, then ``w_in`` and ``w_out`` raveled: the order earlier
versions got from ``ravel_pytree`` of a dict, kept so that a checkpoint's search centre
keeps its meaning.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.errors import ConfigError
from hetsnn.model.networks import NetworkParams
from hetsnn.model.neuron_interface import NeuronModel
from hetsnn.model.neuron_models import neuron_model
from hetsnn.model.neurons import LIF

PROPERTIES = LIF.names  # LIF's trainable properties: rows 0-3 of its property stack
WEIGHTS = "weights"
# How the optimiser's coordinates map to the properties (time constants are always their
# logit; each property's Property.kind says which rule below applies to it):
# "direct": the values themselves; "relative": v_th and v_rest in units of the default
# threshold gap v_th - v_rest, so a step of sigma is the same share of the gap as of R (whose
# default is 1) and of the decay (a logit step); "log": R = exp(c) and
# v_th = v_rest + exp(c), so R and the threshold gap stay positive.
SEARCH_SPACES = ("direct", "relative", "log")


def canonical_trainable(trainable, properties: tuple[str, ...] = PROPERTIES) -> tuple[str, ...]:
    """Validate a selection and put it in canonical order (weights first, then
    ``properties``, a neuron model's table order)."""
    if isinstance(trainable, str):
        trainable = (trainable,)
    chosen = set(trainable)
    unknown = chosen - {WEIGHTS, *properties}
    if unknown:
        raise ConfigError(
            f"unknown trainable leaves {sorted(unknown)}: choose 'weights' or any of {properties}"
        )
    if not chosen:
        raise ConfigError(f"trainable is empty: choose 'weights' or any of {properties}")
    return tuple(name for name in (WEIGHTS, *properties) if name in chosen)


@struct.dataclass
class GenomeBase:
    """What a flat genome is written onto.

    Attributes:
        params: the fixed network parameters (random weights, untrained properties).
        rows: ``(n_properties,)`` int32, the index in the neuron model's table of each
            property slot of the flat vector, in its order.
    """

    params: NetworkParams
    rows: jax.Array


@dataclass(frozen=True)
class GenomeLayout:
    """The static half of a genome: what fixes the flat vector's length and meaning.

    Attributes:
        weights: both weight matrices are in the genome (after the properties).
        n_properties: number of per-neuron property slots, 0 to the size of the model's
            table.
        space: one of ``SEARCH_SPACES``: how the flat vector's coordinates map to the
            properties (weights are always direct).
        gap: the default threshold gap ``v_th - v_rest``, the unit of the "relative" space.
        model: the neuron model's name (its table gives the property rows).
    """

    weights: bool
    n_properties: int
    space: str = "direct"
    gap: float = 0.5
    model: str = "lif"

    @property
    def neuron(self) -> NeuronModel:
        return neuron_model(self.model)

    def _transform(self, values: jax.Array, inverse: bool) -> jax.Array:
        """Property values ``(P, H)`` (table order) -> the optimiser's coordinates
        (``SEARCH_SPACES``, by each row's ``Property.kind``), or back with ``inverse``."""
        if self.space == "direct":
            return values
        row = {p.kind: i for i, p in enumerate(self.neuron.properties)}
        v_th, v_rest, resistance = (values[row[k]] for k in ("threshold", "rest", "resistance"))
        if self.space == "relative" and inverse:
            changed = {"threshold": v_th * self.gap, "rest": v_rest * self.gap}
        elif self.space == "relative":
            changed = {"threshold": v_th / self.gap, "rest": v_rest / self.gap}
        elif inverse:  # log
            changed = {"threshold": v_rest + jnp.exp(v_th), "resistance": jnp.exp(resistance)}
        else:
            changed = {"threshold": jnp.log(v_th - v_rest), "resistance": jnp.log(resistance)}
        return jnp.stack(
            [changed.get(p.kind, values[i]) for i, p in enumerate(self.neuron.properties)]
        )

    def _coordinates(self, values: jax.Array) -> jax.Array:
        return self._transform(values, inverse=False)

    def _values(self, coords: jax.Array) -> jax.Array:
        return self._transform(coords, inverse=True)

    def flatten(self, base: GenomeBase) -> jax.Array:
        """The selected leaves of ``base.params``, in search coordinates, ``(size,)``."""
        params, parts = base.params, []
        if self.n_properties:
            coords = self._coordinates(self.neuron.stack(params.hidden))
            parts.append(coords[base.rows].reshape(-1))
        if self.weights:
            parts += [params.w_in.reshape(-1), params.w_out.reshape(-1)]
        return jnp.concatenate(parts)

    def unflatten(self, flat: jax.Array, base: GenomeBase) -> NetworkParams:
        """``base.params`` with its selected leaves replaced by the entries of ``flat``."""
        params = base.params
        used = 0
        if self.n_properties:
            fixed = self.neuron.stack(params.hidden)
            used = self.n_properties * fixed.shape[-1]
            chosen = flat[:used].reshape(self.n_properties, -1)
            coords = self._coordinates(fixed).at[base.rows].set(chosen)
            trained = jnp.zeros(fixed.shape[0], bool).at[base.rows].set(True)
            # untrained rows keep their exact values, not a round trip through coordinates
            values = jnp.where(trained[:, None], self._values(coords), fixed)
            params = params.replace(hidden=self.neuron.unstack(values))
        if self.weights:
            n_in_hidden = params.w_in.size
            w_in = flat[used : used + n_in_hidden].reshape(params.w_in.shape)
            w_out = flat[used + n_in_hidden :].reshape(params.w_out.shape)
            params = params.replace(w_in=w_in, w_out=w_out)
        return params

    def size(self, network) -> int:
        """Number of trainable parameters for ``network``'s layer sizes (a
        :class:`~hetsnn.model.networks.FeedforwardSNN`)."""
        return network.n_hidden * self.per_hidden_neuron(network.n_in, network.n_out)

    def per_hidden_neuron(self, n_in: int, n_out: int) -> int:
        """Trainable parameters added by one more hidden neuron."""
        return (n_in + n_out if self.weights else 0) + self.n_properties


@dataclass(frozen=True)
class Genome:
    """A named selection: its :attr:`layout` (static) and its :attr:`rows` (data).

    Attributes:
        trainable: canonical tuple of selected leaves, e.g. ``("weights",)`` or
            ``("tau_m", "v_th", "v_rest", "R")``.
        space: one of ``SEARCH_SPACES``.
        gap: the default threshold gap ``v_th - v_rest``, the unit of the "relative" space.
        model: the neuron model's name; its table lists the properties to choose from.
    """

    trainable: tuple[str, ...]
    space: str = "direct"
    gap: float = 0.5
    model: str = "lif"

    def __post_init__(self):
        names = neuron_model(self.model).names
        object.__setattr__(self, "trainable", canonical_trainable(self.trainable, names))
        if self.space not in SEARCH_SPACES:
            raise ConfigError(f"unknown search_space {self.space!r}: choose one of {SEARCH_SPACES}")

    @property
    def properties(self) -> tuple[str, ...]:
        return tuple(name for name in self.trainable if name != WEIGHTS)

    @property
    def layout(self) -> GenomeLayout:
        return GenomeLayout(
            WEIGHTS in self.trainable, len(self.properties), self.space, self.gap, self.model
        )

    @property
    def rows(self) -> tuple[int, ...]:
        """The table index of each property slot, in flat-vector order (sorted by name)."""
        names = neuron_model(self.model).names
        return tuple(names.index(name) for name in sorted(self.properties))

    def base(self, params: NetworkParams) -> GenomeBase:
        return GenomeBase(params, jnp.asarray(self.rows, jnp.int32))

    def flatten(self, params: NetworkParams) -> jax.Array:
        """Trainable leaves, in the search space's coordinates, as one vector ``(size,)``."""
        return self.layout.flatten(self.base(params))

    def unflatten(self, flat: jax.Array, base: NetworkParams) -> NetworkParams:
        """``base`` with its trainable leaves replaced by the entries of ``flat: (size,)``."""
        return self.layout.unflatten(flat, self.base(base))

    def size(self, network) -> int:
        return self.layout.size(network)

    def per_hidden_neuron(self, n_in: int, n_out: int) -> int:
        return self.layout.per_hidden_neuron(n_in, n_out)


def hidden_size_for_budget(
    trainable, budget: int, n_in: int, n_out: int, model: str = "lif"
) -> int:
    """Hidden size whose trainable count is nearest to ``budget`` (at least 1).

    Example: MNIST (784 in, 10 out), weights, budget 4096 -> 5 (3,970 trainable);
    all four properties, budget 4096 -> 1024.
    """
    if budget <= 0:
        raise ConfigError(f"budget must be a positive number of parameters, got {budget}")
    per_neuron = Genome(trainable, model=model).per_hidden_neuron(n_in, n_out)
    return max(1, round(budget / per_neuron))
