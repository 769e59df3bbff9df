"""``hetsnn probe RUN --noise``: would a trained solution survive noise?

A decision margin of 1e-4 still decides in a noise-free simulation (the memory task's
margins section). This probe turns "would it survive noise" into scores: each finished
point's final centres are re-scored, on the episodes (or test split) of their final score,

* with Gaussian **membrane noise**: every hidden neuron's potential gets ``N(0, sigma^2)``
  added at every simulation step before it fires (``FeedforwardSNN.membrane_noise``), for
  sigma in ``LEVELS`` (voltage; the default threshold gap ``v_th - v_rest`` is 0.5), over
  at least ``NOISY_EPISODES`` episodes of a simulated task (the first ones of the final
  score's, so the memory task's cues still alternate);
* with **parameter perturbations** at the run's final search std: ``DRAWS`` draws of
  ``centre + std * N(0, I)`` in the optimiser's coordinates, i.e. the individuals the
  final search distribution would propose (evolution-strategy runs whose strategy keeps a
  per-coordinate ``std``; BPTT runs have none, and say so).

Writes ``report/noise.md`` and ``report/noise.csv``.
"""

import dataclasses
from pathlib import Path

import jax
import numpy as np

from hetsnn import storage
from hetsnn.errors import RunDirError
from hetsnn.report.common import csv_table, finished_points, fmt, read_manifest
from hetsnn.rundir import CHECKPOINT, load_centres, read_config
from hetsnn.train import programs
from hetsnn.train.spec import RunSpec

LEVELS = (0.01, 0.05, 0.1, 0.2)  # membrane-noise std, voltage
DRAWS = 8  # parameter perturbations per seed
NOISY_EPISODES = 32  # at least this many episodes per noisy score (simulated tasks)
_PERTURB_SEED = 0x9E27


def membrane_noise_scores(spec, config, params, data, levels=LEVELS) -> dict[float, np.ndarray]:
    """``{sigma: (seeds,) scores}`` of ``params`` with membrane noise of std sigma."""
    scores = {}
    for sigma in levels:
        noisy = dataclasses.replace(
            spec, network=dataclasses.replace(spec.network, membrane_noise=float(sigma))
        )
        episodes = max(config.eval_episodes, NOISY_EPISODES)
        scores[sigma] = np.asarray(
            programs.evaluate_params(noisy, params, data, episodes, config.seed)
        )
    return scores


def perturbation_scores(spec, config, folder: Path, data, draws: int = DRAWS):
    """``(draws, seeds)`` scores of the final search distribution's draws around each
    seed's centre, or None when the run's trainer keeps no per-coordinate std."""
    states = programs.init_states(spec, config.network.neuron, config.seed, config.seeds)
    states, _ = storage.load_pytree(folder / CHECKPOINT, states)
    std = getattr(getattr(states, "search", None), "std", None)
    if std is None or np.ndim(std) != 2:
        return None
    centres = jax.vmap(lambda state: spec.trainer.centre(spec, state))(states)
    keys = jax.random.split(jax.random.key(_PERTURB_SEED), draws)
    rows = []
    for key in keys:
        flat = centres + std * jax.random.normal(key, centres.shape)
        params = jax.vmap(spec.genome.unflatten)(flat, states.base)
        rows.append(programs.evaluate_params(spec, params, data, config.eval_episodes, config.seed))
    return np.asarray(rows)


def point_noise(folder: Path) -> dict:
    """The noise probe of one finished run: trained scores, membrane-noise scores per
    level and the perturbation scores (None for BPTT), per seed."""
    config = read_config(folder)
    spec = RunSpec.from_config(config)
    params = load_centres(folder, config.network.neuron)
    data = spec.task.load_data("test")
    trained = np.asarray(
        programs.evaluate_params(spec, params, data, config.eval_episodes, config.seed)
    )
    return {
        "trained": trained,
        "membrane": membrane_noise_scores(spec, config, params, data),
        "perturbed": perturbation_scores(spec, config, folder, data),
    }


def run_noise_probe(run_dir: Path) -> str:
    """Probe every finished point of ``run_dir``; write ``report/noise.md`` and
    ``noise.csv``; return the Markdown."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    header = ["arm", manifest["x_label"], "trained"]
    header += [f"membrane sigma {s:g}" for s in LEVELS] + [f"search std ({DRAWS} draws)"]
    lines = [
        f"# Noise probe: {manifest['experiment']} ({manifest['preset']})",
        "",
        "Final score of the trained centres (mean over seeds), re-scored on the same "
        "episodes or test split with Gaussian membrane noise of std sigma (voltage; the "
        "default threshold gap is 0.5) at every step, and for the final search "
        "distribution's draws around each centre (mean over draws and seeds).",
        "",
        "| " + " | ".join(header) + " |",
        "| --- |" + " --- |" * (len(header) - 1),
    ]
    rows = []
    for point, folder in finished_points(run_dir, manifest):
        probe = point_noise(folder)
        perturbed = probe["perturbed"]
        cells = [point["arm"], f"{point['x']:g}", fmt(probe["trained"].mean())]
        cells += [fmt(probe["membrane"][s].mean()) for s in LEVELS]
        cells.append("n/a (no search std)" if perturbed is None else fmt(perturbed.mean()))
        lines.append("| " + " | ".join(cells) + " |")
        row = {"arm": point["arm"], "x": point["x"], "trained": float(probe["trained"].mean())}
        row.update({f"membrane_{s:g}": float(probe["membrane"][s].mean()) for s in LEVELS})
        row["perturbed"] = None if perturbed is None else float(perturbed.mean())
        rows.append(row)
    if not rows:
        raise RunDirError(f"{run_dir} has no finished run to probe")
    table = "\n".join(lines) + "\n"
    out = run_dir / "report"
    storage.atomic_write_bytes(out / "noise.md", table.encode())
    storage.atomic_write_bytes(out / "noise.csv", csv_table(rows).encode())
    return table
