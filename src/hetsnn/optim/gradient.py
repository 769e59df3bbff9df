"""Backprop through time with surrogate gradients, through optax.

One "generation" of this trainer is one optax update. Gradients flow through the network
state across all simulation steps (BPTT) with the surrogate derivative in place of H'. The
loss depends on the task:

* reinforcement learning (gymnax tasks): REINFORCE (Williams 1992) with a baseline on a
  batch of sampled episodes; the environment is not differentiated;
* supervised tasks (image classification): the softmax cross-entropy of the read-out
  potentials on a mini-batch of labelled inputs.

A non-finite gradient skips its update (``optax.apply_if_finite``) and is counted in the
metrics.

Diagnostics recorded every update (docs/specification.md exp. 6): a histogram of the pre-reset
potential relative to threshold, ``u - v_th``, over all live steps, sub-steps and hidden
neurons of the batch, and the fraction of those local BPTT factors
``|dv(t)/dv(t-dt)| > 1`` (the neuron model's ``reset_jacobian``; for LIF
:func:`hetsnn.model.neurons.reset_jacobian`).

The trainer interface is :class:`hetsnn.optim.trainer.Trainer`.
"""

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from hetsnn.model.genome import GenomeBase
from hetsnn.optim.es import concrete
from hetsnn.optim.trainer import Problem, Trainer
from hetsnn.validate import as_floats, check, finite, positive_int, positive_number

GRADIENT_NAMES = ("adam", "sgd")
U_EDGES = tuple(np.linspace(-3.0, 3.0, 61).tolist())  # bins of u - v_th (dimensionless)
_MAX_SKIPS = 2**30  # never stop applying updates because of earlier non-finite ones


@dataclass(frozen=True)
class GradientConfig:
    """Backprop through time with surrogate gradients, through optax.

    For reinforcement-learning tasks the loss is REINFORCE (Williams 1992) with a baseline:
    actions are sampled from softmax(read-out); the advantage of step t is the discounted
    return-to-go minus its mean over the batch at step t, divided by the std over all steps.
    The surrogate and the reset path are network settings (NetworkConfig).

    Attributes:
        name: optax optimiser, one of GRADIENT_NAMES (Adam as in the paper).
        lr: learning rate.
        batch: episodes per update (one "generation" is one update).
        gamma: discount of the return-to-go.
    """

    name: str = "adam"
    lr: float = 3e-2
    batch: int = 16
    gamma: float = 0.99

    def __post_init__(self):
        check(
            self.name in GRADIENT_NAMES,
            f"optimiser.name {self.name!r} is unknown: choose one of {GRADIENT_NAMES}",
        )
        positive_number(self.lr, "optimiser.lr")
        positive_int(self.batch, "optimiser.batch", 1_000_000)
        finite(self.gamma, "optimiser.gamma")
        as_floats(self, "lr", "gamma")
        check(0 < self.gamma <= 1, f"optimiser.gamma must be in (0, 1], got {self.gamma}")


@struct.dataclass
class Rollout:
    """What one update's batch simulated (both losses fill it alike).

    Attributes:
        returns: ``(B,)`` episode return (RL) or per-input score of the task's fitness.
        u: ``(B, T, steps_per_input, n_hidden)`` pre-reset hidden potentials, no gradient.
        alive: ``(B, T)`` 1.0 for simulated steps that count (T = 1 for supervised tasks).
    """

    returns: jax.Array
    u: jax.Array
    alive: jax.Array


@struct.dataclass
class GradState:
    """What one seed carries from update to update (stacked over seeds in a run).

    Attributes:
        flat: trained parameters ``(num_dims,)``.
        opt_state: the optax state.
        base: fixed network parameters (random weights and untrained properties) and
            which properties the genome holds.
        key: PRNG key for the next update.
        generation: updates completed, int32 scalar.
    """

    flat: jax.Array
    opt_state: Any
    base: GenomeBase
    key: jax.Array
    generation: jax.Array


def optimiser(config: GradientConfig) -> optax.GradientTransformation:
    make = {"adam": optax.adam, "sgd": optax.sgd}[config.name]
    return optax.apply_if_finite(make(config.lr), max_consecutive_errors=_MAX_SKIPS)


def centre(spec: Problem, state: GradState) -> jax.Array:
    return state.flat


def episodes_per_generation(spec: Problem) -> int:
    """Episodes simulated: the training batch and the greedy evaluation of the parameters."""
    return spec.optimiser.batch + spec.task.episodes


def training_episodes_per_generation(spec: Problem) -> int:
    return spec.optimiser.batch


def init_seed(spec: Problem, hidden: Any, rows: jax.Array, key: jax.Array) -> GradState:
    """Random fixed network around ``hidden``; training starts from its genome (property
    slots ``rows``)."""
    key_net, key_run = jax.random.split(key)
    base = GenomeBase(spec.network.init(key_net, hidden), rows)
    flat = spec.genome.flatten(base)
    opt_state = concrete(optimiser(spec.optimiser).init(flat))
    return GradState(
        flat=flat, opt_state=opt_state, base=base, key=key_run, generation=jnp.int32(0)
    )


def state_is_finite(spec: Problem, state: GradState) -> jax.Array:
    """The trained parameters and every floating-point number of the optax state are
    finite."""
    leaves = [x for x in jax.tree.leaves((state.flat, state.opt_state)) if _floating(x)]
    return jnp.all(jnp.stack([jnp.isfinite(x).all() for x in leaves]))


