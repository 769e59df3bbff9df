"""The static structure of a run, and the compiled programs every trainer shares.

What fixes a compiled program (layer sizes, genome, task, optimiser settings) is the
hashable :class:`RunSpec`; numbers that vary between runs of one experiment (homogeneous
tau_m, random weights, keys) are data. So is a task's data set (the training images): it is
an argument of the compiled programs, never a constant baked into them. Compiled programs
are cached per (trainer, spec), so the points of a sweep that differ only in numbers share
one compilation.

A trainer (:mod:`hetsnn.optim.evolution`, :mod:`hetsnn.optim.gradient`) is a module with::

    init_seed(spec, hidden, key)       -> state of one seed (with fields `base`, `generation`)
    generation(spec, state, data)      -> (state, metrics)   one ES generation or one update
    centre(spec, state)                -> (num_dims,)        the seed's current solution
    episodes_per_generation(spec)      -> episodes simulated per generation and seed
    training_episodes_per_generation(spec) -> episodes that inform the update
"""

import dataclasses
import functools
from dataclasses import dataclass
from types import ModuleType

import jax
import jax.numpy as jnp

from hetsnn import neurons
from hetsnn.config import GradientConfig, NeuronConfig, Optimiser, RunConfig
from hetsnn.genome import Genome
from hetsnn.networks import FeedforwardSNN, NetworkParams
from hetsnn.tasks import Task

_EVAL_STREAM = 0x5EED  # fold-in constant for the final-evaluation episodes
_PROBE_STREAM = 0x9B0E  # fold-in constant for the probes' random choices


@dataclass(frozen=True)
class RunSpec:
    """Static structure of a run: everything that fixes shapes and the compiled program."""

    network: FeedforwardSNN
    genome: Genome
    task: Task | None
    optimiser: Optimiser

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
            state_dtype=net.state_dtype,
        )
        neuron = net.neuron
        genome = Genome(config.trainable, config.search_space, neuron.v_th - neuron.v_rest)
        return cls(network, genome, task, config.optimiser)

    @property
    def num_dims(self) -> int:
        return self.genome.size(self.network)

    @property
    def trainer(self) -> ModuleType:
        """The trainer module for this spec's optimiser."""
        from hetsnn.optim import evolution, gradient

        return gradient if isinstance(self.optimiser, GradientConfig) else evolution

    def fitness(self, flat: jax.Array, base: NetworkParams, key: jax.Array, data=None):
        """The task's fitness of the genome ``flat: (num_dims,)`` on top of ``base``."""
        return self.task.evaluate(self.network, self.genome.unflatten(flat, base), key, data)


def homogeneous_hidden(n_hidden: int, neuron: NeuronConfig) -> neurons.NeuronParams:
    """A hidden layer at the homogeneous defaults of ``neuron``."""
    return neurons.homogeneous(
        n_hidden,
        dt=neuron.dt,
        tau_m=neuron.tau_m,
        v_th=neuron.v_th,
        v_rest=neuron.v_rest,
        resistance=neuron.resistance,
    )


@functools.partial(jax.jit, static_argnames=("spec",))
def _init_states(spec: RunSpec, hidden: neurons.NeuronParams, keys: jax.Array):
    return jax.vmap(spec.trainer.init_seed, in_axes=(None, None, 0))(spec, hidden, keys)


def init_states(spec: RunSpec, neuron: NeuronConfig, seed: int, seeds: int):
    """States of all seeds, every leaf with a leading ``(seeds,)`` axis.

    Seed ``s`` uses ``fold_in(key(seed), s)``. The init program does not depend on the
    task, so every task and every tau_m shares it.
    """
    keys = seed_keys(jax.random.key(seed), seeds)
    hidden = homogeneous_hidden(spec.network.n_hidden, neuron)
    return _init_states(dataclasses.replace(spec, task=None), hidden, keys)


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
    shapes = jax.eval_shape(lambda: init_states(spec, NeuronConfig(), seed=0, seeds=seeds))
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


def evaluate_params(spec: RunSpec, params: NetworkParams, data, episodes: int, seed: int):
    """Network parameters ``params`` (leading axis: seeds) on the task's final score,
    ``(seeds,)``: the episodes (or test split) :func:`evaluate_centres` uses, so saved or
    altered centres are re-scored on exactly those."""
    key = jax.random.fold_in(jax.random.key(seed), _EVAL_STREAM)
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
