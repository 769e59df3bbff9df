import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn.model import neurons
from hetsnn.model.neurons import LIFState, NeuronParams

pytestmark = pytest.mark.usefixtures("strict_dtypes")


def make_params(tau_m, v_th, v_rest, resistance, dt):
    tau_m, v_th, v_rest, resistance = np.broadcast_arrays(
        *(np.asarray(a, np.float32) for a in (tau_m, v_th, v_rest, resistance))
    )
    return NeuronParams(
        tau_logit=neurons.tau_to_logit(tau_m, dt),
        v_th=jnp.asarray(v_th),
        v_rest=jnp.asarray(v_rest),
        resistance=jnp.asarray(resistance),
    )


def simulate(params, current, steps, v0=None):
    """Spikes (steps, n) and potentials (steps, n) under a constant current."""
    state = neurons.init_state(params) if v0 is None else LIFState(v=jnp.asarray(v0, jnp.float32))

    def body(state, _):
        state, spikes = neurons.lif_step(params, state, current)
        return state, (spikes, state.v)

    _, (spikes, v) = jax.lax.scan(body, state, length=steps)
    return np.asarray(spikes), np.asarray(v)


def test_reparameterisation_round_trip_and_stability():
    dt = 5.0
    tau = jnp.array([6.0, 20.0, 200.0])
    params = make_params(tau, 0.5, 0.0, 1.0, dt)
    np.testing.assert_allclose(params.tau_m(dt), tau, rtol=1e-5)
    extreme = NeuronParams(jnp.array([-30.0, 30.0]), *(jnp.ones(2),) * 3)
    assert np.all((extreme.decay > 0) & (extreme.decay <= 1))


def test_relaxes_to_rest_exponentially_without_input():
    dt, v_rest = 5.0, jnp.array([0.0, -0.2, 0.1])
    params = make_params([20.0, 40.0, 10.0], 10.0, v_rest, 1.0, dt)
    v0 = np.array([0.4, 0.3, -0.5], np.float32)
    _, v = simulate(params, jnp.zeros(3), steps=60, v0=v0)
    k = np.asarray(params.decay)
    t = np.arange(1, 61)[:, None]
    expected = v_rest + (1 - k) ** t * (v0 - v_rest)  # exact solution of the Euler map
    np.testing.assert_allclose(v, expected, atol=1e-6)
    np.testing.assert_allclose(v[-1], v_rest, atol=1e-3)


def test_no_spike_below_threshold():
    params = make_params(20.0, 0.5, 0.0, [1.0, 2.0], dt=5.0)
    current = jnp.array([0.49, 0.24])  # R * I just below v_th for both neurons
    spikes, v = simulate(params, current, steps=2000)
    assert spikes.sum() == 0
    np.testing.assert_allclose(v[-1], [0.49, 0.48], atol=1e-4)


def test_firing_rate_matches_euler_map_exactly_per_neuron():
    """Heterogeneous neurons under a constant current fire with the period of their own
    discrete map: n* = ceil(log(1 - v_th / (R I)) / log(1 - k)) steps."""
    dt = 5.0
    tau = np.array([10.0, 20.0, 40.0, 80.0])
    v_th = np.array([0.5, 0.3, 0.8, 0.5])
    resistance = np.array([1.0, 2.0, 1.5, 1.0])
    current = jnp.asarray(np.array([1.0, 0.4, 0.9, 2.0], np.float32))
    params = make_params(tau, v_th, 0.0, resistance, dt)
    spikes, _ = simulate(params, current, steps=3000)
    drive = resistance * np.asarray(current)
    k = np.asarray(params.decay, np.float64)
    period = np.ceil(np.log(1 - v_th / drive) / np.log(1 - k))
    np.testing.assert_allclose(spikes.sum(0), np.floor(3000 / period), atol=1)


@pytest.mark.parametrize("tau_m", [20.0, 50.0])
def test_firing_rate_converges_to_continuous_lif(tau_m):
    """With a small dt the Euler rate approaches the analytic rate 1 / (tau ln(RI/(RI-v_th)))."""
    dt, v_th, drive, steps = 0.05, 0.5, 1.0, 40_000
    params = make_params([tau_m], v_th, 0.0, 1.0, dt)
    spikes, _ = simulate(params, jnp.array([drive], jnp.float32), steps=steps)
    rate = spikes.sum() / (steps * dt)  # spikes per ms
    analytic = 1.0 / (tau_m * np.log(drive / (drive - v_th)))
    assert rate == pytest.approx(analytic, rel=0.02)


