"""Gamma and lognormal fits (location fixed at 0) to membrane time constants.

Parametrisation, as in ``scipy.stats`` and in every table of the project:

* gamma: density ``x**(k-1) exp(-x/theta) / (Gamma(k) theta**k)``; **shape** ``k``
  (dimensionless), **scale** ``theta`` (ms); mean ``k theta``.
* lognormal: ``log x ~ Normal(mu, sigma)``; **shape** ``sigma`` (dimensionless, the std of
  log x), **scale** ``exp(mu)`` (ms, the median).
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats

FAMILIES = {"gamma": stats.gamma, "lognormal": stats.lognorm}


@dataclass(frozen=True)
class Fit:
    """A maximum-likelihood fit with location 0.

    Attributes:
        family: "gamma" or "lognormal".
        shape, scale: see the module docstring (scale in the samples' unit, ms).
        n: number of samples.
        log_likelihood: total log-likelihood of the samples under the fit.
        ks_statistic: Kolmogorov-Smirnov distance between the samples and the fit.
    """

    family: str
    shape: float
    scale: float
    n: int
    log_likelihood: float
    ks_statistic: float

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return FAMILIES[self.family].pdf(x, self.shape, loc=0.0, scale=self.scale)


def fit(samples, family: str) -> Fit:
    """Fit ``family`` to positive ``samples`` (any shape) by maximum likelihood, loc = 0.

    Raises:
        ValueError: an unknown family, fewer than 2 samples, or a sample that is not
            finite and positive.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: choose one of {sorted(FAMILIES)}")
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < 2 or not np.all(np.isfinite(x) & (x > 0)):
        raise ValueError("need at least 2 finite, positive samples to fit a distribution")
    dist = FAMILIES[family]
    shape, _, scale = dist.fit(x, floc=0.0)
    frozen = dist(shape, loc=0.0, scale=scale)
    return Fit(
        family=family,
        shape=float(shape),
        scale=float(scale),
        n=int(x.size),
        log_likelihood=float(frozen.logpdf(x).sum()),
        ks_statistic=float(stats.kstest(x, frozen.cdf).statistic),
    )


def fit_all(samples) -> dict[str, Fit]:
    """Both families fitted to ``samples``."""
    return {family: fit(samples, family) for family in FAMILIES}