def _floating(x) -> bool:
    return jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)


def returns_to_go(rewards: jax.Array, gamma: float) -> jax.Array:
    """Discounted return from each step on: ``G_t = r_t + gamma * G_{t+1}``; ``(T,) -> (T,)``."""

    def body(following, reward):
        value = reward + gamma * following
        return value, value

    return jax.lax.scan(body, jnp.float32(0), rewards, reverse=True)[1]


def advantages(rewards: jax.Array, alive: jax.Array, gamma: float) -> jax.Array:
    """REINFORCE advantages for a batch ``(B, T)``: return-to-go minus its mean over the
    live episodes at each step, divided by the std over all live steps."""
    to_go = jax.vmap(returns_to_go, in_axes=(0, None))(rewards, gamma)
    live = jnp.maximum(alive.sum(axis=0), 1.0)
    centred = (to_go - (to_go * alive).sum(axis=0) / live) * alive
    scale = jnp.sqrt((centred**2).sum() / jnp.maximum(alive.sum(), 1.0))
    return centred / (scale + 1e-8)


def reinforce_loss(flat: jax.Array, spec: Problem, base: GenomeBase, key, data=None):
    """``(loss, Rollout)`` for a batch of ``optimiser.batch`` sampled episodes."""
    params = spec.genome.unflatten(flat, base)
    batch = spec.optimiser.batch
    keys = jax.random.split(key, batch)
    sample = jax.vmap(spec.task.sample_episode, in_axes=(None, None, 0, 0))
    trajectories = sample(spec.network, params, keys, jnp.arange(batch))
    weights = jax.lax.stop_gradient(
        advantages(trajectories.reward, trajectories.alive, spec.optimiser.gamma)
    )
    loss = -(trajectories.log_prob * weights).sum() / jnp.maximum(trajectories.alive.sum(), 1.0)
    rollout = Rollout(
        returns=trajectories.reward.sum(axis=-1), u=trajectories.u, alive=trajectories.alive
    )
    return loss, rollout


def supervised_loss(flat: jax.Array, spec: Problem, base: GenomeBase, key, data):
    """``(loss, Rollout)``: the task's training loss (mean softmax cross-entropy of the
    read-out potentials) on ``optimiser.batch`` labelled inputs drawn from ``data``."""
    params = spec.genome.unflatten(flat, base)
    inputs, labels = spec.task.sample_batch(key, data, spec.optimiser.batch)
    loss, scores, u = spec.task.training_loss(spec.network, params, inputs, labels, key)
    rollout = Rollout(
        returns=scores,
        u=jax.lax.stop_gradient(jnp.moveaxis(u, 0, 1)[:, None]),  # (B, 1, steps, H)
        alive=jnp.ones((labels.shape[0], 1), jnp.float32),
    )
    return loss, rollout


def membrane_statistics(spec: Problem, hidden: Any, rollout: Rollout):
    """Histogram of ``u - v_th`` (bins ``U_EDGES``, clipped into the end bins) and the
    fraction of local BPTT factors above 1, over live steps."""
    u = rollout.u  # (B, T, steps_per_input, H)
    live = jnp.broadcast_to(rollout.alive[:, :, None, None], u.shape)
    edges = jnp.asarray(U_EDGES)
    distance = jnp.clip(u - hidden.v_th, edges[0], edges[-1])
    histogram, _ = jnp.histogram(distance, bins=edges, weights=live)
    network = spec.network
    factor = network.neuron.reset_jacobian(hidden, u, network.spike_fn, network.detach_reset)
    above_one = ((jnp.abs(factor) > 1) * live).sum() / jnp.maximum(live.sum(), 1.0)
    return histogram, above_one


def generation(
    spec: Problem, state: GradState, data=None
) -> tuple[GradState, dict[str, jax.Array]]:
    """One update for one seed (REINFORCE, or cross-entropy for a supervised task);
    returns the new state and metrics."""
    key, key_batch, key_eval = jax.random.split(state.key, 3)
    loss_fn = supervised_loss if spec.task.supervised else reinforce_loss
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, rollout), grad = grad_fn(state.flat, spec, state.base, key_batch, data)
    updates, opt_state = optimiser(spec.optimiser).update(grad, state.opt_state, state.flat)
    flat = optax.apply_updates(state.flat, updates)

    hidden = spec.genome.unflatten(state.flat, state.base).hidden
    histogram, above_one = membrane_statistics(spec, hidden, rollout)
    metrics = {
        "reward_mean": rollout.returns.mean(),
        "reward_std": rollout.returns.std(),
        "reward_max": rollout.returns.max(),
        "centre_reward": spec.fitness(state.flat, state.base, key_eval, data),
        "nonfinite": (~jnp.all(jnp.isfinite(grad))).astype(jnp.int32),
        "loss": loss,
        "u_histogram": histogram,
        "jacobian_above_one": above_one,
    }
    new_state = GradState(
        flat=flat, opt_state=opt_state, base=state.base, key=key, generation=state.generation + 1
    )
    return new_state, metrics


TRAINER = Trainer(
    init_seed=init_seed,
    generation=generation,
    centre=centre,
    episodes_per_generation=episodes_per_generation,
    training_episodes_per_generation=training_episodes_per_generation,
    state_is_finite=state_is_finite,
)
