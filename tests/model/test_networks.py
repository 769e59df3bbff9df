import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn.model import neurons
from hetsnn.model.networks import FeedforwardSNN

pytestmark = pytest.mark.usefixtures("strict_dtypes")


def make(n_in=3, n_hidden=16, n_out=2, **kwargs):
    network = FeedforwardSNN(n_in=n_in, n_hidden=n_hidden, n_out=n_out, **kwargs)
    hidden = neurons.homogeneous(n_hidden, dt=5.0, tau_m=20.0, v_th=0.5, v_rest=0.0, resistance=1.0)
    return network, network.init(jax.random.key(1), hidden)


def test_lecun_normal_weights_have_variance_one_over_fan_in():
    network, params = make(n_in=400, n_hidden=500, n_out=300)
    assert params.w_in.shape == (400, 500) and params.w_out.shape == (500, 300)
    assert np.std(params.w_in) == np.float32(np.std(params.w_in))  # float32
    np.testing.assert_allclose(np.var(params.w_in), 1 / 400, rtol=0.05)
    np.testing.assert_allclose(np.var(params.w_out), 1 / 500, rtol=0.05)


def test_unroll_is_time_major_and_equals_repeated_steps():
    network, params = make()
    xs = jax.random.normal(jax.random.key(2), (7, 4, 3)) * 3  # (T, batch, n_in)
    state = network.init_state(params, batch_shape=(4,))
    final, readouts, spikes = network.unroll(params, state, xs)
    assert readouts.shape == (7, 4, 2) and spikes.shape == (7, 4, 16)
    for t in range(7):
        state, readout, count = network.step(params, state, xs[t])
        np.testing.assert_allclose(readouts[t], readout, rtol=1e-6)
        np.testing.assert_array_equal(spikes[t], count)
    np.testing.assert_allclose(final.u, state.u, rtol=1e-6)
    assert spikes.sum() > 0  # the drive is strong enough to make the layer fire


def _reset_at_the_end(network, params, xs):
    """The textbook order, one Python step at a time: integrate, fire, reset (LIF-1..3),
    then the read-out: ``(readouts (T, ..., n_out), spikes (T, ..., H), v after reset)``."""
    state = neurons.init_state(params.hidden, xs.shape[1:-1])
    readout = jnp.zeros((*xs.shape[1:-1], network.n_out))
    readouts, spikes = [], []
    for x in xs:
        state, s = neurons.lif_step(params.hidden, state, x @ params.w_in, network.spike_fn)
        readout = neurons.leaky_readout(readout, s @ params.w_out, network.dt / network.readout_tau)
        readouts.append(readout)
        spikes.append(s)
    return jnp.stack(readouts), jnp.stack(spikes), state.v


