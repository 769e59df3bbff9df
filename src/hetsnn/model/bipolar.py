"""The bipolar LIF neuron: a spike of +1 above the threshold, -1 below its mirror image.

The convention of the paper's first author's public code (``LifNeuron`` in
``Dependencies/evojax/evojax/policy/mlp_snn.py`` of FloyedShen/Plasticity_Driven_Learning_
Framework, commit fbd25c6, lines 57-59)::

    sk = (mem > v_th) - (mem < -v_th);   mem = 0 where sk != 0

i.e. the balanced excitatory/inhibitory mechanism of BackEISNN (the paper's ref. [37]).
Here with hetsnn's LIF membrane (eq. LIF-1, :mod:`hetsnn.model.neurons`) and each neuron's
own rest, the lower threshold mirrored about it:

    s(t) = H(u(t) - v_th) - H(v_low - u(t)),   v_low = 2 v_rest - v_th        (BIP-1)
    v(t) = v_rest where s(t) != 0, else u(t)                                   (BIP-2)

With hetsnn's default rest of 0 this is the authors' ``+-v_th``. Spikes are -1, 0 or +1 and
drive the read-out with their sign; firing rates count both kinds (:meth:`events`). The
thresholds are inclusive (``u >= v_th``, ``u <= v_low``) as hetsnn's LIF's are; the
authors' are strict, which differs only where a potential lands exactly on a threshold.

For BPTT the spike function is two-sided: the surrogate derivative of each Heaviside, so
``ds/du = g'(u - v_th) + g'(v_low - u)``. The properties are LIF's four.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from hetsnn.model.neuron_interface import NeuronModel, with_noise
from hetsnn.model.neurons import (
    LIF_PROPERTIES,
    LIFCarry,
    LIFState,
    NeuronConfig,
    NeuronParams,
    gated_reset,
    init_state,
    integrate,
)


@dataclass(frozen=True)
class BipolarConfig(NeuronConfig):
    """Homogeneous defaults of bipolar LIF neurons (the fields of :class:`NeuronConfig`)."""

    model = "bipolar"


def lower_threshold(params: NeuronParams) -> jax.Array:
    """``v_low = 2 v_rest - v_th``: the threshold mirrored about rest, ``(n_neurons,)``."""
    return 2 * params.v_rest - params.v_th


class BipolarModel(NeuronModel):
    """The bipolar LIF neuron, eqs. LIF-1, BIP-1 and BIP-2."""

    name = "bipolar"
    summary = "bipolar LIF (the authors' E/I convention): spikes +1 above v_th, -1 below its mirror"
    config = BipolarConfig
    properties = LIF_PROPERTIES
    binary = False
    nir_refusal = (
        "NIR 1.0's LIF and IF nodes fire positive spikes only: the bipolar neuron's -1 "
        "spikes below the mirrored threshold have no node to hold them"
    )

    def params(self, **fields) -> NeuronParams:
        return NeuronParams(**fields)

    def rest(self, params, batch_shape=()) -> LIFCarry:
        return LIFCarry(u=init_state(params, batch_shape).v)

    def fire(self, params: NeuronParams, u: jax.Array, spike_fn) -> tuple[jax.Array, jax.Array]:
        """``(spikes, gate)`` of BIP-1 at pre-reset ``u``: spikes -1, 0 or +1, and the
        reset gate ``|s|``."""
        up = spike_fn(u - params.v_th, params.v_th)
        down = spike_fn(lower_threshold(params) - u, params.v_th)
        return up - down, up + down

    def _reset(self, params, u, spike_fn, detach_reset):
        _, gate = self.fire(params, u, spike_fn)
        return gated_reset(u, gate, params.v_rest, spike_fn, detach_reset)

    def step(self, params, state, current, spike_fn, detach_reset, store, compute, noise=None):
        v = self._reset(params, state.u.astype(compute), spike_fn, detach_reset)
        u = with_noise(integrate(params, v, current), noise).astype(store).astype(compute)
        spikes, _ = self.fire(params, u, spike_fn)
        return LIFCarry(u=u.astype(store)), u, spikes

    def after_reset(self, params, state, spike_fn, detach_reset) -> LIFState:
        u = state.u.astype(jnp.promote_types(state.u.dtype, jnp.float32))
        return LIFState(v=self._reset(params, u, spike_fn, detach_reset))

    def events(self, spikes: jax.Array) -> jax.Array:
        return jnp.abs(spikes)

    def reset_jacobian(self, params, u, spike_fn, detach_reset):
        """BIP-2's ``dv/du`` times the leak, with the surrogates in place of ``H'``:

        full path:      (1 - k) * [(1 - |s|) + (v_rest - u) * (g'(u - v_th) - g'(v_low - u))]
        detached reset: (1 - k) * (1 - |s|)
        """
        leak = 1 - params.decay
        _, gate = self.fire(params, u, spike_fn)
        gate = jax.lax.stop_gradient(gate)
        if detach_reset:
            return leak * (1 - gate)
        slope = jax.grad(lambda u: self.fire(params, u, spike_fn)[1].sum())(u)
        return leak * ((1 - gate) + (params.v_rest - u) * slope)


BIPOLAR = BipolarModel()
