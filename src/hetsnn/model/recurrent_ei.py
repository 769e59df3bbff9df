"""A recurrent excitatory/inhibitory spiking network under Dale's law, for images
(Kilgore et al., docs/specification.md section 2).

Input pixels (currents, unconstrained weights) -> a recurrent layer of LIF neurons, the
first ``n_excitatory`` excitatory and the rest inhibitory -> a leaky-integrator read-out
whose potentials after the last step are the class logits. Every weight leaving a hidden
neuron (recurrent and read-out) carries that neuron's sign: the parameters are
unconstrained reals and the weights are ``|raw| * sign``, so no gradient step can break
Dale's law.

Initial firing-rate control: :func:`calibrate_input_gain` scales the input weights so
that the untrained network fires at a target mean rate on a batch of training images.
"""

from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.model import dale, neurons
from hetsnn.model.neuron_models import model_of
from hetsnn.model.neurons import NeuronConfig
from hetsnn.model.surrogates import SURROGATES


@struct.dataclass
class EIState:
    """Between two steps: the hidden neurons' state (the model's), their last spikes
    ``(..., H)`` (signed for a bipolar neuron) and the read-out ``(..., n_out)``."""

    hidden: Any
    spikes: jax.Array
    readout: jax.Array


@struct.dataclass
class EIParams:
    """Attributes:
    w_in: input -> hidden, ``(n_in, H)``, any sign.
    rec_raw: recurrent magnitudes before ``abs``, ``(H, H)``, presynaptic first.
    out_raw: read-out magnitudes before ``abs``, ``(H, n_out)``.
    """

    w_in: jax.Array
    rec_raw: jax.Array
    out_raw: jax.Array


