"""Reservoirs: recurrent networks whose weights and time constants are drawn once and fixed.

Only a linear read-out of the reservoir's state is trained (:mod:`hetsnn.studies.readout`). The
time constants are *quenched* (Golmohammadi and Tetzlaff, docs/specification.md sec. 2):
one draw per neuron from a :class:`~hetsnn.model.heterogeneity.Distribution`, never trained. Two
kinds share the weights, the draw and the interface:

* ``rate``: leaky-integrator units, ``x(t) = (1 - k) x(t-dt) + k (W^T tanh(x(t-dt)) +
  W_in^T u(t) + b)``, with ``k = dt / tau_m`` per neuron; the read-out sees ``tanh(x)``.
* ``spiking``: the LIF neurons of :mod:`hetsnn.model.neurons` (dt, threshold, rest, R as
  everywhere in hetsnn) driven by ``W^T s(t-dt) + W_in^T u(t) + b``; the read-out sees the
  spike trains low-pass filtered with ``trace_tau``.

Recurrent weights are sparse (connection probability ``density``) with entries of variance
``g^2 / (density N)``, so by the circular law the spectral radius of ``W`` is close to ``g``
without an eigen-decomposition. With ``excitatory_fraction`` set they obey Dale's law.
:func:`perturb` rescales or removes recurrent weights after the fact (the robustness
sweeps) without changing any shape, so nothing recompiles.
"""

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.errors import ConfigError
from hetsnn.model import dale, neurons
from hetsnn.model.heterogeneity import Distribution, quenched_hidden
from hetsnn.model.neuron_models import neuron_model
from hetsnn.model.neurons import NeuronConfig
from hetsnn.model.surrogates import heaviside

KINDS = ("rate", "spiking")
# Unset gain / input_scale / bias_scale take these. The spiking values give 10-20 Hz at
# dt = 5 ms and the best memory capacity of a small search (docs/science.md).
KIND_DEFAULTS = {
    "rate": {"gain": 0.9, "input_scale": 1.0, "bias_scale": 0.2},
    "spiking": {"gain": 1.5, "input_scale": 1.0, "bias_scale": 0.9},
}


@dataclass(frozen=True)
class Dynamics:
    """What :func:`run` needs besides the drawn arrays (static under jit; the tau_m
    distribution is not part of it, so reservoirs drawn from different distributions share
    one compiled program). ``dt`` and ``trace_tau`` in ms; ``model`` names the spiking
    kind's neuron model (:mod:`hetsnn.model.neuron_models`)."""

    kind: str
    dt: float
    trace_tau: float
    model: str = "lif"


@dataclass(frozen=True)
class ReservoirConfig:
    """Architecture of a reservoir; time in ms.

    Attributes:
        n_neurons: reservoir size N.
        kind: ``"rate"`` or ``"spiking"``.
        tau_m: the distribution the per-neuron membrane time constants are drawn from.
        gain: g, the spectral radius of the recurrent weights (about). This and the
            next two default to the kind's entry in ``KIND_DEFAULTS``.
        density: probability that a recurrent connection exists.
        input_scale: std of the input weights.
        bias_scale: rate: std of the per-neuron bias; spiking: bias currents are drawn
            uniformly from ``[0, bias_scale * v_th]`` (background drive).
        neuron: dt, threshold, rest and resistance of the spiking kind (its tau_m is
            replaced by the draw); its class picks the spiking kind's neuron model (LIF
            by default); the rate kind uses its dt only.
        trace_tau: time constant of the spiking read-out's spike filter.
        excitatory_fraction: None for unconstrained Gaussian recurrent weights; else
            Dale's law (:mod:`hetsnn.model.dale`): that share of neurons excitatory, the rest
            inhibitory, half-normal magnitudes, inhibition scaled to balance excitation.
    """

    n_neurons: int = 200
    kind: str = "rate"
    tau_m: Distribution = field(default_factory=lambda: Distribution("constant", 20.0))
    gain: float | None = None
    density: float = 0.1
    input_scale: float | None = None
    bias_scale: float | None = None
    neuron: NeuronConfig = field(default_factory=NeuronConfig)
    trace_tau: float = 20.0
    excitatory_fraction: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"reservoir kind {self.kind!r}: choose one of {KINDS}")
        for name, value in KIND_DEFAULTS[self.kind].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.n_neurons < 1:
            raise ConfigError(f"reservoir needs n_neurons >= 1, got {self.n_neurons}")
        if not 0 < self.density <= 1:
            raise ConfigError(f"reservoir density must be in (0, 1], got {self.density}")
        if self.gain < 0 or self.input_scale < 0 or self.bias_scale < 0:
            raise ConfigError("reservoir gain, input_scale and bias_scale must be >= 0")
        if not self.trace_tau > 0:
            raise ConfigError(f"reservoir trace_tau must be > 0 ms, got {self.trace_tau}")

    @property
    def dynamics(self) -> Dynamics:
        model = type(self.neuron).model
        return Dynamics(kind=self.kind, dt=self.neuron.dt, trace_tau=self.trace_tau, model=model)


