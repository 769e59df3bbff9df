"""Episodic gymnax tasks evaluated by a spiking network policy (they implement
:class:`hetsnn.tasks.protocol.EpisodeSampler`).

``evaluate(network, params, key, data) -> fitness`` is the mean undiscounted return over
``episodes`` episodes. An episode runs for at most ``steps_per_episode`` steps; gymnax
resets automatically after ``done``, so rewards after the first ``done`` are masked out,
and the training fitness's loop stops once every episode of the batch has ended
(:mod:`hetsnn.tasks.early_exit`; recorded and sampled episodes scan to the cap). The
network state carries over from one environment step to the next and is reset only at the
start of an episode. For evaluation the action is the arg-max of the read-out potentials;
REINFORCE samples it from their softmax.
"""

from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, ClassVar

import gymnax
import jax
import jax.numpy as jnp
from flax import struct

from hetsnn.errors import ConfigError
from hetsnn.model.networks import FeedforwardSNN, NetworkParams
from hetsnn.tasks.early_exit import until_all_done
from hetsnn.tasks.episodic import EpisodicEvaluation, initial_state


@struct.dataclass
class Trajectory:
    """One sampled episode, time-major over ``T = steps_per_episode`` steps.

    Attributes:
        log_prob: ``(T,)`` log-probability of the action taken (differentiable).
        reward: ``(T,)`` reward that followed it, 0 after the episode ended.
        alive: ``(T,)`` 1.0 for steps taken before the episode ended, else 0.0.
        u: ``(T, steps_per_input, n_hidden)`` pre-reset hidden potentials (no gradient).
    """

    log_prob: jax.Array
    reward: jax.Array
    alive: jax.Array
    u: jax.Array


@struct.dataclass
class EpisodeRecord:
    """One greedy episode, time-major over ``T = steps_per_episode`` steps.

    Attributes:
        inputs: ``(T, n_inputs)`` network input at each step (before the action).
        readouts: ``(T, n_outputs)`` read-out potentials the action was chosen from.
        actions: ``(T,)`` int32 action taken (arg-max of the read-out).
        rewards: ``(T,)`` reward that followed it, 0 after the episode ended.
        alive: ``(T,)`` 1.0 for steps taken before the episode ended, else 0.0.
    """

    inputs: jax.Array
    readouts: jax.Array
    actions: jax.Array
    rewards: jax.Array
    alive: jax.Array


@cache
def make_env(env_id: str):
    """The gymnax environment object for ``env_id`` (cached; it holds no state)."""
    env, _ = gymnax.make(env_id)
    return env


