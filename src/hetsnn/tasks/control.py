"""Continuous control on Brax (Ant, HalfCheetah, Hopper, Walker2d) with a spiking policy.

The read-out potentials, squashed by ``tanh`` into Brax's action box [-1, 1], are the
torques; the network state carries over from one physics step to the next within an
episode. An episode runs for at most ``max_steps`` steps; Brax keeps stepping after a
termination (``done``), so rewards after the first ``done`` are masked out, as for the
gymnax tasks, and the loop stops once every episode of the batch has ended
(:mod:`hetsnn.tasks.early_exit`).

Observations are normalised with fixed statistics: the mean and standard deviation of the
observations met by ``normaliser_episodes`` episodes of uniformly random actions, computed
once per task (a deterministic key) and passed to the compiled programs as the task's
*data* (:meth:`BraxTask.load_data`), clipped to +-5 standard deviations. A fixed
normaliser keeps the fitness a pure function of the parameters, so every generation and
the final evaluation see the same input scaling; EvoJAX's running normaliser is the
alternative this trades away (see docs/science.md).
"""

import contextlib
import io
import warnings
from dataclasses import asdict, dataclass
from functools import cache
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from hetsnn.errors import ConfigError
from hetsnn.model.networks import FeedforwardSNN, NetworkParams
from hetsnn.tasks.base import require_positive
from hetsnn.tasks.early_exit import until_all_done
from hetsnn.tasks.episodic import EpisodicEvaluation, initial_state

# (observation size, action size) of brax 0.14.2's environments with default arguments: the
# network's layer sizes are known without building the environment (seconds each).
BRAX_SIZES = {"ant": (27, 8), "halfcheetah": (17, 6), "hopper": (11, 3), "walker2d": (17, 6)}
BRAX_ENVS = tuple(BRAX_SIZES)
BRAX_BACKENDS = ("spring", "positional", "generalized", "mjx")
CLIP_SIGMAS = 5.0  # normalised observations are clipped to +-5 standard deviations
_NORMALISER_SEED = 0x0B5


@struct.dataclass
class ObservationNormaliser:
    """Fixed observation statistics, both ``(observation_size,)`` float32."""

    mean: jax.Array
    std: jax.Array

    def __call__(self, obs: jax.Array) -> jax.Array:
        return jnp.clip((obs - self.mean) / self.std, -CLIP_SIGMAS, CLIP_SIGMAS)


@cache
def make_brax_env(env: str, backend: str):
    """The Brax environment (cached). Brax prints a warning about the optional ``warp``
    package on import and another about its maintenance on every environment: both are
    kept quiet."""
    with contextlib.redirect_stdout(io.StringIO()):
        from brax import envs
    # The first call may come from inside a trace: build the model's arrays as constants,
    # or the cache would keep tracers that outlive the trace.
    with warnings.catch_warnings(), jax.ensure_compile_time_eval():
        warnings.filterwarnings("ignore", message="Brax System, piplines", category=UserWarning)
        return envs.get_environment(env, backend=backend)


