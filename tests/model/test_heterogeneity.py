"""Quenched per-neuron time constants drawn from distributions."""

import jax
import numpy as np
import pytest
from conftest import SHARED_DATA

from hetsnn.config import NeuronConfig
from hetsnn.data import allen, images
from hetsnn.errors import ConfigError
from hetsnn.model.heterogeneity import TAU_FLOOR, Distribution, quenched_hidden

KEY = jax.random.key(4)


@pytest.mark.parametrize(
    ("distribution", "median"),
    [
        (Distribution("gamma", shape=4.0, scale=5.0), None),
        (Distribution("lognormal", shape=0.3, scale=20.0), 20.0),
        (Distribution("uniform", low=10.0, scale=50.0), 30.0),
        (Distribution("constant", scale=20.0), 20.0),
    ],
)
def test_draws_have_the_distribution_s_mean_and_median(distribution, median):
    x = np.asarray(distribution.sample(KEY, 50_000))
    assert x.shape == (50_000,) and x.dtype == np.float32 and np.all(x > 0)
    assert x.mean() == pytest.approx(distribution.mean, rel=0.01)
    if median is not None:
        assert np.median(x) == pytest.approx(median, rel=0.01)
    np.testing.assert_array_equal(x, np.asarray(distribution.sample(KEY, 50_000)))


def test_quenched_hidden_draws_tau_and_keeps_the_other_defaults():
    neuron = NeuronConfig(dt=5.0, v_th=0.7)
    hidden = quenched_hidden(KEY, 1000, neuron, Distribution("uniform", low=1.0, scale=41.0))
    tau = np.asarray(hidden.tau_m(neuron.dt))
    assert tau.min() == pytest.approx(TAU_FLOOR * 5.0, rel=1e-5)  # draws below dt raised
    below = np.asarray(Distribution("uniform", low=1.0, scale=41.0).sample(KEY, 1000))
    kept = below > TAU_FLOOR * 5.0
    np.testing.assert_allclose(tau[kept], below[kept], rtol=1e-4)
    np.testing.assert_array_equal(np.asarray(hidden.v_th), np.float32(0.7))
    np.testing.assert_array_equal(np.asarray(hidden.resistance), 1.0)


def test_invalid_distributions_are_refused():
    with pytest.raises(ConfigError, match="family"):
        Distribution("weibull", scale=1.0)
    with pytest.raises(ConfigError, match="scale > 0"):
        Distribution("gamma", shape=2.0, scale=-1.0)
    with pytest.raises(ConfigError, match="low < high"):
        Distribution("uniform", low=5.0, scale=5.0)
    with pytest.raises(ConfigError, match="unknown cell population"):
        Distribution.biological("cat V1")


@pytest.mark.skipif(
    not (SHARED_DATA / allen.FOLDER / allen.FILENAME).exists(), reason="no Allen table"
)
def test_biological_distribution_is_the_fit_to_allen_cells(monkeypatch):
    monkeypatch.setenv(images.DATA_DIR_ENV, str(SHARED_DATA))
    mouse = Distribution.biological("mouse VISp L4 spiny")
    assert mouse.family == "gamma"
    assert mouse.mean == pytest.approx(21.94, rel=0.01)  # ML gamma fit keeps the sample mean
    human = Distribution.biological("human MTG spiny", family="lognormal")
    assert human.scale == pytest.approx(27.4, rel=0.01)
