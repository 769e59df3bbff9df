"""The run loop shared by every experiment: compile, train in chunks, checkpoint, resume.

It writes a run directory (:mod:`hetsnn.rundir` names its files and says what each holds).

After an interruption the run continues from ``checkpoint.npz``: every generation whose
chunk finished is kept, metrics lines past the checkpoint are dropped and recomputed
(identically, since the PRNG key is part of the checkpointed state).

Runs that share one compiled program (:func:`shares_program`: the same spec, different
trained properties) can train side by side (:func:`train_together`): their seeds go through
the program as one batch, and each run directory is written as if it had trained alone.
A checkpoint holds the seeds' ``GenomeBase`` (fixed parameters and which properties the
genome holds), so a checkpoint written before that was added does not load.
"""

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from hetsnn import interrupts, storage
from hetsnn.config import RunConfig
from hetsnn.errors import RunDirError, TrainingDiverged
from hetsnn.model.networks import NetworkParams
from hetsnn.provenance import provenance
from hetsnn.rundir import (
    CENTRES,
    CHECKPOINT,
    FINGERPRINT,
    METRICS,
    PROBES,
    PROPERTIES,
    QUANTILES,
    RESULT,
    SELECTION,
    centre_arrays,
    centre_keys,
    claim_run_dir,
    config_fingerprint,
    fingerprint_array,
    read_result,
)
from hetsnn.train import memory, programs, selection
from hetsnn.train.spec import RunSpec


def _stop_if_diverged(metrics: dict, done: int, config: RunConfig) -> None:
    """Raise TrainingDiverged if a seed's search state became non-finite in this chunk (the
    checkpoint before the chunk is kept; the chunk's metrics record ``search_finite``)."""
    if "search_finite" not in metrics:
        return
    finite = np.asarray(metrics["search_finite"])  # (length, seeds)
    if finite.all():
        return
    step, seed = np.argwhere(~finite)[0]
    raise TrainingDiverged(
        f"the search state of seed {seed} became non-finite at generation {done + step + 1} "
        f"(optimiser.std_init {config.optimiser.std_init:g}, lr {config.optimiser.lr:g}): "
        "the run stops without reporting numbers; lower them and retrain"
    )


def _stop_if_not_finite(config: RunConfig, spec: RunSpec, states, generation: int) -> None:
    """Raise TrainingDiverged if a seed's trainer state (either trainer:
    ``Trainer.state_is_finite``) or a trained property in natural units (a time constant
    whose logit ran off to -inf is an infinite tau) is not finite after ``generation``."""
    fix = (
        f"(optimiser.lr {config.optimiser.lr:g}): the run stops without reporting numbers; "
        "lower the learning rate (or the search std) and retrain"
    )
    finite = np.asarray(jax.vmap(lambda state: spec.trainer.state_is_finite(spec, state))(states))
    if not finite.all():
        seed = int(np.argmin(finite))
        raise TrainingDiverged(
            f"the trainer state of seed {seed} became non-finite by generation {generation} {fix}"
        )
    arrays = centre_arrays(programs.centres(spec, states), config.network.neuron)
    for name, values in arrays.items():
        bad = ~np.isfinite(values).reshape(values.shape[0], -1).all(axis=1)
        if bad.any():
            raise TrainingDiverged(
                f"{name} of seed {int(np.argmax(bad))} became non-finite by generation "
                f"{generation} {fix}"
            )


def _metric_rows(metrics: dict, first_generation: int) -> list[dict]:
    """Turn ``{name: (length, seeds)}`` arrays into one JSON row per generation."""
    arrays = {name: np.asarray(value) for name, value in metrics.items()}
    length = next(iter(arrays.values())).shape[0]
    rows = []
    for i in range(length):
        row = {"generation": first_generation + i + 1}
        row.update({name: values[i].tolist() for name, values in arrays.items()})
        rows.append(row)
    return rows


def train(
    config: RunConfig,
    run_dir: Path,
    *,
    progress: bool = True,
    description: str = "",
    on_chunk: Callable[[int], None] | None = None,
) -> dict:
    """Train (or finish training) the run in ``run_dir`` and return its result.

    Args:
        config: the run.
        run_dir: its directory; created, or resumed if it holds a checkpoint of ``config``.
        progress: show a progress bar on stderr.
        description: label of the progress bar.
        on_chunk: called with the number of finished generations after every checkpoint
            (used by tests to interrupt a run).
    """
    return train_together(
        [config], [run_dir], progress=progress, description=description, on_chunk=on_chunk
    )[0]


