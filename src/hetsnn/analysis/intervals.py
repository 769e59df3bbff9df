"""Confidence intervals of a mean over seeds, for figures and tables.

A percentile bootstrap (``scipy.stats.bootstrap``, 95 %, fixed resampling seed so a report
is rebuilt identically). The interval of a mean lies within the range of the values, so a
bounded score keeps its bounds, unlike mean +- std. With one seed, or identical values,
the interval is the value itself.
"""

import numpy as np
from scipy import stats

LEVEL = 0.95
RESAMPLES = 2000


def mean_interval(values, axis: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, low, high)`` of ``values`` along ``axis`` (the seeds), each with that axis
    removed."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(axis=axis)
    if values.shape[axis] < 2:
        return mean, mean.copy(), mean.copy()
    spread = np.ptp(values, axis=axis)
    result = stats.bootstrap(
        (values,),
        np.mean,
        axis=axis,
        vectorized=True,
        confidence_level=LEVEL,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    low, high = result.confidence_interval
    # identical values: the value itself (np.mean may round it; scipy may report NaN)
    value = np.where(spread == 0, np.take(values, 0, axis=axis), mean)
    low, high = np.where(spread == 0, value, low), np.where(spread == 0, value, high)
    return value, low, high


def caption(seeds, marks: str = "band", mean: str = "line") -> str:
    """What a figure's ``mean`` marks (line, large dots) and ``marks`` (band, error bars)
    are, for its title."""
    seeds = sorted(set(np.atleast_1d(seeds).tolist()))
    if seeds == [1]:  # no spread to show: say so rather than draw an interval of one value
        return f"{mean}: one seed (no {marks}: one seed has no interval)"
    count = "/".join(map(str, seeds))
    return f"{mean}: mean over {count} seeds; {marks}: {LEVEL:.0%} bootstrap CI of the mean"
