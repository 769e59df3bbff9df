import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn.config import (
    CENTRE_OPTIMISERS,
    DEFAULT_CENTRE_OPTIMISER,
    STRATEGY_NAMES,
    StrategyConfig,
)
from hetsnn.errors import ConfigError
from hetsnn.optim import make_maximiser, sanitize_rewards


def test_sanitize_puts_nonfinite_last_and_keeps_finite_order():
    rewards = jnp.array([1.0, jnp.nan, -3.0, jnp.inf, 2.0, -jnp.inf])
    clean = np.asarray(sanitize_rewards(rewards))
    assert np.all(np.isfinite(clean))
    np.testing.assert_array_equal(clean[[0, 2, 4]], [1.0, -3.0, 2.0])
    assert np.all(clean[[1, 3, 5]] < -3.0)


def test_paper_pgpe_settings_reach_evosax():
    es = make_maximiser(StrategyConfig(), num_dims=3)
    assert es.es.population_size == 256
    assert es.params.std_init == 0.1 and es.params.std_lr == 0.1
    state = es.init(jax.random.key(0), jnp.zeros(3))
    np.testing.assert_allclose(state.std, 0.1)


def _maximise(es, objective, centre, generations, seed=0):
    @jax.jit
    def generation(state, key):
        key_ask, key_tell = jax.random.split(key)
        population, state = es.ask(key_ask, state)
        state = es.tell(key_tell, population, jax.vmap(objective)(population), state)
        return state, None

    state = es.init(jax.random.key(seed), centre)
    keys = jax.random.split(jax.random.key(seed + 1), generations)
    state, _ = jax.lax.scan(generation, state, keys)
    return state


def test_pgpe_maximises_a_toy_objective():
    target = jnp.array([0.5, -0.3, 0.2, 0.8])
    es = make_maximiser(StrategyConfig(population=32, lr=0.05, max_velocity=0.1), num_dims=4)
    state = _maximise(es, lambda x: -jnp.sum((x - target) ** 2), jnp.zeros(4), 300)
    np.testing.assert_allclose(es.centre(state), target, atol=0.05)


STRATEGY_CASES = [(name, None) for name in STRATEGY_NAMES] + [
    (name, centre) for name in DEFAULT_CENTRE_OPTIMISER for centre in CENTRE_OPTIMISERS
]


@pytest.mark.parametrize("name, centre_optimiser", STRATEGY_CASES)
def test_every_strategy_improves_a_toy_objective(name, centre_optimiser):
    lr = 0.01 if centre_optimiser == "adam" else 0.05
    config = StrategyConfig(name=name, population=16, centre_optimiser=centre_optimiser, lr=lr)
    es = make_maximiser(config, num_dims=3)
    target = jnp.array([0.3, -0.2, 0.1])

    def objective(x):
        return -jnp.sum((x - target) ** 2)

    state = _maximise(es, objective, jnp.zeros(3), 100)
    assert objective(es.centre(state)) > 0.5 * objective(jnp.zeros(3))


def test_nonfinite_rewards_never_poison_the_state():
    es = make_maximiser(StrategyConfig(population=8), num_dims=2)
    state = es.init(jax.random.key(0), jnp.zeros(2))
    population, state = es.ask(jax.random.key(1), state)
    rewards = jnp.array([1.0, jnp.nan, 0.5, jnp.inf, -1.0, jnp.nan, 2.0, -jnp.inf])
    new = es.tell(jax.random.key(2), population, rewards, state)
    assert all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree.leaves(new))
    assert not np.allclose(es.centre(new), es.centre(state))  # the finite ones still count


def test_generation_with_no_finite_reward_leaves_the_state_unchanged():
    es = make_maximiser(StrategyConfig(population=4), num_dims=2)
    state = es.init(jax.random.key(0), jnp.ones(2))
    population, state = es.ask(jax.random.key(1), state)
    new = es.tell(jax.random.key(2), population, jnp.full(4, jnp.nan), state)
    for before, after in zip(jax.tree.leaves(state), jax.tree.leaves(new), strict=True):
        np.testing.assert_array_equal(before, after)