def shares_program(a: RunConfig, b: RunConfig) -> bool:
    """True when runs ``a`` and ``b`` can train side by side in one compiled program: their
    specs are equal (the same program) and their configs differ at most in *which*
    properties are trained (an ablation's subsets of one size)."""
    return (
        RunSpec.from_config(a) == RunSpec.from_config(b) and a.replace(trainable=b.trainable) == b
    )


def train_together(
    configs: list[RunConfig],
    run_dirs: list[Path],
    *,
    progress: bool = True,
    description: str = "",
    on_chunk: Callable[[int], None] | None = None,
) -> list[dict]:
    """Train the runs ``configs`` (each into its ``run_dirs`` entry, as :func:`train` does)
    with one compiled program: their seeds are stacked into one batch, so one program
    call advances every run by a chunk. The runs must pairwise :func:`shares_program`.

    Each run directory ends up as :func:`train` leaves it: its own metrics, checkpoints,
    probes and result, computed from its own seeds' keys. Runs whose checkpoints stand at
    different generations (an interrupted one-at-a-time run) train one after another.
    Returns the results in the order of ``configs``.
    """
    run_dirs = [Path(d) for d in run_dirs]
    if any(not shares_program(configs[0], c) for c in configs[1:]):
        raise ValueError("train_together needs runs that share one compiled program")
    memory.check_fits(RunSpec.from_config(configs[0]), configs[0].seeds * len(configs))
    for config, run_dir in zip(configs, run_dirs, strict=True):
        claim_run_dir(run_dir, config)
    # finished runs are read only (a read-only copy resumes too)
    results = {d: read_result(d) for d in run_dirs if (d / RESULT).exists()}
    pending = [(c, d) for c, d in zip(configs, run_dirs, strict=True) if d not in results]
    if pending:
        try:
            with contextlib.ExitStack() as stack:
                for _, run_dir in pending:
                    stack.enter_context(storage.locked(run_dir, "training this run"))
                results.update(_train_locked(pending, progress, description, on_chunk))
        except BlockingIOError as error:
            raise RunDirError(str(error)) from None
    return [results[d] for d in run_dirs]


def _resume_state(config: RunConfig, spec: RunSpec, run_dir: Path, states) -> tuple[Any, int]:
    """The checkpointed states and their generation, after every check; ``(states, 0)``
    without a checkpoint. Metrics, probes and properties past it are dropped, so they are
    recomputed identically."""
    done, path = 0, run_dir / CHECKPOINT
    fix = f"remove {run_dir} to retrain this run"
    if path.exists():
        states, meta = storage.load_pytree(path, states)
        done = meta.get("generation")
        fingerprint = meta.get("config")
        if fingerprint is None:
            raise RunDirError(f"{path} carries no config fingerprint, so its run is unknown: {fix}")
        if fingerprint != config_fingerprint(config):
            raise RunDirError(f"{path} was written by another config: {fix}")
        if not isinstance(done, int) or not 0 <= done <= config.generations:
            raise RunDirError(
                f"{path} holds generation {done!r}, outside 0..{config.generations}: {fix}"
            )
        finite = jax.vmap(lambda state: spec.trainer.state_is_finite(spec, state))(states)
        if not np.all(np.asarray(finite)):
            raise RunDirError(f"{path} holds a non-finite trainer state: {fix}")
    try:
        rows = storage.read_jsonl(run_dir / METRICS, torn_tail_ok=True)
        generations = [row.get("generation") for row in rows]
        if generations[:done] != list(range(1, done + 1)):
            raise storage.DamagedFile(
                f"{run_dir / METRICS} does not hold generations 1..{done} of the checkpoint"
            )
        storage.truncate_jsonl(
            run_dir / METRICS, lambda row: row.get("generation", done + 1) <= done
        )
        for name in (PROBES, PROPERTIES, SELECTION):
            storage.truncate_jsonl(run_dir / name, lambda row: row.get("generation", done) < done)
    except storage.DamagedFile as error:
        raise RunDirError(f"{error}: {fix}") from None
    return states, done


@dataclass
class _Run:
    """One run directory in training: its config, spec (its own ``rows``) and states."""

    config: RunConfig
    run_dir: Path
    spec: RunSpec
    states: Any


