"""A suite of temporal tasks generated in code, for reservoirs with a trained read-out.

Three generators give many variants each (docs/specification.md section 2, quenched heterogeneity):

* **recall** (memory capacity, Jaeger 2001): input ``u(t) ~ U[-1, 1]``; variant ``d`` asks
  for ``u(t - d)``. Score ``m(d)``: squared correlation of prediction and target; the sum
  over delays is the memory capacity.
* **NARMA-n** (Atiya and Parlos 2000): input ``u(t) ~ U[0, 0.5]``; target the next value of
  ``y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i<n} y(t-i) + 1.5 u(t-n+1) u(t) + 0.1``, squashed by
  tanh for n > 10 (unbounded otherwise). Score R^2, clipped at 0 (a read-out worse than
  the mean predicts nothing).
* **pattern**: classify noisy copies of C random template sequences of length L
  (templates ~ N(0, 1), noise ~ N(0, sigma^2) per step) from the reservoir state at the
  sequence's last step. Score accuracy, and above chance ``(acc - 1/C) / (1 - 1/C)``.

All variants of a generator share one input stream (recall, NARMA) or one batch of
sequences (patterns), so a suite of hundreds of variants costs a few scans.
"""

import itertools
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from hetsnn.errors import ConfigError
from hetsnn.validate import typed_fields


@dataclass(frozen=True)
class SuiteConfig:
    """The variants of the suite and the size of its data.

    Attributes:
        stream_steps: steps of the recall and NARMA streams after the washout.
        washout: initial steps whose states are discarded (>= the longest delay).
        train_fraction: share of the post-washout stream (and of the pattern samples) the
            read-out is fitted on; the rest is the test set every score is taken on.
        delays: recall variants, in steps.
        narma_orders: NARMA variants.
        pattern_classes, pattern_noise, pattern_lengths: the pattern grid (every
            combination is one variant).
        pattern_samples: sequences per pattern variant (train + test).
    """

    stream_steps: int = 2000
    washout: int = 100
    train_fraction: float = 0.7
    delays: tuple[int, ...] = tuple(range(1, 41))
    narma_orders: tuple[int, ...] = (2, 5, 10, 20)
    pattern_classes: tuple[int, ...] = (2, 5, 10)
    pattern_noise: tuple[float, ...] = (0.5, 1.0, 2.0)
    pattern_lengths: tuple[int, ...] = (10, 30)
    pattern_samples: int = 200

    def __post_init__(self):
        typed_fields(self, "suite")
        if not self.delays or min(self.delays) < 1:
            raise ConfigError(f"suite delays must be >= 1 steps, got {self.delays}")
        if self.washout < max(self.delays):
            raise ConfigError(
                f"suite washout ({self.washout}) must be at least the longest delay "
                f"({max(self.delays)}) so that every recall target exists"
            )
        if not 0 < self.train_fraction < 1:
            raise ConfigError(f"suite train_fraction must be in (0, 1), got {self.train_fraction}")
        grids = (self.narma_orders, self.pattern_classes, self.pattern_noise, self.pattern_lengths)
        if not all(grids):
            raise ConfigError("the suite needs at least one NARMA order and one pattern variant")
        if min(self.narma_orders) < 1 or min(self.pattern_classes) < 2:
            raise ConfigError("NARMA orders must be >= 1 and pattern classes >= 2")
        if self.pattern_samples < 4 or self.stream_steps < 10:
            raise ConfigError("the suite needs pattern_samples >= 4 and stream_steps >= 10")

    @property
    def pattern_variants(self) -> list[tuple[int, int, float]]:
        """``(length, classes, noise)`` of every pattern variant."""
        return list(
            itertools.product(self.pattern_lengths, self.pattern_classes, self.pattern_noise)
        )

    def variant_names(self) -> list[str]:
        """Every variant, in the order of :func:`hetsnn.studies.suite.suite_scores`' vector."""
        return (
            [f"recall-d{d}" for d in self.delays]
            + [f"narma-{n}" for n in self.narma_orders]
            + [f"pattern-L{length}-C{c}-s{noise:g}" for length, c, noise in self.pattern_variants]
        )


# A suite small enough for smoke presets and tests (13 variants, 310-step streams).
SMOKE_SUITE = SuiteConfig(
    stream_steps=300,
    washout=10,
    delays=tuple(range(1, 11)),
    narma_orders=(2, 5),
    pattern_classes=(2,),
    pattern_noise=(1.0,),
    pattern_lengths=(5,),
    pattern_samples=40,
)


