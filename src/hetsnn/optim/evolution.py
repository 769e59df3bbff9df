"""The evolution-strategy trainer: its config and pure functions over a per-seed state.

One generation (for one seed) is ``ask -> evaluate the population (vmap) -> tell``; a chunk
of generations is a ``lax.scan`` of the generation ``vmap``-ed over seeds. Nothing here does
I/O; :mod:`hetsnn.train.loop` drives it through :mod:`hetsnn.train.programs`; the
interface is :class:`hetsnn.optim.trainer.Trainer`.
"""

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.errors import ConfigError
from hetsnn.model.genome import GenomeBase
from hetsnn.optim.es import Maximiser, make_maximiser
from hetsnn.optim.trainer import Problem, Trainer
from hetsnn.sharding import shard_population
from hetsnn.validate import as_floats, check, positive_int, positive_number

STRATEGY_NAMES = ("pgpe", "open_es", "snes", "cma_es")
CENTRE_OPTIMISERS = ("clipup", "sgd", "adam")
# The centre update of each strategy that has one (an optax transformation).
DEFAULT_CENTRE_OPTIMISER = {"pgpe": "clipup", "open_es": "adam"}
TIE_BREAKS = ("average", "index")
MAX_POPULATION = 2**20  # far above any study's needs: a typo fails at once


def clipup_cap(lr: float) -> float:
    """ClipUp's velocity cap for a centre learning rate ``lr`` when none is given:
    ``2 x lr``, the ratio EvoTorch (from the ClipUp authors) derives when only the rate is
    given. The one place the rule lives: :class:`StrategyConfig` and the command line's
    ``--centre-lr`` both apply it."""
    return 2 * lr


@dataclass(frozen=True)
class StrategyConfig:
    """Evolution strategy (evosax) and its hyper-parameters.

    The PGPE defaults (population 256, centre lr 0.15, std_init 0.1, std_lr 0.1; evosax's
    std change cap of 20 % per generation) are EvoJAX's ``PGPE`` constructor defaults, the
    values the paper cites. The centre update is not: EvoJAX's default
    (``optimizer=None``) is plain SGD, with ``"clipup"`` (momentum 0.9, max speed 0.15 by
    default) and ``"adam"`` as options, and the paper names none. hetsnn defaults to
    ClipUp (Toklu et al. 2020) with max velocity 0.3 = 2 x lr, the ratio EvoTorch (from the
    ClipUp authors) derives when only the rate is given. At paper scale on a GPU ClipUp and
    Adam (lr 0.01) learned alike and SGD far less (docs/reproduction.md).

    Attributes:
        name: one of STRATEGY_NAMES.
        population: individuals per generation (even, for antithetic sampling).
        centre_optimiser: how PGPE and OpenAI-ES move the search centre, one of
            CENTRE_OPTIMISERS; None picks the strategy's default (PGPE ClipUp, OpenAI-ES
            Adam). SNES and CMA-ES have their own update and take None only.
        lr: centre learning rate (ClipUp's step size; Adam wants about 0.01).
        max_velocity: ClipUp's cap on the norm of the centre's step (ignored otherwise);
            None (the default) takes :func:`clipup_cap` of ``lr``, 0.3 at the default rate.
        std_init: initial search standard deviation.
        std_lr: learning rate of the standard deviation (PGPE).
        ties: how PGPE ranks equal rewards: "average" (evosax: tied individuals share their
            mean rank) or "index" (EvoJAX's ``process_scores``: a stable argsort, so ties
            are broken by the individual's index in EvoJAX's population order; see
            :func:`hetsnn.optim.es.index_rank_fitness_shaping_fn`).
        eval_block: individuals simulated at once (None: the whole population). Smaller
            blocks bound memory (a block's state is ``eval_block x batch x n_hidden``
            floats per array); the blocks run one after another, unrolled in the compiled
            program (faster than a loop on CPU, but compile time grows with the number of
            blocks, so keep it to a few dozen); the numbers do not change. Must divide
            ``population``.
    """

    name: str = "pgpe"
    population: int = 256
    centre_optimiser: str | None = None
    lr: float = 0.15
    max_velocity: float | None = None
    std_init: float = 0.1
    std_lr: float = 0.1
    eval_block: int | None = None
    ties: str = "average"

    def __post_init__(self):
        check(
            self.name in STRATEGY_NAMES,
            f"optimiser.name {self.name!r} is unknown: choose one of {STRATEGY_NAMES}",
        )
        default = DEFAULT_CENTRE_OPTIMISER.get(self.name)
        if self.centre_optimiser is None:
            object.__setattr__(self, "centre_optimiser", default)
        elif default is None:
            raise ConfigError(
                f"optimiser.centre_optimiser applies to {sorted(DEFAULT_CENTRE_OPTIMISER)} "
                f"only: {self.name} has its own centre update (leave it null)"
            )
        check(
            self.centre_optimiser in (*CENTRE_OPTIMISERS, None),
            f"optimiser.centre_optimiser {self.centre_optimiser!r} is unknown: "
            f"choose one of {CENTRE_OPTIMISERS}",
        )
        if self.max_velocity is None and isinstance(self.lr, int | float):
            object.__setattr__(self, "max_velocity", clipup_cap(self.lr))
        positive_int(self.population, "optimiser.population", MAX_POPULATION)
        check(
            self.population % 2 == 0 and self.population >= 4,
            f"optimiser.population must be an even number >= 4 for antithetic sampling, "
            f"got {self.population}: use {max(4, self.population + self.population % 2)}",
        )
        for name in ("lr", "max_velocity", "std_init", "std_lr"):
            positive_number(getattr(self, name), f"optimiser.{name}")
        as_floats(self, "lr", "max_velocity", "std_init", "std_lr")
        check(
            self.ties in TIE_BREAKS,
            f"optimiser.ties {self.ties!r} is unknown: choose one of {TIE_BREAKS}",
        )
        check(
            self.ties == "average" or self.name == "pgpe",
            f"optimiser.ties 'index' applies to pgpe only, not {self.name}",
        )
        if self.eval_block is not None:
            positive_int(self.eval_block, "optimiser.eval_block")
            check(
                self.population % self.eval_block == 0,
                f"optimiser.eval_block ({self.eval_block}) must divide the population "
                f"({self.population})",
            )


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
