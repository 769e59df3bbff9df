import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import Interrupt, interrupt_after

from hetsnn import storage
from hetsnn.config import (
    GradientConfig,
    NetworkConfig,
    NeuronConfig,
    RunConfig,
    StrategyConfig,
)
from hetsnn.errors import RunDirError, TrainingDiverged
from hetsnn.rundir import CHECKPOINT, METRICS, PROPERTIES, RESULT, config_fingerprint
from hetsnn.tasks import CartPoleTask, MemoryTask
from hetsnn.train import programs
from hetsnn.train.loop import train
from hetsnn.train.spec import RunSpec

CONFIG = RunConfig(
    CartPoleTask(max_steps=40, episodes=1),
    NetworkConfig(n_hidden=8),
    StrategyConfig(population=8),
    generations=6,
    seeds=2,
    chunk=2,
    eval_episodes=2,
)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("full")
    result = train(CONFIG, run_dir, progress=False)
    return run_dir, result


def test_run_writes_metrics_checkpoint_and_result(uninterrupted):
    run_dir, result = uninterrupted
    rows = storage.read_jsonl(run_dir / METRICS)
    assert [row["generation"] for row in rows] == list(range(1, 7))
    assert all(len(row["centre_reward"]) == CONFIG.seeds for row in rows)
    assert len(result["final_centre_reward"]) == CONFIG.seeds
    assert result["trainable_parameters"] == 4 * 8
    assert (run_dir / CHECKPOINT).exists() and (run_dir / "centres.npz").exists()
    with np.load(run_dir / "centres.npz") as centres:
        assert centres["tau_m"].shape == (CONFIG.seeds, 8)
        assert np.all(centres["tau_m"] > CONFIG.network.neuron.dt)
        final_tau = centres["tau_m"].astype(np.float64)
    history = storage.read_jsonl(run_dir / PROPERTIES)
    assert [row["generation"] for row in history] == [0, 2, 4, 6]
    assert set(history[0]) == {"generation", "tau_m", "v_th", "v_rest", "R"}
    np.testing.assert_allclose(history[0]["tau_m"]["cv"], 0.0, atol=1e-6)  # homogeneous start
    np.testing.assert_allclose(history[-1]["tau_m"]["mean"], final_tau.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(history[-1]["tau_m"]["quantiles"][0][-1], final_tau[0].max())


def test_interrupted_run_resumes_to_identical_numbers(uninterrupted, tmp_path):
    full_dir, full_result = uninterrupted
    with pytest.raises(Interrupt):
        train(CONFIG, tmp_path, progress=False, on_chunk=interrupt_after(4))
    assert not (tmp_path / RESULT).exists()
    assert len(storage.read_jsonl(tmp_path / METRICS)) == 4  # no finished generation lost
    # A crash between writing metrics and the checkpoint leaves stray lines: they go.
    storage.append_jsonl(tmp_path / METRICS, [{"generation": 5, "centre_reward": [1e9, 1e9]}])

    resumed = train(CONFIG, tmp_path, progress=False)
    assert storage.read_jsonl(tmp_path / METRICS) == storage.read_jsonl(full_dir / METRICS)
    for name in (METRICS, PROPERTIES):  # the files themselves, byte for byte
        assert (tmp_path / name).read_bytes() == (full_dir / name).read_bytes()
    assert resumed["final_centre_reward"] == full_result["final_centre_reward"]
    assert resumed["timing"]["generations_timed"] == 2


def test_finished_run_is_not_retrained(uninterrupted):
    run_dir, result = uninterrupted
    before = (run_dir / METRICS).stat().st_mtime_ns
    assert train(CONFIG, run_dir, progress=False) == result
    assert (run_dir / METRICS).stat().st_mtime_ns == before


def test_different_config_in_the_same_directory_is_refused(uninterrupted):
    run_dir, _ = uninterrupted
    with pytest.raises(RunDirError, match="different config.*generations"):
        train(CONFIG.replace(generations=8), run_dir, progress=False)


def test_points_that_differ_only_in_numbers_share_compiled_programs(uninterrupted):
    longer_tau = CONFIG.replace(network=NetworkConfig(n_hidden=8, neuron=NeuronConfig(tau_m=80.0)))
    assert RunSpec.from_config(longer_tau) == RunSpec.from_config(CONFIG)
    hits = programs.compiled_chunk.cache_info().hits
    programs.compiled_chunk(RunSpec.from_config(longer_tau), CONFIG.chunk, CONFIG.seeds)
    assert programs.compiled_chunk.cache_info().hits == hits + 1


@dataclass(frozen=True)
class HalfNaNTask(CartPoleTask):
    """CartPole whose fitness is NaN when the first hidden neuron's v_th moved up."""

    name: ClassVar[str] = "half-nan-cartpole"

    def evaluate(self, network, params, key, data=None):
        value = super().evaluate(network, params, key, data)
        return jnp.where(params.hidden.v_th[0] > 0.5, jnp.nan, value)


def test_nan_fitness_is_counted_and_never_reaches_the_search_state(tmp_path):
    config = dataclasses.replace(CONFIG, task=HalfNaNTask(max_steps=40, episodes=1), generations=4)
    result = train(config, tmp_path, progress=False)
    rows = storage.read_jsonl(tmp_path / METRICS)
    assert sum(sum(row["nonfinite"]) for row in rows) > 0
    assert all(np.isfinite(row["reward_mean"]).all() for row in rows)
    with np.load(tmp_path / "centres.npz") as centres:
        assert all(np.all(np.isfinite(centres[name])) for name in centres.files)
    assert len(result["final_centre_reward"]) == config.seeds


def test_result_files_are_readable_like_normally_created_files(uninterrupted):
    run_dir, _ = uninterrupted
    import os

    mask = os.umask(0)
    os.umask(mask)
    for name in ("config.json", RESULT, CHECKPOINT, "centres.npz"):
        assert (run_dir / name).stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize(
    "strategy",
    [StrategyConfig(name=name, population=8) for name in ("pgpe", "open_es", "snes", "cma_es")]
    + [StrategyConfig(population=8, centre_optimiser=c, lr=0.01) for c in ("sgd", "adam")],
    ids=lambda s: f"{s.name}-{s.centre_optimiser}",
)
def test_every_accepted_strategy_trains_through_the_run_loop(strategy, tmp_path):
    """Two compiled chunks of every strategy the config accepts (SNES and CMA-ES once
    crashed here: their hyper-parameters were device arrays hoisted out of the program)."""
    config = dataclasses.replace(CONFIG, optimiser=strategy, generations=2, chunk=1)
    result = train(config, tmp_path, progress=False)
    assert len(result["final_centre_reward"]) == config.seeds
    assert np.all(np.isfinite(result["final_centre_reward"]))
    rows = storage.read_jsonl(tmp_path / METRICS)
    assert [row["generation"] for row in rows] == [1, 2]
    assert all(n == 0 for row in rows for n in row["nonfinite"])


def _interrupted(tmp_path, generations=4):
    with pytest.raises(Interrupt):
        train(CONFIG, tmp_path, progress=False, on_chunk=interrupt_after(generations))
    return tmp_path


def test_a_torn_last_metrics_line_is_dropped_and_recomputed(uninterrupted, tmp_path):
    full_dir, _ = uninterrupted
    run_dir = _interrupted(tmp_path)
    with open(run_dir / METRICS, "a") as handle:
        handle.write('{"generation": 5, "centre_rew')  # a crash inside the append
    train(CONFIG, run_dir, progress=False)
    assert (run_dir / METRICS).read_bytes() == (full_dir / METRICS).read_bytes()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_text("garbage\n" + p.read_text()), "line 1 is not a JSON object"),
        (lambda p: p.write_text(""), "does not hold generations 1..4"),
        (lambda p: p.write_text('{"no_generation": 1}\n' * 4), "does not hold generations"),
    ],
)
def test_damaged_metrics_give_a_one_line_error(tmp_path, damage, message):
    run_dir = _interrupted(tmp_path)
    damage(run_dir / METRICS)
    with pytest.raises(RunDirError, match=message) as error:
        train(CONFIG, run_dir, progress=False)
    assert "\n" not in str(error.value) and "retrain" in str(error.value)


