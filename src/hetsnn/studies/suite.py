"""Scores of one reservoir on the temporal task suite (:mod:`hetsnn.tasks.temporal`).

:func:`suite_scores` runs the reservoir on the suite's streams and sequences, fits one
ridge read-out per generator on the training part and scores every variant on the test
part; it is a pure function of the reservoir, so one compiled program maps over stacked
reservoirs of equal shapes (seeds, tau distributions, perturbations).
:func:`family_scores` condenses the vector into the numbers the report compares.
"""

import jax
import jax.numpy as jnp
import numpy as np

from hetsnn.model.reservoir import Dynamics, Reservoir, final_features, run
from hetsnn.studies import readout
from hetsnn.tasks.temporal import SuiteConfig, SuiteData, stream_masks


def suite_scores(
    reservoir: Reservoir,
    data: SuiteData,
    dynamics: Dynamics,
    suite: SuiteConfig,
    alpha: float,
) -> dict:
    """Every variant's test score and the reservoir's activity.

    Returns:
        ``scores: (n_variants,)`` in the order of ``suite.variant_names()``: recall
        ``m(d)``, NARMA R^2 clipped at 0, pattern accuracy; ``rate_hz``: mean firing rate
        over the recall stream (spiking kind; NaN for rate reservoirs).
    """
    train, test = stream_masks(suite)
    features, spikes = run(reservoir, data.recall_inputs, dynamics)
    fitted = readout.fit_ridge(features, data.recall_targets, alpha, train)
    recall = readout.squared_correlation(fitted(features), data.recall_targets, test)

    narma_features, _ = run(reservoir, data.narma_inputs, dynamics)
    fitted = readout.fit_ridge(narma_features, data.narma_targets, alpha, train)
    narma = jnp.maximum(readout.r_squared(fitted(narma_features), data.narma_targets, test), 0)

    classes = jnp.array([c for _, c, _ in suite.pattern_variants])
    n_train = int(suite.train_fraction * suite.pattern_samples)
    final_state = jax.vmap(jax.vmap(lambda x: final_features(reservoir, x, dynamics)))
    pattern = jax.vmap(lambda f, y, c: _pattern_accuracy(f, y, c, n_train, alpha, suite))(
        final_state(data.pattern_inputs), data.pattern_labels, classes
    )
    if spikes is None:
        rate = jnp.float32(jnp.nan)
    else:
        rate = spikes[suite.washout :].mean() * 1000.0 / dynamics.dt
    return {"scores": jnp.concatenate([recall, narma, pattern]), "rate_hz": rate}


def _pattern_accuracy(final, labels, classes, n_train, alpha, suite: SuiteConfig):
    """Test accuracy of a ridge classifier on ``final: (S, N)`` states (first ``n_train``
    samples train it); classes beyond the variant's ``classes`` are never predicted."""
    max_classes = max(suite.pattern_classes)
    samples = final.shape[0]
    train = (jnp.arange(samples) < n_train).astype(final.dtype)
    fitted = readout.fit_ridge(final, jax.nn.one_hot(labels, max_classes), alpha, train)
    scores = jnp.where(jnp.arange(max_classes) < classes, fitted(final), -jnp.inf)
    hit = (jnp.argmax(scores, axis=-1) == labels).astype(final.dtype)
    return jnp.sum(hit * (1 - train)) / (samples - n_train)


FAMILIES = ("memory capacity", "NARMA R2", "pattern above chance", "suite score")


def family_scores(scores: np.ndarray, suite: SuiteConfig) -> dict[str, np.ndarray]:
    """Condense ``scores: (..., n_variants)`` to the report's numbers, each ``(...)``:

    * memory capacity: ``sum_d m(d)`` (steps);
    * NARMA R2: mean over orders;
    * pattern above chance: mean over variants of ``(acc - 1/C) / (1 - 1/C)``;
    * suite score: mean of MC / n_delays, NARMA R2 and pattern above chance, each in [0, 1]
      (pattern clipped at 0), so every generator weighs the same.
    """
    scores = np.asarray(scores)
    n_delays, n_narma = len(suite.delays), len(suite.narma_orders)
    recall = scores[..., :n_delays]
    narma = scores[..., n_delays : n_delays + n_narma]
    pattern = scores[..., n_delays + n_narma :]
    chance = np.array([1 / c for _, c, _ in suite.pattern_variants])
    above = (pattern - chance) / (1 - chance)
    parts = [recall.mean(-1), narma.mean(-1), np.clip(above, 0, None).mean(-1)]
    return dict(
        zip(
            FAMILIES,
            [recall.sum(-1), narma.mean(-1), above.mean(-1), np.mean(parts, 0)],
            strict=True,
        )
    )