@struct.dataclass
class SuiteData:
    """One draw of the suite's data.

    Attributes:
        recall_inputs: ``(T, 1)`` with ``T = washout + stream_steps``.
        recall_targets: ``(T, n_delays)``, ``u(t - d)`` (0 before the stream starts).
        narma_inputs: ``(T, 1)``.
        narma_targets: ``(T, n_orders)``, ``y(t + 1)`` of each order.
        pattern_inputs: ``(V, S, L, 1)`` for the V pattern variants, ``L`` the longest
            length (shorter sequences are preceded by zeros).
        pattern_labels: ``(V, S)`` int32.
    """

    recall_inputs: jax.Array
    recall_targets: jax.Array
    narma_inputs: jax.Array
    narma_targets: jax.Array
    pattern_inputs: jax.Array
    pattern_labels: jax.Array


def delayed(u: np.ndarray, delays) -> np.ndarray:
    """``(T,)`` -> ``(T, len(delays))`` with column ``j`` = ``u(t - delays[j])``, 0 before."""
    return np.stack([np.concatenate([np.zeros(d), u[:-d]]) for d in delays], axis=1)


def narma(u: np.ndarray, order: int) -> np.ndarray:
    """NARMA-``order`` output aligned with its input: element ``t`` is ``y(t + 1)``, the
    value that ``u(t)`` completes; ``u: (T,)`` -> ``(T,)`` (a recursion, run once on the
    host when the suite is drawn)."""
    y = np.zeros(len(u) + 1)
    for t in range(len(u)):
        window = y[max(0, t - order + 1) : t + 1]  # y(t - order + 1) .. y(t)
        u_old = u[t - order + 1] if t >= order - 1 else 0.0
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * window.sum() + 1.5 * u_old * u[t] + 0.1
        if order > 10:
            y[t + 1] = np.tanh(y[t + 1])
    return y[1:]


def patterns(rng, classes: int, noise: float, length: int, samples: int, padded: int):
    """``samples`` noisy copies of ``classes`` random templates of ``length`` steps, each
    preceded by ``padded - length`` steps of zero input (so that variants of every length
    share one batch; the reservoir sees the same lead-in for every sample).

    Returns ``(inputs (samples, padded, 1), labels (samples,) int32)``; labels are balanced
    (``arange(samples) % classes``, shuffled)."""
    templates = rng.standard_normal((classes, length))
    labels = rng.permutation(np.arange(samples) % classes)
    inputs = templates[labels] + noise * rng.standard_normal((samples, length))
    inputs = np.pad(inputs, ((0, 0), (padded - length, 0)))
    return inputs[..., None], labels.astype(np.int32)


@lru_cache(maxsize=32)
def make_suite(seed: int, suite: SuiteConfig) -> SuiteData:
    """Draw the suite's inputs and targets (``seed`` fixes them all), float32 arrays.

    Cached: a study scores every size, kind and search trial of a seed on the same data."""
    rng = np.random.default_rng(seed)
    steps = suite.washout + suite.stream_steps
    recall = rng.uniform(-1.0, 1.0, steps)
    narma_u = rng.uniform(0.0, 0.5, steps)
    padded = max(suite.pattern_lengths)
    drawn = [
        patterns(rng, classes, noise, length, suite.pattern_samples, padded)
        for length, classes, noise in suite.pattern_variants
    ]
    data = SuiteData(
        recall_inputs=recall[:, None],
        recall_targets=delayed(recall, suite.delays),
        narma_inputs=narma_u[:, None],
        narma_targets=np.stack([narma(narma_u, n) for n in suite.narma_orders], axis=1),
        pattern_inputs=np.stack([x for x, _ in drawn]),
        pattern_labels=np.stack([y for _, y in drawn]),
    )
    return jax.tree.map(
        lambda x: jnp.asarray(x, jnp.int32 if x.dtype == np.int32 else jnp.float32), data
    )


def stream_masks(suite: SuiteConfig) -> tuple[jax.Array, jax.Array]:
    """``(train, test)`` 0/1 masks ``(T,)`` over a stream: washout, then train, then test."""
    t = jnp.arange(suite.washout + suite.stream_steps)
    split = suite.washout + int(suite.train_fraction * suite.stream_steps)
    train = (t >= suite.washout) & (t < split)
    return train.astype(jnp.float32), (t >= split).astype(jnp.float32)
