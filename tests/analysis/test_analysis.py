"""Exact Shapley values, distribution fits, the Allen Cell Types loader and the van Rossum
distance."""

import io
import itertools

import numpy as np
import pytest
from conftest import SHARED_DATA

from hetsnn.analysis.distributions import fit, fit_all
from hetsnn.analysis.shapley import coalitions, shapley_values
from hetsnn.analysis.spike_distance import (
    pairwise_van_rossum,
    spike_pattern_diversity,
    van_rossum_distance,
)
from hetsnn.data import allen, images
from hetsnn.data.images import DataNotFound


def test_shapley_values_of_a_hand_computed_three_player_game():
    # v(A)=v(B)=v(C)=0, v(AB)=90, v(AC)=80, v(BC)=70, v(ABC)=120. By hand, with weights
    # 1/3 (|S|=0), 1/6 (|S|=1), 1/3 (|S|=2):
    # phi_A = 90/6 + 80/6 + (120-70)/3 = 45; phi_B = 90/6 + 70/6 + (120-80)/3 = 40;
    # phi_C = 80/6 + 70/6 + (120-90)/3 = 35.
    v = {frozenset(): 0.0, frozenset("A"): 0.0, frozenset("B"): 0.0, frozenset("C"): 0.0}
    v |= {frozenset("AB"): 90.0, frozenset("AC"): 80.0, frozenset("BC"): 70.0}
    v[frozenset("ABC")] = 120.0
    phi = shapley_values("ABC", v)
    assert phi == pytest.approx({"A": 45.0, "B": 40.0, "C": 35.0})


def test_shapley_values_are_efficient_symmetric_and_zero_for_a_null_player():
    rng = np.random.default_rng(0)
    players = ["tau_m", "v_th", "v_rest", "R"]
    v = {s: float(rng.normal()) for s in coalitions(players)}
    phi = shapley_values(players, v)
    assert sum(phi.values()) == pytest.approx(v[frozenset(players)] - v[frozenset()])

    # R adds nothing anywhere; tau_m and v_th are interchangeable.
    def value(s):
        core = s - {"R"}
        return 3.0 * len(core & {"tau_m", "v_th"}) + 1.0 * ("v_rest" in core) + 0.5

    phi = shapley_values(players, {s: value(s) for s in coalitions(players)})
    assert phi["R"] == pytest.approx(0.0)
    assert phi["tau_m"] == pytest.approx(phi["v_th"]) == pytest.approx(3.0)
    assert phi["v_rest"] == pytest.approx(1.0)


def test_shapley_values_need_every_coalition_and_distinct_players():
    v = {s: 1.0 for s in coalitions("AB")}
    del v[frozenset("A")]
    with pytest.raises(ValueError, match="missing"):
        shapley_values("AB", v)
    with pytest.raises(ValueError, match="distinct"):
        shapley_values("AA", {s: 1.0 for s in coalitions("A")})
    assert len(coalitions(range(4))) == 16 and coalitions("AB")[0] == frozenset()


@pytest.mark.parametrize(
    ("family", "sample", "shape", "scale"),
    [
        ("gamma", lambda rng: rng.gamma(3.0, 7.0, 20_000), 3.0, 7.0),
        ("lognormal", lambda rng: np.exp(rng.normal(np.log(20.0), 0.4, 20_000)), 0.4, 20.0),
    ],
)
def test_fits_recover_shape_and_scale(family, sample, shape, scale):
    result = fit(sample(np.random.default_rng(1)), family)
    assert result.shape == pytest.approx(shape, rel=0.04)
    assert result.scale == pytest.approx(scale, rel=0.04)
    assert result.n == 20_000 and result.ks_statistic < 0.02
    other = fit_all(sample(np.random.default_rng(1)))
    better = max(other.values(), key=lambda f: f.log_likelihood)
    assert better.family == family  # the true family has the higher likelihood


def test_fits_reject_bad_samples():
    with pytest.raises(ValueError, match="positive"):
        fit([1.0, -2.0, 3.0], "gamma")
    with pytest.raises(ValueError, match="positive"):
        fit([1.0], "gamma")
    with pytest.raises(ValueError, match="unknown family"):
        fit([1.0, 2.0], "weibull")


