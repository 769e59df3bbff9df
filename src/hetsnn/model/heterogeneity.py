"""Quenched heterogeneity: per-neuron properties drawn once from a distribution, then fixed.

The companion study of Golmohammadi and Tetzlaff (docs/specification.md, section 2) never trains the
time constants; it draws them. :class:`Distribution` is that draw (gamma, lognormal,
uniform, or a constant for the homogeneous control), with the same shape/scale convention
as :mod:`hetsnn.analysis.distributions`, so a fitted distribution (learned or biological)
can be sampled directly::

    tau = Distribution.biological("mouse VISp L4 spiny")   # gamma fitted to Allen cells
    hidden = quenched_hidden(key, 512, NeuronConfig(), tau)
"""

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from hetsnn.analysis.distributions import fit
from hetsnn.data import allen
from hetsnn.errors import ConfigError
from hetsnn.model import neurons
from hetsnn.model.neurons import NeuronConfig

FAMILIES = ("constant", "gamma", "lognormal", "uniform")
TAU_FLOOR = 1.01  # drawn tau_m below this multiple of dt are raised to it (k = dt/tau < 1)


@dataclass(frozen=True)
class Distribution:
    """A positive distribution of a neuron property.

    Attributes:
        family: one of FAMILIES.
        shape: gamma shape k or lognormal sigma; unused otherwise.
        scale: gamma scale theta, lognormal median e^mu, the constant's value, or the
            uniform's upper bound (unit of the property, ms for tau_m).
        low: the uniform's lower bound.
    """

    family: str
    scale: float
    shape: float = 1.0
    low: float = 0.0

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ConfigError(f"distribution family {self.family!r}: choose one of {FAMILIES}")
        if not self.scale > 0 or not self.shape > 0:
            raise ConfigError(
                f"{self.family} distribution needs scale > 0 and shape > 0, "
                f"got scale {self.scale}, shape {self.shape}"
            )
        if self.family == "uniform" and not 0 <= self.low < self.scale:
            raise ConfigError(f"uniform needs 0 <= low < high, got {self.low} and {self.scale}")

    @property
    def mean(self) -> float:
        return {
            "constant": self.scale,
            "gamma": self.shape * self.scale,
            "lognormal": self.scale * math.exp(self.shape**2 / 2),
            "uniform": (self.low + self.scale) / 2,
        }[self.family]

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``(n,)`` float32 draws."""
        if self.family == "constant":
            return jnp.full((n,), self.scale, jnp.float32)
        if self.family == "gamma":
            return self.scale * jax.random.gamma(key, self.shape, (n,))
        if self.family == "lognormal":
            return self.scale * jnp.exp(self.shape * jax.random.normal(key, (n,)))
        return jax.random.uniform(key, (n,), minval=self.low, maxval=self.scale)

    @classmethod
    def from_fit(cls, fit) -> "Distribution":
        """The distribution of a :class:`hetsnn.analysis.distributions.Fit`."""
        return cls(family=fit.family, shape=fit.shape, scale=fit.scale)

    @classmethod
    def biological(cls, population: str, family: str = "gamma") -> "Distribution":
        """``family`` fitted (location 0) to the membrane time constants (ms) of an Allen
        Cell Types population (labels in :data:`hetsnn.data.allen.POPULATIONS`)."""
        chosen = [p for p in allen.POPULATIONS if p.label == population]
        if not chosen:
            labels = [p.label for p in allen.POPULATIONS]
            raise ConfigError(f"unknown cell population {population!r}: choose one of {labels}")
        taus = allen.membrane_time_constants(allen.read_table(), chosen[0])
        return cls.from_fit(fit(taus, family))


def draw_taus(key: jax.Array, n: int, distribution: Distribution, dt: float) -> jax.Array:
    """``(n,)`` membrane time constants (ms) from ``distribution``. Draws at or below
    ``dt`` would make the Euler step unstable; they are raised to ``TAU_FLOOR * dt``."""
    return jnp.maximum(distribution.sample(key, n), TAU_FLOOR * dt)


def quenched_hidden(
    key: jax.Array, n: int, neuron: NeuronConfig, tau_m: Distribution
) -> neurons.NeuronParams:
    """``n`` neurons at ``neuron``'s defaults except tau_m, drawn once from ``tau_m`` (ms)
    by :func:`draw_taus`."""
    base = neuron.homogeneous(n)
    taus = draw_taus(key, n, tau_m, neuron.dt)
    return base.replace(tau_logit=neurons.tau_to_logit(taus, neuron.dt))