def test_population_evaluated_in_blocks_gives_the_same_generation():
    from hetsnn.config import NetworkConfig, RunConfig
    from hetsnn.tasks import CartPoleTask
    from hetsnn.train import programs
    from hetsnn.train.spec import RunSpec

    results = []
    for block in (None, 4):
        config = RunConfig(
            CartPoleTask(max_steps=30, episodes=1),
            NetworkConfig(n_hidden=8),
            StrategyConfig(population=8, eval_block=block),
            generations=2,
            seeds=2,
        )
        spec = RunSpec.from_config(config)
        states = programs.init_states(spec, config.network.neuron, 0, config.seeds)
        results.append(programs.compiled_chunk(spec, 2, 2)(states, None)[1])
    for name in results[0]:
        np.testing.assert_allclose(results[1][name], results[0][name], rtol=1e-6, err_msg=name)


def test_eval_block_must_divide_the_population():
    with pytest.raises(ConfigError, match="eval_block .3. must divide the population .8."):
        StrategyConfig(population=8, eval_block=3)


def evojax_pgpe_sgd_step(centre, stdev, noise, rewards, lr, stdev_lr, max_change=0.2):
    """EvoJAX's ``PGPE(optimizer=None).tell`` for one generation, transcribed in numpy from
    ``evojax/algo/pgpe.py`` (google/evojax HEAD acf5252): ``process_scores`` ranks the
    rewards into ``ranks / ranks.max() - 0.5``; ``compute_reinforce_update`` takes pairs
    (+noise, -noise); jax's ``optimizers.sgd`` steps along ``-(-grad_center)``; the stdev
    moves by ``stdev_lr * grad`` clipped to +-20 %. ``noise``: ``(pop/2, dims)``, already
    multiplied by the stdev, the population being ``[c + noise_0, c - noise_0, ...]``.
    """
    ranks = np.empty(rewards.size)
    ranks[np.argsort(rewards)] = np.arange(rewards.size)
    scores = (ranks / ranks.max() - 0.5).reshape(-1, 2)
    baseline = scores.mean()
    grad_center = (noise * (scores[:, 0] - scores[:, 1])[:, None] * 0.5).mean(axis=0)
    grad_stdev = (
        (scores.sum(axis=1)[:, None] / 2 - baseline) * (noise**2 - stdev**2) / stdev
    ).mean(axis=0)
    new_stdev = np.clip(
        stdev + stdev_lr * grad_stdev, stdev * (1 - max_change), stdev * (1 + max_change)
    )
    return centre + lr * grad_center, new_stdev


def test_pgpe_with_sgd_is_evojax_default_update():
    """centre_optimiser="sgd" at lr 0.15 reproduces EvoJAX's default PGPE step exactly."""
    es = make_maximiser(StrategyConfig(population=8, centre_optimiser="sgd"), num_dims=5)
    centre = jax.random.normal(jax.random.key(0), (5,))
    state = es.init(jax.random.key(1), centre)
    population, state = es.ask(jax.random.key(2), state)
    rewards = jax.random.normal(jax.random.key(3), (8,))  # distinct: no ranking ties
    new = es.tell(jax.random.key(4), population, rewards, state)

    # evosax orders the population [c + z_0..3, c - z_0..3]; EvoJAX interleaves the pairs.
    pop, half = np.asarray(population, np.float64), 4
    noise = pop[:half] - np.asarray(centre, np.float64)
    np.testing.assert_allclose(pop[half:], np.asarray(centre) - noise, atol=1e-6)
    paired = np.asarray(rewards, np.float64).reshape(2, half).T.reshape(-1)
    want_centre, want_std = evojax_pgpe_sgd_step(
        np.asarray(centre, np.float64), np.full(5, 0.1), noise, paired, lr=0.15, stdev_lr=0.1
    )
    np.testing.assert_allclose(es.centre(new), want_centre, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new.std, want_std, rtol=1e-5)


def test_centre_optimiser_defaults_and_errors():
    assert StrategyConfig().centre_optimiser == "clipup"
    assert StrategyConfig(name="open_es").centre_optimiser == "adam"
    assert StrategyConfig(name="cma_es").centre_optimiser is None
    with pytest.raises(ConfigError, match="centre_optimiser 'rmsprop' is unknown"):
        StrategyConfig(centre_optimiser="rmsprop")
    with pytest.raises(ConfigError, match="snes has its own centre update"):
        StrategyConfig(name="snes", centre_optimiser="adam")