def _stack_seeds(trees: list) -> Any:
    """One tree holding every tree's seeds in order (the tree itself when it is alone)."""
    if len(trees) == 1:
        return trees[0]
    return jax.tree.map(lambda *xs: jnp.concatenate(xs), *trees)


def _split_seeds(tree: Any, count: int, axis: int = 0) -> list:
    """The inverse of :func:`_stack_seeds`: ``count`` equal parts of the seed ``axis``."""
    if count == 1:
        return [tree]
    size = jax.tree.leaves(tree)[0].shape[axis] // count
    return [
        jax.tree.map(
            lambda x, i=i: x[(slice(None),) * axis + (slice(i * size, (i + 1) * size),)], tree
        )
        for i in range(count)
    ]


def _train_locked(pending, progress, description, on_chunk) -> dict[Path, dict]:
    results = {}
    runs, dones = [], []
    for config, run_dir in pending:
        storage.remove_stale_temporaries(run_dir)
        if (run_dir / RESULT).exists():  # another process finished it while we waited
            results[run_dir] = read_result(run_dir)
            continue
        spec = RunSpec.from_config(config)
        states = programs.init_states(spec, config.network.neuron, config.seed, config.seeds)
        states, done = _resume_state(config, spec, run_dir, states)
        runs.append(_Run(config, run_dir, spec, states))
        dones.append(done)
    if len(set(dones)) > 1:  # checkpoints at different generations: one after another
        for run, done in zip(runs, dones, strict=True):
            results.update(_train_runs([run], done, progress, description, on_chunk))
    elif runs:
        results.update(_train_runs(runs, dones[0], progress, description, on_chunk))
    return results


def _train_runs(runs: list[_Run], done: int, progress, description, on_chunk):
    """Train ``runs`` (all at generation ``done``) to the end in one program; their results."""
    config, spec = runs[0].config, runs[0].spec  # the program's spec is the same for all
    train_data = jax.device_put(spec.task.load_data("train"))
    test_data = jax.device_put(spec.task.load_data("test"))
    select_data = selection.selection_data(spec.task)
    for run in runs:
        record_probe(run.spec, run.states, test_data, config.seed, done, run.run_dir)
        record_properties(run.config, run.spec, run.states, done, run.run_dir)
        selection.record_selection(run.config, run.spec, run.states, select_data, done, run.run_dir)
    seeds = config.seeds * len(runs)  # every run's seeds in one batch

    compile_seconds, train_seconds, trained = 0.0, 0.0, 0
    bar = tqdm(
        total=config.generations, initial=done, desc=description, disable=not progress, leave=False
    )
    with bar:
        while done < config.generations:
            length = min(config.chunk, config.generations - done)
            if trained == 0 or length != config.chunk:
                bar.set_postfix_str("compiling (cached per spec)", refresh=True)
            start = time.perf_counter()
            run_chunk = programs.compiled_chunk(spec, length, seeds)  # cached per spec
            compile_seconds += time.perf_counter() - start
            start = time.perf_counter()
            stacked = _stack_seeds([run.states for run in runs])
            stacked, metrics = jax.block_until_ready(run_chunk(stacked, train_data))
            train_seconds += time.perf_counter() - start
            states = _split_seeds(stacked, len(runs))
            run_metrics = _split_seeds(metrics, len(runs), axis=1)
            for run, run_states, mine in zip(runs, states, run_metrics, strict=True):
                run.states = run_states
                storage.append_jsonl(run.run_dir / METRICS, _metric_rows(mine, done))
                _stop_if_diverged(mine, done, run.config)
                _stop_if_not_finite(run.config, run.spec, run.states, done + length)
            done += length
            trained += length
            for run in runs:
                storage.save_pytree(
                    run.run_dir / CHECKPOINT,
                    run.states,
                    generation=done,
                    config=config_fingerprint(run.config),
                )
                record_probe(run.spec, run.states, test_data, config.seed, done, run.run_dir)
                record_properties(run.config, run.spec, run.states, done, run.run_dir)
                selection.record_selection(
                    run.config, run.spec, run.states, select_data, done, run.run_dir
                )
            bar.update(length)
            bar.set_postfix(centre=f"{float(np.mean(metrics['centre_reward'][-1])):.3g}")
            if on_chunk is not None:
                on_chunk(done)
            interrupts.stop_if_interrupted()  # a Ctrl-C that a callback swallowed

    results = {}
    for run in runs:
        result = _final_result(
            run.config, run.spec, run.states, test_data, run.run_dir,
            compile_seconds, train_seconds, trained, len(runs),
        )  # fmt: skip
        storage.write_json(run.run_dir / RESULT, result)
        results[run.run_dir] = result
    return results


