"""Adaptive LIF: a LIF neuron whose threshold rises with its own recent spikes.

The adaptation follows the ALIF neuron of Bellec et al. (2020), "A solution to the
learning dilemma for recurrent networks of spiking neurons", Nat. Commun. 11, 3625
(Methods, "ALIF neuron"; the LSNN neuron of Bellec et al. 2018; checked against the
authors' ``EligALIF`` in IGITUGraz/eligibility_propagation,
``Figure_3_and_S7_e_prop_tutorials/models.py``: ``new_b = decay_b * b + z``, threshold
``thr + beta * new_b``), with hetsnn's LIF membrane (eqs. LIF-1..3 in
:mod:`hetsnn.model.neurons`) underneath. Per neuron and step:

    a(t) = rho * a(t-dt) + s(t-dt),        rho = 1 - dt / tau_a                  (ALIF-1)
    A(t) = v_th + beta * a(t)                                                    (ALIF-2)
    u(t) = v(t-dt) + k * (R * I(t) - v(t-dt) + v_rest)                           (LIF-1)
    s(t) = H(u(t) - A(t)),  v(t) = v_rest where s(t) = 1, else u(t)        (LIF-2, LIF-3)

``a`` counts recent spikes (dimensionless, +1 per spike), ``beta`` turns it into a
threshold increment (voltage), ``tau_a`` (ms) is its time constant. Two choices differ from
Bellec et al. and are hetsnn's: the adaptation decays by the forward-Euler factor
``1 - dt / tau_a`` (theirs: ``exp(-dt / tau_a)``, equal to first order in ``dt / tau_a``),
as hetsnn's membrane does, and the potential resets to ``v_rest`` as in hetsnn's LIF
(theirs: by subtraction of the threshold).

The defaults (``tau_a`` 200 ms, ``beta`` 0.05) are hetsnn's: a neuron that fires at every
5 ms step settles at ``a = 1 / (1 - rho) = 40``, two threshold gaps (0.5) above its base
threshold; one that fires every tenth step, a fifth of a gap. Both are trainable per
neuron, like the four LIF properties.

The membrane diagnostics of BPTT (``u_histogram`` and ``jacobian_above_one`` in
metrics.jsonl) measure ``u`` against the base threshold ``v_th`` and use the LIF factor of
:func:`hetsnn.model.neurons.reset_jacobian` there, not the adapted threshold.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.model.neuron_interface import NeuronModel, Property, with_noise
from hetsnn.model.neurons import (
    LIF_PROPERTIES,
    LIFState,
    NeuronConfig,
    NeuronParams,
    gated_reset,
    integrate,
    reset_jacobian,
)
from hetsnn.validate import as_floats, check, finite

ALIF_PROPERTIES = (
    *LIF_PROPERTIES,
    Property("tau_a", "ms", "tau_a_logit", "tau_a", "time_constant"),
    Property("beta", "voltage", "beta", "beta", "direct"),
)


@dataclass(frozen=True)
class ALIFConfig(NeuronConfig):
    """Homogeneous defaults of adaptive LIF neurons: :class:`NeuronConfig`'s and

    Attributes:
        tau_a: adaptation time constant, ms (must exceed dt).
        beta: threshold increment per unit of adaptation (voltage).
    """

    model = "alif"

    tau_a: float = 200.0
    beta: float = 0.05

    def __post_init__(self):
        super().__post_init__()
        for name in ("tau_a", "beta"):
            finite(getattr(self, name), f"neuron.{name}")
        as_floats(self, "tau_a", "beta")
        check(
            self.tau_a > self.dt,
            f"neuron.tau_a ({self.tau_a} ms) must exceed neuron.dt ({self.dt} ms): raise it",
        )

    def homogeneous(self, n: int) -> "ALIFParams":
        return ALIF.homogeneous(self, n)


@struct.dataclass
class ALIFParams(NeuronParams):
    """:class:`NeuronParams` and, per neuron ``(n_neurons,)``:

    Attributes:
        tau_a_logit: logit of ``dt / tau_a`` (dimensionless), so ``tau_a > dt``.
        beta: threshold increment per unit of adaptation (voltage).
    """

    tau_a_logit: jax.Array
    beta: jax.Array

    @property
    def adaptation_decay(self) -> jax.Array:
        """``rho = 1 - dt / tau_a`` in (0, 1)."""
        return 1 - jax.nn.sigmoid(self.tau_a_logit)


@struct.dataclass
class ALIFCarry:
    """Carried between steps: ``u``, the potential before the last step's reset, and
    ``a``, the adaptation its threshold used; both ``(..., n_neurons)``."""

    u: jax.Array
    a: jax.Array


class ALIFModel(NeuronModel):
    """Adaptive LIF (Bellec et al. 2020), eqs. ALIF-1, ALIF-2 and LIF-1..3."""

    name = "alif"
    summary = "adaptive LIF (Bellec et al. 2020): LIF's four and tau_a, beta; spikes 0 or 1"
    config = ALIFConfig
    properties = ALIF_PROPERTIES
    nir_refusal = (
        "NIR 1.0 has no adaptive neuron: the ALIF threshold's adaptation variable "
        "(tau_a, beta) has no node to hold it, and writing its neurons as LIF would "
        "export another network"
    )

    def params(self, **fields) -> ALIFParams:
        return ALIFParams(**fields)

    def rest(self, params, batch_shape=()) -> ALIFCarry:
        shape = (*batch_shape, params.v_rest.shape[-1])
        return ALIFCarry(u=jnp.broadcast_to(params.v_rest, shape), a=jnp.zeros(shape))

    def _fire_and_reset(self, params, u, a, spike_fn, detach_reset):
        """Spikes of ``u`` against the adapted threshold of ``a``, and the reset
        potential."""
        threshold = params.v_th + params.beta * a
        spikes = spike_fn(u - threshold, threshold)
        return spikes, gated_reset(u, spikes, params.v_rest, spike_fn, detach_reset)

    def step(self, params, state, current, spike_fn, detach_reset, store, compute, noise=None):
        a_prev = state.a.astype(compute)
        fired, v = self._fire_and_reset(
            params, state.u.astype(compute), a_prev, spike_fn, detach_reset
        )
        a = (params.adaptation_decay * a_prev + fired).astype(store).astype(compute)
        u = with_noise(integrate(params, v, current), noise).astype(store).astype(compute)
        threshold = params.v_th + params.beta * a
        spikes = spike_fn(u - threshold, threshold)
        return ALIFCarry(u=u.astype(store), a=a.astype(store)), u, spikes

    def after_reset(self, params, state, spike_fn, detach_reset):
        compute = jnp.promote_types(state.u.dtype, jnp.float32)
        _, v = self._fire_and_reset(
            params, state.u.astype(compute), state.a.astype(compute), spike_fn, detach_reset
        )
        return LIFState(v=v)

    def reset_jacobian(self, params, u, spike_fn, detach_reset):
        """The LIF factor at the base threshold (see the module docstring)."""
        return reset_jacobian(params, u, spike_fn, detach_reset)


ALIF = ALIFModel()