def test_deferred_reset_gives_the_numbers_of_resetting_at_the_end_of_each_step():
    """The state carries the potential before its reset and the next step resets it (the
    module docstring says why): spikes, read-outs and potentials must be those of the
    textbook order: the same spikes, and read-outs, potentials and surrogate gradients
    equal up to rounding, also for neurons whose
    rest lies above their threshold (they fire at every step)."""
    network, params = make(n_in=3, n_hidden=32)
    keys = jax.random.split(jax.random.key(4), 3)
    hidden = params.hidden.replace(
        tau_logit=params.hidden.tau_logit + jax.random.normal(keys[0], (32,)),
        v_rest=0.6 * jax.random.uniform(keys[1], (32,)),  # some rest above v_th = 0.5
    )
    params = params.replace(hidden=hidden)
    xs = jax.random.normal(keys[2], (12, 5, 3)) * 2.0  # (T, batch, n_in)
    final, readouts, spikes = network.unroll(params, network.init_state(params, (5,)), xs)
    want_readouts, want_spikes, want_v = _reset_at_the_end(network, params, xs)
    np.testing.assert_array_equal(spikes, want_spikes)
    # the same arithmetic; XLA may contract a multiply-add differently in its fused loop
    np.testing.assert_allclose(readouts, want_readouts, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(network.potential(params, final).v, want_v, rtol=1e-6, atol=1e-7)
    assert 0 < float(spikes.mean()) < 1

    def loss(p, simulate):
        return (simulate(p)[0][-1] ** 2).sum()

    ours = jax.grad(loss)(params, lambda p: network.unroll(p, network.init_state(p, (5,)), xs)[1:])
    want = jax.grad(loss)(params, lambda p: _reset_at_the_end(network, p, xs))
    for got, expected in zip(jax.tree.leaves(ours), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(ours.hidden.tau_logit).max()) > 0


@pytest.mark.parametrize("steps_per_input", [1, 2])
def test_final_readout_is_the_last_readout_of_unroll(steps_per_input):
    """final_readout carries a spike trace instead of the read-out; from a state with a
    non-zero read-out, over a sequence of different inputs, it must end where unroll ends
    (up to rounding: the same sum in another order)."""
    network, params = make(n_in=3, n_hidden=64, n_out=4, steps_per_input=steps_per_input)
    keys = jax.random.split(jax.random.key(8), 2)
    params = params.replace(
        hidden=params.hidden.replace(
            tau_logit=params.hidden.tau_logit + jax.random.normal(keys[0], (64,))
        )
    )
    xs = jax.random.normal(keys[1], (15, 6, 3)) * 2.0  # (T, batch, n_in)
    state, _, _ = network.step(params, network.init_state(params, (6,)), xs[0])
    _, readouts, spikes = network.unroll(params, state, xs)
    final = network.final_readout(params, state, xs)
    assert final.shape == (6, 4) and 0 < float(spikes.mean()) < 1
    np.testing.assert_allclose(final, readouts[-1], rtol=1e-5, atol=1e-6)


def test_steps_per_input_presents_the_input_repeatedly():
    four, params = make(steps_per_input=4)
    one = FeedforwardSNN(n_in=3, n_hidden=16, n_out=2)
    x = jnp.array([2.0, -1.0, 3.0])
    _, readout_four, count_four = four.step(params, four.init_state(params), x)
    _, readouts, counts = one.unroll(params, one.init_state(params), jnp.stack([x] * 4))
    np.testing.assert_allclose(readout_four, readouts[-1], rtol=1e-6)
    np.testing.assert_array_equal(count_four, counts.sum(0))


def test_readout_is_a_leaky_integrator_of_hidden_spikes():
    network, params = make()
    state = network.init_state(params)
    state, readout, count = network.step(params, state, jnp.array([3.0, 3.0, 3.0]))
    np.testing.assert_allclose(readout, 0.25 * (count @ params.w_out), rtol=1e-5)


def test_bfloat16_state_stays_close_to_float32():
    """bfloat16 keeps 8 significant bits: potentials are rounded by at most 2^-8 of their
    size each step, and a spike flips only where a potential lies within that rounding of
    its threshold. Over 100 steps of a busy network the read-out (an average over spikes)
    must stay within a few percent, and almost every spike must be the same."""
    import dataclasses

    network, params = make(n_in=8, n_hidden=256, n_out=4)
    low = dataclasses.replace(network, state_dtype="bfloat16")
    xs = jax.random.normal(jax.random.key(5), (100, 32, 8)) * 2.0  # (T, batch, n_in)
    state, readouts, spikes = network.unroll(params, network.init_state(params, (32,)), xs)
    low_state, low_readouts, low_spikes = low.unroll(params, low.init_state(params, (32,)), xs)
    assert low_state.u.dtype == jnp.bfloat16 and low_readouts.dtype == jnp.float32
    assert float(spikes.mean()) > 0.05  # busy enough for the comparison to mean something
    assert float(jnp.mean(spikes == low_spikes)) > 0.97
    assert not bool(jnp.all(spikes == low_spikes))  # the option does change the arithmetic
    error = jnp.abs(low_readouts - readouts).mean() / jnp.abs(readouts).mean()
    assert float(error) < 0.05


def test_held_input_path_equals_the_step_by_step_readout_and_gradient():
    """For steps_per_input > 1 the read-out is carried as a decayed spike trace with one
    ``@ w_out`` at the end; it must equal presenting the input step by step, from a state
    whose read-out is not zero, in value and in gradient (BPTT trains through it)."""
    held, params = make(n_in=6, n_hidden=64, n_out=3, steps_per_input=4)
    single = FeedforwardSNN(n_in=6, n_hidden=64, n_out=3)
    keys = jax.random.split(jax.random.key(9), 4)
    hidden = params.hidden.replace(
        tau_logit=params.hidden.tau_logit + jax.random.normal(keys[0], (64,)),
        v_th=params.hidden.v_th + 0.2 * jax.random.normal(keys[1], (64,)),
        resistance=params.hidden.resistance * jnp.exp(0.3 * jax.random.normal(keys[2], (64,))),
    )
    params = params.replace(hidden=hidden)
    x = jax.random.normal(keys[3], (2, 32, 6)) * 2.0  # two inputs, 32 in a batch

    def held_readout(p):
        state = held.init_state(p, (32,))
        state, _, _ = held.step(p, state, x[0])  # a non-zero read-out to carry
        _, readout, count = held.step(p, state, x[1])
        return readout, count

    def single_readout(p):
        xs = jnp.concatenate(
            [jnp.broadcast_to(x[0], (4, 32, 6)), jnp.broadcast_to(x[1], (4, 32, 6))]
        )
        _, readouts, counts = single.unroll(p, single.init_state(p, (32,)), xs)
        return readouts[-1], counts[4:].sum(0)

    (r_held, c_held), (r_single, c_single) = held_readout(params), single_readout(params)
    assert float(c_held.mean()) > 0.1  # the layer fires, so the trace carries something
    np.testing.assert_array_equal(c_held, c_single)
    np.testing.assert_allclose(r_held, r_single, rtol=1e-5, atol=1e-6)

    def loss(fn):
        return lambda p: jnp.sum(jnp.tanh(fn(p)[0]))

    g_held = jax.grad(loss(held_readout))(params)
    g_single = jax.grad(loss(single_readout))(params)
    for a, b in zip(jax.tree.leaves(g_held), jax.tree.leaves(g_single), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