def property_summaries(config: RunConfig, params: NetworkParams) -> dict:
    """Per trained neuron property: each seed's mean, std and coefficient of variation
    (std / |mean|) over the hidden layer, and its quantiles at ``QUANTILES`` (time constants
    in ms), in the neuron model's table order.
    ``params``: leading axis seeds. Empty for a run that trains weights only."""
    neuron = config.network.neuron
    arrays = centre_arrays(params, neuron)
    summaries = {}
    for name, stored in centre_keys(neuron).items():
        if name not in config.trainable:
            continue
        x = arrays[stored].astype(np.float64)
        mean, std = x.mean(axis=-1), x.std(axis=-1)
        summary = {
            "mean": mean,
            "std": std,
            "cv": std / np.maximum(np.abs(mean), 1e-12),
            "quantiles": np.quantile(x, QUANTILES, axis=-1).T,
        }
        summaries[name] = {k: v.tolist() for k, v in summary.items()}
    return summaries


def record_properties(config: RunConfig, spec: RunSpec, states, generation: int, run_dir: Path):
    """Append the trained properties' summaries at ``generation`` to properties.jsonl (runs
    that train neuron properties only); a resumed run records its checkpoint's generation
    again, with the same values."""
    summaries = property_summaries(config, programs.centres(spec, states))
    if summaries:
        storage.append_jsonl(run_dir / PROPERTIES, [{"generation": generation, **summaries}])


def record_probe(spec: RunSpec, states, data, seed: int, generation: int, run_dir: Path) -> None:
    """Append the task's probe of every seed at ``generation`` to probes.jsonl (if any).

    A resumed run first drops the probes from its checkpoint's generation on and records
    that generation again (probes are deterministic, so the values are the same).
    """
    recorded = programs.probe(spec, states, data, seed)
    if recorded is not None:
        row = {name: np.asarray(value).tolist() for name, value in recorded.items()}
        storage.append_jsonl(run_dir / PROBES, [{"generation": generation, **row}])


def _final_result(
    config, spec, states, test_data, run_dir, compile_seconds, train_seconds, trained, together
) -> dict:
    """The result of one run; ``together`` runs shared its program, and each is timed with
    an equal share of the program's training time."""
    seeds = config.seeds
    train_seconds = train_seconds / together

    def score(states):
        return programs.evaluate_centres(spec, states, test_data, config.eval_episodes, config.seed)

    centre_rewards = np.asarray(score(states))
    # the untrained network (generation 0) on the same episodes: the baseline of every gain
    initial = programs.init_states(spec, config.network.neuron, config.seed, seeds)
    initial_rewards = np.asarray(score(initial))
    centres = programs.centres(spec, states)
    storage.save_arrays(
        run_dir / CENTRES,
        **centre_arrays(centres, config.network.neuron),
        **{FINGERPRINT: fingerprint_array(config)},  # read_centres checks it
    )
    last = storage.read_jsonl(run_dir / METRICS)[-1]
    steps = programs.env_steps_per_generation(spec, seeds)
    return {
        "generations": config.generations,
        "trainable_parameters": spec.num_dims,
        "training_episodes_per_generation": spec.trainer.training_episodes_per_generation(spec),
        "final_centre_reward": centre_rewards.tolist(),
        "initial_centre_reward": initial_rewards.tolist(),
        "last_generation_reward_mean": last["reward_mean"],
        "last_generation_reward_std": last["reward_std"],
        "best_centre": selection.best_centre_result(config, spec, test_data, run_dir),
        "timing": {
            "compile_seconds": compile_seconds,
            "train_seconds": train_seconds,
            "generations_timed": trained,
            "seconds_per_generation": train_seconds / trained if trained else None,
            "env_steps_per_generation": steps,
            "env_steps_per_second": steps * trained / train_seconds if train_seconds else None,
            "runs_per_program": together,
            "backend": jax.default_backend(),
            "devices": jax.device_count(),
        },
        "provenance": provenance(),
    }
