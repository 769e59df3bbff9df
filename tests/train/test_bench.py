"""`hetsnn bench`: the benchmarked programs compute the network they claim to."""

import importlib.util

import jax
import numpy as np
import pytest

from hetsnn import storage
from hetsnn.cli import main
from hetsnn.train import bench, bench_torch


def test_stream_program_is_the_per_individual_network():
    network, base, population_hidden, xs = bench.stream_setup(6, 32, 40)
    together = np.asarray(bench.stream_program(network)(base, population_hidden, xs))
    assert np.abs(together).max() > 0  # the stream makes the network fire
    for i in (0, 5):
        member = jax.tree.map(lambda x, i=i: x[i], population_hidden)
        alone = np.asarray(bench.stream_readout(network, base, member, xs))
        np.testing.assert_allclose(together[i], alone, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_pytorch_reference_computes_the_same_network():
    network, base, population_hidden, xs = bench.stream_setup(16, 64, 60)
    ours = np.asarray(bench.stream_program(network)(base, population_hidden, xs))
    theirs = bench_torch.stream(base, population_hidden, xs)
    assert np.mean(np.abs(ours - theirs) < 1e-4) > 0.95  # a rare threshold tie may flip


def test_flop_count_by_hand():
    # 2 individuals x 3 neurons x (10 + 2 x 4) per step, plus 2 x 16 x 3 shared, 5 steps
    assert bench.stream_flops(2, 3, 5) == 5 * (2 * 3 * 18 + 2 * 16 * 3)


def test_smoke_bench_races_the_peer_on_the_same_fitness(tmp_path, shared_data):
    """Every workload row times hetsnn against the vmapped JAX + evosax peer, which must
    compute the same fitness for the same individuals (the image path only up to the
    rounding of its fused read-out)."""
    assert main(["bench", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    rows = storage.read_json(tmp_path / "bench.json")
    assert [r["workload"] for r in rows] == [
        "stream", "memory L=5", "cartpole cap 50", "mnist 8 images"
    ]  # fmt: skip
    for row in rows:
        assert row["seconds"] > 0 and row["compile_seconds"] > 0 and row["times_floor"] > 0
        assert row["allocator"] in ("system", "tcmalloc")
        assert row["neuron_updates_per_second"] == pytest.approx(
            row["env_steps_per_second"] * row["n_hidden"]
        )
    for row in rows[1:]:
        assert row["peer_seconds"] > 0
        assert row["speedup_vs_peer"] == pytest.approx(row["peer_seconds"] / row["seconds"])
        assert row["peer_fitness_max_abs_diff"] < 1e-4
    if bench_torch.available():  # the PyTorch peers, eager and compiled
        for row in rows[1:]:
            assert row["torch_fitness_max_abs_diff"] < 1e-4
            assert row["speedup_vs_torch_compile"] == pytest.approx(
                row["torch_compile_seconds"] / row["seconds"]
            )
    table = (tmp_path / "bench.md").read_text()
    assert table.count("\n") == 2 + len(rows)


def test_peer_fitness_differs_for_another_network(shared_data):
    """The equality check can fail: a peer with other read-out weights scores otherwise."""
    import dataclasses

    from hetsnn.config import NetworkConfig, RunConfig, StrategyConfig
    from hetsnn.model.genome import PROPERTIES
    from hetsnn.train import bench_peers, programs
    from hetsnn.train.spec import RunSpec

    work = bench.workloads("smoke")[0]
    config = RunConfig(
        work.task,
        NetworkConfig(n_hidden=work.n_hidden),
        StrategyConfig(population=work.population),
        trainable=PROPERTIES,
    )
    spec = RunSpec.from_config(config)
    states = programs.init_states(spec, config.network.neuron, 0, 1)
    base = jax.tree.map(lambda x: x[0], states.base)
    peer = bench_peers.PeerNetwork.from_base(base.params, 5.0, 20.0, 1)
    key, genome = jax.random.key(3), bench_peers.genome_of(base.params.hidden)
    ours = spec.fitness(spec.genome.flatten(base), base, key, None)
    same = bench_peers.peer_fitness(work.task, peer)(genome, key, None)
    other = dataclasses.replace(peer, w_out=-peer.w_out)
    flipped = bench_peers.peer_fitness(work.task, other)(genome, key, None)
    assert float(ours) == float(same) and float(flipped) != float(ours)


def test_generation_flops_by_hand():
    from hetsnn.config import NetworkConfig, RunConfig, StrategyConfig
    from hetsnn.model.genome import PROPERTIES
    from hetsnn.tasks import MemoryTask
    from hetsnn.train.spec import RunSpec

    task = MemoryTask(memory_length=5, episodes=2)
    config = RunConfig(task, NetworkConfig(n_hidden=10), StrategyConfig(population=4),
                       trainable=PROPERTIES)  # fmt: skip
    spec = RunSpec.from_config(config)
    # 5 individuals x 2 episodes x steps x 10 neurons x (7 + 2 n_in + 2 n_out)
    per_step = 10 * (7 + 2 * spec.network.n_in + 2 * spec.network.n_out)
    assert bench.generation_flops(spec, 4) == 5 * 2 * task.steps_per_episode * per_step


def test_unknown_bench_preset_is_refused(capsys):
    assert main(["bench", "--preset", "huge"]) == 2
    assert "unknown bench preset" in capsys.readouterr().err


def test_workloads_run_in_the_requested_state_dtype():
    work, grid = bench.workloads("smoke")[0], bench.GRIDS["smoke"]
    row = bench.bench_workload(work, grid, False, 100.0, "bfloat16")
    assert row["state_dtype"] == "bfloat16" and "peer_seconds" not in row


def test_ratios_keep_three_significant_digits():
    row = {"workload": "w", "population": 8, "n_hidden": 4, "seconds": 1.0,
           "env_steps_per_second": 1e3, "neuron_updates_per_second": 1e6, "compile_seconds": 1,
           "speedup_vs_peer": 3.1666, "speedup_vs_naive_jax": 0.08421,
           "speedup_vs_torch": 412.4}  # fmt: skip
    cells = bench.table_row(row).split(" | ")
    assert cells[7:11] == ["3.17x", "0.0842x", "412x", "-"]