@dataclass(frozen=True)
class EINetwork:
    """Static structure (hashable).

    Attributes:
        n_in, n_hidden, n_out: sizes.  excitatory_fraction: E share of the hidden layer.
        steps: simulation steps each image is shown for (from rest).
        neuron: the hidden neurons' homogeneous defaults (dt 5 ms, tau_m 20 ms, v_th 0.5
            by default); its class picks the neuron model (LIF by default).
        readout_tau: ms, the read-out integrators' time constant.
        rec_gain: spectral radius of the initial recurrent weights (about).
        surrogate, surrogate_alpha: spike surrogate for BPTT.
    """

    n_in: int
    n_hidden: int
    n_out: int
    excitatory_fraction: float = 0.8
    steps: int = 10
    neuron: NeuronConfig = field(default_factory=NeuronConfig)

    readout_tau: float = 20.0
    rec_gain: float = 0.5
    surrogate: str = "arctan"
    surrogate_alpha: float = 2.0

    @property
    def signs(self) -> jax.Array:
        return dale.population_signs(self.n_hidden, self.excitatory_fraction)

    @property
    def n_excitatory(self) -> int:
        return dale.n_excitatory(self.n_hidden, self.excitatory_fraction)

    @property
    def dt(self) -> float:
        """The Euler step, ms."""
        return self.neuron.dt

    def hidden(self) -> neurons.NeuronParams:
        return self.neuron.homogeneous(self.n_hidden)

    def init(self, key: jax.Array, hidden=None) -> EIParams:
        """LeCun-normal input weights; half-normal recurrent magnitudes with inhibition
        balanced against excitation (:func:`hetsnn.model.dale.balanced_scale`) and the spectral
        radius near ``rec_gain``; half-normal read-out magnitudes of variance 1 / H. The
        neurons are the homogeneous ones of ``neuron``, so ``hidden`` (the network
        interface's argument, :mod:`hetsnn.model.network_interface`) must be None."""
        if hidden is not None:
            raise ValueError("the E/I network's neurons come from its neuron config: pass None")
        k_in, k_rec, k_out = jax.random.split(key, 3)
        h = self.n_hidden
        w_in = jax.nn.initializers.lecun_normal()(k_in, (self.n_in, h), jnp.float32)
        rec = dale.balanced(jax.random.normal(k_rec, (h, h)), self.signs, self.rec_gain)
        out = jnp.abs(jax.random.normal(k_out, (h, self.n_out))) / jnp.sqrt(h)
        return EIParams(w_in=w_in, rec_raw=rec, out_raw=out)

    def weights(self, params: EIParams) -> tuple[jax.Array, jax.Array]:
        """The signed ``(recurrent (H, H), read-out (H, n_out))`` weights."""
        return dale.signed(params.rec_raw, self.signs), dale.signed(params.out_raw, self.signs)

    def forward(self, params: EIParams, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Show ``x: (B, n_in)`` for ``steps`` steps from rest.

        Returns:
            ``(logits (B, n_out), spikes (steps, B, H))``, the spikes as events (both signs
            of a bipolar neuron's).
        """
        hidden = self.hidden()
        w_rec, w_out = self.weights(params)
        spike_fn = SURROGATES[self.surrogate](self.surrogate_alpha)
        drive = x @ params.w_in
        keep = self.dt / self.readout_tau
        model, f32 = model_of(self.neuron), jnp.dtype(jnp.float32)
        lif = model.name == "lif"  # LIF keeps its original form: the same numbers to the bit

        def step(carry, _):
            state, spikes, readout = carry
            current = drive + spikes @ w_rec
            if lif:
                state, spikes = neurons.lif_step(hidden, state, current, spike_fn)
            else:  # another model steps through its interface
                state, _, spikes = model.step(hidden, state, current, spike_fn, False, f32, f32)
            readout = neurons.leaky_readout(readout, spikes @ w_out, keep)
            return (state, spikes, readout), model.events(spikes)  # rates count events

        batch = x.shape[0]
        rest = neurons.init_state(hidden, (batch,)) if lif else model.rest(hidden, (batch,))
        start = (rest, jnp.zeros((batch, self.n_hidden)), jnp.zeros((batch, self.n_out)))
        (_, _, logits), spikes = jax.lax.scan(step, start, length=self.steps)
        return logits, spikes

    def init_state(self, params: EIParams, batch_shape: tuple[int, ...] = ()) -> EIState:
        """Every neuron at rest, no spikes, read-out 0 (the network interface)."""
        model, hidden = model_of(self.neuron), self.hidden()
        rest = neurons.init_state(hidden, batch_shape) if model.name == "lif" else None
        return EIState(
            hidden=rest if rest is not None else model.rest(hidden, batch_shape),
            spikes=jnp.zeros((*batch_shape, self.n_hidden)),
            readout=jnp.zeros((*batch_shape, self.n_out)),
        )

    def step(self, params: EIParams, state: EIState, x: jax.Array):
        """One simulation step on the input ``x: (..., n_in)`` (the network interface):
        ``(state, readout (..., n_out), spike events (..., H))``; :meth:`forward` is
        ``steps`` of these on one held image, with the input current computed once."""
        model, hidden, f32 = model_of(self.neuron), self.hidden(), jnp.dtype(jnp.float32)
        w_rec, w_out = self.weights(params)
        spike_fn = SURROGATES[self.surrogate](self.surrogate_alpha)
        current = x @ params.w_in + state.spikes @ w_rec
        if model.name == "lif":
            lif_state, spikes = neurons.lif_step(hidden, state.hidden, current, spike_fn)
        else:
            lif_state, _, spikes = model.step(
                hidden, state.hidden, current, spike_fn, False, f32, f32
            )
        readout = neurons.leaky_readout(state.readout, spikes @ w_out, self.dt / self.readout_tau)
        return EIState(lif_state, spikes, readout), readout, model.events(spikes)

    def rate_hz(self, spikes: jax.Array) -> jax.Array:
        """Mean firing rate (Hz) per hidden neuron of ``spikes (steps, B, H)``, ``(H,)``."""
        return spikes.mean(axis=(0, 1)) * 1000.0 / self.dt


def calibrate_input_gain(
    network: EINetwork, params: EIParams, x: jax.Array, target_hz: float, iterations: int = 20
) -> tuple[EIParams, jax.Array]:
    """Scale ``w_in`` so that the mean hidden rate on ``x: (B, n_in)`` is near
    ``target_hz`` (bisection on log gain in [1e-3, 1e3]; the rate grows with the gain).

    Returns ``(params with scaled w_in, the rate reached in Hz)``.
    """

    def rate(log_gain):
        scaled = params.replace(w_in=params.w_in * jnp.exp(log_gain))
        return network.rate_hz(network.forward(scaled, x)[1]).mean()

    def bisect(bounds, _):
        low, high = bounds
        middle = (low + high) / 2
        too_fast = rate(middle) > target_hz
        return (jnp.where(too_fast, low, middle), jnp.where(too_fast, middle, high)), None

    (low, high), _ = jax.lax.scan(bisect, (jnp.log(1e-3), jnp.log(1e3)), length=iterations)
    gain = jnp.exp((low + high) / 2)
    scaled = params.replace(w_in=params.w_in * gain)
    return scaled, rate(jnp.log(gain))


def add_weight_noise(params: EIParams, key: jax.Array, relative_std: float) -> EIParams:
    """Every weight multiplied by ``1 + relative_std * N(0, 1)`` (independently); Dale's
    signs are kept because the recurrent and read-out parameters are magnitudes."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    noisy = [
        w * (1 + relative_std * jax.random.normal(k, w.shape))
        for w, k in zip(leaves, keys, strict=True)
    ]
    return jax.tree.unflatten(treedef, noisy)
