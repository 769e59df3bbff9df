"""bsuite memory length (Osband et al. 2020) through gymnax ``MemoryChain-bsuite``.

A stylised T-maze: at t = 0 the network sees a cue c_0 = +-1, then zeros; at the last step
t = memory_length it is rewarded +1 for the action that repeats the cue and -1 otherwise;
every other step gives 0. The network input is (time remaining 1 - t/N, c_t).

Two choices where gymnax differs from bsuite, written down here:
* gymnax's ``step`` returns the observation of the state *before* the step (a one-step lag);
  we read the observation of the current state with ``env.get_obs`` instead, as bsuite does.
* With one context bit the query entry is always 0, so it is dropped from the input.
Episodes alternate the cue (0, 1, 0, ...), so an even ``episodes`` is exactly balanced and
a memoryless policy scores 0; a deterministic network needs only ``episodes = 2``.
"""

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
from gymnax.environments.bsuite.memory_chain import EnvParams

from hetsnn.tasks.base import GymnaxTask, make_env, require_positive

_TIME_REMAINING, _CONTEXT = 0, 2  # entries of gymnax's observation that the network sees


@dataclass(frozen=True)
class MemoryTask(GymnaxTask):
    """Attributes: memory_length (steps between cue and decision), episodes."""

    name: ClassVar[str] = "memory"
    env_id: ClassVar[str] = "MemoryChain-bsuite"
    memory_length: int = 10
    episodes: int = 2

    def __post_init__(self):
        super().__post_init__()
        require_positive(self, "memory_length")

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
        return state.replace(context=jnp.full_like(state.context, episode % 2))

    def observe(self, obs: jax.Array, env_state) -> jax.Array:
        current = make_env(self.env_id).get_obs(env_state, self.env_params())
        return current[jnp.array([_TIME_REMAINING, _CONTEXT])]
