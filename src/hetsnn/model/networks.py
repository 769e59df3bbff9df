"""Feedforward spiking perceptron: input -> hidden spiking layer -> membrane read-out.

The input (an observation, or an image) enters the hidden layer as a current at every
simulation step; the read-out is a layer of non-spiking leaky integrators whose membrane
potentials are the output (action preferences or class logits), or (``readout="current"``,
the authors' convention: a dense layer on the current step's spikes, ``MLPs`` in their
``policy/mlp_snn.py``) the current step's ``spikes @ w_out`` with no state. Both layers
have no biases.
Weights use LeCun-normal initialisation (variance 1 / fan_in, truncated normal).

One call of :meth:`FeedforwardSNN.step` presents one input for ``steps_per_input``
simulation steps (1 for control tasks, 4 for images); the network state is returned so that
it carries over from one environment step to the next within an episode.

The state holds the hidden layer's potential *before* the reset of the last step, and the
reset (eq. LIF-3) is applied at the start of the next step. The numbers are those of
resetting at the end of each step; the order matters to XLA: when a step ends with the
reset, the potential u feeds two consumers (the reset and the spikes that drive the
read-out) and XLA recomputes the whole integration for each, so a step makes two passes
over the population's neurons instead of one (1.2 to 1.4x slower episodic generations,
measured by ``hetsnn bench``).
"""

from dataclasses import dataclass, fields
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.model.neuron_interface import NeuronModel
from hetsnn.model.neuron_models import neuron_model
from hetsnn.model.neurons import LIFState, NeuronParams, leaky_readout
from hetsnn.model.surrogates import SURROGATES, SpikeFn


@struct.dataclass
class NetworkParams:
    """All numbers of a feedforward SNN.

    Attributes:
        w_in: input -> hidden weights, ``(n_in, n_hidden)``.
        w_out: hidden -> read-out weights, ``(n_hidden, n_out)``.
        hidden: per-neuron properties of the hidden layer (the neuron model's
            parameters), fields ``(n_hidden,)``.
    """

    w_in: jax.Array
    w_out: jax.Array
    hidden: NeuronParams


@struct.dataclass
class NetworkState:
    """Dynamic state between two steps.

    Attributes:
        hidden: the neuron model's carried state, fields ``(..., n_hidden)``; its ``u`` is
            the membrane potential at the end of the last step, before its reset (see the
            module docstring); :meth:`FeedforwardSNN.potential` gives the potentials after
            the reset.
        readout: read-out potentials, ``(..., n_out)``.
    """

    hidden: Any
    readout: jax.Array

    @property
    def u(self) -> jax.Array:
        """The hidden potentials before the last step's reset, ``(..., n_hidden)``."""
        return self.hidden.u


@struct.dataclass
class NoisyCarry:
    """A neuron model's carried state with the PRNG key of its membrane noise (only when
    :attr:`FeedforwardSNN.membrane_noise` is on and the state was started with a key)."""

    inner: Any
    key: jax.Array

    @property
    def u(self) -> jax.Array:
        return self.inner.u


@dataclass(frozen=True, kw_only=True)
class HiddenLayer:
    """How the hidden layer is sized and simulated: the one definition of the network's
    structure, shared by the run config (:class:`hetsnn.config.NetworkConfig` adds the
    neurons' homogeneous defaults and validation) and the network (:class:`FeedforwardSNN`
    adds the input and output sizes and the step).

    Attributes:
        n_hidden: hidden neurons.
        steps_per_input: simulation steps each input is presented for.
        readout_tau: time constant of the read-out integrators in ms (homogeneous, fixed).
        readout: "leaky" (integrators of time constant ``readout_tau``) or "current" (the
            current step's ``spikes @ w_out``, no state; ``readout_tau`` unused).
        surrogate, surrogate_alpha: spike surrogate for gradient training (see surrogates).
        detach_reset: cut the gradient through the reset (see neurons.lif_step).
        state_dtype: dtype the membrane potentials are stored in between steps,
            "float32" or "bfloat16" (half the memory traffic; each step still computes in
            float32, spikes and resets are decided on the stored potential, and read-outs
            are returned as float32); "float64" (with ``jax.enable_x64``) computes in
            float64 throughout, for reference simulations.
    """

    n_hidden: int = 128
    steps_per_input: int = 1
    readout_tau: float = 20.0
    readout: str = "leaky"
    surrogate: str = "arctan"
    surrogate_alpha: float = 2.0
    detach_reset: bool = False
    state_dtype: str = "float32"


