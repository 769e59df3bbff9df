"""Reservoirs, ridge read-outs, the temporal suite, Dale's law and heterogeneous STDP."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn.errors import ConfigError
from hetsnn.model import dale, plasticity, reservoir
from hetsnn.model.heterogeneity import Distribution
from hetsnn.studies import readout
from hetsnn.studies.suite import family_scores, suite_scores
from hetsnn.tasks.temporal import SuiteConfig, delayed, make_suite, narma, stream_masks

SMALL_SUITE = SuiteConfig(
    stream_steps=400,
    washout=10,
    delays=tuple(range(1, 9)),
    narma_orders=(2,),
    pattern_classes=(2, 3),
    pattern_noise=(0.5,),
    pattern_lengths=(3, 6),
    pattern_samples=40,
)


# ---- read-out -------------------------------------------------------------------------


def test_ridge_recovers_a_linear_map_and_ignores_masked_samples():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 5)).astype(np.float32)
    true_w = rng.standard_normal((5, 2)).astype(np.float32)
    y = x @ true_w + np.float32([3.0, -1.0])
    mask = np.ones(300, np.float32)
    mask[:50] = 0
    y_corrupt = y.copy()
    y_corrupt[:50] = 1e3  # masked out: must not move the fit
    fitted = readout.fit_ridge(jnp.asarray(x), jnp.asarray(y_corrupt), 1e-8, jnp.asarray(mask))
    np.testing.assert_allclose(fitted.weights, true_w, atol=1e-3)
    np.testing.assert_allclose(fitted(jnp.asarray(x[50:])), y[50:], atol=1e-2)


def test_scores_against_numpy():
    rng = np.random.default_rng(1)
    target = rng.standard_normal((200, 3))
    prediction = target + 0.5 * rng.standard_normal((200, 3))
    r2 = readout.r_squared(jnp.asarray(prediction), jnp.asarray(target))
    expected = 1 - ((prediction - target) ** 2).sum(0) / ((target - target.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(r2, expected, rtol=1e-4)
    rho2 = readout.squared_correlation(jnp.asarray(prediction), jnp.asarray(target))
    expected = [np.corrcoef(prediction[:, j], target[:, j])[0, 1] ** 2 for j in range(3)]
    np.testing.assert_allclose(rho2, expected, rtol=1e-4)
    # predicting the mean explains nothing
    mean = jnp.broadcast_to(jnp.asarray(target.mean(0)), target.shape)
    np.testing.assert_allclose(readout.r_squared(mean, jnp.asarray(target)), 0, atol=1e-6)


# ---- the suite ------------------------------------------------------------------------


def test_delayed_and_narma_by_hand():
    u = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(delayed(u, (1, 2)), [[0, 0], [1, 0], [2, 1], [3, 2]])
    u = np.array([0.1, 0.2, 0.3])
    y1 = 0.3 * 0 + 0 + 1.5 * 0.0 * 0.1 + 0.1  # u(t - 1) does not exist yet at t = 0
    y2 = 0.3 * y1 + 0.05 * y1 * (0 + y1) + 1.5 * 0.1 * 0.2 + 0.1
    y3 = 0.3 * y2 + 0.05 * y2 * (y1 + y2) + 1.5 * 0.2 * 0.3 + 0.1
    np.testing.assert_allclose(narma(u, 2), [y1, y2, y3])


def test_suite_data_shapes_masks_and_balanced_patterns():
    data = make_suite(0, SMALL_SUITE)
    steps = SMALL_SUITE.washout + SMALL_SUITE.stream_steps
    assert data.recall_targets.shape == (steps, 8)
    assert data.pattern_inputs.shape == (4, 40, 6, 1)  # 2 lengths x 2 classes x 1 noise
    # the length-3 variants are preceded by 3 steps of zero input
    assert np.all(np.asarray(data.pattern_inputs[:2, :, :3]) == 0)
    labels = np.asarray(data.pattern_labels[1])  # 3 classes
    assert sorted(np.bincount(labels)) == [13, 13, 14]
    train, test = stream_masks(SMALL_SUITE)
    assert train.sum() == 280 and test.sum() == 120 and not np.any(train[:10])
    assert len(SMALL_SUITE.variant_names()) == 8 + 1 + 4


def test_suite_config_refuses_a_washout_shorter_than_a_delay():
    with pytest.raises(ConfigError, match="washout"):
        SuiteConfig(washout=5, delays=(1, 10))


def test_family_scores_by_hand():
    suite = SuiteConfig(
        washout=3,
        delays=(1, 2),
        narma_orders=(2,),
        pattern_classes=(2, 4),
        pattern_noise=(1.0,),
        pattern_lengths=(5,),
    )
    scores = np.array([0.9, 0.5, 0.4, 0.75, 0.25])  # m(1), m(2), R2, acc C=2, acc C=4
    families = family_scores(scores, suite)
    assert families["memory capacity"] == pytest.approx(1.4)
    assert families["NARMA R2"] == pytest.approx(0.4)
    assert families["pattern above chance"] == pytest.approx((0.5 + 0.0) / 2)
    assert families["suite score"] == pytest.approx((0.7 + 0.4 + 0.25) / 3)


# ---- reservoirs -----------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [None, 0.8])
def test_spectral_radius_is_near_the_gain(fraction):
    config = reservoir.ReservoirConfig(400, gain=1.2, excitatory_fraction=fraction)
    r = reservoir.init(jax.random.key(0), 1, config)
    radius = np.abs(np.linalg.eigvals(np.asarray(r.w_rec, np.float64))).max()
    assert radius == pytest.approx(1.2, rel=0.15)


def test_dale_signs_and_balance():
    signs = dale.population_signs(10, 0.8)
    np.testing.assert_array_equal(signs, [1] * 8 + [-1] * 2)
    scale = dale.balanced_scale(signs)
    np.testing.assert_allclose(scale, [1] * 8 + [4] * 2)
    w = dale.signed(jnp.ones((10, 3)), signs) * scale[:, None]
    np.testing.assert_allclose(w.sum(0), 0)  # excitation and inhibition cancel
    np.testing.assert_allclose(dale.balanced_scale(dale.population_signs(5, 1.0)), 1)
    r = reservoir.init(jax.random.key(1), 1, reservoir.ReservoirConfig(50, excitatory_fraction=0.8))
    assert np.all(np.asarray(r.w_rec[:40]) >= 0) and np.all(np.asarray(r.w_rec[40:]) <= 0)
    with pytest.raises(ConfigError, match="excitatory fraction"):
        dale.population_signs(10, 1.5)


def test_distributions_share_the_weights_and_perturb_keeps_shapes():
    keys = reservoir.seed_keys(0)
    make = lambda dist: reservoir.init(  # noqa: E731
        keys["weights"], 1, reservoir.ReservoirConfig(60, tau_m=dist), tau_key=keys["tau"]
    )
    homogeneous, gamma = make(Distribution("constant", 20.0)), make(Distribution("gamma", 5, 4))
    np.testing.assert_array_equal(homogeneous.w_rec, gamma.w_rec)
    np.testing.assert_allclose(homogeneous.hidden.tau_m(5.0), 20.0, rtol=1e-5)
    assert np.std(np.asarray(gamma.hidden.tau_m(5.0))) > 3
    existing = np.asarray(gamma.w_rec != 0)
    half = reservoir.perturb(gamma, keys["perturb"], removed=0.5)
    kept = np.asarray(half.w_rec != 0)
    assert not np.any(kept & ~existing)
    assert kept.sum() / existing.sum() == pytest.approx(0.5, abs=0.1)
    np.testing.assert_allclose(
        reservoir.perturb(gamma, keys["perturb"], 2.0).w_rec, 2 * gamma.w_rec
    )
    assert not np.any(np.asarray(reservoir.perturb(gamma, keys["perturb"], removed=1.0).w_rec))


def test_rate_reservoir_without_recurrence_is_a_leaky_integrator():
    config = reservoir.ReservoirConfig(4, input_scale=1.0)
    r = reservoir.init(jax.random.key(2), 1, config)
    r = r.replace(w_rec=jnp.zeros((4, 4)), bias=jnp.zeros(4))
    features, spikes = reservoir.run(r, jnp.ones((6, 1)), config.dynamics)
    k = np.asarray(r.hidden.decay)
    t = np.arange(1, 7)[:, None]
    x = np.asarray(r.w_in[0]) * (1 - (1 - k) ** t)  # x(t) for a constant drive
    np.testing.assert_allclose(features, np.tanh(x), rtol=1e-5)
    assert spikes is None


def test_spiking_final_features_match_the_full_run():
    config = reservoir.ReservoirConfig(30, "spiking")
    r = reservoir.init(jax.random.key(3), 1, config)
    inputs = jax.random.uniform(jax.random.key(4), (50, 1), minval=-1.0)
    features, spikes = reservoir.run(r, inputs, config.dynamics)
    np.testing.assert_allclose(
        reservoir.final_features(r, inputs, config.dynamics), features[-1], rtol=1e-6
    )
    assert set(np.unique(np.asarray(spikes))) <= {0.0, 1.0} and spikes.sum() > 0


def test_a_fast_reservoir_remembers_through_its_recurrence_only():
    """With tau_m near dt each unit forgets within a step: memory of past inputs must
    come from the recurrent weights, and removing them must remove it."""
    data = make_suite(0, SMALL_SUITE)
    config = reservoir.ReservoirConfig(40, tau_m=Distribution("constant", 5.1))
    r = reservoir.init(jax.random.key(5), 1, config)
    score = jax.jit(suite_scores, static_argnums=(2, 3, 4))
    capacity = {}
    for removed in (0.0, 1.0):
        perturbed = reservoir.perturb(r, jax.random.key(6), removed=removed)
        scores = score(perturbed, data, config.dynamics, SMALL_SUITE, 1e-4)["scores"]
        assert scores.shape == (len(SMALL_SUITE.variant_names()),)
        assert np.all(np.isfinite(np.asarray(scores)))
        capacity[removed] = family_scores(np.asarray(scores), SMALL_SUITE)["memory capacity"]
    assert capacity[0.0] > 2.0 and capacity[1.0] < 0.5


def test_reservoir_config_validation():
    with pytest.raises(ConfigError, match="kind"):
        reservoir.ReservoirConfig(kind="lstm")
    with pytest.raises(ConfigError, match="density"):
        reservoir.ReservoirConfig(density=0)
    assert reservoir.ReservoirConfig(kind="spiking").bias_scale == 0.9  # kind's default


# ---- STDP -----------------------------------------------------------------------------


def _params(a_plus, a_minus, tau_plus, tau_minus, shape=(1, 1)):
    full = lambda v: jnp.full(shape, v, jnp.float32)  # noqa: E731
    return plasticity.STDPParams(full(a_plus), full(a_minus), full(tau_plus), full(tau_minus))


def _pairing(params, pre_first: bool):
    """Total dw of one pre and one post spike, the second one step (5 ms) later."""
    zeros = jnp.zeros((1, 1))
    spike, none = jnp.ones(1), jnp.zeros(1)
    first = (spike, none) if pre_first else (none, spike)
    second = (none, spike) if pre_first else (spike, none)
    dw1, pre, post = plasticity.stdp_step(zeros, zeros, *first, params, 5.0)
    dw2, _, _ = plasticity.stdp_step(pre, post, *second, params, 5.0)
    return float((dw1 + dw2)[0, 0])


def test_stdp_pairs_by_hand():
    params = _params(0.1, 0.2, 10.0, 20.0)
    assert _pairing(params, pre_first=True) == pytest.approx(0.1 * math.exp(-0.5))
    assert _pairing(params, pre_first=False) == pytest.approx(-0.2 * math.exp(-0.25))
    # per-synapse parameters: each synapse follows its own
    two = plasticity.STDPParams(
        a_plus=jnp.array([[0.1, 0.3]]),
        a_minus=jnp.zeros((1, 2)),
        tau_plus=jnp.array([[10.0, 40.0]]),
        tau_minus=jnp.ones((1, 2)),
    )
    zeros = jnp.zeros((1, 2))
    _, pre, post = plasticity.stdp_step(zeros, zeros, jnp.ones(1), jnp.zeros(2), two, 5.0)
    dw, _, _ = plasticity.stdp_step(pre, post, jnp.zeros(1), jnp.ones(2), two, 5.0)
    np.testing.assert_allclose(dw[0], [0.1 * math.exp(-0.5), 0.3 * math.exp(-0.125)], rtol=1e-6)


def test_train_stdp_changes_only_existing_excitatory_weights_within_bounds():
    config = reservoir.ReservoirConfig(40, "spiking", excitatory_fraction=0.75)
    r = reservoir.init(jax.random.key(6), 1, config)
    stdp = plasticity.STDPConfig(a_plus=Distribution("gamma", 0.05, 1.0))
    params = plasticity.draw(jax.random.key(7), (40, 40), stdp, 5.0)
    inputs = jax.random.uniform(jax.random.key(8), (300, 1), minval=-1.0)
    w_max = float(2 * r.w_rec.max())
    trained, rate = plasticity.train_stdp(r, inputs, params, config.dynamics, w_max)
    before, after = np.asarray(r.w_rec), np.asarray(trained.w_rec)
    np.testing.assert_array_equal(after[30:], before[30:])  # inhibitory rows are fixed
    np.testing.assert_array_equal(after[before == 0], 0)  # no synapse appears
    excitatory = after[:30][before[:30] > 0]
    assert excitatory.min() >= 0 and excitatory.max() <= w_max + 1e-6
    assert not np.allclose(after, before) and rate.shape == (40,) and float(rate.mean()) > 0
    silent = params.replace(a_plus=jnp.zeros((40, 40)), a_minus=jnp.zeros((40, 40)))
    unchanged, _ = plasticity.train_stdp(r, inputs, silent, config.dynamics, w_max)
    np.testing.assert_allclose(unchanged.w_rec, r.w_rec)