@dataclass(frozen=True)
class BraxTask(EpisodicEvaluation):
    """A Brax locomotion task.

    Attributes:
        env: one of BRAX_ENVS.
        backend: Brax physics pipeline; ``spring`` is the fastest on CPU for all four
            (docs/stack.md: hopper 111k, halfcheetah 9.6k, ant 12.7k env steps/s at batch 256).
        max_steps: episode length (Brax's default 1000).
        episodes: episodes averaged into one fitness value.
        normaliser_episodes: random-action episodes that set the observation statistics
            (0: observations enter unnormalised).
    """

    name: ClassVar[str] = "brax"
    supervised: ClassVar[bool] = False
    samples_episodes: ClassVar[bool] = False  # no stochastic policy: ES only
    env: str = "hopper"
    backend: str = "spring"
    max_steps: int = 1000
    episodes: int = 1
    normaliser_episodes: int = 16

    def __post_init__(self):
        if self.env not in BRAX_ENVS:
            raise ConfigError(f"task brax: env {self.env!r} is unknown: choose one of {BRAX_ENVS}")
        if self.backend not in BRAX_BACKENDS:
            raise ConfigError(
                f"task brax: backend {self.backend!r} is unknown: choose one of {BRAX_BACKENDS}"
            )
        require_positive(self, "max_steps")
        require_positive(self, "episodes")
        if not isinstance(self.normaliser_episodes, int) or self.normaliser_episodes < 0:
            raise ConfigError(
                "task brax: normaliser_episodes must be an integer >= 0 (0: no normaliser), "
                f"got {self.normaliser_episodes!r}"
            )

    # --- sizes -----------------------------------------------------------------------
    @property
    def _brax(self):
        return make_brax_env(self.env, self.backend)

    @property
    def n_inputs(self) -> int:
        return BRAX_SIZES[self.env][0]

    @property
    def n_outputs(self) -> int:
        return BRAX_SIZES[self.env][1]

    @property
    def steps_per_episode(self) -> int:
        return self.max_steps

    def to_dict(self) -> dict:
        return {"name": self.name, **asdict(self)}

    # --- data: the observation normaliser --------------------------------------------
    def data_spec(self, split: str) -> ObservationNormaliser | None:
        if not self.normaliser_episodes:
            return None
        shape = jax.ShapeDtypeStruct((self.n_inputs,), jnp.float32)
        return ObservationNormaliser(mean=shape, std=shape)

    def load_data(self, split: str) -> ObservationNormaliser | None:
        """The normaliser (the same for both splits), or None without normalisation."""
        if not self.normaliser_episodes:
            return None
        mean, std = _random_action_statistics(
            self.env, self.backend, self.max_steps, self.normaliser_episodes
        )
        return ObservationNormaliser(mean=jnp.asarray(mean), std=jnp.asarray(std))

    # --- evaluation ------------------------------------------------------------------
    def episode_return(
        self,
        network: FeedforwardSNN,
        params: NetworkParams,
        key: jax.Array,
        episode: jax.Array | None = None,
        normaliser: ObservationNormaliser | None = None,
    ) -> jax.Array:
        """Undiscounted return of one episode, a float32 scalar; the loop stops once every
        episode of the batch has ended (:mod:`hetsnn.tasks.early_exit`). The episode's
        number is unused: its key alone sets the reset."""
        env = self._brax
        normalise = normaliser if normaliser is not None else (lambda obs: obs)

        def env_step(carry, _):
            env_state, net_state, done, total = carry
            net_state, readout, _ = network.step(params, net_state, normalise(env_state.obs))
            env_state = env.step(env_state, jnp.tanh(readout))
            total = total + jnp.where(done, 0.0, env_state.reward)
            return env_state, net_state, done | (env_state.done > 0), total

        net_state = initial_state(network, params, key)
        start = (env.reset(key), net_state, jnp.bool_(False), jnp.float32(0))
        *_, total = until_all_done(env_step, start, self.max_steps, lambda carry: carry[2])
        return total


@cache
def _random_action_statistics(
    env_name: str, backend: str, max_steps: int, episodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std ``(observation_size,)`` of the observations of ``episodes`` episodes
    of uniform random actions, steps after termination excluded. The std is floored at
    1e-3 (some observations are constant at reset)."""
    env = make_brax_env(env_name, backend)

    @jax.jit
    def rollouts(key):
        def episode(key):
            key_reset, key_actions = jax.random.split(key)

            def body(carry, key_action):
                state, done = carry
                action = jax.random.uniform(key_action, (env.action_size,), minval=-1, maxval=1)
                alive = ~done
                obs = state.obs
                state = env.step(state, action)
                return (state, done | (state.done > 0)), (obs, alive)

            carry = (env.reset(key_reset), jnp.bool_(False))
            _, (obs, alive) = jax.lax.scan(body, carry, jax.random.split(key_actions, max_steps))
            return obs, alive

        return jax.vmap(episode)(jax.random.split(key, episodes))

    obs, alive = jax.device_get(rollouts(jax.random.key(_NORMALISER_SEED)))
    seen = np.asarray(obs, np.float64)[np.asarray(alive)]
    return seen.mean(axis=0).astype(np.float32), np.maximum(seen.std(axis=0), 1e-3).astype(
        np.float32
    )
