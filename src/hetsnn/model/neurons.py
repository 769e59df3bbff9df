"""Leaky integrate-and-fire neurons with per-neuron properties (docs/specification.md, section 1).

One Euler step of size ``dt`` (eq. LIF-1..3):

    u(t) = v(t-dt) + k * (R * I(t) - v(t-dt) + v_rest),   k = dt / tau_m      (LIF-1)
    s(t) = H(u(t) - v_th)                                                     (LIF-2)
    v(t) = u(t) * (1 - s(t)) + v_reset * s(t),            v_reset = v_rest    (LIF-3)

Heterogeneity is explicit: every property is an array with one entry per neuron.
The decay ``k`` is reparameterised as ``k = sigmoid(tau_logit)`` so that any real value an
optimiser proposes gives ``0 < k < 1`` (``tau_m > dt``) and a stable Euler step.

This module is also the LIF entry of the neuron-model registry (:data:`LIF`, the interface
in :mod:`hetsnn.model.neuron_interface`): its four trainable properties are the table
:data:`LIF_PROPERTIES`, which the adaptive and bipolar models extend or reuse.
"""

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.model.neuron_interface import NeuronModel, Property, decay_logit, with_noise
from hetsnn.model.surrogates import SpikeFn, arctan, heaviside
from hetsnn.validate import as_floats, check, finite

# The trainable properties of a LIF neuron, rows 0-3 of its property stack.
LIF_PROPERTIES = (
    Property("tau_m", "ms", "tau_logit", "tau_m", "time_constant"),
    Property("v_th", "voltage", "v_th", "v_th", "threshold"),
    Property("v_rest", "voltage", "v_rest", "v_rest", "rest"),
    Property("R", "1", "resistance", "resistance", "resistance"),
)


@dataclass(frozen=True)
class NeuronConfig:
    """Homogeneous defaults of the hidden neurons (docs/specification.md, section 1).

    Attributes:
        dt: Euler step, ms.  tau_m: membrane time constant, ms (must exceed dt).
        v_th: threshold.  v_rest: rest and reset potential.  resistance: R.

    A model with more properties subclasses this config (:class:`hetsnn.model.alif.
    ALIFConfig`); the class attribute ``model`` names the registry entry.
    """

    model: ClassVar[str] = "lif"

    dt: float = 5.0
    tau_m: float = 20.0
    v_th: float = 0.5
    v_rest: float = 0.0
    resistance: float = 1.0

    def __post_init__(self):
        for name in ("dt", "tau_m", "v_th", "v_rest", "resistance"):
            finite(getattr(self, name), f"neuron.{name}")
        as_floats(self, "dt", "tau_m", "v_th", "v_rest", "resistance")
        check(self.dt > 0, f"neuron.dt must be positive (ms), got {self.dt}")
        check(self.tau_m > 0, f"neuron.tau_m must be positive (ms), got {self.tau_m}")
        check(
            self.tau_m > self.dt,
            f"neuron.tau_m ({self.tau_m} ms) must exceed neuron.dt ({self.dt} ms) "
            "for a stable Euler step: raise tau_m or lower dt",
        )

    def homogeneous(self, n: int) -> "NeuronParams":
        """``n`` neurons at these properties: the one way a config becomes neurons."""
        return LIF.homogeneous(self, n)


@struct.dataclass
class NeuronParams:
    """Per-neuron LIF properties; every field has shape ``(n_neurons,)``.

    Attributes:
        tau_logit: logit of the Euler decay ``k = dt / tau_m`` (dimensionless).
        v_th: firing threshold (dimensionless voltage).
        v_rest: resting potential, also the reset potential (dimensionless voltage).
        resistance: membrane resistance R, scales the input current (dimensionless).
    """

    tau_logit: jax.Array
    v_th: jax.Array
    v_rest: jax.Array
    resistance: jax.Array

    @property
    def decay(self) -> jax.Array:
        """Euler decay ``k = dt / tau_m`` in (0, 1), shape ``(n_neurons,)``."""
        return jax.nn.sigmoid(self.tau_logit)

    def tau_m(self, dt: float) -> jax.Array:
        """Membrane time constant in ms, shape ``(n_neurons,)``."""
        return dt / self.decay


