"""Which numbers of a network are trained, and the flat vector an optimiser sees.

A genome is a selection of leaves of :class:`~hetsnn.model.networks.NetworkParams`: either the
``"weights"`` (both weight matrices), or any non-empty subset of the four per-neuron
properties of the hidden layer. Everything not selected stays at the value it has in the
*base* parameters (the fixed random weights, or the homogeneous defaults).
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from hetsnn.errors import ConfigError
from hetsnn.model.networks import FeedforwardSNN, NetworkParams

PROPERTIES = ("tau_m", "v_th", "v_rest", "R")
WEIGHTS = "weights"
# How the optimiser's coordinates map to the properties (tau_m is always its logit):
# "direct": the values themselves; "relative": v_th and v_rest in units of the default
# threshold gap v_th - v_rest, so a step of sigma is the same share of the gap as of R (whose
# default is 1) and of the decay (a logit step); "log": R = exp(c) and
# v_th = v_rest + exp(c), so R and the threshold gap stay positive.
SEARCH_SPACES = ("direct", "relative", "log")
# Genome name -> field of NeuronParams; tau_m is searched in its logit space.
_PROPERTY_FIELDS = {"tau_m": "tau_logit", "v_th": "v_th", "v_rest": "v_rest", "R": "resistance"}


def canonical_trainable(trainable) -> tuple[str, ...]:
    """Validate a selection and put it in canonical order (weights first, then PROPERTIES)."""
    if isinstance(trainable, str):
        trainable = (trainable,)
    chosen = set(trainable)
    unknown = chosen - {WEIGHTS, *PROPERTIES}
    if unknown:
        raise ConfigError(
            f"unknown trainable leaves {sorted(unknown)}: choose 'weights' or any of {PROPERTIES}"
        )
    if not chosen:
        raise ConfigError(f"trainable is empty: choose 'weights' or any of {PROPERTIES}")
    return tuple(name for name in (WEIGHTS, *PROPERTIES) if name in chosen)


@dataclass(frozen=True)
class Genome:
    """Maps between full network parameters and the optimiser's flat vector.

    Attributes:
        trainable: canonical tuple of selected leaves, e.g. ``("weights",)`` or
            ``("tau_m", "v_th", "v_rest", "R")``.
        space: one of ``SEARCH_SPACES``: how the flat vector's coordinates map to the
            properties (weights are always direct).
        gap: the default threshold gap ``v_th - v_rest``, the unit of the "relative" space.
    """

    trainable: tuple[str, ...]
    space: str = "direct"
    gap: float = 0.5

    def __post_init__(self):
        object.__setattr__(self, "trainable", canonical_trainable(self.trainable))
        if self.space not in SEARCH_SPACES:
            raise ConfigError(f"unknown search_space {self.space!r}: choose one of {SEARCH_SPACES}")

    @property
    def properties(self) -> tuple[str, ...]:
        return tuple(name for name in self.trainable if name in PROPERTIES)

    def select(self, params: NetworkParams) -> dict[str, jax.Array]:
        """The trainable leaves, by genome name."""
        leaves = {}
        if WEIGHTS in self.trainable:
            leaves["w_in"], leaves["w_out"] = params.w_in, params.w_out
        for name in self.properties:
            leaves[name] = getattr(params.hidden, _PROPERTY_FIELDS[name])
        return leaves

    def _to_coordinates(self, leaves: dict, hidden) -> dict:
        """Property values -> the optimiser's coordinates (see ``SEARCH_SPACES``)."""
        coords = dict(leaves)
        if self.space == "relative":
            for name in ("v_th", "v_rest"):
                if name in coords:
                    coords[name] = coords[name] / self.gap
        elif self.space == "log":
            if "R" in coords:
                coords["R"] = jnp.log(coords["R"])
            if "v_th" in coords:
                coords["v_th"] = jnp.log(coords["v_th"] - leaves.get("v_rest", hidden.v_rest))
        return coords

    def _to_values(self, coords: dict, hidden) -> dict:
        """The inverse of :meth:`_to_coordinates`, ``hidden`` the base's fixed properties."""
        leaves = dict(coords)
        if self.space == "relative":
            for name in ("v_th", "v_rest"):
                if name in leaves:
                    leaves[name] = leaves[name] * self.gap
        elif self.space == "log":
            if "R" in leaves:
                leaves["R"] = jnp.exp(coords["R"])
            if "v_th" in leaves:
                v_rest = leaves.get("v_rest", hidden.v_rest)
                leaves["v_th"] = v_rest + jnp.exp(coords["v_th"])
        return leaves

    def flatten(self, params: NetworkParams) -> jax.Array:
        """Trainable leaves, in the search space's coordinates, as one vector ``(size,)``."""
        return ravel_pytree(self._to_coordinates(self.select(params), params.hidden))[0]

    def unflatten(self, flat: jax.Array, base: NetworkParams) -> NetworkParams:
        """``base`` with its trainable leaves replaced by the entries of ``flat: (size,)``."""
        coords = ravel_pytree(self.select(base))[1](flat)
        leaves = self._to_values(coords, base.hidden)
        hidden = base.hidden.replace(
            **{_PROPERTY_FIELDS[name]: leaves[name] for name in self.properties}
        )
        params = base.replace(hidden=hidden)
        if WEIGHTS in self.trainable:
            params = params.replace(w_in=leaves["w_in"], w_out=leaves["w_out"])
        return params

    def size(self, network: FeedforwardSNN) -> int:
        """Number of trainable parameters for ``network``'s layer sizes."""
        return network.n_hidden * self.per_hidden_neuron(network.n_in, network.n_out)

    def per_hidden_neuron(self, n_in: int, n_out: int) -> int:
        """Trainable parameters added by one more hidden neuron."""
        weights = (n_in + n_out) if WEIGHTS in self.trainable else 0
        return weights + len(self.properties)


def hidden_size_for_budget(trainable, budget: int, n_in: int, n_out: int) -> int:
    """Hidden size whose trainable count is nearest to ``budget`` (at least 1).

    Example: MNIST (784 in, 10 out), weights, budget 4096 -> 5 (3,970 trainable);
    all four properties, budget 4096 -> 1024.
    """
    if budget <= 0:
        raise ConfigError(f"budget must be a positive number of parameters, got {budget}")
    per_neuron = Genome(canonical_trainable(trainable)).per_hidden_neuron(n_in, n_out)
    return max(1, round(budget / per_neuron))
