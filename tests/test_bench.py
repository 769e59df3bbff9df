"""`hetsnn bench`: the benchmarked programs compute the network they claim to."""

import importlib.util

import jax
import numpy as np
import pytest

from hetsnn import bench, storage
from hetsnn.cli import main


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
    theirs = bench.torch_stream(base, population_hidden, xs)
    assert np.mean(np.abs(ours - theirs) < 1e-4) > 0.95  # a rare threshold tie may flip


def test_flop_count_by_hand():
    # 2 individuals x 3 neurons x (10 + 2 x 4) per step, plus 2 x 16 x 3 shared, 5 steps
    assert bench.stream_flops(2, 3, 5) == 5 * (2 * 3 * 18 + 2 * 16 * 3)


def test_smoke_bench_writes_json_and_table(tmp_path, capsys):
    assert main(["bench", "--preset", "smoke", "--no-references", "--out", str(tmp_path)]) == 0
    rows = storage.read_json(tmp_path / "bench.json")
    assert [r["workload"] for r in rows] == ["stream", "memory", "cartpole"]
    for row in rows:
        assert row["seconds"] > 0 and row["compile_seconds"] > 0
        assert row["neuron_updates_per_second"] == pytest.approx(
            row["env_steps_per_second"] * row["n_hidden"]
        )
    table = (tmp_path / "bench.md").read_text()
    assert table.count("\n") == 2 + len(rows)


def test_unknown_bench_preset_is_refused(capsys):
    assert main(["bench", "--preset", "huge"]) == 2
    assert "unknown bench preset" in capsys.readouterr().err