@struct.dataclass
class LIFState:
    """Membrane potential after reset, ``v: (..., n_neurons)``."""

    v: jax.Array


@struct.dataclass
class LIFCarry:
    """What a network carries between two steps: the potential *before* the last step's
    reset, ``u: (..., n_neurons)`` (:mod:`hetsnn.model.networks` says why)."""

    u: jax.Array


def tau_to_logit(tau_m, dt: float) -> jax.Array:
    """Inverse of the reparameterisation: ``logit(dt / tau_m)``; needs ``tau_m > dt``."""
    return decay_logit(tau_m, dt)


def homogeneous(
    n: int, *, dt: float, tau_m: float, v_th: float, v_rest: float, resistance: float
) -> NeuronParams:
    """``n`` identical neurons with the given properties (time in ms)."""

    def full(value):
        return jnp.full((n,), value, jnp.float32)

    return NeuronParams(
        tau_logit=full(tau_to_logit(tau_m, dt)),
        v_th=full(v_th),
        v_rest=full(v_rest),
        resistance=full(resistance),
    )


def init_state(params: NeuronParams, batch_shape: tuple[int, ...] = ()) -> LIFState:
    """Every neuron at its resting potential: ``v: (*batch_shape, n_neurons)``."""
    return LIFState(v=jnp.broadcast_to(params.v_rest, (*batch_shape, params.v_rest.shape[-1])))


def integrate(params: NeuronParams, v: jax.Array, current: jax.Array) -> jax.Array:
    """Pre-reset potential ``u`` of eq. LIF-1; ``v, current: (..., n_neurons)``."""
    return v + params.decay * (params.resistance * current - v + params.v_rest)


def lif_step(
    params: NeuronParams,
    state: LIFState,
    current: jax.Array,
    spike_fn: SpikeFn | None = None,
    detach_reset: bool = False,
) -> tuple[LIFState, jax.Array]:
    """One Euler step of a LIF layer.

    Args:
        params: per-neuron properties, fields ``(n_neurons,)``.
        state: ``v: (..., n_neurons)``.
        current: input current ``I(t): (..., n_neurons)``.
        spike_fn: Heaviside with a surrogate derivative (default: arctan, alpha 2);
            the forward pass is the same for every surrogate.
        detach_reset: if True the reset term gets no gradient, so that
            ``dv/dv_prev = (1 - s)(1 - k)``; if False the full path through ``s`` is kept.

    Returns:
        ``(new_state, spikes)`` with ``spikes: (..., n_neurons)`` in {0.0, 1.0}.
    """
    u = integrate(params, state.v, current)
    return fire_and_reset(params, u, spike_fn, detach_reset)


def fire_and_reset(
    params: NeuronParams,
    u: jax.Array,
    spike_fn: SpikeFn | None = None,
    detach_reset: bool = False,
) -> tuple[LIFState, jax.Array]:
    """Eqs. LIF-2 and LIF-3 from the pre-reset potential ``u: (..., n_neurons)``.

    Returns ``(new_state, spikes)``; see :func:`lif_step` for the arguments.
    """
    spike_fn = spike_fn or arctan()
    spikes = spike_fn(u - params.v_th, params.v_th)
    return LIFState(v=gated_reset(u, spikes, params.v_rest, spike_fn, detach_reset)), spikes


def gated_reset(
    u: jax.Array, gate: jax.Array, v_rest: jax.Array, spike_fn: SpikeFn, detach_reset: bool
) -> jax.Array:
    """Eq. LIF-3 for a reset gate ``gate`` (the spikes of ``spike_fn``, or a bipolar
    neuron's ``|s|``): ``u (1 - g) + v_rest g``, the gate's gradient cut when
    ``detach_reset``; a select (:func:`binary_reset`) when the spikes are exactly 0 or 1.
    Every neuron model resets through it."""
    gate = jax.lax.stop_gradient(gate) if detach_reset else gate
    if getattr(spike_fn, "binary", False):
        return binary_reset(u, gate, v_rest)
    return u * (1 - gate) + v_rest * gate  # a smooth forward (tests): 0 < gate < 1


