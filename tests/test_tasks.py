"""Task plumbing, checked with hand-written stand-in policies whose answers are known."""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from hetsnn.errors import ConfigError
from hetsnn.tasks import TASKS, CartPoleTask, MemoryTask, task_from_dict


@struct.dataclass
class OracleState:
    cue: jax.Array
    cue_sightings: jax.Array
    steps: jax.Array


@dataclass(frozen=True)
class MemoryOracle:
    """Remembers the cue perfectly and answers with it (or against it)."""

    answer_against: bool = False

    def init_state(self, params):
        return OracleState(jnp.float32(0), jnp.int32(0), jnp.int32(0))

    def step(self, params, state, x):
        seen = x[1] != 0
        cue = jnp.where(seen, x[1], state.cue)
        state = OracleState(cue, state.cue_sightings + seen, state.steps + 1)
        says_one = (cue > 0) != self.answer_against
        readout = jnp.where(says_one, jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0]))
        return state, readout, jnp.zeros(1)


@dataclass(frozen=True)
class ConstantPolicy:
    action: int = 0

    def init_state(self, params):
        return jnp.int32(0)

    def step(self, params, state, x):
        return state, jax.nn.one_hot(self.action, 2), jnp.zeros(1)


@pytest.mark.parametrize("length", [1, 5, 30])
def test_memory_oracle_scores_one_and_its_opposite_minus_one(length):
    task = MemoryTask(memory_length=length, episodes=4)
    key = jax.random.key(0)
    assert float(task.evaluate(MemoryOracle(), None, key)) == 1.0
    assert float(task.evaluate(MemoryOracle(answer_against=True), None, key)) == -1.0


def test_memoryless_policy_scores_zero_on_balanced_cues():
    task = MemoryTask(memory_length=7, episodes=6)
    for action in (0, 1):
        assert float(task.evaluate(ConstantPolicy(action), None, jax.random.key(3))) == 0.0


def test_memory_inputs_show_the_cue_once_and_time_remaining():
    """The cue appears only in the first input (gymnax's one-step lag is removed)."""
    task, length = MemoryTask(memory_length=6), 6
    env_state = task.reset(jax.random.key(0), jnp.int32(1))
    from hetsnn.tasks.base import make_env

    env = make_env(task.env_id)
    inputs = []
    for t in range(length + 1):
        inputs.append(np.asarray(task.observe(None, env_state)))
        _, env_state, reward, done, _, _ = env.step(
            jax.random.key(t), env_state, 1, task.env_params()
        )
        assert bool(done) == (t == length)
        assert float(reward) == (1.0 if t == length else 0.0)
    inputs = np.array(inputs)
    np.testing.assert_allclose(inputs[:, 0], 1 - np.arange(length + 1) / length, atol=1e-6)
    np.testing.assert_array_equal(inputs[:, 1], [1.0] + [0.0] * length)


def test_cartpole_masks_rewards_after_the_episode_ends():
    policy, key = ConstantPolicy(0), jax.random.key(5)
    short = float(CartPoleTask(max_steps=500, episodes=3).evaluate(policy, None, key))
    long = float(CartPoleTask(max_steps=1000, episodes=3).evaluate(policy, None, key))
    assert 5 <= short < 30  # pushing one way topples the pole quickly
    assert short == long


def test_cartpole_return_is_capped():
    @dataclass(frozen=True)
    class Balancer:  # push towards the side the pole leans to
        def init_state(self, params):
            return jnp.int32(0)

        def step(self, params, state, x):
            lean = x[2] + 0.5 * x[3]
            return state, jnp.stack([-lean, lean]), jnp.zeros(1)

    returns = CartPoleTask(max_steps=120, episodes=2).evaluate(Balancer(), None, jax.random.key(0))
    assert float(returns) == 120.0


def test_registry_round_trip_and_errors():
    for cls in TASKS.values():
        task = cls()
        assert task_from_dict(task.to_dict()) == task
        assert task.n_inputs > 0 and task.n_outputs >= 2
        assert task.episodes > 0 and task.steps_per_episode > 0
        shapes = task.data_spec("train")  # what load_data must return (None: no data set)
        assert shapes is None or all(s.shape[0] > 0 for s in jax.tree.leaves(shapes)[:2])
    with pytest.raises(ConfigError, match="unknown task"):
        task_from_dict({"name": "pong"})
    with pytest.raises(ConfigError, match="memory_length"):
        MemoryTask(memory_length=0)
    with pytest.raises(ConfigError, match="no_such_field|unexpected"):
        task_from_dict({"name": "cartpole", "no_such_field": 1})
