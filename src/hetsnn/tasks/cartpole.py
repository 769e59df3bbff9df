"""CartPole-v1 through gymnax, with a configurable episode cap (reward 1 per step)."""

from dataclasses import dataclass
from typing import ClassVar

from gymnax.environments.classic_control.cartpole import EnvParams

from hetsnn.tasks.base import GymnaxTask, require_positive


@dataclass(frozen=True)
class CartPoleTask(GymnaxTask):
    """Attributes: max_steps (the episode cap; gymnax's default is 500), episodes."""

    name: ClassVar[str] = "cartpole"
    env_id: ClassVar[str] = "CartPole-v1"
    max_steps: int = 500
    episodes: int = 4

    def __post_init__(self):
        super().__post_init__()
        require_positive(self, "max_steps")

    @property
    def n_inputs(self) -> int:
        return 4

    @property
    def n_outputs(self) -> int:
        return 2

    @property
    def steps_per_episode(self) -> int:
        return self.max_steps

    @property
    def max_return(self) -> float:
        return float(self.max_steps)

    def env_params(self) -> EnvParams:
        return EnvParams(max_steps_in_episode=self.max_steps)
