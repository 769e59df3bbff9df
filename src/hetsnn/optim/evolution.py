"""The evolution-strategy trainer: pure functions over an explicit per-seed state.

One generation (for one seed) is ``ask -> evaluate the population (vmap) -> tell``; a chunk
of generations is a ``lax.scan`` of the generation ``vmap``-ed over seeds. Nothing here does
I/O; :mod:`hetsnn.train.loop` drives it through :mod:`hetsnn.train.programs`; the
interface is :class:`hetsnn.optim.trainer.Trainer`.
"""

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.config import StrategyConfig
from hetsnn.model.genome import GenomeBase
from hetsnn.optim.es import Maximiser, make_maximiser
from hetsnn.optim.trainer import Problem, Trainer
from hetsnn.sharding import shard_population


@struct.dataclass
class SeedState:
    """What one seed carries from generation to generation (stacked over seeds in a run).

    Attributes:
        search: the evosax search state (centre, std, optimiser state...).
        base: fixed network parameters (random weights and untrained properties) and
            which properties the genome holds.
        key: PRNG key for the next generation.
        generation: generations completed, int32 scalar.
    """

    search: Any
    base: GenomeBase
    key: jax.Array
    generation: jax.Array


@functools.cache
def _maximiser(strategy: StrategyConfig, num_dims: int) -> Maximiser:
    return make_maximiser(strategy, num_dims)


def maximiser(spec: Problem) -> Maximiser:
    return _maximiser(spec.optimiser, spec.num_dims)


def centre(spec: Problem, state: SeedState) -> jax.Array:
    """The search centre of one seed, ``(num_dims,)``."""
    return maximiser(spec).centre(state.search)


def episodes_per_generation(spec: Problem) -> int:
    """Episodes simulated: population and centre, each over the task's episodes."""
    return (spec.optimiser.population + 1) * spec.task.episodes


def training_episodes_per_generation(spec: Problem) -> int:
    """Episodes whose rewards inform the update: the population's."""
    return spec.optimiser.population * spec.task.episodes


def init_seed(spec: Problem, hidden: Any, rows: jax.Array, key: jax.Array) -> SeedState:
    """Random fixed network around ``hidden``, search centred on its genome (property
    slots ``rows``)."""
    key_net, key_search, key_run = jax.random.split(key, 3)
    base = GenomeBase(spec.network.init(key_net, hidden), rows)
    search = maximiser(spec).init(key_search, spec.genome.flatten(base))
    return SeedState(search=search, base=base, key=key_run, generation=jnp.int32(0))


def state_is_finite(spec: Problem, state: SeedState) -> jax.Array:
    """The search state of one seed is finite (:func:`search_is_finite`)."""
    return search_is_finite(state.search)


def search_is_finite(search) -> jax.Array:
    """True when every floating-point number the search moves on (mean, std, covariance,
    optimiser state) is finite: a huge std_init can overflow them with finite rewards.
    evosax's ``best_*`` records start at inf / NaN by design and are left out."""
    leaves = [
        x
        for f in dataclasses.fields(search)
        if not f.name.startswith("best_")
        for x in jax.tree.leaves(getattr(search, f.name))
        if jnp.issubdtype(x.dtype, jnp.floating)
    ]
    return jnp.all(jnp.stack([jnp.isfinite(x).all() for x in leaves]))


def generation(
    spec: Problem, state: SeedState, data=None
) -> tuple[SeedState, dict[str, jax.Array]]:
    """One ES generation for one seed; returns the new state and scalar metrics.

    The population and the centre are evaluated on the same episodes or mini-batch of
    ``data`` (common random numbers), so their rewards are directly comparable.
    """
    es = maximiser(spec)
    key, key_ask, key_eval, key_tell = jax.random.split(state.key, 4)
    population, search = es.ask(key_ask, state.search)
    population = shard_population(population)  # individuals split over the devices

    def fitness(flat):
        return spec.fitness(flat, state.base, key_eval, data)

    block = spec.optimiser.eval_block
    if block is None:
        # the centre rides along as one more individual: an episodic task's time loop then
        # runs once per generation, not twice (its cost is per step, hardly per individual)
        everyone = jnp.concatenate([population, es.centre(search)[None]])
        rewards_and_centre = jax.vmap(fitness)(everyone)
        rewards, centre_reward = rewards_and_centre[:-1], rewards_and_centre[-1]
    else:  # blocks of individuals, each vmapped: bounded memory
        # Unrolled rather than a loop: XLA:CPU ran the same blocks 2.8x slower as the body
        # of a while loop (MNIST paper preset, docs/cost.md).
        blocks = population.reshape(-1, block, population.shape[-1])
        _, rewards = jax.lax.scan(
            lambda _, b: (None, jax.vmap(fitness)(b)), None, blocks, unroll=True
        )
        rewards = rewards.reshape(-1)
        centre_reward = spec.fitness(es.centre(search), state.base, key_eval, data)
    search = es.tell(key_tell, population, rewards, search)
    finite = jnp.isfinite(rewards)
    metrics = {
        "reward_mean": jnp.mean(rewards, where=finite),
        "reward_std": jnp.std(rewards, where=finite),
        "reward_max": jnp.max(rewards, where=finite, initial=-jnp.inf),
        "centre_reward": centre_reward,
        "nonfinite": jnp.sum(~finite),
        "search_finite": search_is_finite(search),
    }
    new_state = SeedState(search=search, base=state.base, key=key, generation=state.generation + 1)
    return new_state, metrics


TRAINER = Trainer(
    init_seed=init_seed,
    generation=generation,
    centre=centre,
    episodes_per_generation=episodes_per_generation,
    training_episodes_per_generation=training_episodes_per_generation,
    state_is_finite=state_is_finite,
)
