"""The compiled programs every trainer shares: init, a chunk of generations, evaluation
and probes of a :class:`~hetsnn.train.spec.RunSpec`.

Compiled programs are cached per spec, so the points of a sweep that differ only in numbers
(homogeneous tau_m, random weights, keys) share one compilation. A task's data set (the
training images) is an argument of the programs, never a constant baked into them.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp

from hetsnn.config import NeuronConfig
from hetsnn.model.networks import NetworkParams
from hetsnn.train.spec import RunSpec

_EVAL_STREAM = 0x5EED  # fold-in constant for the final-evaluation episodes
_PROBE_STREAM = 0x9B0E  # fold-in constant for the probes' random choices
SELECTION_STREAM = 0x5E1EC7  # fold-in constant for the periodic (selection) evaluations


@functools.partial(jax.jit, static_argnames=("spec",))
def _init_states(spec: RunSpec, hidden, rows: jax.Array, keys: jax.Array):
    return jax.vmap(spec.trainer.init_seed, in_axes=(None, None, None, 0))(spec, hidden, rows, keys)


def init_states(spec: RunSpec, neuron: NeuronConfig, seed: int, seeds: int):
    """States of all seeds, every leaf with a leading ``(seeds,)`` axis.

    Seed ``s`` uses ``fold_in(key(seed), s)``. The init program does not depend on the
    task, so every task and every tau_m shares it; ``spec.rows`` (which properties the
    genome holds) enters here as data, into every seed's ``base``, and every later program
    reads it from there.
    """
    keys = seed_keys(jax.random.key(seed), seeds)
    hidden = neuron.homogeneous(spec.network.n_hidden)
    rows = jnp.asarray(spec.rows, jnp.int32)
    return _init_states(dataclasses.replace(spec, task=None), hidden, rows, keys)


def seed_keys(root: jax.Array, seeds: int) -> jax.Array:
    """``(seeds,)`` keys, seed ``s`` getting ``fold_in(root, s)``."""
    return jax.vmap(lambda s: jax.random.fold_in(root, s))(jnp.arange(seeds))


def centre_params(spec: RunSpec, state) -> NetworkParams:
    """Full network parameters of one seed's current solution."""
    return spec.genome.unflatten(spec.trainer.centre(spec, state), state.base)


@functools.lru_cache(maxsize=64)
def compiled_chunk(spec: RunSpec, length: int, seeds: int):
    """``program(states, data) -> (states, metrics)`` running ``length`` generations of every
    seed: a ``lax.scan`` over generations of the trainer's generation ``vmap``-ed over seeds,
    all seeds reading the same ``data`` (the task's training split). Metrics leaves have shape
    ``(length, seeds, ...)``.

    Compiled ahead of time and cached: a run with an equal spec reuses the program.
    """
    neuron = spec.network.neuron.config()  # the model's defaults: only shapes matter
    shapes = jax.eval_shape(lambda: init_states(spec, neuron, seed=0, seeds=seeds))
    step = jax.vmap(functools.partial(spec.trainer.generation, spec), in_axes=(0, None))

    def run_chunk(states, data):
        return jax.lax.scan(lambda s, _: step(s, data), states, length=length)

    return jax.jit(run_chunk).lower(shapes, spec.task.data_spec("train")).compile()


def evaluate_centres(spec: RunSpec, states, data, episodes: int, seed: int) -> jax.Array:
    """Each seed's current solution on the task's final score: ``(seeds,)``.

    ``data`` is the task's test split (None for simulated environments, which play
    ``episodes`` greedy episodes). The episodes depend only on ``seed``, so every arm of an
    experiment is evaluated on the same ones.
    """
    return evaluate_params(spec, centres(spec, states), data, episodes, seed)


@functools.partial(jax.jit, static_argnames=("spec", "episodes"))
def _evaluate_params(spec: RunSpec, params, data, key: jax.Array, episodes: int) -> jax.Array:
    def one(p):
        return spec.task.final_score(spec.network, p, key, data, episodes)

    return jax.vmap(one)(params)


def evaluate_params(
    spec: RunSpec, params: NetworkParams, data, episodes: int, seed: int, stream=_EVAL_STREAM
):
    """Network parameters ``params`` (leading axis: seeds) on the task's final score,
    ``(seeds,)``: the episodes (or test split) :func:`evaluate_centres` uses, so saved or
    altered centres are re-scored on exactly those. Another ``stream`` plays other
    episodes (:data:`SELECTION_STREAM`: the periodic evaluations)."""
    key = jax.random.fold_in(jax.random.key(seed), stream)
    return _evaluate_params(spec, params, data, key, episodes)


@functools.partial(jax.jit, static_argnames=("spec",))
def _probe(spec: RunSpec, states, data, keys: jax.Array):
    def one(state, key):
        return spec.task.probe(spec.network, centre_params(spec, state), data, key)

    return jax.vmap(one)(states, keys)


def probe(spec: RunSpec, states, data, seed: int) -> dict | None:
    """The task's recordings of each seed's current solution (leading axis: seeds), or
    None for tasks that record nothing. Seed ``s`` always gets the same probe key, so a
    probe that samples neurons follows the same neurons through training."""
    if not spec.task.has_probe:
        return None
    root = jax.random.fold_in(jax.random.key(seed), _PROBE_STREAM)
    keys = seed_keys(root, jax.tree.leaves(states)[0].shape[0])
    return _probe(spec, states, data, keys)


def centres(spec: RunSpec, states) -> NetworkParams:
    """Full network parameters of each seed's current solution (leading axis: seeds)."""
    return jax.vmap(lambda state: centre_params(spec, state))(states)


def env_steps_per_generation(spec: RunSpec, seeds: int) -> int:
    """Environment steps simulated per generation, all seeds (scan length, masked included)."""
    return seeds * spec.trainer.episodes_per_generation(spec) * spec.task.steps_per_episode
