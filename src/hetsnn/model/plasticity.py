"""Pair-based STDP with per-synapse parameters (heterogeneous STDP, Chakraborty and
Mukhopadhyay 2023; docs/specification.md section 2).

Every synapse ``i -> j`` has its own amplitudes and time constants. With traces (all-to-all
pairing, Morrison et al. 2008), per step of ``dt`` ms:

    x_ij <- x_ij exp(-dt / tau_plus_ij) + s_i         (presynaptic trace)
    y_ij <- y_ij exp(-dt / tau_minus_ij)              (postsynaptic trace, decayed)
    w_ij <- clip(w_ij + w_max (a_plus_ij x_ij s_j - a_minus_ij y_ij s_i), 0, w_max)
    y_ij <- y_ij + s_j

where ``s_i`` is the presynaptic spike arriving now (emitted one step ago) and ``s_j`` the
postsynaptic spike of this step. A presynaptic spike ``Δt`` ms before a postsynaptic one
(``Δt >= dt``) strengthens the synapse by ``a_plus exp(-(Δt - dt) / tau_plus)``; a
postsynaptic spike before the presynaptic one arrives weakens it by
``a_minus exp(-Δt' / tau_minus)``. Only excitatory synapses that exist are plastic; the
weights are magnitudes (Dale's law: :mod:`hetsnn.model.dale`).
"""

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.errors import ConfigError
from hetsnn.model.heterogeneity import Distribution
from hetsnn.model.reservoir import Dynamics, Reservoir, step_function


@struct.dataclass
class STDPParams:
    """Per-synapse STDP parameters, each ``(n_pre, n_post)``; time constants in ms."""

    a_plus: jax.Array
    a_minus: jax.Array
    tau_plus: jax.Array
    tau_minus: jax.Array


@dataclass(frozen=True)
class STDPConfig:
    """Distributions the per-synapse parameters are drawn from (constants: homogeneous
    STDP). Amplitudes are relative to the largest weight ``w_max``."""

    a_plus: Distribution = field(default_factory=lambda: Distribution("constant", 0.01))
    a_minus: Distribution = field(default_factory=lambda: Distribution("constant", 0.0105))
    tau_plus: Distribution = field(default_factory=lambda: Distribution("constant", 20.0))
    tau_minus: Distribution = field(default_factory=lambda: Distribution("constant", 20.0))


def draw(key: jax.Array, shape: tuple[int, int], config: STDPConfig, dt: float) -> STDPParams:
    """Draw every synapse's parameters; time constants are floored at ``dt``."""
    keys = jax.random.split(key, 4)
    n = shape[0] * shape[1]

    def sample(dist, k):
        return dist.sample(k, n).reshape(shape)

    return STDPParams(
        a_plus=sample(config.a_plus, keys[0]),
        a_minus=sample(config.a_minus, keys[1]),
        tau_plus=jnp.maximum(sample(config.tau_plus, keys[2]), dt),
        tau_minus=jnp.maximum(sample(config.tau_minus, keys[3]), dt),
    )


def stdp_step(pre_trace, post_trace, pre_spikes, post_spikes, params: STDPParams, dt):
    """One step of the rule in the module docstring.

    Args:
        pre_trace, post_trace: ``(n_pre, n_post)`` traces.
        pre_spikes: ``(n_pre,)``; post_spikes: ``(n_post,)`` in {0, 1}.

    Returns:
        ``(dw, pre_trace, post_trace)``: the weight change before clipping and the traces.
    """
    pre_trace = pre_trace * jnp.exp(-dt / params.tau_plus) + pre_spikes[:, None]
    post_trace = post_trace * jnp.exp(-dt / params.tau_minus)
    dw = params.a_plus * pre_trace * post_spikes[None, :]
    dw = dw - params.a_minus * post_trace * pre_spikes[:, None]
    return dw, pre_trace, post_trace + post_spikes[None, :]


def train_stdp(
    reservoir: Reservoir,
    inputs: jax.Array,
    params: STDPParams,
    dynamics: Dynamics,
    w_max: float,
) -> tuple[Reservoir, jax.Array]:
    """Drive a spiking reservoir with ``inputs: (T, n_inputs)`` while STDP changes its
    excitatory recurrent weights (rows with positive weights; absent synapses stay absent).

    Returns:
        ``(reservoir with the learned weights, mean firing rate per neuron (N,) in Hz)``.
    """
    if dynamics.kind != "spiking":
        raise ConfigError("STDP needs a spiking reservoir")
    w = reservoir.w_rec
    plastic = (w > 0).astype(w.dtype)  # existing excitatory synapses
    fixed = w * (1 - plastic)
    start, _, _ = step_function(reservoir, dynamics)
    drive = inputs @ reservoir.w_in + reservoir.bias

    def plastic_step(carry, d):
        neuron_carry, w_plastic, pre_trace, post_trace = carry
        # emitted last step, arriving now; spike events (a bipolar -1 is an event too)
        pre_spikes = jnp.abs(neuron_carry[1])
        _, step, _ = step_function(reservoir.replace(w_rec=w_plastic + fixed), dynamics)
        neuron_carry, spikes = step(neuron_carry, d)
        dw, pre_trace, post_trace = stdp_step(
            pre_trace, post_trace, pre_spikes, spikes, params, dynamics.dt
        )
        w_plastic = jnp.clip(w_plastic + w_max * dw * plastic, 0.0, w_max)
        return (neuron_carry, w_plastic, pre_trace, post_trace), spikes

    zeros = jnp.zeros_like(w)
    carry, spikes = jax.lax.scan(plastic_step, (start, w * plastic, zeros, zeros), drive)
    rate = spikes.mean(0) * 1000.0 / dynamics.dt
    return reservoir.replace(w_rec=carry[1] + fixed), rate
