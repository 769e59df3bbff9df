"""Task plumbing, checked with hand-written stand-in policies whose answers are known."""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from hetsnn.config import NeuronConfig
from hetsnn.errors import ConfigError
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.tasks import TASKS, CartPoleTask, MemoryTask, task_from_dict


@struct.dataclass
class OracleState:
    cue: jax.Array
    cue_sightings: jax.Array
    steps: jax.Array


class StepByStep:
    """``final_readout`` for the stand-in policies below: their ``step`` over the inputs
    (MemoryTask's greedy episodes decide on the last read-out alone)."""

    def final_readout(self, params, state, xs):
        def present(carry, x):
            state, _ = carry
            state, readout, _ = self.step(params, state, x)
            return (state, readout), None

        (_, readout), _ = jax.lax.scan(present, (state, jnp.zeros(2)), xs)
        return readout


@dataclass(frozen=True)
class MemoryOracle(StepByStep):
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
class ConstantPolicy(StepByStep):
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


def bsuite_memory_chain(length: int, context: int, actions: list[int]):
    """bsuite's MemoryChain (``bsuite/environments/memory_chain.py``, one bit, query 0)
    transcribed line by line: the observation each action is taken on, and its reward.

    ``_reset`` returns ``_get_observation()`` at ``_timestep = 0``; ``_step`` computes the
    observation *before* ``_timestep += 1`` and rewards only when ``_timestep - 1 == N``.
    Observation entries: ``[1 - t / N, query (0), 2 * context - 1 if t == 0 else 0]``.
    """

    def get_observation(timestep):
        cue = 2 * context - 1 if timestep == 0 else 0
        return (1 - timestep / length, float(cue))

    timestep, seen, rewards = 0, [get_observation(0)], []
    for action in actions:
        observation = get_observation(timestep)
        timestep += 1
        if timestep - 1 < length:
            rewards.append(0.0)
            seen.append(observation)
            continue
        rewards.append(1.0 if action == context else -1.0)
        break
    return seen[: len(rewards)], rewards


def test_memory_task_matches_bsuite_step_for_step_for_length_three():
    """Expected sequence for N = 3, cue +1 (episode 1), written out from bsuite's source:

    a_0 is taken on the reset observation (t = 0): time 1, cue +1.
    a_1 on the observation _step(a_0) made before advancing t from 0: time 1, cue +1 again.
    a_2 on the observation at t = 1: time 1 - 1/3, no cue.
    a_3 on the observation at t = 2: time 1 - 2/3, no cue; _step(a_3) has t - 1 == 3 = N,
    so a_3 alone is rewarded, +1 for action 1 (repeat the cue), and the episode ends.
    """
    task = MemoryTask(memory_length=3)
    record = task.record_episode(MemoryOracle(), None, jax.random.key(0), jnp.int32(1))
    np.testing.assert_allclose(
        np.asarray(record.inputs), [[1, 1], [1, 1], [2 / 3, 0], [1 / 3, 0]], atol=1e-6
    )
    np.testing.assert_array_equal(np.asarray(record.actions), [1, 1, 1, 1])
    np.testing.assert_array_equal(np.asarray(record.rewards), [0, 0, 0, 1])
    np.testing.assert_array_equal(np.asarray(record.alive), [1, 1, 1, 1])


@pytest.mark.parametrize("length", [1, 2, 5, 12])
@pytest.mark.parametrize("episode", [0, 1])
def test_memory_task_matches_the_bsuite_transcription(length, episode):
    """Inputs, rewards and episode length equal bsuite's for both cues; the wrong answer
    (the oracle answering against the cue) earns -1 at the same step."""
    task = MemoryTask(memory_length=length)
    for oracle in (MemoryOracle(), MemoryOracle(answer_against=True)):
        record = task.record_episode(oracle, None, jax.random.key(7), jnp.int32(episode))
        actions = [int(a) for a in record.actions]
        seen, rewards = bsuite_memory_chain(length, context=episode % 2, actions=actions)
        assert len(rewards) == length + 1 == task.steps_per_episode
        np.testing.assert_allclose(np.asarray(record.inputs), seen, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(record.rewards), rewards)
        assert rewards[-1] == (-1.0 if oracle.answer_against else 1.0)


@pytest.mark.parametrize("length", [1, 4, 9])
def test_open_loop_memory_episode_equals_stepping_gymnax(length):
    """episode_return reads the inputs up front and decides on the last read-out only
    (FeedforwardSNN.final_readout); for spiking networks of random heterogeneous neurons
    it must give the inputs and the return of stepping gymnax with an arg-max at every
    step (record_episode)."""
    task = MemoryTask(memory_length=length)
    network = FeedforwardSNN(n_in=2, n_hidden=32, n_out=2)
    hidden = NeuronConfig().homogeneous(32)

    @jax.jit
    def both_ways(seed, episode):
        keys = jax.random.split(jax.random.key(seed), 4)
        params = network.init(keys[0], hidden)
        params = params.replace(
            w_in=params.w_in * 3.0,
            hidden=hidden.replace(
                tau_logit=hidden.tau_logit + jax.random.normal(keys[1], (32,)),
                v_th=hidden.v_th + 0.2 * jax.random.normal(keys[2], (32,)),
            ),
        )
        record = task.record_episode(network, params, keys[3], episode)
        ours = task.episode_return(network, params, keys[3], episode)
        return task.inputs(keys[3], episode), ours, record

    returns = []
    for seed in range(6):
        for episode in range(2):
            inputs, ours, record = both_ways(seed, jnp.int32(episode))
            np.testing.assert_array_equal(inputs, record.inputs)
            assert float(ours) == float(record.rewards.sum())
            returns.append(float(ours))
    assert set(returns) == {-1.0, 1.0}  # both outcomes were compared


def test_one_step_of_memory_solves_length_two_not_three():
    """A policy that answers with the cue of the previous input solves N = 2 (the cue is on
    inputs 0 and 1, the decision on input 2) and scores 0 at N = 3. On a task that showed
    the cue only once it would solve no more than N = 1."""

    @dataclass(frozen=True)
    class OneStepMemory(StepByStep):
        def init_state(self, params):
            return jnp.float32(0)

        def step(self, params, previous_cue, x):
            readout = jnp.where(previous_cue > 0, jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0]))
            return x[1], readout, jnp.zeros(1)

    key = jax.random.key(2)
    assert float(MemoryTask(memory_length=2).evaluate(OneStepMemory(), None, key)) == 1.0
    assert float(MemoryTask(memory_length=3).evaluate(OneStepMemory(), None, key)) == 0.0


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


@pytest.mark.parametrize("episode", [0, 1])
def test_decision_margin_of_known_read_outs(episode):
    """The oracle's read-out is one-hot on its answer: margin +1 (right) or -1 (against);
    a constant read-out ties (margin 0)."""
    task, key, e = MemoryTask(memory_length=4), jax.random.key(0), jnp.int32(episode)
    for network, want in ((MemoryOracle(), 1.0), (MemoryOracle(answer_against=True), -1.0)):
        record = task.record_episode(network, None, key, e)
        assert float(task.decision_margin(record, e)) == want
    record = task.record_episode(ConstantPolicy(0), None, key, e)
    np.testing.assert_allclose(np.asarray(record.readouts), np.tile([1.0, 0.0], (5, 1)))
    # action 0 every step: right for cue -1 (episode 0); its margin is +-1 as well
    assert float(task.decision_margin(record, e)) == (1.0 if episode == 0 else -1.0)