@pytest.mark.skipif(
    not (SHARED_DATA / allen.FOLDER / allen.FILENAME).exists(), reason="no Allen table"
)
def test_allen_populations_of_the_shared_table(monkeypatch, tmp_path):
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path))
    rows = allen.read_table(SHARED_DATA, download=False)
    assert len(rows) == 2333
    mouse, human = (allen.membrane_time_constants(rows, p) for p in allen.POPULATIONS)
    assert (mouse.size, human.size) == (290, 236)  # docs/specification.md / the data README
    assert np.all(mouse > 0) and np.all(human > 0)
    assert 15 < np.median(mouse) < np.median(human) < 40  # human pyramidal cells are slower


def test_allen_table_is_downloaded_once_then_read_from_the_cache(monkeypatch, tmp_path):
    columns = ",".join(allen.REQUIRED_COLUMNS)
    table = f"{columns}\nMus musculus,VISp,4,spiny,21.5\nHomo Sapiens,MTG,3,spiny,30\n"
    calls = []

    def urlopen(url, timeout):
        calls.append(url)
        return io.BytesIO(table.encode())

    monkeypatch.delenv(images.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(allen.urllib.request, "urlopen", urlopen)
    for _ in range(2):
        rows = allen.read_table()
        taus = [allen.membrane_time_constants(rows, p) for p in allen.POPULATIONS]
        assert [t.tolist() for t in taus] == [[21.5], [30.0]]
    assert calls == [allen.API_URL]  # the second read came from the cache
    assert (tmp_path / allen.FOLDER / allen.FILENAME).read_text() == table


def test_allen_table_missing_without_download_names_both_remedies(monkeypatch, tmp_path):
    monkeypatch.delenv(images.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path))
    with pytest.raises(DataNotFound, match="HETSNN_DATA_DIR.*network"):
        allen.read_table(download=False)
    (tmp_path / allen.FOLDER).mkdir()
    (tmp_path / allen.FOLDER / allen.FILENAME).write_text("a,b\n1,2\n")
    with pytest.raises(DataNotFound, match="is damaged .not an Allen"):
        allen.read_table(download=False)


def test_coalitions_are_all_subsets_in_size_order():
    subsets = coalitions("ABC")
    assert [len(s) for s in subsets] == [0, 1, 1, 1, 2, 2, 2, 3]
    assert set(subsets) == {
        frozenset(c) for k in range(4) for c in itertools.combinations("ABC", k)
    }


def test_van_rossum_distance_of_hand_computed_cases():
    # one spike against none: D^2 = 1/2; single spikes Delta apart: D^2 = 1 - exp(-Delta/tau)
    assert van_rossum_distance([3.0], [], tau=10.0) == pytest.approx(np.sqrt(0.5))
    assert van_rossum_distance([0.0], [5.0], tau=10.0) == pytest.approx(np.sqrt(1 - np.exp(-0.5)))
    assert van_rossum_distance([1.0, 7.0], [1.0, 7.0], tau=4.0) == 0.0
    # two spikes 10 apart against none: D^2 = 1/2 (1 + 1 + 2 e^-1)
    expected = np.sqrt(0.5 * (2 + 2 * np.exp(-1.0)))
    assert van_rossum_distance([0.0, 10.0], [], tau=10.0) == pytest.approx(expected)
    with pytest.raises(ValueError, match="tau"):
        van_rossum_distance([1.0], [2.0], tau=0.0)


def test_pairwise_van_rossum_of_a_raster_matches_spike_times():
    rng = np.random.default_rng(3)
    raster = (rng.random((60, 5)) < 0.15).astype(np.float32)
    dt, tau = 5.0, 20.0
    distances = np.asarray(pairwise_van_rossum(raster, dt, tau))
    times = [np.flatnonzero(raster[:, n]) * dt for n in range(5)]
    for i, j in itertools.product(range(5), repeat=2):
        assert distances[i, j] == pytest.approx(
            van_rossum_distance(times[i], times[j], tau), abs=2e-3
        )
    assert np.all(np.diag(distances) == 0)
    diversity = float(spike_pattern_diversity(raster, dt, tau))
    assert diversity == pytest.approx(distances[~np.eye(5, dtype=bool)].mean(), rel=1e-6)
    identical = np.repeat(raster[:, :1], 3, axis=1)
    assert float(spike_pattern_diversity(identical, dt, tau)) == pytest.approx(0.0, abs=1e-3)