def test_properties_broadcast_per_neuron_over_batch():
    params = make_params([10.0, 100.0], 0.5, [0.0, 0.2], 1.0, dt=5.0)
    state = neurons.init_state(params, batch_shape=(3,))
    assert state.v.shape == (3, 2)
    np.testing.assert_allclose(state.v, [[0.0, 0.2]] * 3)
    current = jnp.zeros((3, 2))
    new, spikes = neurons.lif_step(params, LIFState(v=jnp.full((3, 2), 0.4)), current)
    expected = 0.4 + np.asarray(params.decay) * (np.array([0.0, 0.2]) - 0.4)
    np.testing.assert_allclose(new.v, np.broadcast_to(expected, (3, 2)), rtol=1e-6)
    assert spikes.shape == (3, 2)


def test_reset_to_rest_after_spike():
    params = make_params([20.0], 0.5, -0.1, 1.0, dt=5.0)
    state, spikes = neurons.lif_step(params, LIFState(v=jnp.array([0.45])), jnp.array([5.0]))
    assert spikes[0] == 1.0
    assert state.v[0] == pytest.approx(-0.1)


def _dv_dvprev(detach_reset, v_prev, current):
    params = make_params([20.0] * len(v_prev), 0.5, 0.0, 1.0, dt=5.0)

    def v_next(v):
        state, _ = neurons.lif_step(params, LIFState(v=v), current, detach_reset=detach_reset)
        return state.v

    return np.diag(np.asarray(jax.jacrev(v_next)(v_prev))), np.asarray(params.decay)[0]


def test_detached_reset_jacobian_is_below_one():
    v_prev = jnp.array([0.1, 0.45, 0.49, 0.3])
    current = jnp.array([0.0, 0.5, 0.1, 2.0])  # mixes spiking and silent neurons
    jac, k = _dv_dvprev(True, v_prev, current)
    params = make_params([20.0] * 4, 0.5, 0.0, 1.0, dt=5.0)
    _, spikes = neurons.lif_step(params, LIFState(v=v_prev), current)
    np.testing.assert_allclose(jac, (1 - np.asarray(spikes)) * (1 - k), rtol=1e-6)
    assert np.all(np.abs(jac) < 1)


def test_full_reset_path_differs_from_detached_near_threshold():
    v_prev, current = jnp.array([0.45]), jnp.array([0.7])  # u just above threshold
    full, _ = _dv_dvprev(False, v_prev, current)
    detached, _ = _dv_dvprev(True, v_prev, current)
    assert detached[0] == 0.0
    assert abs(full[0]) > 0.1


def test_binary_reset_is_the_product_form_in_value_and_derivative():
    """binary_reset selects where LIF-3 multiplies; for gates of 0 and 1 the value must be
    ``u (1 - g) + v_rest g`` and every derivative the product form's (BPTT's surrogate
    gradient flows through the gate)."""
    keys = jax.random.split(jax.random.key(0), 3)
    u = jax.random.normal(keys[0], (4, 6))
    gate = (jax.random.uniform(keys[1], (4, 6)) > 0.5).astype(jnp.float32)
    v_rest = jax.random.normal(keys[2], (6,)) * 0.2

    def product(u, gate, v_rest):
        return u * (1 - gate) + v_rest * gate

    np.testing.assert_array_equal(neurons.binary_reset(u, gate, v_rest), product(u, gate, v_rest))
    weights = jnp.arange(24.0).reshape(4, 6) / 24

    def loss(reset):
        return lambda *args: (reset(*args) * weights).sum()

    ours = jax.grad(loss(neurons.binary_reset), argnums=(0, 1, 2))(u, gate, v_rest)
    want = jax.grad(loss(product), argnums=(0, 1, 2))(u, gate, v_rest)
    for got, expected in zip(ours, want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert float(jnp.abs(ours[1]).sum()) > 0  # the gate's derivative is not dropped


def test_spike_functions_say_whether_the_reset_may_select():
    from hetsnn.model import surrogates

    assert all(make(2.0).binary for make in surrogates.SURROGATES.values())
    smooth = surrogates.spike_with_derivative(lambda x, v_th: x, forward=jax.nn.sigmoid)
    assert not smooth.binary