@struct.dataclass
class Reservoir:
    """One drawn reservoir (a pytree: stack them to vmap over seeds or distributions).

    Attributes:
        w_in: input weights ``(n_inputs, N)``.
        w_rec: recurrent weights ``(N, N)``, presynaptic first.
        bias: constant input ``(N,)``.
        hidden: per-neuron properties, fields ``(N,)``; the rate kind uses ``decay`` only.
    """

    w_in: jax.Array
    w_rec: jax.Array
    bias: jax.Array
    hidden: neurons.NeuronParams


def stack(trees: list):
    """Pytrees of equal structure and shapes (reservoirs, STDP parameters, suite data)
    stacked along a new leading axis, for ``lax.map`` / ``vmap``."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def seed_keys(seed: int) -> dict[str, jax.Array]:
    """Independent keys of one seed: ``weights`` (for :func:`init`), ``tau``, ``perturb``,
    ``stdp`` and ``stream``. Split once at the top: with JAX's partitionable threefry,
    ``fold_in(key, i)`` can equal ``split(key, n)[i]``, which would correlate, say, the
    synapses a sweep removes with the ones that exist."""
    names = ("weights", "tau", "perturb", "stdp", "stream")
    return dict(zip(names, jax.random.split(jax.random.key(seed), len(names)), strict=True))


def init(key: jax.Array, n_inputs: int, config: ReservoirConfig, tau_key=None) -> Reservoir:
    """Draw a reservoir. ``tau_key`` (default: derived from ``key``) draws the time
    constants alone, so two reservoirs from the same ``key`` differ only in tau_m when
    their configs differ only in ``tau_m``: the homogeneous control shares the weights."""
    k_in, k_rec, k_mask, k_bias, k_tau = jax.random.split(key, 5)
    n, c = config.n_neurons, config.neuron
    w_in = config.input_scale * jax.random.normal(k_in, (n_inputs, n))
    std = config.gain / jnp.sqrt(config.density * n)
    mask = jax.random.bernoulli(k_mask, config.density, (n, n))
    w_rec = jnp.where(mask, std * jax.random.normal(k_rec, (n, n)), 0.0)
    if config.excitatory_fraction is not None:
        signs = dale.population_signs(n, config.excitatory_fraction)
        w_rec = dale.signed(dale.balanced(w_rec, signs, config.gain), signs)
    if config.kind == "rate":
        bias = config.bias_scale * jax.random.normal(k_bias, (n,))
    else:
        bias = jax.random.uniform(k_bias, (n,), maxval=config.bias_scale * c.v_th)
    hidden = quenched_hidden(k_tau if tau_key is None else tau_key, n, c, config.tau_m)
    return Reservoir(w_in=w_in, w_rec=w_rec, bias=bias, hidden=hidden)


def _forward_only(x, v_th):
    return heaviside(x)  # no gradient ever flows through a reservoir


def perturb(
    reservoir: Reservoir, key: jax.Array, scale: float = 1.0, removed: float = 0.0
) -> Reservoir:
    """The reservoir with its recurrent weights multiplied by ``scale`` and a random
    fraction ``removed`` of them set to zero (``removed = 1``: no recurrence at all)."""
    keep = jax.random.uniform(key, reservoir.w_rec.shape) >= removed
    return reservoir.replace(w_rec=jnp.where(keep, scale * reservoir.w_rec, 0.0))


def step_function(reservoir: Reservoir, dynamics: Dynamics):
    """``(start, step, features_of)``: the scan's initial carry, its step
    ``(carry, drive (N,)) -> (carry, spikes or None)``, and the read-out's view of a carry."""
    n = reservoir.bias.shape[0]
    if dynamics.kind == "rate":
        decay = reservoir.hidden.decay

        def rate_step(x, d):
            return (1 - decay) * x + decay * (jnp.tanh(x) @ reservoir.w_rec + d), None

        return jnp.zeros(n), rate_step, jnp.tanh

    keep = jnp.exp(-dynamics.dt / dynamics.trace_tau)  # spike filter decay per step

    if dynamics.model != "lif":  # another model steps through its interface
        return _model_step_function(reservoir, dynamics, keep)

    def spiking_step(carry, d):
        state, spikes, trace = carry
        current = spikes @ reservoir.w_rec + d
        state, spikes = neurons.lif_step(reservoir.hidden, state, current, _forward_only)
        return (state, spikes, keep * trace + spikes), spikes

    start = (neurons.init_state(reservoir.hidden), jnp.zeros(n), jnp.zeros(n))
    return start, spiking_step, lambda carry: carry[2]