def test_a_checkpoint_is_checked_before_it_is_resumed(tmp_path):
    other = _interrupted(tmp_path / "other")  # another config with the same shapes
    other_config = dataclasses.replace(CONFIG, seed=7)
    run_dir = tmp_path / "run"
    with pytest.raises(Interrupt):
        train(other_config, run_dir, progress=False, on_chunk=interrupt_after(2))
    (run_dir / CHECKPOINT).write_bytes((other / CHECKPOINT).read_bytes())
    with pytest.raises(RunDirError, match="written by another config"):
        train(other_config, run_dir, progress=False)

    states = programs.init_states(
        RunSpec.from_config(CONFIG), CONFIG.network.neuron, CONFIG.seed, CONFIG.seeds
    )
    fingerprint = config_fingerprint(CONFIG)
    storage.save_pytree(other / CHECKPOINT, states, generation=-3, config=fingerprint)
    with pytest.raises(RunDirError, match="generation -3, outside 0..6"):
        train(CONFIG, other, progress=False)
    poisoned = states.replace(search=states.search.replace(mean=states.search.mean * np.nan))
    storage.save_pytree(other / CHECKPOINT, poisoned, generation=4, config=fingerprint)
    with pytest.raises(RunDirError, match="non-finite trainer state"):
        train(CONFIG, other, progress=False)
    storage.save_pytree(other / CHECKPOINT, states, generation=4)  # no fingerprint at all
    with pytest.raises(RunDirError, match="carries no config fingerprint"):
        train(CONFIG, other, progress=False)
    (other / CHECKPOINT).write_bytes(b"not a zip file")
    with pytest.raises(RunDirError, match="is damaged"):
        train(CONFIG, other, progress=False)


