"""Feedforward spiking perceptron: input -> hidden LIF layer -> membrane read-out.

The input (an observation, or an image) enters the hidden layer as a current at every
simulation step; the read-out is a layer of non-spiking leaky integrators whose membrane
potentials are the output (action preferences or class logits). Both layers have no biases.
Weights use LeCun-normal initialisation (variance 1 / fan_in, truncated normal).

One call of :meth:`FeedforwardSNN.step` presents one input for ``steps_per_input``
simulation steps (1 for control tasks, 4 for images); the network state is returned so that
it carries over from one environment step to the next within an episode.
"""

from dataclasses import dataclass, fields

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.model import neurons
from hetsnn.model.neurons import LIFState, NeuronParams
from hetsnn.model.surrogates import SURROGATES, SpikeFn


@struct.dataclass
class NetworkParams:
    """All numbers of a feedforward SNN.

    Attributes:
        w_in: input -> hidden weights, ``(n_in, n_hidden)``.
        w_out: hidden -> read-out weights, ``(n_hidden, n_out)``.
        hidden: per-neuron LIF properties of the hidden layer, fields ``(n_hidden,)``.
    """

    w_in: jax.Array
    w_out: jax.Array
    hidden: NeuronParams


@struct.dataclass
class NetworkState:
    """Dynamic state: ``hidden.v: (..., n_hidden)``, ``readout: (..., n_out)``."""

    hidden: LIFState
    readout: jax.Array


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
        surrogate, surrogate_alpha: spike surrogate for gradient training (see surrogates).
        detach_reset: cut the gradient through the reset (see neurons.lif_step).
        state_dtype: dtype the membrane potentials are stored in between steps,
            "float32" or "bfloat16" (half the memory traffic; each step still computes in
            float32, and read-outs are returned as float32); "float64" (with
            ``jax.enable_x64``) computes in float64 throughout, for reference simulations.
    """

    n_hidden: int = 128
    steps_per_input: int = 1
    readout_tau: float = 20.0
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
    """

    n_in: int
    n_out: int
    dt: float = 5.0

    @classmethod
    def around(cls, layer: HiddenLayer, *, n_in: int, n_out: int, dt: float) -> "FeedforwardSNN":
        """The network of ``layer``'s structure between ``n_in`` inputs and ``n_out``
        read-outs, stepped by ``dt`` ms."""
        structure = {f.name: getattr(layer, f.name) for f in fields(HiddenLayer)}
        return cls(n_in=n_in, n_out=n_out, dt=dt, **structure)

    def init(self, key: jax.Array, hidden: NeuronParams) -> NetworkParams:
        """Random LeCun-normal weights around the given hidden-layer properties."""
        key_in, key_out = jax.random.split(key)
        lecun = jax.nn.initializers.lecun_normal()
        return NetworkParams(
            w_in=lecun(key_in, (self.n_in, self.n_hidden), jnp.float32),
            w_out=lecun(key_out, (self.n_hidden, self.n_out), jnp.float32),
            hidden=hidden,
        )

    def init_state(self, params: NetworkParams, batch_shape: tuple[int, ...] = ()) -> NetworkState:
        """Every neuron at rest; read-out at 0; both stored as ``state_dtype``."""
        rest = neurons.init_state(params.hidden, batch_shape)
        return NetworkState(
            hidden=LIFState(v=rest.v.astype(self.state_dtype)),
            readout=jnp.zeros((*batch_shape, self.n_out), self.state_dtype),
        )

    @property
    def spike_fn(self) -> SpikeFn:
        return SURROGATES[self.surrogate](self.surrogate_alpha)

    def trace(
        self, params: NetworkParams, state: NetworkState, x: jax.Array
    ) -> tuple[NetworkState, jax.Array, jax.Array, jax.Array]:
        """Present one input for ``steps_per_input`` simulation steps, keeping diagnostics.

        Args:
            x: input, ``(..., n_in)``.

        Returns:
            ``(state, readout, spike_count, u)``: read-out potentials ``(..., n_out)`` after
            the last step, hidden spikes summed over the steps ``(..., n_hidden)``, and the
            pre-reset potentials ``u: (steps_per_input, ..., n_hidden)``.
        """
        current = x @ params.w_in
        readout_decay = self.dt / self.readout_tau
        spike_fn = self.spike_fn

        store = jnp.dtype(self.state_dtype)
        compute = jnp.dtype(jnp.float64 if store == jnp.float64 else jnp.float32)

        if self.steps_per_input > 1:
            return self._trace_held_input(params, state, current, store, compute)

        def sim_step(carry, _):
            v, readout = (x.astype(compute) for x in carry)
            u = neurons.integrate(params.hidden, v, current)
            hidden, spikes = neurons.fire_and_reset(params.hidden, u, spike_fn, self.detach_reset)
            readout = neurons.leaky_readout(readout, spikes @ params.w_out, readout_decay)
            return (hidden.v.astype(store), readout.astype(store)), (spikes, u)

        (v, readout), (spikes, u) = jax.lax.scan(
            sim_step, (state.hidden.v, state.readout), length=self.steps_per_input
        )
        state = NetworkState(hidden=LIFState(v=v), readout=readout)
        return state, readout.astype(compute), spikes.sum(axis=0), u

    def _trace_held_input(self, params, state, current, store, compute):
        """:meth:`trace` for an input held over several steps (images), in one fused pass.

        The read-out is linear in the spikes, so instead of ``spikes @ w_out`` at every step
        it carries the decayed spike trace ``z <- (1 - a) z + a s`` (``a = dt /
        readout_tau``) and applies ``w_out`` once: ``readout = (1 - a)^T readout_0 + z @
        w_out``, equal to the step-by-step read-out up to rounding. The few steps are
        unrolled, so XLA fuses them into one elementwise pass over ``(..., n_hidden)``
        instead of writing v and s to memory at every step.
        """
        a = self.dt / self.readout_tau
        spike_fn = self.spike_fn

        def sim_step(carry, _):
            v, z = carry
            u = neurons.integrate(params.hidden, v.astype(compute), current)
            hidden, spikes = neurons.fire_and_reset(params.hidden, u, spike_fn, self.detach_reset)
            return (hidden.v.astype(store), z + a * (spikes - z)), (spikes, u)

        trace0 = jnp.zeros(state.hidden.v.shape, compute)
        (v, z), (spikes, u) = jax.lax.scan(
            sim_step, (state.hidden.v, trace0), length=self.steps_per_input, unroll=True
        )
        carried = state.readout.astype(compute) * (1 - a) ** self.steps_per_input
        readout = carried + z @ params.w_out
        state = NetworkState(hidden=LIFState(v=v), readout=readout.astype(store))
        return state, readout, spikes.sum(axis=0), u

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
