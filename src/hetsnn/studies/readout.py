"""The trained part of a reservoir: a linear read-out fitted by ridge regression, and the
scores of its predictions.

Features and targets are centred on the training set, so the intercept is not penalised.
The penalty is relative: ``alpha`` times the mean eigenvalue of the features' Gram matrix
(``trace / N``), so one ``alpha`` suits reservoirs of any size and activity scale.
"""

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Readout:
    """``y = (x - x_mean) @ weights + y_mean``; ``weights: (N, n_outputs)``."""

    weights: jax.Array
    x_mean: jax.Array
    y_mean: jax.Array

    def __call__(self, features: jax.Array) -> jax.Array:
        """``features: (..., N)`` -> predictions ``(..., n_outputs)``."""
        return (features - self.x_mean) @ self.weights + self.y_mean


def _sample_weights(mask, like: jax.Array) -> jax.Array:
    """``(S,)`` 0/1 weights of the samples of ``like: (S, ...)``: ``mask``, or all ones."""
    return jnp.ones(like.shape[0], like.dtype) if mask is None else mask.astype(like.dtype)


def fit_ridge(features: jax.Array, targets: jax.Array, alpha: float, mask=None) -> Readout:
    """Ridge regression of ``targets: (S, n_outputs)`` on ``features: (S, N)``.

    ``mask: (S,)`` (optional, 0/1) selects the samples used, so that the shapes stay static
    under jit when a warm-up or a test set is left out.
    """
    weight = _sample_weights(mask, features)
    count = jnp.maximum(weight.sum(), 1.0)
    x_mean = (weight @ features) / count
    y_mean = (weight @ targets) / count
    x = (features - x_mean) * weight[:, None]
    y = (targets - y_mean) * weight[:, None]
    gram = x.T @ x
    penalty = alpha * jnp.trace(gram) / gram.shape[0] + 1e-12
    weights = jnp.linalg.solve(gram + penalty * jnp.eye(gram.shape[0]), x.T @ y)
    return Readout(weights=weights, x_mean=x_mean, y_mean=y_mean)


def r_squared(predictions: jax.Array, targets: jax.Array, mask=None) -> jax.Array:
    """Coefficient of determination per output, ``1 - SSE / SST`` over the masked samples;
    ``(S, n_outputs)`` -> ``(n_outputs,)``. Negative when worse than predicting the mean."""
    weight = _sample_weights(mask, targets)
    mean = (weight @ targets) / weight.sum()
    sse = weight @ (predictions - targets) ** 2
    sst = weight @ (targets - mean) ** 2
    return 1 - sse / sst


def squared_correlation(predictions: jax.Array, targets: jax.Array, mask=None) -> jax.Array:
    """Squared Pearson correlation per output over the masked samples, ``(n_outputs,)``:
    the memory function ``m(d)`` of Jaeger (2001) when target ``d`` is the input ``d`` steps
    ago; its sum over delays is the memory capacity."""
    weight = _sample_weights(mask, targets)
    count = weight.sum()
    p = predictions - (weight @ predictions) / count
    t = targets - (weight @ targets) / count
    covariance = weight @ (p * t)
    return covariance**2 / ((weight @ p**2) * (weight @ t**2) + 1e-30)


def accuracy(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """Share of samples whose highest score is their label; ``scores: (S, C)``."""
    return jnp.mean(jnp.argmax(scores, axis=-1) == labels)