@dataclass(frozen=True, kw_only=True)
class FeedforwardSNN(HiddenLayer):
    """Static structure of the network (hashable; the numbers live in NetworkParams).

    Attributes:
        n_in, n_out: input and read-out sizes (and :class:`HiddenLayer`'s fields).
        dt: Euler step in ms.
        model: the hidden neurons' model, a name in
            :data:`hetsnn.model.neuron_models.NEURON_MODELS`.
        membrane_noise: std (voltage) of Gaussian noise added to every hidden neuron's
            potential at every step before it fires; 0 (training) adds none. A state
            started without a key (:meth:`init_state`) runs noise-free either way.
    """

    n_in: int
    n_out: int
    dt: float = 5.0
    model: str = "lif"
    membrane_noise: float = 0.0

    @classmethod
    def around(
        cls, layer: HiddenLayer, *, n_in: int, n_out: int, dt: float, model: str = "lif"
    ) -> "FeedforwardSNN":
        """The network of ``layer``'s structure between ``n_in`` inputs and ``n_out``
        read-outs, of ``model`` neurons stepped by ``dt`` ms."""
        structure = {f.name: getattr(layer, f.name) for f in fields(HiddenLayer)}
        return cls(n_in=n_in, n_out=n_out, dt=dt, model=model, **structure)

    @property
    def neuron(self) -> NeuronModel:
        """The hidden neurons' model (:mod:`hetsnn.model.neuron_interface`)."""
        return neuron_model(self.model)

    def init(self, key: jax.Array, hidden: NeuronParams) -> NetworkParams:
        """Random LeCun-normal weights around the given hidden-layer properties."""
        key_in, key_out = jax.random.split(key)
        lecun = jax.nn.initializers.lecun_normal()
        return NetworkParams(
            w_in=lecun(key_in, (self.n_in, self.n_hidden), jnp.float32),
            w_out=lecun(key_out, (self.n_hidden, self.n_out), jnp.float32),
            hidden=hidden,
        )

    def init_state(
        self,
        params: NetworkParams,
        batch_shape: tuple[int, ...] = (),
        noise_key: jax.Array | None = None,
    ) -> NetworkState:
        """Every neuron at rest (a potential of v_rest resets to v_rest, spike or not);
        read-out at 0; both stored as ``state_dtype``. With ``membrane_noise`` on,
        ``noise_key`` starts the noise (tasks pass one derived from the episode's key)."""
        rest = self.neuron.rest(params.hidden, batch_shape)
        hidden = jax.tree.map(lambda x: x.astype(self.state_dtype), rest)
        if self.membrane_noise and noise_key is not None:
            hidden = NoisyCarry(hidden, noise_key)
        return NetworkState(
            hidden=hidden, readout=jnp.zeros((*batch_shape, self.n_out), self.state_dtype)
        )

    def potential(self, params: NetworkParams, state: NetworkState) -> LIFState:
        """The hidden potentials after the last step's reset, ``v: (..., n_hidden)``."""
        hidden = state.hidden.inner if isinstance(state.hidden, NoisyCarry) else state.hidden
        return self.neuron.after_reset(params.hidden, hidden, self.spike_fn, self.detach_reset)

    @property
    def spike_fn(self) -> SpikeFn:
        return SURROGATES[self.surrogate](self.surrogate_alpha)

    def _dtypes(self) -> tuple[jnp.dtype, jnp.dtype]:
        """``(store, compute)``: the dtype potentials are kept in between steps, and the
        one each step computes in."""
        store = jnp.dtype(self.state_dtype)
        return store, jnp.dtype(jnp.float64 if store == jnp.float64 else jnp.float32)

    def trace(
        self, params: NetworkParams, state: NetworkState, x: jax.Array
    ) -> tuple[NetworkState, jax.Array, jax.Array, jax.Array]:
        """Present one input for ``steps_per_input`` simulation steps, keeping diagnostics.

        Args:
            x: input, ``(..., n_in)``.

        Returns:
            ``(state, readout, spike_count, u)``: read-out potentials ``(..., n_out)`` after
            the last step, hidden spike events summed over the steps ``(..., n_hidden)``
            (:meth:`NeuronModel.events`: both signs of a bipolar neuron's spikes), and the
            pre-reset potentials ``u: (steps_per_input, ..., n_hidden)``.
        """
        current = x @ params.w_in
        if self.steps_per_input > 1:
            return self._trace_held_input(params, state, current)
        state, readouts, events, us = self._step_by_step(params, state, current)
        return state, readouts[-1], events, us

    def trace_readouts(
        self, params: NetworkParams, state: NetworkState, x: jax.Array
    ) -> tuple[NetworkState, jax.Array, jax.Array, jax.Array]:
        """:meth:`trace`, returning the read-out after *every* simulation step,
        ``(steps_per_input, ..., n_out)``, in place of the last one (the input current
        computed once for all steps)."""
        return self._step_by_step(params, state, x @ params.w_in)

    def _step_by_step(self, params, state, current):
        """``steps_per_input`` steps on the held input ``current``, each step's read-out
        computed: ``(state, readouts (steps, ..., n_out), events, u)``."""
        store, compute = self._dtypes()
        readout_decay = self.dt / self.readout_tau

        def sim_step(carry, _):
            hidden, readout = carry
            hidden, u, spikes = self._hidden_step(params, hidden, current)
            if self.readout == "current":
                readout = spikes @ params.w_out
            else:
                readout = leaky_readout(
                    readout.astype(compute), spikes @ params.w_out, readout_decay
                )
            return (hidden, readout.astype(store)), (spikes, u, readout.astype(compute))

        (hidden, readout), (spikes, us, readouts) = jax.lax.scan(
            sim_step,
            (state.hidden, state.readout),
            length=self.steps_per_input,
            unroll=self.steps_per_input > 1,  # a held input's few steps: fused by XLA
        )
        events = self.neuron.events(spikes).sum(0)
        return NetworkState(hidden=hidden, readout=readout), readouts, events, us

    def _hidden_step(self, params, hidden, current):
        """One simulation step of the hidden layer (:meth:`NeuronModel.step`): reset what
        the previous step left in ``hidden``, integrate ``current`` and fire. Returns
        ``(hidden, u, spikes)``, ``u`` rounded to the stored dtype first, so that the next
        step's reset agrees with the spikes."""
        store, compute = self._dtypes()
        if isinstance(hidden, NoisyCarry):  # the noise probe: draw this step's noise
            key, draw = jax.random.split(hidden.key)
            noise = self.membrane_noise * jax.random.normal(draw, hidden.u.shape, compute)
            inner, u, spikes = self.neuron.step(
                params.hidden, hidden.inner, current, self.spike_fn, self.detach_reset,
                store, compute, noise=noise,
            )  # fmt: skip
            return NoisyCarry(inner, key), u, spikes
        return self.neuron.step(
            params.hidden, hidden, current, self.spike_fn, self.detach_reset, store, compute
        )

    def _trace_step(self, params, carry, current):
        """:meth:`_hidden_step` carrying the decayed spike trace ``z <- (1 - a) z + a s``
        (``a = dt / readout_tau``; the last step's spikes ``z <- s`` for the current
        read-out) in place of the read-out: ``((hidden, z), (spikes, u))``."""
        hidden, z = carry
        hidden, u, spikes = self._hidden_step(params, hidden, current)
        if self.readout == "current":
            return (hidden, spikes), (spikes, u)
        a = self.dt / self.readout_tau
        return (hidden, z + a * (spikes - z)), (spikes, u)

    def _readout_from_trace(self, params, state, z, steps: int) -> jax.Array:
        """The read-out ``steps`` simulation steps after ``state`` whose spikes left the
        trace ``z``: ``(1 - a)^steps readout_0 + z @ w_out`` (``z @ w_out`` for the current
        read-out, which keeps nothing of ``readout_0``)."""
        if self.readout == "current":
            return z @ params.w_out
        a = self.dt / self.readout_tau
        carried = state.readout.astype(self._dtypes()[1]) * (1 - a) ** steps
        return carried + z @ params.w_out

    def _trace_held_input(self, params, state, current):
        """:meth:`trace` for an input held over several steps (images), in one fused pass.

        The read-out is linear in the spikes, so instead of ``spikes @ w_out`` at every step
        it carries the decayed spike trace and applies ``w_out`` once
        (:meth:`_readout_from_trace`), equal to the step-by-step read-out up to rounding.
        The few steps are unrolled, so XLA fuses them into one elementwise pass over
        ``(..., n_hidden)`` instead of writing the potentials and spikes to memory at
        every step.
        """
        trace0 = jnp.zeros(state.u.shape, self._dtypes()[1])
        (hidden, z), (spikes, us) = jax.lax.scan(
            lambda carry, _: self._trace_step(params, carry, current),
            (state.hidden, trace0),
            length=self.steps_per_input,
            unroll=True,
        )
        readout = self._readout_from_trace(params, state, z, self.steps_per_input)
        state = NetworkState(hidden=hidden, readout=readout.astype(state.readout.dtype))
        return state, readout, self.neuron.events(spikes).sum(axis=0), us

    def final_readout(self, params: NetworkParams, state: NetworkState, xs: jax.Array) -> jax.Array:
        """The read-out after the input sequence ``xs: (T, ..., n_in)``, ``(..., n_out)``:
        :meth:`unroll`'s last read-out, up to rounding, for tasks that decide on it alone.

        No read-out is computed along the way: the scan carries only the potentials and
        the decayed spike trace (:meth:`_trace_step`), one elementwise pass per
        simulation step, and ``w_out`` is applied once at the end.
        """
        currents = jnp.repeat(xs @ params.w_in, self.steps_per_input, axis=0)
        trace0 = jnp.zeros(state.u.shape, self._dtypes()[1])
        (_, z), _ = jax.lax.scan(
            lambda carry, current: (self._trace_step(params, carry, current)[0], None),
            (state.hidden, trace0),
            currents,
        )
        return self._readout_from_trace(params, state, z, currents.shape[0])

    def step(
        self, params: NetworkParams, state: NetworkState, x: jax.Array
    ) -> tuple[NetworkState, jax.Array, jax.Array]:
        """:meth:`trace` without the potentials: ``(state, readout, spike_count)``."""
        state, readout, spikes, _ = self.trace(params, state, x)
        return state, readout, spikes

    def unroll(
        self, params: NetworkParams, state: NetworkState, xs: jax.Array
    ) -> tuple[NetworkState, jax.Array, jax.Array]:
        """Feed a sequence of inputs ``xs: (T, ..., n_in)`` (time-major).

        Returns:
            ``(state, readouts (T, ..., n_out), spike_counts (T, ..., n_hidden))``.
        """

        def body(state, x):
            state, readout, spikes = self.step(params, state, x)
            return state, (readout, spikes)

        state, (readouts, spikes) = jax.lax.scan(body, state, xs)
        return state, readouts, spikes
