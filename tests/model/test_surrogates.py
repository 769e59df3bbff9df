import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn.model import surrogates

pytestmark = pytest.mark.usefixtures("strict_dtypes")

X = jnp.linspace(-1.5, 1.5, 31)
V_TH = jnp.full_like(X, 0.5)


def expected_derivative(name, alpha, x, v_th):
    x, v_th = np.asarray(x, np.float64), np.asarray(v_th, np.float64)
    if name == "arctan":
        return (alpha / 2) / (1 + (np.pi / 2 * alpha * x) ** 2)
    if name == "log":
        return alpha / (np.abs(alpha * x) + 1)
    return np.maximum(0, v_th - np.abs(x)) / v_th**2


@pytest.mark.parametrize("name", sorted(surrogates.SURROGATES))
@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 4.0])
def test_surrogate_forward_is_heaviside_and_backward_matches_formula(name, alpha):
    spike = surrogates.SURROGATES[name](alpha)
    np.testing.assert_array_equal(spike(X, V_TH), (np.asarray(X) >= 0).astype(np.float32))
    grad_x, grad_vth = jax.vmap(jax.grad(spike, argnums=(0, 1)))(X, V_TH)
    np.testing.assert_allclose(grad_x, expected_derivative(name, alpha, X, V_TH), rtol=1e-5)
    np.testing.assert_array_equal(grad_vth, np.zeros_like(V_TH))


def test_arctan_derivative_is_derivative_of_its_primitive():
    alpha = 2.0

    def primitive(x):
        return jnp.arctan(jnp.pi / 2 * alpha * x) / jnp.pi + 0.5

    spike = surrogates.arctan(alpha)
    np.testing.assert_allclose(
        jax.vmap(jax.grad(spike))(X, V_TH), jax.vmap(jax.grad(primitive))(X), rtol=1e-5
    )
