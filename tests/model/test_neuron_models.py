"""The neuron-model registry: LIF, adaptive LIF and the bipolar neuron behind one interface."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn.cli import NEURON_CHOICES
from hetsnn.config import NetworkConfig, RunConfig
from hetsnn.errors import ConfigError
from hetsnn.model.alif import ALIF, ALIFConfig
from hetsnn.model.bipolar import BIPOLAR, BipolarConfig
from hetsnn.model.genome import Genome
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.model.neuron_models import NEURON_MODELS, model_of, neuron_model
from hetsnn.model.neurons import LIF, NeuronConfig
from hetsnn.model.surrogates import arctan
from hetsnn.tasks import MemoryTask

F32 = jnp.float32


def test_three_models_are_registered_and_the_command_line_offers_them():
    assert set(NEURON_MODELS) == {"lif", "alif", "bipolar"}
    assert tuple(NEURON_MODELS) == NEURON_CHOICES
    for name, model in NEURON_MODELS.items():
        assert model.name == name and model.config.model == name
        assert model_of(model.config()) is model
    with pytest.raises(ConfigError, match="unknown neuron model 'adex'"):
        neuron_model("adex")


@pytest.mark.parametrize("config", [NeuronConfig(), ALIFConfig(tau_a=150.0), BipolarConfig()])
def test_a_run_config_of_each_model_round_trips_through_its_dict(config):
    run = RunConfig(MemoryTask(memory_length=3), NetworkConfig(n_hidden=4, neuron=config))
    data = run.to_dict()
    assert ("model" in data["network"]["neuron"]) == (config.model != "lif")
    again = RunConfig.from_dict(data)
    assert again == run and type(again.network.neuron) is type(config)


def test_alif_properties_are_trainable_only_for_alif():
    network = NetworkConfig(n_hidden=4, neuron=ALIFConfig())
    run = RunConfig(MemoryTask(memory_length=3), network, trainable=("beta", "tau_m", "tau_a"))
    assert run.trainable == ("tau_m", "tau_a", "beta")  # the model's table order
    with pytest.raises(ConfigError, match="unknown trainable leaves"):
        RunConfig(MemoryTask(memory_length=3), NetworkConfig(n_hidden=4), trainable=("tau_a",))
    with pytest.raises(ConfigError, match="tau_a"):
        ALIFConfig(tau_a=4.0)  # not above dt


def _network(model: str, n_hidden: int = 3) -> FeedforwardSNN:
    return FeedforwardSNN(n_in=1, n_out=1, n_hidden=n_hidden, model=model)


def _drive(model, config, currents, **changes):
    """Simulate ``model``'s neurons (one per column of ``currents: (T, H)``) as a network
    with identity input weights: ``(spike events, pre-reset u, params)`` per step."""
    n = currents.shape[1]
    net = dataclasses.replace(_network(model, n), n_in=n)
    hidden = config.homogeneous(n).replace(**changes)
    params = net.init(jax.random.key(0), hidden).replace(w_in=jnp.eye(n, dtype=F32))
    state = net.init_state(params)

    def body(state, x):
        state, _, spikes, u = net.trace(params, state, x)
        return state, (spikes, u[0])

    _, (events, us) = jax.lax.scan(body, state, currents)
    return np.asarray(events), np.asarray(us), params


def test_bipolar_fires_minus_one_below_the_mirrored_threshold_and_resets_to_rest():
    config = BipolarConfig(v_th=0.5, v_rest=0.1)  # v_low = 2 * 0.1 - 0.5 = -0.3
    params = config.homogeneous(1)
    spike_fn = arctan()
    for u, expected in [(0.6, 1.0), (0.5, 1.0), (0.2, 0.0), (-0.29, 0.0), (-0.3, -1.0), (-2, -1)]:
        spikes, gate = BIPOLAR.fire(params, jnp.full((1,), u, F32), spike_fn)
        assert float(spikes[0]) == expected and float(gate[0]) == abs(expected)
        state = BIPOLAR.rest(params)
        state = state.replace(u=jnp.full((1,), u, F32))
        v = BIPOLAR.after_reset(params, state, spike_fn, False).v
        assert float(v[0]) == pytest.approx(0.1 if expected else u)


def test_bipolar_network_drives_the_readout_with_signed_spikes_and_counts_both():
    net = _network("bipolar", n_hidden=2)
    hidden = BipolarConfig().homogeneous(2)
    params = net.init(jax.random.key(1), hidden).replace(
        w_in=jnp.array([[10.0, -10.0]], F32), w_out=jnp.array([[1.0], [1.0]], F32)
    )
    state, readout, events, u = net.trace(params, net.init_state(params), jnp.ones((1,), F32))
    # one neuron far above v_th (+1), the other far below v_low (-1): the read-out sees 0
    assert float(u[0, 0]) > 0.5 and float(u[0, 1]) < -0.5
    np.testing.assert_array_equal(np.asarray(events), [1.0, 1.0])
    assert float(readout[0]) == 0.0


def test_bipolar_surrogate_is_two_sided():
    params = BipolarConfig().homogeneous(1)

    def spikes(u):
        return BIPOLAR.fire(params, u, arctan())[0].sum()

    above = jax.grad(spikes)(jnp.array([0.5], F32))
    below = jax.grad(spikes)(jnp.array([-0.5], F32))
    assert float(above[0]) > 0 and float(below[0]) > 0  # ds/du > 0 near both thresholds
    assert float(above[0]) == pytest.approx(float(below[0]))  # mirrored


def test_alif_without_adaptation_is_lif_and_with_it_fires_less():
    currents = jnp.full((60, 1), 0.6, F32)
    lif_events, lif_u, _ = _drive("lif", NeuronConfig(), currents)
    same, same_u, _ = _drive("alif", ALIFConfig(beta=0.0), currents)
    np.testing.assert_array_equal(same, lif_events)
    np.testing.assert_array_equal(same_u, lif_u)
    adapted, _, _ = _drive("alif", ALIFConfig(beta=0.05, tau_a=200.0), currents)
    assert lif_events.sum() > adapted.sum() > 0
    # the inter-spike intervals lengthen as the threshold rises
    times = np.flatnonzero(adapted[:, 0])
    assert np.diff(times)[-1] > np.diff(times)[0]


def test_alif_adaptation_follows_its_equations():
    """a(t) = rho a(t-dt) + s(t-dt), threshold v_th + beta a(t), by hand for one neuron."""
    config = ALIFConfig(tau_a=50.0, beta=0.2)
    params = config.homogeneous(1)
    rho = 1 - config.dt / config.tau_a
    state = ALIF.rest(params)
    a, v, k = 0.0, 0.0, config.dt / config.tau_m
    for current in [2.0, 2.0, 0.0, 2.0, 2.0, 2.0]:
        state, u, spikes = ALIF.step(
            params, state, jnp.full((1,), current, F32), arctan(), False, F32, F32
        )
        u_hand = v + k * (current - v)
        fired = float(u_hand >= config.v_th + config.beta * a)
        assert float(u[0]) == pytest.approx(u_hand, rel=1e-5)
        assert float(spikes[0]) == fired
        a = rho * a + fired  # the next step's adaptation
        v = 0.0 if fired else u_hand
        np.testing.assert_allclose(
            ALIF.after_reset(params, state, arctan(), False).v, [v], rtol=1e-5
        )


@pytest.mark.parametrize("model", ["lif", "alif", "bipolar"])
def test_every_property_round_trips_through_the_genome_and_the_centres_file(model):
    config = neuron_model(model).config()
    hidden = config.homogeneous(5)
    rows = neuron_model(model).stack(hidden)
    rng = np.random.default_rng(0)
    noisy = neuron_model(model).unstack(rows + jnp.asarray(rng.normal(0, 0.05, rows.shape), F32))
    net = dataclasses.replace(_network(model, 5), n_in=2, n_out=2)
    params = net.init(jax.random.key(2), noisy)
    genome = Genome(neuron_model(model).names, space="log", model=model)
    flat = genome.flatten(params)
    assert flat.shape == (len(neuron_model(model).names) * 5,)
    back = genome.unflatten(flat, net.init(jax.random.key(3), hidden))
    for a, b in zip(jax.tree.leaves(back.hidden), jax.tree.leaves(params.hidden), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    arrays = neuron_model(model).to_arrays(noisy, config.dt)
    assert list(arrays) == [p.stored for p in neuron_model(model).properties]
    again = neuron_model(model).from_arrays(arrays, config.dt)
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(noisy), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4)


def test_lif_flat_order_is_unchanged():
    """The LIF genome keeps the order checkpoints were written in: R, tau_m, v_rest, v_th."""
    assert Genome(LIF.names).rows == (3, 0, 2, 1)


@pytest.mark.parametrize("model", ["alif", "bipolar"])
def test_the_studies_networks_step_through_other_models(model):
    """Spiking reservoirs (quenched, HRSNN) and the E/I network run a non-LIF model through
    its interface; the numbers differ from LIF's, spike trains count events."""
    from hetsnn.model import reservoir
    from hetsnn.model.recurrent_ei import EINetwork

    config = neuron_model(model).config()
    runs = {}
    for neuron in (NeuronConfig(), config):
        res = reservoir.ReservoirConfig(40, "spiking", neuron=neuron)
        net = reservoir.init(jax.random.key(0), 1, res)
        inputs = jax.random.uniform(jax.random.key(1), (60, 1), minval=-1.0)
        runs[type(neuron).model] = reservoir.run(net, inputs, res.dynamics)
    (lif_features, _), (features, spikes) = runs["lif"], runs[model]
    assert set(np.unique(np.asarray(spikes))) <= {0.0, 1.0} and float(spikes.sum()) > 0
    assert not np.array_equal(np.asarray(features), np.asarray(lif_features))
    ei = EINetwork(12, 16, 3, steps=5, neuron=config)
    params = ei.init(jax.random.key(2))
    logits, ei_spikes = ei.forward(params, jax.random.normal(jax.random.key(3), (4, 12)))
    assert logits.shape == (4, 3) and np.isfinite(np.asarray(logits)).all()
    assert set(np.unique(np.asarray(ei_spikes))) <= {0.0, 1.0}
