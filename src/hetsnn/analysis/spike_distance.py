"""The van Rossum (2001) distance between spike trains.

Each train is convolved with a causal exponential kernel of time constant ``tau``,
``f(t) = sum_i exp(-(t - t_i) / tau) for t >= t_i``, and the distance is

    D^2 = (1 / tau) * integral (f(t) - g(t))^2 dt
        = 1/2 * sum_{a, b} sign_a sign_b exp(-|t_a - t_b| / tau)

over the spikes a, b of both trains (sign +1 for f's spikes, -1 for g's). So one spike
against none is at distance 1/sqrt(2), and two single spikes Delta apart at
sqrt(1 - exp(-Delta / tau)). The closed form is exact for spikes on a time grid too, which
is what the networks produce: binary rasters with step ``dt``.
"""

import jax
import jax.numpy as jnp
import numpy as np


def van_rossum_distance(spikes_a, spikes_b, tau: float) -> float:
    """Distance between two trains given as spike times (any unit, the same as ``tau``)."""
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    times = np.concatenate([np.asarray(spikes_a, float), np.asarray(spikes_b, float)])
    signs = np.concatenate([np.ones(len(spikes_a)), -np.ones(len(spikes_b))])
    kernel = np.exp(-np.abs(times[:, None] - times[None, :]) / tau)
    return float(np.sqrt(max(0.5 * signs @ kernel @ signs, 0.0)))


def pairwise_van_rossum(raster: jax.Array, dt: float, tau: float) -> jax.Array:
    """Distances between all pairs of trains of a binary raster.

    Args:
        raster: ``(T, N)`` spikes (0/1 or counts) of N neurons over T steps of ``dt``.
        dt, tau: step and kernel time constant, in the same unit (ms).

    Returns:
        ``(N, N)`` symmetric distances with a zero diagonal. With ``K[t, t'] =
        exp(-|t - t'| dt / tau)`` and ``Q = raster^T K raster``,
        ``D_ij^2 = (Q_ii + Q_jj - 2 Q_ij) / 2``.
    """
    raster = jnp.asarray(raster, jnp.float32)
    steps = jnp.arange(raster.shape[0])
    kernel = jnp.exp(-jnp.abs(steps[:, None] - steps[None, :]) * (dt / tau))
    gram = raster.T @ kernel @ raster
    diagonal = jnp.diag(gram)
    squared = 0.5 * (diagonal[:, None] + diagonal[None, :] - 2.0 * gram)
    return jnp.sqrt(jnp.maximum(squared, 0.0)) * (1.0 - jnp.eye(raster.shape[1]))


def spike_pattern_diversity(raster: jax.Array, dt: float, tau: float) -> jax.Array:
    """Mean van Rossum distance over all distinct pairs of trains of ``raster (T, N)``."""
    n = raster.shape[1]
    if n < 2:
        raise ValueError("diversity needs at least two spike trains")
    return pairwise_van_rossum(raster, dt, tau).sum() / (n * (n - 1))