def test_run_files_without_a_config_are_not_adopted(uninterrupted, tmp_path):
    full_dir, _ = uninterrupted
    (tmp_path / RESULT).write_bytes((full_dir / RESULT).read_bytes())
    with pytest.raises(RunDirError, match="no config.json"):
        train(CONFIG, tmp_path, progress=False)


def test_a_locked_run_directory_is_refused_and_stale_temporaries_go(tmp_path):
    run_dir = _interrupted(tmp_path)
    stale = run_dir / ".checkpoint.npz.x1y2.tmp.npz"  # a writer killed inside np.savez
    stale.write_bytes(b"half a file")
    with storage.locked(run_dir, "in a test"), pytest.raises(RunDirError, match="pid"):
        train(CONFIG, run_dir, progress=False)
    assert stale.exists()  # never removed while another process may own it
    train(CONFIG, run_dir, progress=False)
    assert not stale.exists()


def test_an_overflowing_search_state_stops_the_run(tmp_path):
    config = dataclasses.replace(CONFIG, optimiser=StrategyConfig(population=8, std_init=2e19))
    with pytest.raises(TrainingDiverged, match="became non-finite at generation"):
        train(config, tmp_path, progress=False)
    assert not (tmp_path / RESULT).exists()
    rows = storage.read_jsonl(tmp_path / METRICS)
    assert rows and not all(all(row["search_finite"]) for row in rows)


def test_a_non_finite_bptt_checkpoint_is_refused(tmp_path):
    """BPTT states are checked like ES states (the trainer's state_is_finite)."""
    config = dataclasses.replace(
        CONFIG, optimiser=GradientConfig(batch=4), generations=4, trainable=("weights",)
    )
    with pytest.raises(Interrupt):
        train(config, tmp_path, progress=False, on_chunk=interrupt_after(2))
    spec = RunSpec.from_config(config)
    states = programs.init_states(spec, config.network.neuron, config.seed, config.seeds)
    states, meta = storage.load_pytree(tmp_path / CHECKPOINT, states)
    poisoned = states.replace(flat=states.flat.at[0, 3].set(np.nan))
    storage.save_pytree(tmp_path / CHECKPOINT, poisoned, **meta)
    with pytest.raises(RunDirError, match="non-finite trainer state"):
        train(config, tmp_path, progress=False)


@pytest.mark.parametrize("lr", [1e6, 3e38])
def test_bptt_that_runs_off_to_infinity_stops_like_es(lr, tmp_path):
    """An absurd BPTT learning rate drives a tau_m logit to -inf (an infinite tau_m) or
    the parameters themselves past float32: the run stops with one line, reports nothing."""
    config = dataclasses.replace(
        CONFIG, optimiser=GradientConfig(batch=4, lr=lr), generations=4, chunk=2
    )
    with pytest.raises(TrainingDiverged, match="became non-finite by generation"):
        train(config, tmp_path, progress=False)
    assert not (tmp_path / RESULT).exists() and not (tmp_path / "centres.npz").exists()


def test_a_ctrl_c_that_a_callback_swallows_still_stops_the_run_at_its_checkpoint(tmp_path):
    """SIGINT raised inside code that ignores exceptions (a finaliser, a callback) used to be
    lost: the run went on. Under the command line's handler it stops at the checkpoint."""
    import os
    import signal
    import time

    from hetsnn import interrupts

    def swallowing_callback(done):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the signal is delivered here
        except KeyboardInterrupt:
            pass  # what a finaliser or a library callback does with it

    config = RunConfig(MemoryTask(memory_length=2), NetworkConfig(n_hidden=4),
                       StrategyConfig(population=4), generations=4, chunk=2)  # fmt: skip
    with interrupts.catching(), pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, progress=False, on_chunk=swallowing_callback)
    rows = storage.read_jsonl(tmp_path / METRICS)
    assert [r["generation"] for r in rows] == [1, 2]  # stopped after the first checkpoint
    assert (tmp_path / CHECKPOINT).exists() and not (tmp_path / RESULT).exists()
