"""NIR export: profiles that change no spike, a reference interpreter that agrees with
hetsnn's network, and the export -> verify-nir round trip of a trained smoke network through
the CLI (the real simulators run the files in tests/interop/test_simulators.py)."""

import dataclasses
import shutil

import numpy as np
import pytest

from hetsnn.cli import main
from hetsnn.errors import ConfigError
from hetsnn.interop import nir_export, profiles
from hetsnn.interop.lif_graph import W_OUT, Discretisation, LifGraph, simulate

nir = pytest.importorskip("nir")


@pytest.fixture(scope="module")
def network(synthetic_network):
    return synthetic_network


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_every_profile_runs_hetsnns_network_spike_for_spike(network, profile):
    net, inputs, spikes, readout = network
    graph = profiles.to_graph(net, profile)
    got_spikes, got_readout = simulate(graph, inputs)
    assert np.array_equal(got_spikes, spikes)
    np.testing.assert_allclose(got_readout, readout, rtol=0, atol=1e-12)


def test_exp_time_constants_run_hetsnns_network_on_an_exponential_backend(network):
    net, inputs, spikes, _ = network
    graph = profiles.to_graph(net, "native", tau_for="exp")
    exp_spikes, _ = simulate(graph, inputs, Discretisation(decay="exp"))
    assert np.array_equal(exp_spikes, spikes)
    # the same file read by a forward-Euler backend is another network
    euler_spikes, _ = simulate(graph, inputs, Discretisation(decay="euler"))
    assert np.sum(euler_spikes != spikes) > 0


def test_snntorch_profile_refuses_a_threshold_at_or_below_rest(network):
    net = network[0]
    v_th = net.v_th.copy()
    v_th[3] = net.v_rest[3] - 0.1
    with pytest.raises(ConfigError, match=r"1 of 48 hidden neurons .* \(neurons 3\)"):
        profiles.to_graph(dataclasses.replace(net, v_th=v_th), "snntorch")


def test_graph_survives_nir_write_and_read(tmp_path, network):
    net = network[0]
    graph = profiles.to_graph(net, "native")
    path = tmp_path / "net.nir"
    nir.write(path, graph.to_nir({"dt": graph.dt, "discretisation": "forward-euler"}))
    back = LifGraph.from_nir(nir.read(path))
    for field in ("w_in", "tau", "r", "v_leak", "v_threshold", "v_reset", "w_out"):
        assert np.array_equal(getattr(back, field), getattr(graph, field)), field
    assert back.dt == graph.dt


@pytest.mark.parametrize("profile", ["snntorch", "norse", "spyx"])
def test_a_readout_written_as_a_lif_reads_back_as_the_same_network(tmp_path, network, profile):
    net, inputs, spikes, readout = network
    graph = profiles.to_graph(net, profile)
    path = tmp_path / "net.nir"
    nir.write(path, graph.to_nir({"dt": graph.dt}))
    assert isinstance(nir.read(path).nodes["readout"], nir.LIF)
    back = LifGraph.from_nir(nir.read(path))
    assert back.readout_as_lif
    got_spikes, got_readout = simulate(back, inputs)
    assert np.array_equal(got_spikes, spikes)
    np.testing.assert_allclose(got_readout, readout, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_trained_smoke_network_exports_in_every_profile_and_verifies(
    memory_smoke_run, tmp_path, capsys
):
    out = tmp_path / "nir"
    args = ["export-nir", str(memory_smoke_run), "--out", str(out), "--samples", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    graphs = sorted(out.glob("*.nir"))
    graphs = [g for g in graphs if not g.name.endswith(".data.nir")]
    written = {g.name.rsplit("-", 1)[1].removesuffix(".nir") for g in graphs}
    skipped = {p for p in profiles.PROFILES if f"{p}: not written" in printed}
    assert written | skipped == set(profiles.PROFILES) and {"native", "canonical"} <= written
    for graph in graphs:
        assert main(["verify-nir", str(graph)]) == 0
        result = nir_export.verify(graph)
        assert result["float64"]["mismatches"] == 0
        assert result["float64"]["spikes"] > 0
        metadata = nir.read(graph).metadata
        snntorch = graph.name.endswith("-snntorch.nir")  # its times in snnTorch's 0.1 ms step
        assert float(metadata["dt"]) == pytest.approx(1e-4 if snntorch else 0.005)
        assert ("time_scale" in metadata) == snntorch
        assert metadata["discretisation"] == "forward-euler"
    assert "| Norse |" in printed and any(out.glob("*-portability.md"))
    assert main([*args, "--tau-for", "exp", "--profile", "native"]) == 0
    assert len(list(out.glob("*-portability.md"))) == 2  # the exp export has its own


@pytest.mark.slow
def test_verify_nir_catches_a_changed_threshold(memory_smoke_run, tmp_path):
    out = tmp_path / "nir"
    assert main(["export-nir", str(memory_smoke_run), "--out", str(out), "--profile",
                 "native", "--samples", "2"]) == 0  # fmt: skip
    graph_path = next(out.glob("*-native.nir"))
    graph = nir.read(graph_path)
    graph.nodes["hidden"].v_threshold = graph.nodes["hidden"].v_threshold - 0.2
    tampered = tmp_path / "tampered.nir"
    nir.write(tampered, graph)
    shutil.copy(nir_export.data_path(graph_path), nir_export.data_path(tampered))
    assert main(["verify-nir", str(tampered)]) == 1
    assert nir_export.verify(tampered)["float64"]["mismatches"] > 0
    # a read-out changed by 1 % leaves every hidden spike in place and still fails
    graph = nir.read(graph_path)
    graph.nodes[W_OUT].weight = graph.nodes[W_OUT].weight * 1.01
    nir.write(tampered, graph)
    result = nir_export.verify(tampered)
    assert result["float64"]["mismatches"] == 0 and not nir_export.agrees(result)
    assert main(["verify-nir", str(tampered)]) == 1
    assert nir_export.agrees(nir_export.verify(graph_path))


@pytest.mark.slow
def test_export_errors_are_one_line(memory_smoke_run, tmp_path, capsys):
    assert main(["export-nir", str(tmp_path)]) == 2
    assert main(["export-nir", str(memory_smoke_run), "--point", "nope"]) == 2
    assert main(["export-nir", str(memory_smoke_run), "--seed", "99"]) == 2
    assert main(["verify-nir", str(tmp_path / "missing.nir")]) == 2
    (tmp_path / "notes.md").write_text("# not a graph\n")
    assert main(["verify-nir", str(tmp_path / "notes.md")]) == 2
    assert main(["export-nir", str(memory_smoke_run), "--samples", str(10**12)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 6 and all(e.startswith("hetsnn: error: ") for e in errors)
    assert "--samples must be in 1..10,000" in errors.pop()
    assert errors[-1].endswith("notes.md is not a NIR file (OSError)")


@pytest.mark.slow
def test_bad_choices_fail_before_anything_is_written(memory_smoke_run, tmp_path, capsys):
    out = tmp_path / "nir"
    assert main(["export-nir", str(memory_smoke_run), "--tau-for", "rk4", "--out", str(out)]) == 2
    assert main(["export-nir", str(memory_smoke_run), "--profile", "lava", "--out", str(out)]) == 2
    assert "--tau-for 'rk4'" in capsys.readouterr().err
    assert not out.exists()
