"""The evolution-strategy trainer: pure functions over an explicit per-seed state.

One generation (for one seed) is ``ask -> evaluate the population (vmap) -> tell``; a chunk
of generations is a ``lax.scan`` of the generation ``vmap``-ed over seeds. Nothing here does
I/O; :mod:`hetsnn.run` drives it.

What fixes the compiled program (layer sizes, genome, task, strategy) is the hashable
:class:`RunSpec`; numbers that may vary between runs of one experiment (homogeneous tau_m,
the random weights, the seeds' keys) are data. Compiled programs are cached per spec, so the
points of a sweep that differ only in numbers share one compilation.
"""

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn import neurons
from hetsnn.config import NeuronConfig, RunConfig, StrategyConfig
from hetsnn.genome import Genome
from hetsnn.networks import FeedforwardSNN, NetworkParams
from hetsnn.optim import Maximiser, make_maximiser
from hetsnn.tasks import GymnaxTask

_EVAL_STREAM = 0x5EED  # fold-in constant for the final-evaluation episodes


@struct.dataclass
class SeedState:
    """What one seed carries from generation to generation (stacked over seeds in a run).

    Attributes:
        search: the evosax search state (centre, std, optimiser state...).
        base: fixed network parameters (random weights and untrained properties).
        key: PRNG key for the next generation.
        generation: generations completed, int32 scalar.
    """

    search: Any
    base: NetworkParams
    key: jax.Array
    generation: jax.Array


@dataclass(frozen=True)
class RunSpec:
    """Static structure of a run: everything that fixes shapes and the compiled program."""

    network: FeedforwardSNN
    genome: Genome
    task: GymnaxTask
    strategy: StrategyConfig

    @classmethod
    def from_config(cls, config: RunConfig) -> "RunSpec":
        net, task = config.network, config.task
        network = FeedforwardSNN(
            n_in=task.n_inputs,
            n_hidden=net.n_hidden,
            n_out=task.n_outputs,
            dt=net.neuron.dt,
            steps_per_input=net.steps_per_input,
            readout_tau=net.readout_tau,
            surrogate=net.surrogate,
            surrogate_alpha=net.surrogate_alpha,
            detach_reset=net.detach_reset,
        )
        return cls(network, Genome(config.trainable), task, config.strategy)

    @property
    def num_dims(self) -> int:
        return self.genome.size(self.network)

    @property
    def maximiser(self) -> Maximiser:
        return _maximiser(self.strategy, self.num_dims)

    def fitness(self, flat: jax.Array, base: NetworkParams, key: jax.Array, task=None):
        """Mean episode return of the genome ``flat: (num_dims,)`` on top of ``base``."""
        task = task or self.task
        return task.evaluate(self.network, self.genome.unflatten(flat, base), key)


@functools.cache
def _maximiser(strategy: StrategyConfig, num_dims: int) -> Maximiser:
    return make_maximiser(strategy, num_dims)


# --- per-seed pure functions -----------------------------------------------------------
def init_seed(spec: RunSpec, hidden: neurons.NeuronParams, key: jax.Array) -> SeedState:
    """Random fixed network around ``hidden``, search centred on its genome."""
    key_net, key_search, key_run = jax.random.split(key, 3)
    base = spec.network.init(key_net, hidden)
    search = spec.maximiser.init(key_search, spec.genome.flatten(base))
    return SeedState(search=search, base=base, key=key_run, generation=jnp.int32(0))


