"""Surrogate spike functions: a Heaviside forward pass with a smooth derivative.

Each factory returns ``spike(x, v_th) -> s`` where ``x = u - v_th`` is the distance of
the pre-reset membrane potential from threshold and ``s = H(x)`` (1.0 where ``x >= 0``).
The backward pass replaces ``H'(x)`` (a Dirac delta) by the derivative ``g'(x)`` of a
smooth primitive ``g`` (Neftci, Mostafa and Zenke 2019). ``v_th`` only shapes the
triangle surrogate and receives no gradient through the surrogate itself; its true
gradient flows through ``x = u - v_th`` by the chain rule.

A spike function's ``binary`` attribute says whether its forward pass is the Heaviside
(outputs exactly 0 or 1), which lets the reset be computed as a select
(:func:`hetsnn.model.neurons.binary_reset`).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

SpikeFn = Callable[[jax.Array, jax.Array], jax.Array]
Derivative = Callable[[jax.Array, jax.Array], jax.Array]


def heaviside(x: jax.Array) -> jax.Array:
    """H(x): 1.0 where x >= 0, else 0.0, in the dtype of ``x``."""
    return (x >= 0).astype(x.dtype)


def spike_with_derivative(
    derivative: Derivative, forward: Callable[[jax.Array], jax.Array] = heaviside
) -> SpikeFn:
    """Wrap ``derivative(x, v_th) -> g'(x)`` into a spike function with that backward pass.

    ``forward`` is the Heaviside for spiking networks; a smooth primitive ``g`` gives the
    smoothed network whose exact gradient the tests compare with finite differences.
    """

    @jax.custom_vjp
    def spike(x, v_th):
        return forward(x)

    def forward_pass(x, v_th):
        return forward(x), (x, v_th)

    def backward(residuals, grad_out):
        x, v_th = residuals
        return grad_out * derivative(x, v_th), jnp.zeros_like(v_th)

    spike.defvjp(forward_pass, backward)
    spike.binary = forward is heaviside  # outputs exactly 0 or 1: the reset may select
    return spike


def arctan(alpha: float = 2.0) -> SpikeFn:
    """Arctan surrogate.

    g(x)  = (1/pi) * arctan(pi/2 * alpha * x) + 1/2
    g'(x) = (alpha/2) / (1 + (pi/2 * alpha * x)^2)
    """

    def derivative(x, v_th):
        return (alpha / 2) / (1 + (jnp.pi / 2 * alpha * x) ** 2)

    return spike_with_derivative(derivative)


def log(alpha: float = 2.0) -> SpikeFn:
    """Logarithmic surrogate.

    g(x)  = NonzeroSign(x) * log(|alpha x| + 1)
    g'(x) = alpha / (|alpha x| + 1)
    """

    def derivative(x, v_th):
        return alpha / (jnp.abs(alpha * x) + 1)

    return spike_with_derivative(derivative)


def triangle(alpha: float = 1.0) -> SpikeFn:
    """Triangle surrogate; ``alpha`` is unused (kept for a uniform signature).

    g'(u) = max(0, v_th - |u - v_th|) / v_th^2,  i.e.  g'(x) = max(0, v_th - |x|) / v_th^2
    """
    del alpha

    def derivative(x, v_th):
        return jnp.maximum(0.0, v_th - jnp.abs(x)) / v_th**2

    return spike_with_derivative(derivative)


SURROGATES: dict[str, Callable[[float], SpikeFn]] = {
    "arctan": arctan,
    "log": log,
    "triangle": triangle,
}