@dataclass(frozen=True)
class GymnaxTask(EpisodicEvaluation):
    """Base class; subclasses set ``name``, ``env_id`` and the size/param hooks.

    Attributes:
        episodes: episodes averaged into one fitness value.
    """

    name: ClassVar[str]
    env_id: ClassVar[str]
    supervised: ClassVar[bool] = False  # trained by REINFORCE, not a supervised loss
    samples_episodes: ClassVar[bool] = True  # sample_episode: REINFORCE can train it
    episodes: int = 4

    def __post_init__(self):
        require_positive(self, "episodes")

    # --- hooks -----------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        raise NotImplementedError

    @property
    def n_outputs(self) -> int:
        raise NotImplementedError

    @property
    def steps_per_episode(self) -> int:
        """Length of the scan over environment steps (the episode cap)."""
        raise NotImplementedError

    @property
    def max_return(self) -> float:
        """Best possible episode return (for normalised plots)."""
        raise NotImplementedError

    def env_params(self) -> Any:
        raise NotImplementedError

    def reset(self, key: jax.Array, episode: jax.Array):
        """Initial environment state of episode number ``episode``."""
        return make_env(self.env_id).reset(key, self.env_params())[1]

    def observe(self, obs: jax.Array, env_state) -> jax.Array:
        """Network input ``(n_inputs,)`` from gymnax's observation and the env state."""
        return obs

    # --- evaluation ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"name": self.name, **asdict(self)}

    def _episode_start(self, key: jax.Array, episode: jax.Array):
        """``(env, env_params, obs, env_state, step_keys)`` at the start of episode number
        ``episode``: the reset drawn from one half of ``key``, and ``step_keys
        (steps_per_episode,)`` for gymnax's steps from the other."""
        env, env_params = make_env(self.env_id), self.env_params()
        key_reset, key_steps = jax.random.split(key)
        env_state = self.reset(key_reset, episode)
        obs = env.get_obs(env_state, env_params)
        return env, env_params, obs, env_state, jax.random.split(key_steps, self.steps_per_episode)

    def _run_episode(self, network, params, key, episode, mode: str):
        """Scan one episode to its cap; ``mode`` (static) picks the actions and the
        per-step outputs (the training fitness, :meth:`episode_return`, has its own loop).

        * ``"sample"``: actions drawn from softmax(read-out); outputs what REINFORCE needs.
        * ``"record"``: arg-max actions; outputs inputs, read-outs, actions, rewards, alive.
        """
        env, env_params, obs, env_state, keys = self._episode_start(key, episode)

        def env_step(carry, key_step):
            obs, env_state, net_state, done = carry
            net_input = self.observe(obs, env_state)
            if mode == "sample":
                key_act, key_step = jax.random.split(key_step)
                net_state, readout, _, u = network.trace(params, net_state, net_input)
                action = jax.random.categorical(key_act, readout)
            else:
                net_state, readout, _ = network.step(params, net_state, net_input)
                action = jnp.argmax(readout)
            obs, env_state, reward, terminated, truncated, _ = env.step(
                key_step, env_state, action, env_params
            )
            alive = ~done
            reward = jnp.where(alive, reward, 0.0)
            done = done | terminated | truncated
            carry = (obs, env_state, net_state, done)
            if mode == "record":
                return carry, (net_input, readout, action, reward, alive)
            log_prob = jax.nn.log_softmax(readout)[action]
            return carry, (log_prob, reward, alive, u)

        net_state = initial_state(network, params, key)
        carry = (obs, env_state, net_state, jnp.bool_(False))
        _, outputs = jax.lax.scan(env_step, carry, keys)
        return outputs

    def episode_return(
        self,
        network: FeedforwardSNN,
        params: NetworkParams,
        key: jax.Array,
        episode: jax.Array,
        data: None = None,
    ) -> jax.Array:
        """Undiscounted return of one greedy episode, a float32 scalar; the loop stops
        once every episode of the batch has ended (:mod:`hetsnn.tasks.early_exit`)."""
        env, env_params, obs, env_state, keys = self._episode_start(key, episode)

        def env_step(carry, t):
            obs, env_state, net_state, done, total = carry
            net_state, readout, _ = network.step(params, net_state, self.observe(obs, env_state))
            obs, env_state, reward, terminated, truncated, _ = env.step(
                keys[t], env_state, jnp.argmax(readout), env_params
            )
            total = total + jnp.where(done, 0.0, reward)
            return obs, env_state, net_state, done | terminated | truncated, total

        net_state = initial_state(network, params, key)
        start = (obs, env_state, net_state, jnp.bool_(False), jnp.float32(0))
        *_, total = until_all_done(env_step, start, self.steps_per_episode, lambda c: c[3])
        return total

    def sample_episode(
        self, network: FeedforwardSNN, params: NetworkParams, key: jax.Array, episode: jax.Array
    ) -> "Trajectory":
        """One episode with actions sampled from softmax(read-out), for REINFORCE."""
        log_prob, reward, alive, u = self._run_episode(network, params, key, episode, "sample")
        return Trajectory(
            log_prob=log_prob,
            reward=reward,
            alive=alive.astype(jnp.float32),
            u=jax.lax.stop_gradient(u),
        )

    def record_episode(
        self, network: FeedforwardSNN, params: NetworkParams, key: jax.Array, episode: jax.Array
    ) -> "EpisodeRecord":
        """One greedy episode step by step: what the network saw, did and earned."""
        inputs, readouts, actions, rewards, alive = self._run_episode(
            network, params, key, episode, "record"
        )
        return EpisodeRecord(
            inputs=inputs,
            readouts=readouts,
            actions=actions,
            rewards=rewards,
            alive=alive.astype(jnp.float32),
        )

    def data_spec(self, split: str) -> None:
        """Shapes of :meth:`load_data`'s result: a simulated environment needs no data."""
        return None

    def load_data(self, split: str) -> None:
        return None


MAX_TASK_SIZE = 10_000_000  # steps, episodes or images: beyond it nothing could run


def require_positive(task, field: str, *, optional: bool = False) -> None:
    """A positive integer field up to MAX_TASK_SIZE (or None, meaning "all", when
    ``optional``)."""
    value = getattr(task, field)
    if optional and value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_TASK_SIZE:
        raise ConfigError(
            f"task {task.name}: {field} must be at most {MAX_TASK_SIZE:,}, got {value:,}"
        )
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        what = "a positive integer or null (all)" if optional else "a positive integer"
        raise ConfigError(f"task {task.name}: {field} must be {what}, got {value!r}")
