"""Companion study 1 (docs/specification.md sec. 2): intrinsic heterogeneity as quenched disorder.

Reservoirs (rate and spiking, :mod:`hetsnn.model.reservoir`) whose time constants are drawn once
from a homogeneous (constant), gamma, lognormal, uniform or measured (Allen) distribution,
with only a ridge read-out trained, scored on the temporal suite
(:mod:`hetsnn.tasks.temporal`) at several sizes. Every distribution of a seed shares that
seed's weights and suite data, so the comparison isolates the time constants. Then the
robustness sweeps at one size: recurrent weights rescaled, and recurrent weights removed.

Results: ``cells/<kind>-N<size>-seed<s>.json`` and ``robustness/<kind>-seed<s>.json``,
each written atomically once its reservoirs are scored (a resumed run skips them).
"""

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jax

from hetsnn.errors import ConfigError
from hetsnn.model import reservoir
from hetsnn.model.heterogeneity import Distribution
from hetsnn.model.neuron_models import neuron_model
from hetsnn.studies.suite import suite_scores
from hetsnn.tasks.temporal import SuiteConfig, make_suite
from hetsnn.train.jobs import Job
from hetsnn.validate import typed_fields

BIOLOGICAL = {"allen-mouse": "mouse VISp L4 spiny", "allen-human": "human MTG spiny"}
MATCHED = ("homogeneous", "gamma", "lognormal", "uniform")  # share tau_mean (and tau_cv)


@dataclass(frozen=True)
class QuenchedSettings:
    """Attributes:
    kinds: reservoir kinds (``rate``, ``spiking``).
    sizes: reservoir sizes N compared.
    distributions: tau_m distributions, names in MATCHED or BIOLOGICAL.
    tau_mean, tau_cv: mean (ms) and coefficient of variation of the matched
        distributions (homogeneous: every neuron at tau_mean).
    seeds: weight / data draws per point.
    suite: the temporal task suite.
    ridge_alpha: relative ridge penalty of the read-outs.
    robustness_size: N of the robustness sweeps.
    scales: factors the recurrent weights are multiplied by.
    removed: fractions of recurrent weights set to zero.
    """

    sizes: tuple[int, ...]
    seeds: int
    robustness_size: int
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    kinds: tuple[str, ...] = ("rate", "spiking")
    distributions: tuple[str, ...] = ("homogeneous", "gamma", "lognormal", "uniform")
    tau_mean: float = 20.0
    tau_cv: float = 0.5
    ridge_alpha: float = 1e-4
    scales: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0)
    removed: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    neuron: str = "lif"

    def __post_init__(self):
        typed_fields(self, "quenched")
        neuron_model(self.neuron)  # the spiking reservoirs' neurons; unknown: one line
        unknown = set(self.distributions) - set(MATCHED) - set(BIOLOGICAL)
        if unknown:
            raise ConfigError(
                f"unknown tau_m distributions {sorted(unknown)}: choose from "
                f"{list(MATCHED) + list(BIOLOGICAL)}"
            )
        if "homogeneous" not in self.distributions:
            raise ConfigError("the quenched study compares against 'homogeneous': keep it")
        bad_kinds = set(self.kinds) - set(reservoir.KINDS)
        if bad_kinds:
            raise ConfigError(f"unknown reservoir kinds {sorted(bad_kinds)}")
        if self.seeds < 1 or min(self.sizes) < 1 or self.robustness_size < 1:
            raise ConfigError("quenched needs seeds >= 1 and sizes >= 1")
        if not self.tau_cv > 0 or not self.tau_mean > 0:
            raise ConfigError("quenched needs tau_mean > 0 ms and tau_cv > 0")
        if "uniform" in self.distributions and self.tau_cv > 1 / math.sqrt(3):
            raise ConfigError(
                f"a uniform distribution on [0, 2 mean] has cv <= 0.577; tau_cv "
                f"{self.tau_cv} needs dropping 'uniform' or a smaller tau_cv"
            )
        if any(not 0 <= r <= 1 for r in self.removed) or any(x < 0 for x in self.scales):
            raise ConfigError("removed fractions must be in [0, 1] and scales >= 0")


