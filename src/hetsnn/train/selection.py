"""The best centre over periodic evaluations: the third statistic a run reports.

A run reports three numbers per seed (docs/reproduction.md, "which statistic"):

* the **final centre** on the task's final score (``final_centre_reward``);
* the **population** of the last generation, its mean and std over individuals
  (``last_generation_reward_mean`` / ``_std``): what the paper's section 6.2 reports;
* the **best centre** over periodic evaluations (``best_centre``), as EvoJAX's ``Trainer``
  keeps the best test score of its evaluations every ``test_interval`` iterations, but
  *chosen on a selection split that is never the test split*: held-out validation images
  for image tasks (``validation_images``), greedy episodes of their own key stream for
  simulated tasks. The chosen centre is then scored once on the final split.

After every chunk (and at generation 0) each seed's centre is scored on the selection
split (``selection.jsonl``); the best so far is kept in ``best.npz`` (written before the
score's row, so a resumed run that re-scores its checkpoint's generation finds the best up
to it). Image tasks without validation images record no selection (``best_centre`` is
None and says why).
"""

from pathlib import Path

import jax
import numpy as np

from hetsnn import storage
from hetsnn.config import RunConfig
from hetsnn.rundir import BEST, SELECTION, centre_arrays, centres_to_params
from hetsnn.train import programs
from hetsnn.train.spec import RunSpec

NO_SPLIT = "image task without validation_images: no held-out split to choose on"


def selection_split(task) -> str | None:
    """``"validation"`` for an image task with held-out images, None for one without,
    ``"episodes"`` for a simulated task."""
    if not task.supervised:
        return "episodes"
    return "validation" if getattr(task, "validation_images", 0) else None


def selection_data(task):
    """The data the selection evaluations run on (device arrays): the validation images,
    or a simulated task's data (Brax's observation normaliser; None for gymnax)."""
    split = selection_split(task)
    if split is None:
        return None
    return jax.device_put(task.load_data("validation" if split == "validation" else "test"))


def record_selection(config: RunConfig, spec: RunSpec, states, data, generation: int, run_dir):
    """Score every seed's centre at ``generation`` on the selection split, keep the best in
    ``best.npz`` and append the scores to ``selection.jsonl`` (nothing without a split)."""
    if selection_split(spec.task) is None:
        return
    run_dir = Path(run_dir)
    centres = programs.centres(spec, states)
    scores = np.asarray(
        programs.evaluate_params(
            spec, centres, data, config.eval_episodes, config.seed, programs.SELECTION_STREAM
        )
    )
    fresh = {
        **centre_arrays(centres, config.network.neuron),
        "generation": np.full(scores.shape, generation, np.int64),
        "score": scores,
    }
    path = run_dir / BEST
    better = np.ones(scores.shape, bool)
    if path.exists():
        best = storage.load_arrays(path)
        better = scores > best["score"]  # ties keep the earlier centre
        fresh = {
            name: np.where(better.reshape(-1, *[1] * (value.ndim - 1)), value, best[name])
            for name, value in fresh.items()
        }
    if better.any():
        storage.save_arrays(path, **fresh)
    storage.append_jsonl(
        run_dir / SELECTION, [{"generation": generation, "score": scores.tolist()}]
    )


def best_centre_result(config: RunConfig, spec: RunSpec, test_data, run_dir) -> dict:
    """``result.json``'s ``best_centre``: the split, each seed's chosen generation, its
    selection score and its final score (on the final split, as ``final_centre_reward``)."""
    split = selection_split(spec.task)
    path = Path(run_dir) / BEST
    if split is None or not path.exists():
        return {"split": None, "why": NO_SPLIT}
    best = storage.load_arrays(path)
    params = centres_to_params(best, config.network.neuron)
    final = programs.evaluate_params(spec, params, test_data, config.eval_episodes, config.seed)
    return {
        "split": split,
        "generation": best["generation"].tolist(),
        "selection_score": best["score"].tolist(),
        "final_score": np.asarray(final).tolist(),
    }