def generation(spec: RunSpec, state: SeedState) -> tuple[SeedState, dict[str, jax.Array]]:
    """One ES generation for one seed; returns the new state and scalar metrics.

    The population and the centre are evaluated on the same episodes (common random
    numbers), so their rewards are directly comparable.
    """
    es = spec.maximiser
    key, key_ask, key_eval, key_tell = jax.random.split(state.key, 4)
    population, search = es.ask(key_ask, state.search)
    rewards = jax.vmap(spec.fitness, in_axes=(0, None, None))(population, state.base, key_eval)
    centre_reward = spec.fitness(es.centre(search), state.base, key_eval)
    search = es.tell(key_tell, population, rewards, search)
    finite = jnp.isfinite(rewards)
    metrics = {
        "reward_mean": jnp.mean(rewards, where=finite),
        "reward_std": jnp.std(rewards, where=finite),
        "reward_max": jnp.max(rewards, where=finite, initial=-jnp.inf),
        "centre_reward": centre_reward,
        "nonfinite": jnp.sum(~finite),
    }
    new_state = SeedState(search=search, base=state.base, key=key, generation=state.generation + 1)
    return new_state, metrics


# --- compiled programs over all seeds --------------------------------------------------
@functools.partial(jax.jit, static_argnames=("spec",))
def _init_states(spec: RunSpec, hidden: neurons.NeuronParams, keys: jax.Array) -> SeedState:
    return jax.vmap(init_seed, in_axes=(None, None, 0))(spec, hidden, keys)


def init_states(spec: RunSpec, neuron: NeuronConfig, seed: int, seeds: int) -> SeedState:
    """States of all seeds, every leaf with a leading ``(seeds,)`` axis.

    Seed ``s`` uses ``fold_in(key(seed), s)``. The init program depends only on the
    network, genome and strategy, so every task and every tau_m shares it.
    """
    hidden = neurons.homogeneous(
        spec.network.n_hidden,
        dt=neuron.dt,
        tau_m=neuron.tau_m,
        v_th=neuron.v_th,
        v_rest=neuron.v_rest,
        resistance=neuron.resistance,
    )
    root = jax.random.key(seed)
    keys = jax.vmap(lambda s: jax.random.fold_in(root, s))(jnp.arange(seeds))
    task_free = dataclasses.replace(spec, task=None)
    return _init_states(task_free, hidden, keys)


def _run_chunk(spec: RunSpec, length: int, states: SeedState):
    step = jax.vmap(functools.partial(generation, spec))
    return jax.lax.scan(lambda s, _: step(s), states, length=length)


@functools.lru_cache(maxsize=64)
def compiled_chunk(spec: RunSpec, length: int, seeds: int):
    """``program(states) -> (states, metrics)`` running ``length`` generations of every seed;
    metrics leaves have shape ``(length, seeds)``.

    Compiled ahead of time and cached: a run with an equal spec reuses the program.
    """
    shapes = jax.eval_shape(lambda: init_states(spec, NeuronConfig(), seed=0, seeds=seeds))
    return jax.jit(functools.partial(_run_chunk, spec, length)).lower(shapes).compile()


@functools.partial(jax.jit, static_argnames=("spec",))
def _evaluate_centres(spec: RunSpec, states: SeedState, key: jax.Array) -> jax.Array:
    def one(search, base):
        return spec.fitness(spec.maximiser.centre(search), base, key)

    return jax.vmap(one)(states.search, states.base)


def evaluate_centres(spec: RunSpec, states: SeedState, episodes: int, seed: int) -> jax.Array:
    """Each seed's centre evaluated over ``episodes`` episodes: ``(seeds,)``.

    The episodes depend only on ``seed``, so every arm of an experiment is evaluated on the
    same ones.
    """
    task = dataclasses.replace(spec.task, episodes=episodes)
    key = jax.random.fold_in(jax.random.key(seed), _EVAL_STREAM)
    return _evaluate_centres(dataclasses.replace(spec, task=task), states, key)


def centres(spec: RunSpec, states: SeedState) -> NetworkParams:
    """Full network parameters at each seed's centre (leading axis: seeds)."""

    def one(search, base):
        return spec.genome.unflatten(spec.maximiser.centre(search), base)

    return jax.vmap(one)(states.search, states.base)


def env_steps_per_generation(spec: RunSpec, seeds: int) -> int:
    """Environment steps simulated per generation, all seeds (population + centre)."""
    task = spec.task
    return seeds * (spec.strategy.population + 1) * task.episodes * task.steps_per_episode
