"""bsuite memory length (Osband et al. 2020) through gymnax ``MemoryChain-bsuite``.

A stylised T-maze, step for step as ``bsuite/environments/memory_chain.py`` defines it
(read at google-deepmind/bsuite commit 2d3793b); gymnax 1.0.1's port agrees exactly. With
``N = memory_length`` an episode has N + 1 actions a_0 .. a_N. Both compute the observation
of a step *before* advancing time, so the input seen before action a_k is the observation
at time max(0, k - 1):

* the cue c = +-1 is visible before a_0 and before a_1, and 0 from a_2 on;
* the time entry is 1 - max(0, k - 1) / N: 1, 1, 1 - 1/N, ..., 1/N;
* only a_N is rewarded: +1 if it repeats the cue (action 1 for c = +1, 0 for c = -1),
  -1 otherwise; every other step gives 0; the episode then ends.

So the decision comes N - 1 steps after the last sight of the cue. The network input is
(time entry, c_t); the query entry is dropped (always 0 with one context bit). Episodes
alternate the cue (-1, +1, -1, ...), so an even ``episodes`` is exactly balanced and a
memoryless policy scores 0; a deterministic network needs only ``episodes = 2``. With
``cue="random"`` the training fitness draws each episode's cue from its key instead (the
EvoJAX convention the paper's first author used: one episode per generation, one reset key
for the whole population, so one random cue per generation); the final score always
alternates the cues, so it stays exact.

As the actions change nothing before a_N, the training fitness runs each episode open-loop
(:meth:`MemoryTask.episode_return`); recorded and REINFORCE episodes step gymnax.
"""

from dataclasses import dataclass, replace
from typing import ClassVar

import jax
import jax.numpy as jnp
from gymnax.environments.bsuite.memory_chain import EnvParams

from hetsnn.errors import ConfigError
from hetsnn.tasks.base import EpisodeRecord, GymnaxTask, make_env, require_positive
from hetsnn.tasks.episodic import EpisodicEvaluation, initial_state

CUES = ("alternate", "random")

_TIME_REMAINING, _CONTEXT = 0, 2  # entries of gymnax's observation that the network sees


@dataclass(frozen=True)
class MemoryTask(GymnaxTask):
    """Attributes: memory_length (bsuite's N: N + 1 actions, the last one rewarded), episodes."""

    name: ClassVar[str] = "memory"
    env_id: ClassVar[str] = "MemoryChain-bsuite"
    memory_length: int = 10
    episodes: int = 2
    cue: str = "alternate"

    def __post_init__(self):
        super().__post_init__()
        require_positive(self, "memory_length")
        if self.cue not in CUES:
            raise ConfigError(f"task memory: unknown cue {self.cue!r}: choose one of {CUES}")

    def to_dict(self) -> dict:
        data = super().to_dict()
        if data["cue"] == "alternate":  # added later: absent at its default, as before
            del data["cue"]
        return data

    @property
    def n_inputs(self) -> int:
        return 2

    @property
    def n_outputs(self) -> int:
        return 2

    @property
    def steps_per_episode(self) -> int:
        return self.memory_length + 1

    @property
    def max_return(self) -> float:
        return 1.0

    def env_params(self) -> EnvParams:
        return EnvParams(
            memory_length=self.memory_length, max_steps_in_episode=self.memory_length + 2
        )

    def reset(self, key: jax.Array, episode: jax.Array):
        _, state = make_env(self.env_id).reset(key, self.env_params())
        cue = self.cue_action(episode, key)
        return state.replace(context=jnp.full_like(state.context, cue))

    def observe(self, obs: jax.Array, env_state) -> jax.Array:
        """The (time, cue) entries of the observation gymnax returned, as bsuite shows it."""
        return obs[jnp.array([_TIME_REMAINING, _CONTEXT])]

    def inputs(self, key: jax.Array, episode: jax.Array) -> jax.Array:
        """``(N + 1, 2)`` the inputs the actions a_0 .. a_N of an episode are taken on (see
        the module docstring): gymnax stepped as the greedy episode steps it (the reset
        half of ``key``, then ``step_env``), with any action, for the chain's
        observations do not depend on the actions."""
        env, env_params = make_env(self.env_id), self.env_params()
        key_reset, key_steps = jax.random.split(key)
        start = self.reset(key_reset, episode)

        def env_step(carry, _):
            obs, state = carry
            net_input = self.observe(obs, state)
            obs, state, _, _, _ = env.step_env(key_steps, state, 0, env_params)  # no noise
            return (obs, state), net_input

        carry = (env.get_obs(start, env_params), start)
        _, inputs = jax.lax.scan(env_step, carry, length=self.steps_per_episode)
        return inputs

    def episode_return(
        self, network, params, key: jax.Array, episode: jax.Array, data: None = None
    ) -> jax.Array:
        """Return of one greedy episode: +1 if a_N repeats the cue, -1 if not.

        The chain's observations do not depend on the actions, and only a_N is rewarded,
        so the episode runs open-loop: the network reads all of :meth:`inputs` in one scan
        that carries no read-out (:meth:`FeedforwardSNN.final_readout`), and only the last
        read-out is decided on; no environment step, arg-max or reward is traced per step
        (1.5-1.8x faster generations, ``hetsnn bench``). The return is that of stepping
        gymnax with an arg-max at every step (:meth:`record_episode`, the tests compare
        them), unless the two read-outs of a_N lie within float rounding of each other.
        """
        readout = network.final_readout(
            params, initial_state(network, params, key), self.inputs(key, episode)
        )
        key_reset, _ = jax.random.split(key)  # the half inputs() resets with
        recalled = jnp.argmax(readout) == self.cue_action(episode, key_reset)
        return jnp.where(recalled, 1.0, -1.0)

    def cue_action(self, episode: jax.Array, key_reset: jax.Array | None = None) -> jax.Array:
        """The rewarded action of episode number ``episode`` (its cue is 2 a - 1): the
        episode's parity, or with ``cue="random"`` a fair coin drawn from the episode's
        reset key."""
        if self.cue == "random":
            return jax.random.bernoulli(key_reset).astype(jnp.int32)
        return episode % 2

    def final_score(self, network, params, key, data, episodes: int) -> jax.Array:
        """Mean greedy return over ``episodes`` episodes of alternating cues (exact for a
        deterministic network, whatever the training fitness's ``cue``)."""
        task = replace(self, episodes=episodes, cue="alternate")
        return EpisodicEvaluation.evaluate(task, network, params, key, data)

    def decision_margin(self, record: EpisodeRecord, episode: jax.Array) -> jax.Array:
        """How clearly the rewarded decision recalls the cue, a float32 scalar in [-2, 2].

        ``(readout[cue action] - readout[other])`` at the last step, divided by the largest
        ``|readout|`` of the episode: > 0 recalled, < 0 wrong, 0 a tie (a cue-blind
        response; the arg-max then picks action 0, right for every other episode). The
        simulation is noise-free, so a margin of 1e-4 still decides; the report counts the
        recalls that also clear a margin (:mod:`hetsnn.report.margins`).
        """
        last = record.readouts[-1]
        correct = (record.inputs[0, 1] > 0).astype(jnp.int32)  # the cue the episode showed
        margin = last[correct] - last[1 - correct]
        return margin / jnp.maximum(jnp.abs(record.readouts).max(), jnp.finfo(jnp.float32).tiny)