def _model_step_function(reservoir: Reservoir, dynamics: Dynamics, keep):
    """:func:`step_function`'s spiking kind for a neuron model other than LIF (LIF keeps
    its original post-reset form, so its numbers stay the same to the bit): the model's
    carried state and step (:mod:`hetsnn.model.neuron_interface`). Signed spikes (a
    bipolar neuron's -1 too) drive the recurrence and the read-out's trace, as they drive
    the feedforward network's read-out; the spike trains returned (rates, STDP) count
    events (:meth:`NeuronModel.events`)."""
    model, n = neuron_model(dynamics.model), reservoir.bias.shape[0]
    f32 = jnp.dtype(jnp.float32)

    def spiking_step(carry, d):
        state, spikes, trace = carry
        current = spikes @ reservoir.w_rec + d
        state, _, spikes = model.step(
            reservoir.hidden, state, current, _forward_only, False, f32, f32
        )
        return (state, spikes, keep * trace + spikes), model.events(spikes)

    start = (model.rest(reservoir.hidden), jnp.zeros(n), jnp.zeros(n))
    return start, spiking_step, lambda carry: carry[2]


def run(reservoir: Reservoir, inputs: jax.Array, dynamics: Dynamics):
    """Drive the reservoir from rest with ``inputs: (T, n_inputs)``, one value per step of
    ``dynamics.dt`` ms.

    Returns:
        ``(features, spikes)``: ``features: (T, N)``, what the read-out sees at each step
        (rate: ``tanh(x)``; spiking: spike trains filtered with ``trace_tau``);
        ``spikes: (T, N)`` in {0, 1} (spiking kind), or ``None`` (rate kind).
    """
    start, step, features_of = step_function(reservoir, dynamics)

    def step_and_read(carry, d):
        carry, spikes = step(carry, d)
        return carry, (features_of(carry), spikes)

    drive = inputs @ reservoir.w_in + reservoir.bias  # (T, N), computed once
    _, (features, spikes) = jax.lax.scan(step_and_read, start, drive)
    return features, spikes


def final_features(reservoir: Reservoir, inputs: jax.Array, dynamics: Dynamics) -> jax.Array:
    """What the read-out sees after the last of ``inputs: (T, n_inputs)``, ``(N,)``; keeps
    no history, so it vmaps over many sequences in little memory."""
    start, step, features_of = step_function(reservoir, dynamics)
    carry, _ = jax.lax.scan(step, start, inputs @ reservoir.w_in + reservoir.bias)
    return features_of(carry)


@dataclass(frozen=True)
class ReservoirNetwork:
    """A reservoir behind the network interface (:mod:`hetsnn.model.network_interface`):
    ``init(key, None) -> Reservoir`` (its time constants drawn from ``config.tau_m``),
    ``init_state(params) -> carry`` and ``step(params, carry, x) -> (carry, features,
    spikes)``, where the "read-out" is what a trained read-out would see (:func:`run`'s
    features) and the spikes are zeros for the rate kind. One sequence at a time
    (``batch_shape`` must be ``()``; vmap over sequences); :func:`run` is ``step`` over a
    whole sequence with the input drive computed at once.

    Attributes:
        config: the reservoir's architecture.  n_inputs: input size.
    """

    config: ReservoirConfig
    n_inputs: int

    def init(self, key: jax.Array, hidden=None) -> Reservoir:
        if hidden is not None:
            raise ValueError("a reservoir draws its neurons from config.tau_m: pass None")
        return init(key, self.n_inputs, self.config)

    def init_state(self, params: Reservoir, batch_shape: tuple[int, ...] = ()):
        if batch_shape:
            raise ValueError("a reservoir steps one sequence: vmap over a batch")
        return step_function(params, self.config.dynamics)[0]

    def step(self, params: Reservoir, state, x: jax.Array):
        _, step, features_of = step_function(params, self.config.dynamics)
        state, spikes = step(state, x @ params.w_in + params.bias)
        if spikes is None:
            spikes = jnp.zeros(params.bias.shape)
        return state, features_of(state), spikes
