"""Episode loops that stop when the whole batch is done (hetsnn.tasks.early_exit)."""

import jax
import jax.numpy as jnp
import numpy as np

from hetsnn.config import NeuronConfig
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.tasks import CartPoleTask
from hetsnn.tasks.early_exit import until_all_done


def count_to(limit, length=10):
    """Counts steps until the count reaches ``limit``: ``(count, steps the loop ran)``."""

    def step(carry, t):
        count, ran = carry
        return jnp.where(count < limit, count + 1, count), jnp.maximum(ran, t + 1)

    return until_all_done(step, (jnp.int32(0), jnp.int32(0)), length, lambda c: c[0] >= limit)


def test_the_loop_runs_to_the_last_member_of_nested_batches_and_no_further():
    limits = jnp.array([[1, 3], [2, 5]])
    counts, ran = jax.jit(jax.vmap(jax.vmap(count_to)))(limits)
    np.testing.assert_array_equal(counts, limits)  # each member's own answer
    np.testing.assert_array_equal(ran, 5)  # one loop for all: to the last member's end
    counts, ran = jax.jit(count_to)(jnp.int32(3))
    assert (int(counts), int(ran)) == (3, 3)
    counts, ran = jax.jit(jax.vmap(count_to))(jnp.array([20, 4]))
    np.testing.assert_array_equal(counts, [10, 4])  # the cap (length 10) still holds
    np.testing.assert_array_equal(ran, [10, 10])


def test_batched_condition_compiles_to_one_unbatched_loop():
    jaxpr = jax.make_jaxpr(jax.vmap(jax.vmap(count_to)))(jnp.ones((2, 3), jnp.int32))
    (loop,) = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "while"]
    condition = loop.params["cond_jaxpr"].jaxpr
    assert condition.outvars[0].aval.shape == ()  # no per-member selects in the body


def test_cartpole_returns_equal_the_episode_scanned_to_the_cap():
    """The training fitness stops at the batch's last fall; each network's return must be
    the reward sum of its episode stepped to the cap (record_episode), for a population
    whose poles fall at different times."""
    task = CartPoleTask(max_steps=200, episodes=1)
    network = FeedforwardSNN(n_in=4, n_hidden=32, n_out=2)
    hidden = NeuronConfig().homogeneous(32)
    base = network.init(jax.random.key(0), hidden)

    def individual(seed):
        keys = jax.random.split(jax.random.key(seed), 3)
        return base.replace(
            w_in=base.w_in * 4.0,
            hidden=hidden.replace(
                tau_logit=hidden.tau_logit + jax.random.normal(keys[0], (32,)),
                v_th=hidden.v_th + 0.2 * jax.random.normal(keys[1], (32,)),
            ),
        )

    population = jax.vmap(individual)(jnp.arange(24))
    key, episode = jax.random.key(3), jnp.int32(0)
    ours = jax.jit(jax.vmap(lambda p: task.episode_return(network, p, key, episode)))(population)
    record = jax.jit(jax.vmap(lambda p: task.record_episode(network, p, key, episode)))(population)
    np.testing.assert_array_equal(ours, record.rewards.sum(axis=1))
    assert len(set(np.asarray(ours).tolist())) > 3  # episodes of different lengths
