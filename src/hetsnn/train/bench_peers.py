"""What a competent JAX researcher writes instead of hetsnn, for ``hetsnn bench`` to race.

The same Neuron-arm network (fixed shared weights; every individual its own tau, v_th,
v_rest and R per hidden neuron), written the direct way in an afternoon: a LIF step with
the read-out ``spikes @ w_out`` at every simulation step, ``lax.scan`` over time,
``jax.vmap`` over the population, evosax's PGPE with the same settings as hetsnn's, and one
jitted generation called from a Python loop. Environments, observations and image batches
come from the same task objects (gymnax, hetsnn's data loaders), so both implementations
see the same inputs and :func:`peer_fitness` can be checked against hetsnn's fitness; the
PGPE is evosax's, built by hetsnn's thin wrapper (which adds only a guard against
non-finite rewards), so the two differ in how they simulate the network, not in the ES.

The peer's genome is ``(tau_logit, v_th, v_rest, R)`` stacked, ``(4 * n_hidden,)``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax

from hetsnn.model.networks import NetworkParams
from hetsnn.optim.es import make_maximiser
from hetsnn.tasks import ClassificationTask
from hetsnn.tasks.base import make_env


@dataclass(frozen=True)
class PeerNetwork:
    """Shared weights ``w_in (n_in, H)``, ``w_out (H, n_out)``; read-out decay ``a``."""

    w_in: jax.Array
    w_out: jax.Array
    a: float
    steps_per_input: int

    @classmethod
    def from_base(cls, base: NetworkParams, dt: float, readout_tau: float, steps: int):
        return cls(base.w_in, base.w_out, dt / readout_tau, steps)


def genome_of(hidden) -> jax.Array:
    """The peer's flat genome of hetsnn's hidden-layer properties."""
    return jnp.concatenate([hidden.tau_logit, hidden.v_th, hidden.v_rest, hidden.resistance])


def _lif_steps(net: PeerNetwork, genome, v, readout, current):
    """``net.steps_per_input`` LIF steps with the read-out updated at every step."""
    tau_logit, v_th, v_rest, resistance = genome.reshape(4, -1)
    k = jax.nn.sigmoid(tau_logit)

    def step(carry, _):
        v, readout = carry
        u = v + k * (resistance * current - v + v_rest)
        spikes = (u >= v_th).astype(jnp.float32)
        v = u * (1 - spikes) + v_rest * spikes
        readout = readout + net.a * (spikes @ net.w_out - readout)
        return (v, readout), None

    (v, readout), _ = jax.lax.scan(step, (v, readout), length=net.steps_per_input)
    return v, readout


def _episode_return(task, net: PeerNetwork, genome, key, episode):
    env, env_params = make_env(task.env_id), task.env_params()
    key_reset, key_steps = jax.random.split(key)
    env_state = task.reset(key_reset, episode)
    obs = env.get_obs(env_state, env_params)
    v_rest = genome.reshape(4, -1)[2]

    def step(carry, key_step):
        obs, env_state, v, readout, done = carry
        current = task.observe(obs, env_state) @ net.w_in
        v, readout = _lif_steps(net, genome, v, readout, current)
        obs, env_state, reward, terminated, truncated, _ = env.step(
            key_step, env_state, jnp.argmax(readout), env_params
        )
        reward = jnp.where(done, 0.0, reward)
        done = done | terminated | truncated
        return (obs, env_state, v, readout, done), reward

    readout = jnp.zeros(net.w_out.shape[1])
    carry = (obs, env_state, v_rest, readout, jnp.bool_(False))
    _, rewards = jax.lax.scan(step, carry, jax.random.split(key_steps, task.steps_per_episode))
    return rewards.sum()


def peer_fitness(task, net: PeerNetwork) -> Callable:
    """``fitness(genome, key, data) -> scalar`` of one individual, as hetsnn defines it."""
    if isinstance(task, ClassificationTask):

        def images(genome, key, data):
            inputs, labels = task.sample_batch(key, data, task.batch)
            current = inputs @ net.w_in
            v_rest = genome.reshape(4, -1)[2]
            v = jnp.broadcast_to(v_rest, current.shape)
            readout = jnp.zeros((inputs.shape[0], net.w_out.shape[1]))
            _, logits = _lif_steps(net, genome, v, readout, current)
            return -optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

        return images

    def episodes(genome, key, data):
        keys = jax.random.split(key, task.episodes)
        returns = jax.vmap(_episode_return, in_axes=(None, None, None, 0, 0))(
            task, net, genome, keys, jnp.arange(task.episodes)
        )
        return returns.mean()

    return episodes


def peer_generation(task, net: PeerNetwork, strategy):
    """``(generation, init)``: one jitted ES generation ``generation(search, key, data) ->
    search`` (ask, vmap the fitness over the population, tell) and ``init(key, genome)``."""
    fitness = peer_fitness(task, net)
    es = make_maximiser(strategy, 4 * net.w_in.shape[1])

    @jax.jit
    def generation(search, key, data):
        key_ask, key_eval, key_tell = jax.random.split(key, 3)
        genomes, search = es.ask(key_ask, search)
        rewards = jax.vmap(fitness, in_axes=(0, None, None))(genomes, key_eval, data)
        return es.tell(key_tell, genomes, rewards, search)

    return generation, es.init
