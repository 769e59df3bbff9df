"""The feedforward, E/I and reservoir networks behind one interface (init, init_state,
step), each stepping to what its own whole-sequence path computes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn.model import reservoir
from hetsnn.model.network_interface import SpikingNetwork
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.model.neurons import NeuronConfig
from hetsnn.model.recurrent_ei import EINetwork


def test_every_network_has_the_interface():
    networks = [
        FeedforwardSNN(n_in=3, n_out=2, n_hidden=4),
        EINetwork(5, 8, 2),
        reservoir.ReservoirNetwork(reservoir.ReservoirConfig(10, "spiking"), 1),
    ]
    assert all(isinstance(net, SpikingNetwork) for net in networks)


@pytest.mark.parametrize("model", ["lif", "bipolar"])
def test_stepping_the_ei_network_is_its_forward(model):
    from hetsnn.model.neuron_models import neuron_model

    net = EINetwork(12, 16, 3, steps=6, neuron=neuron_model(model).config(v_th=0.2))
    params = net.init(jax.random.key(0))
    x = 3 * jax.random.normal(jax.random.key(1), (4, 12))
    logits, spikes = net.forward(params, x)
    state = net.init_state(params, (4,))
    stepped = []
    for _ in range(net.steps):
        state, readout, events = net.step(params, state, x)
        stepped.append(events)
    np.testing.assert_allclose(readout, logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.stack(stepped), spikes)
    assert float(spikes.sum()) > 0
    with pytest.raises(ValueError, match="pass None"):
        net.init(jax.random.key(0), NeuronConfig().homogeneous(16))


@pytest.mark.parametrize("kind", ["rate", "spiking"])
def test_stepping_a_reservoir_is_its_run(kind):
    net = reservoir.ReservoirNetwork(reservoir.ReservoirConfig(30, kind), 1)
    params = net.init(jax.random.key(0))
    inputs = jax.random.uniform(jax.random.key(1), (25, 1), minval=-1.0)
    features, spikes = reservoir.run(params, inputs, net.config.dynamics)
    state, stepped = net.init_state(params), []
    for x in inputs:
        state, seen, _ = net.step(params, state, x)
        stepped.append(seen)
    np.testing.assert_allclose(jnp.stack(stepped), features, rtol=1e-5, atol=1e-6)