@jax.custom_jvp
def binary_reset(u: jax.Array, gate: jax.Array, v_rest: jax.Array) -> jax.Array:
    """Eq. LIF-3, ``u (1 - g) + v_rest g``, for a gate ``g`` of exactly 0 or 1.

    Computed as a select: one operation per neuron instead of four, the same number for
    finite potentials (an infinite ``u`` resets to ``v_rest`` instead of giving NaN), and
    1.3x faster image generations (``hetsnn bench``). The derivative is the product
    form's, ``(1 - g) du + g dv_rest + (v_rest - u) dg``, so surrogate gradients through
    the reset are unchanged.

    Args:
        u, gate: ``(..., n_neurons)``; v_rest: ``(n_neurons,)`` or ``(..., n_neurons)``.
    """
    return jnp.where(gate > 0, v_rest, u)


@binary_reset.defjvp
def _binary_reset_jvp(primals, tangents):
    u, gate, v_rest = primals
    du, dgate, dv_rest = tangents
    tangent = du * (1 - gate) + dv_rest * gate + dgate * (v_rest - u)
    return binary_reset(u, gate, v_rest), tangent


def reset_jacobian(
    params: NeuronParams, u: jax.Array, spike_fn: SpikeFn, detach_reset: bool
) -> jax.Array:
    """Local BPTT factor ``dv(t)/dv(t-dt)`` of one neuron, as the gradient sees it.

    From LIF-1..3 with the surrogate ``g'`` in place of ``H'``:

        full path:      (1 - k) * [(1 - s) + (v_rest - u) * g'(u - v_th)]
        detached reset: (1 - k) * (1 - s)

    Where ``|factor| > 1`` along a trajectory, gradients through time grow.

    Args:
        u: pre-reset potentials ``(..., n_neurons)``.
    """
    x = u - params.v_th
    spikes = heaviside(x)
    leak = 1 - params.decay
    if detach_reset:
        return leak * (1 - spikes)
    v_th = jnp.broadcast_to(params.v_th, x.shape)
    slope = jax.grad(lambda x: spike_fn(x, v_th).sum())(x)  # elementwise g'(x)
    return leak * ((1 - spikes) + (params.v_rest - u) * slope)


def leaky_readout(potential: jax.Array, current: jax.Array, decay: float) -> jax.Array:
    """One Euler step of the networks' non-spiking read-out, a leaky integrator with unit
    resistance, rest 0 and ``decay = dt / readout_tau``: ``y + decay * (I - y)``; shapes
    ``(..., n_out)``."""
    return potential + decay * (current - potential)


class LIFModel(NeuronModel):
    """The leaky integrate-and-fire neuron of eqs. LIF-1..3, spikes in {0, 1}."""

    name = "lif"
    summary = "leaky integrate-and-fire (tau_m, v_th, v_rest, R); spikes 0 or 1"
    config = NeuronConfig
    properties = LIF_PROPERTIES

    def params(self, **fields) -> NeuronParams:
        return NeuronParams(**fields)

    def rest(self, params, batch_shape=()) -> LIFCarry:
        """Every neuron at its resting potential (which resets to itself, spike or not)."""
        return LIFCarry(u=init_state(params, batch_shape).v)

    def step(self, params, state, current, spike_fn, detach_reset, store, compute, noise=None):
        reset, _ = fire_and_reset(params, state.u.astype(compute), spike_fn, detach_reset)
        u = with_noise(integrate(params, reset.v, current), noise).astype(store).astype(compute)
        return LIFCarry(u=u.astype(store)), u, spike_fn(u - params.v_th, params.v_th)

    def after_reset(self, params, state, spike_fn, detach_reset) -> LIFState:
        u = state.u.astype(jnp.promote_types(state.u.dtype, jnp.float32))
        return fire_and_reset(params, u, spike_fn, detach_reset)[0]

    def reset_jacobian(self, params, u, spike_fn, detach_reset):
        return reset_jacobian(params, u, spike_fn, detach_reset)


LIF = LIFModel()