def tau_distribution(name: str, mean: float, cv: float) -> Distribution:
    """The named distribution; MATCHED ones have the given mean (ms) and cv."""
    if name in BIOLOGICAL:
        return Distribution.biological(BIOLOGICAL[name])
    if name == "homogeneous":
        return Distribution("constant", mean)
    if name == "gamma":
        return Distribution("gamma", scale=mean * cv**2, shape=1 / cv**2)
    if name == "lognormal":
        return Distribution(
            "lognormal", scale=mean / math.sqrt(1 + cv**2), shape=math.sqrt(math.log(1 + cv**2))
        )
    half_width = math.sqrt(3) * cv * mean
    return Distribution("uniform", scale=mean + half_width, low=mean - half_width)


def distributions(s: QuenchedSettings) -> dict[str, Distribution]:
    return {name: tau_distribution(name, s.tau_mean, s.tau_cv) for name in s.distributions}


@cache
def _scorer(dynamics: reservoir.Dynamics, suite: SuiteConfig, alpha: float):
    """Compiled: stacked reservoirs (leading axis R) and suite data -> scores ``(R, V)``
    and rates ``(R,)``; reservoirs go one after another (``lax.map``) to bound memory."""

    def score(stacked, data):
        out = jax.lax.map(lambda r: suite_scores(r, data, dynamics, suite, alpha), stacked)
        return out["scores"], out["rate_hz"]

    return jax.jit(score)


def _draw(
    dists: list[Distribution], kind: str, n: int, seed: int, neuron: str = "lif"
) -> list[reservoir.Reservoir]:
    """One reservoir per distribution: same weights (seed), time constants from each."""
    keys = reservoir.seed_keys(seed)
    return [
        reservoir.init(
            keys["weights"],
            1,
            reservoir.ReservoirConfig(n, kind, dist, neuron=neuron_model(neuron).config()),
            tau_key=keys["tau"],
        )
        for dist in dists
    ]


def _score(s: QuenchedSettings, kind: str, reservoirs, seed: int):
    config = reservoir.ReservoirConfig(1, kind, neuron=neuron_model(s.neuron).config())
    dynamics = config.dynamics
    scores, rates = _scorer(dynamics, s.suite, s.ridge_alpha)(
        reservoir.stack(reservoirs), make_suite(1000 + seed, s.suite)
    )
    return scores.tolist(), rates.tolist()


def cell_path(out: Path, kind: str, n: int, seed: int) -> Path:
    return Path(out) / "cells" / f"{kind}-N{n}-seed{seed}.json"


def robustness_path(out: Path, kind: str, seed: int) -> Path:
    return Path(out) / "robustness" / f"{kind}-seed{seed}.json"


def jobs(s: QuenchedSettings) -> list[Job]:
    """One job per (kind, size, seed) cell, then one robustness sweep per (kind, seed)."""
    names = list(s.distributions)
    dists = list(distributions(s).values())  # read and fit the Allen table once

    def cell(kind: str, n: int, seed: int) -> dict:
        scores, rates = _score(s, kind, _draw(dists, kind, n, seed, s.neuron), seed)
        return {"distributions": names, "scores": scores, "rate_hz": rates}

    def sweep(kind: str, seed: int) -> dict:
        base = _draw(dists, kind, s.robustness_size, seed, s.neuron)
        key = reservoir.seed_keys(seed)["perturb"]  # same synapses for every tau
        perturbed = [reservoir.perturb(r, key, scale=x) for r in base for x in s.scales]
        perturbed += [reservoir.perturb(r, key, removed=x) for r in base for x in s.removed]
        scores, _ = _score(s, kind, perturbed, seed)
        n_scales = len(names) * len(s.scales)
        return {
            "distributions": names,
            "scales": list(s.scales),
            "removed": list(s.removed),
            "scale_scores": scores[:n_scales],  # (distribution, scale) flattened
            "removed_scores": scores[n_scales:],
        }

    cells = [
        Job(
            str(cell_path(".", k, n, seed)),
            lambda out, progress, k=k, n=n, seed=seed: cell(k, n, seed),
        )
        for k in s.kinds
        for n in s.sizes
        for seed in range(s.seeds)
    ]
    sweeps = [
        Job(
            str(robustness_path(".", k, seed)), lambda out, progress, k=k, seed=seed: sweep(k, seed)
        )
        for k in s.kinds
        for seed in range(s.seeds)
    ]
    return cells + sweeps
