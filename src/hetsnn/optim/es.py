"""Evolution strategies from evosax, wrapped to *maximise* reward and survive bad fitness.

evosax minimises; :class:`Maximiser` negates rewards before ``tell``. Non-finite rewards
(NaN, +inf, -inf) are replaced by the worst finite value a float32 can hold, so rank-based
fitness shaping puts them last and no NaN reaches the optimiser's state; a generation in
which no reward is finite leaves the state unchanged.

PGPE (Sehnke et al. 2010) takes EvoJAX's constructor defaults rather than evosax's
(std_init 0.1, std_lr 0.1, centre lr 0.15; antithetic sampling, centred ranks), with the
centre moved by ``StrategyConfig.centre_optimiser``: ClipUp (lr 0.15, max velocity 0.3) by
default, or plain SGD (EvoJAX's default) or Adam. evosax's PGPE centre gradient,
``(f+ - f-) . z_scaled / population``, equals EvoJAX's ``mean(0.5 (f+ - f-) noise)``, and
both map ranks linearly onto [-0.5, 0.5] (evosax averages tied ranks, EvoJAX breaks ties by
sort order: ``StrategyConfig.ties`` picks), so ``centre_optimiser="sgd"`` at lr 0.15 with
``ties="index"`` is EvoJAX's default update.
"""

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from evosax.algorithms import CMA_ES, PGPE, SNES, Open_ES
from evosax.core.fitness_shaping import centered_rank_fitness_shaping_fn
from evosax.core.optimizer import clipup


def sanitize_rewards(rewards: jax.Array) -> jax.Array:
    """Replace non-finite entries of ``rewards: (pop,)`` by the lowest finite float."""
    worst = jnp.finfo(rewards.dtype).min
    return jnp.where(jnp.isfinite(rewards), rewards, worst)


def evojax_order(population_size: int) -> jax.Array:
    """``(pop,)`` int32: the index in EvoJAX's PGPE population of each individual of evosax's.

    evosax's PGPE stacks the ``+`` perturbations, then the ``-`` ones (``[mean + z_1, ...,
    mean + z_P/2, mean - z_1, ...]``); EvoJAX's interleaves each pair (``[mean + z_1, mean -
    z_1, mean + z_2, ...]``, ``ask_func`` in ``evojax/algo/pgpe.py``).
    """
    half = population_size // 2
    i = jnp.arange(population_size)
    return jnp.where(i < half, 2 * i, 2 * (i - half) + 1)


def index_rank_fitness_shaping_fn(population, fitness: jax.Array, state, params) -> jax.Array:
    """Centred ranks in [-0.5, 0.5] with ties broken by index, as EvoJAX does.

    EvoJAX's ``process_scores`` (``evojax/algo/pgpe.py``; the same in the fork the paper's
    first author used) ranks the *scores* (higher is better) by a stable argsort, ``ranks =
    ranks.at[x.argsort()].set(arange)``, and returns ``ranks / ranks.max() - 0.5``: among
    equal scores, the individual earlier in EvoJAX's population order gets the lower rank.
    evosax minimises ``fitness = -score`` and its PGPE orders the population differently
    (:func:`evojax_order`), so this returns the negation of EvoJAX's shaped score of each
    individual: evosax's update then sees EvoJAX's ranks. (evosax's own
    ``centered_rank_fitness_shaping_fn`` gives tied individuals their mean rank.)

    Args:
        fitness: ``(pop,)`` evosax fitness (lower is better), finite.
    """
    order = evojax_order(fitness.shape[-1])
    scores = jnp.zeros_like(fitness).at[order].set(-fitness)  # EvoJAX order, higher better
    ranks = (
        jnp.zeros(scores.shape, jnp.int32)
        .at[jnp.argsort(scores, stable=True)]
        .set(jnp.arange(scores.shape[-1], dtype=jnp.int32))
    )
    shaped = ranks / ranks.max() - 0.5
    return -shaped[order]


def concrete(tree):
    """Strip weak types so a jitted generation compiles once (docs/stack.md)."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), tree)


def centre_update(config) -> optax.GradientTransformation:
    """The optax transformation that moves the search centre (PGPE, OpenAI-ES) of a
    :class:`hetsnn.optim.evolution.StrategyConfig`."""
    if config.centre_optimiser == "clipup":
        return clipup(learning_rate=config.lr, max_velocity=config.max_velocity)
    return {"sgd": optax.sgd, "adam": optax.adam}[config.centre_optimiser](config.lr)


SHAPING = {"average": centered_rank_fitness_shaping_fn, "index": index_rank_fitness_shaping_fn}


def _build(config, solution: jax.Array):
    """(evosax algorithm, its params) for ``config``; ``solution`` fixes the dimension."""
    pop = config.population
    if config.name == "pgpe":
        es = PGPE(
            pop,
            solution,
            optimizer=centre_update(config),
            fitness_shaping_fn=SHAPING[config.ties],
        )
        return es, es.default_params.replace(std_init=config.std_init, std_lr=config.std_lr)
    if config.name == "open_es":
        es = Open_ES(
            pop,
            solution,
            optimizer=centre_update(config),
            std_schedule=optax.constant_schedule(config.std_init),
        )
        return es, es.default_params
    algorithm = {"snes": SNES, "cma_es": CMA_ES}[config.name]
    es = algorithm(pop, solution)
    return es, es.default_params.replace(std_init=config.std_init)


@dataclass(frozen=True)
class Maximiser:
    """ask/tell over an explicit state, maximising reward.

    Attributes:
        es: the evosax algorithm.  params: its hyper-parameter pytree.
        num_dims: length of the flat search vector.
    """

    es: Any
    params: Any
    num_dims: int

    def init(self, key: jax.Array, centre: jax.Array) -> Any:
        """Search state centred on ``centre: (num_dims,)``."""
        return concrete(self.es.init(key, centre, self.params))

    def ask(self, key: jax.Array, state: Any) -> tuple[jax.Array, Any]:
        """Population ``(pop, num_dims)`` and the (possibly updated) state."""
        return self.es.ask(key, state, self.params)

    def tell(self, key: jax.Array, population: jax.Array, rewards: jax.Array, state: Any) -> Any:
        """Update with ``rewards: (pop,)`` (higher is better; non-finite is worst)."""
        fitness = -sanitize_rewards(rewards)
        new_state, _ = self.es.tell(key, population, fitness, state, self.params)
        any_finite = jnp.isfinite(rewards).any()
        return jax.tree.map(lambda new, old: jnp.where(any_finite, new, old), new_state, state)

    def centre(self, state: Any) -> jax.Array:
        """Current search centre ``(num_dims,)``."""
        return self.es.get_mean(state)


def make_maximiser(config, num_dims: int) -> Maximiser:
    """The maximiser of a :class:`hetsnn.optim.evolution.StrategyConfig`."""
    # Concrete host (numpy) leaves, even when first built while a program is traced: the
    # compiled programs close over them, and device arrays would become hoisted constants,
    # which jax 0.10.2's ahead-of-time executables then fail to pass ("compiled for 16
    # inputs but called with 14": SNES's and CMA-ES's recombination weights).
    with jax.ensure_compile_time_eval():
        es, params = _build(config, jnp.zeros((num_dims,), jnp.float32))
        params = jax.tree.map(np.asarray, params)
    return Maximiser(es=es, params=params, num_dims=num_dims)