def test_margin_summary_counts_ties_as_rewarded_only_for_cue_minus_one():
    from hetsnn.report.margins import MARGIN, episode_rewards, summarise

    margins = np.array([[0.5, 0.2], [0.0, 0.001], [0.0, 0.0], [-0.3, 0.02]])
    np.testing.assert_array_equal(episode_rewards(margins), [[1, 1], [1, 1], [1, -1], [-1, 1]])
    summary = summarise(margins)
    assert summary["rewarded"] == 6 / 8
    assert summary["clear"] == np.mean(margins >= MARGIN) == 3 / 8
    assert summary["median_margin"] == np.median([0.5, 0.2, 0.0, 0.001, 0.0, 0.02])


def test_each_control_keeps_what_it_promises():
    from hetsnn.report.controls import transform

    rng = np.random.default_rng(0)
    values = rng.gamma(4.0, 6.0, size=(3, 50)) + 5.0
    homogeneous = transform(values, "homogenise", 20.0, rng)
    np.testing.assert_allclose(homogeneous.mean(axis=1), values.mean(axis=1))
    assert np.all(homogeneous.std(axis=1) < 1e-9)
    permuted = transform(values, "permute", 20.0, rng)
    np.testing.assert_array_equal(np.sort(permuted, axis=1), np.sort(values, axis=1))
    assert not np.array_equal(permuted, values)
    for levels in (2, 4, 8):
        quantised = transform(values, f"quantise-{levels}", 20.0, rng)
        assert all(len(np.unique(row)) <= levels for row in quantised)
        np.testing.assert_allclose(quantised.mean(axis=1), values.mean(axis=1))  # bin means
    np.testing.assert_array_equal(transform(values, "reset", 20.0, rng), 20.0)
    resampled = transform(values, "resample", 20.0, rng)
    assert np.all(resampled > 0) and not np.isin(resampled, values).any()
    np.testing.assert_allclose(resampled.mean(), values.mean(), rtol=0.15)
    signed = rng.normal(0.0, 0.1, size=(2, 40))  # not positive: a normal fit
    assert (transform(signed, "resample", 0.0, rng) < 0).any()
    with pytest.raises(ValueError, match="unknown control"):
        transform(values, "shuffle", 20.0, rng)


def test_paired_interval_brackets_the_mean_difference():
    from hetsnn.report.controls import paired_interval

    deltas = np.array([-0.5, -0.2, -0.4, 0.1, -0.3])
    low, high = paired_interval(deltas)
    assert low <= deltas.mean() <= high and low >= deltas.min() and high <= deltas.max()
    assert paired_interval(np.array([0.2, 0.2, 0.2])) == (0.2, 0.2)
    assert all(np.isnan(paired_interval(np.array([0.3]))))


def test_ks_from_recorded_quantiles_matches_the_exact_statistic():
    from scipy import stats

    from hetsnn.analysis.distributions import fit
    from hetsnn.report.trajectories import ks_to_reference
    from hetsnn.rundir import QUANTILES

    rng = np.random.default_rng(1)
    reference = fit(rng.gamma(13.0, 1.6, size=400), "gamma")
    for shape, scale in ((13.0, 1.6), (4.0, 5.0), (30.0, 1.0)):
        x = rng.gamma(shape, scale, size=(3, 512))
        approx = ks_to_reference(np.quantile(x, QUANTILES, axis=-1).T, reference)
        exact = [
            stats.kstest(row, stats.gamma(reference.shape, scale=reference.scale).cdf).statistic
            for row in x
        ]
        np.testing.assert_allclose(approx, exact, atol=0.01 + 1 / 512)


def test_mean_interval_stays_within_the_seeds_and_covers_the_mean():
    from hetsnn.analysis.intervals import mean_interval

    rewards = np.array(
        [[1.0, 1.0, -1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0], [0.2, 0.2, 0.2, 0.3, 0.1]]
    )
    mean, low, high = mean_interval(rewards, axis=1)
    assert np.all(low >= rewards.min(axis=1)) and np.all(high <= rewards.max(axis=1))
    assert np.all(low <= mean) and np.all(mean <= high)
    assert low[1] == high[1] == 1.0  # identical seeds: no spread to show
    assert low[0] < 0.4 < high[0]  # a real spread gives a real interval
    one = mean_interval(np.array([[0.5]]), axis=1)
    assert one[1][0] == one[2][0] == 0.5
    # mean +- std of the first row would run past the reward bound of 1
    assert rewards[0].mean() + rewards[0].std() > 1.0 >= high[0]
