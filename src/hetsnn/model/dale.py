"""Dale's law: every neuron is excitatory or inhibitory, and all its outgoing weights share
that sign (Kilgore et al., docs/specification.md section 2).

A sign-constrained weight matrix is stored as non-negative magnitudes and a sign per
presynaptic neuron; ``signed`` puts them together, so an optimiser or a plasticity rule
that keeps the magnitudes non-negative can never break the law.
"""

import jax
import jax.numpy as jnp

from hetsnn.errors import ConfigError


def n_excitatory(n: int, excitatory_fraction: float) -> int:
    """Excitatory neurons among ``n`` (rounded; the rest are inhibitory)."""
    if not 0 <= excitatory_fraction <= 1:
        raise ConfigError(f"excitatory fraction must be in [0, 1], got {excitatory_fraction}")
    return round(n * excitatory_fraction)


def population_signs(n: int, excitatory_fraction: float) -> jax.Array:
    """``(n,)``: +1 for the first ``n_excitatory`` neurons, -1 for the inhibitory rest."""
    return jnp.where(jnp.arange(n) < n_excitatory(n, excitatory_fraction), 1.0, -1.0)


def balanced_scale(signs: jax.Array) -> jax.Array:
    """``(n,)`` per-presynaptic factors that give excitation and inhibition equal total
    weight (inhibitory rows scaled by n_E / n_I), so the mean recurrent input is zero;
    all ones when one population is empty."""
    n_e = jnp.sum(signs > 0)
    n_i = signs.shape[0] - n_e
    ratio = jnp.where(n_i > 0, n_e / jnp.maximum(n_i, 1), 1.0)
    return jnp.where((signs < 0) & (n_e > 0), ratio, 1.0)


def signed(magnitudes: jax.Array, signs: jax.Array) -> jax.Array:
    """Weights ``(n_pre, n_post)`` from non-negative ``magnitudes`` and presynaptic
    ``signs: (n_pre,)``."""
    return jnp.abs(magnitudes) * signs[:, None]


def balanced(magnitudes: jax.Array, signs: jax.Array, gain: float) -> jax.Array:
    """Non-negative recurrent magnitudes ``(n, n)`` with inhibition balancing excitation
    (:func:`balanced_scale`) and scaled so that ``signed(result, signs)`` has a spectral
    radius near ``gain``: its entries then have mean about zero and std ``gain / sqrt(n)``
    (circular law)."""
    magnitudes = jnp.abs(magnitudes) * balanced_scale(signs)[:, None]
    n = magnitudes.shape[0]
    return magnitudes * gain / (jnp.sqrt(n) * jnp.std(signed(magnitudes, signs)) + 1e-12)
