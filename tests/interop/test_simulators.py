"""The real simulators run hetsnn's NIR files: snnTorch, Norse and Spyx (the dev extra
installs them) load each export with their own importer and step it themselves.

What is asserted is what docs/nir.md's portability table promises: snnTorch and Norse run
their profiles spike for spike; Spyx runs its file as the reference interpreter does under
Spyx's own LIF step (reset by subtraction, the spike decided before the input), which is
why no file makes it run hetsnn's network; and each importer refuses the files it cannot
read, in its own words. Rockpool 3.1.0 and Sinabs 3.1.3 pin nir <= 1.0.4, which cannot read
these files (``LIF.__init__() got an unexpected keyword argument 'v_reset'``): they cannot
be installed beside nir 1.0.8 and are not tested (docs/nir.md)."""

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA

from hetsnn.cli import main
from hetsnn.data.locations import CACHE_ENV, DATA_DIR_ENV
from hetsnn.experiments import get_experiment, run_experiment
from hetsnn.interop import nir_export, profiles, simulators
from hetsnn.interop.lif_graph import Discretisation, LifGraph, simulate

nir = pytest.importorskip("nir")
for _simulator in simulators.SIMULATORS:
    pytest.importorskip(_simulator.module)

SPYX_STEP = Discretisation(reset="subtract", spike_before_input=True, fire_at_threshold=False)
FLOAT32_READOUT = 1e-4  # the simulators run float32; the references are float64
DOCS_NIR = Path(__file__).parents[2] / "docs" / "nir.md"


@pytest.fixture(scope="module")
def network(synthetic_network):
    return synthetic_network


def written(tmp_path, graph, name):
    path = tmp_path / f"{name}.nir"
    nir.write(path, graph.to_nir({"dt": graph.dt}))
    return path


@pytest.mark.parametrize("profile", ["snntorch", "norse"])
def test_snntorch_and_norse_run_their_profiles_spike_for_spike(tmp_path, network, profile):
    net, inputs, spikes, readout = network
    simulator = simulators.BY_PROFILE[profile]
    path = written(tmp_path, profiles.to_graph(net, profile), profile)
    row = simulators.measure(simulator, path, inputs, spikes, readout)
    assert row["outcome"] == "runs" and row["spikes"] > 1000
    assert row["mismatches"] == 0
    assert row["readout_max_abs_diff"] < FLOAT32_READOUT


def test_spyx_runs_its_file_as_its_own_lif_step_does(tmp_path, network):
    net, inputs, spikes, _ = network
    graph = profiles.to_graph(net, "spyx")
    path = written(tmp_path, graph, "spyx")
    got_spikes, got_readout = simulators.run_spyx(nir.read(path), inputs)
    spyx_spikes, spyx_readout = simulate(graph, inputs, SPYX_STEP)
    assert np.array_equal(got_spikes, spyx_spikes)
    np.testing.assert_allclose(got_readout, spyx_readout, rtol=0, atol=FLOAT32_READOUT)
    # that step is not hetsnn's: past the one-step lag, the reset by subtraction changes spikes
    assert np.sum(got_spikes[:, 1:] != spikes[:, :-1]) > 0


def test_the_norse_dt_trap(tmp_path, network):
    """Norse's from_nir defaults to dt = 1 ms; the file's 5 ms must be passed."""
    import norse.torch as norse
    import torch

    net, inputs, spikes, _ = network
    graph = nir.read(written(tmp_path, profiles.to_graph(net, "norse"), "norse"))
    wrong = norse.from_nir(graph)  # the default dt
    state, fired = None, []
    with torch.no_grad():
        for x_t in torch.as_tensor(inputs).unbind(1):
            _, state = wrong(x_t, state)
            fired.append(state.cache["hidden"])
    assert np.sum(torch.stack(fired, 1).numpy() > 0) != spikes.sum()


@pytest.mark.parametrize(
    "simulator, profile, words",
    [
        ("snnTorch", "native", "v_leak not supported"),
        ("snnTorch", "canonical", "v_threshold must be same for all neurons"),
        ("Spyx", "canonical", "nir.LI without a following nir.Threshold"),
    ],
)
def test_an_importer_refuses_what_it_cannot_read_in_its_own_words(
    tmp_path, network, simulator, profile, words
):
    net, inputs, spikes, readout = network
    by_name = {s.name: s for s in simulators.SIMULATORS}
    path = written(tmp_path, profiles.to_graph(net, profile), profile)
    row = simulators.measure(by_name[simulator], path, inputs, spikes, readout)
    assert row["mismatches"] is None and words in row["outcome"]


def test_norse_drops_the_li_readout_and_r(tmp_path, network):
    """The native file loses r and v_reset in Norse; the canonical one keeps every spike,
    but Norse skips its LI node and outputs w_out @ spikes instead of the read-out."""
    net, inputs, spikes, readout = network
    norse = simulators.BY_PROFILE["norse"]
    native = simulators.measure(
        norse, written(tmp_path, profiles.to_graph(net, "native"), "n"), inputs, spikes, readout
    )
    canonical = simulators.measure(
        norse, written(tmp_path, profiles.to_graph(net, "canonical"), "c"), inputs, spikes, readout
    )
    assert native["mismatches"] > 0
    assert canonical["mismatches"] == 0 and canonical["readout_max_abs_diff"] > 0.01


# Trained networks: smoke runs of memory (Neuron and Weight arms) and of images.


@pytest.fixture(scope="module")
def classify_smoke_run(tmp_path_factory):
    if not (SHARED_DATA / "mnist").exists():
        pytest.skip(f"no data set files in {SHARED_DATA}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_DIR_ENV, str(SHARED_DATA))
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
        out = tmp_path_factory.mktemp("runs") / "classify-smoke"
        run_experiment(get_experiment("classify"), "smoke", out, progress=False)
        yield out


def _trained(request, run: str):
    return request.getfixturevalue("memory_smoke_run" if run == "memory" else run)


@pytest.mark.slow
@pytest.mark.parametrize(
    "run, point",
    [
        ("memory", "neuron-L4"),
        ("memory", "weight-tau20-L4"),
        ("classify_smoke_run", None),
    ],
)
def test_trained_exports_run_in_every_simulator_as_the_table_says(
    request, tmp_path, monkeypatch, run, point
):
    run_dir = _trained(request, run)
    if run != "memory":
        monkeypatch.setenv(DATA_DIR_ENV, str(SHARED_DATA))
        monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
        point = sorted(p.name for p in (run_dir / "points").iterdir())[0]
    result = nir_export.export(run_dir, point=point, samples=4, out=tmp_path)
    table = {
        profile: {row["simulator"]: row for row in rows}
        for profile, rows in result["portability"].items()
    }
    norse = table["norse"]["Norse"]
    assert norse["mismatches"] == 0 and norse["readout_max_abs_diff"] < FLOAT32_READOUT
    assert table["canonical"]["Norse"]["mismatches"] == 0
    if "snntorch" in table:  # written where every threshold lies above rest
        snn = table["snntorch"]["snnTorch"]
        assert snn["mismatches"] == 0 and snn["readout_max_abs_diff"] < FLOAT32_READOUT
    else:
        assert "v_th <= v_rest" in result["skipped"]["snntorch"]
        assert "hidden spikes change" in result["skipped"]["snntorch"]
    spyx = table["spyx"]["Spyx"]
    assert spyx["outcome"] == "runs"
    assert f"{spyx['mismatches']:,} of {spyx['spikes']:,} hidden spikes" in result["notes"]["spyx"]
    # snnTorch refuses every file with an LI read-out (and a v_leak, where there is one)
    assert table["native"]["snnTorch"]["mismatches"] is None
    assert table["canonical"]["Spyx"]["mismatches"] is None
    markdown = (tmp_path / f"{point}-seed0-portability.md").read_text()
    assert markdown == result["markdown"]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["snntorch", "norse", "spyx"])
def test_the_printed_lines_load_and_run_the_file(memory_smoke_run, tmp_path, capsys, target):
    """What `export-nir --for TARGET` prints runs, and gives hetsnn's read-out."""
    out = tmp_path / "nir"
    argv = ["export-nir", str(memory_smoke_run), "--point", "weight-tau20-L4", "--out", str(out)]
    assert main([*argv, "--for", target, "--samples", "3"]) == 0
    printed = capsys.readouterr().out
    code = printed.split(", with x the inputs:\n", 1)[1]
    assert re.search(r"dt=0\.005\b", code) or target == "snntorch"
    path = next(out.glob(f"*-{target}.nir"))
    data = nir.read_data(str(nir_export.data_path(path)))
    x = data.nodes["input"].observables["x"].data.astype(np.float32)
    wanted = data.nodes["readout"].observables["v_float64"].data
    scope = {"x": x}
    exec(compile(code, f"<{target} lines>", "exec"), scope)
    readout = np.asarray([np.asarray(r) for r in scope["readout"]])
    readout = np.swapaxes(readout, 0, 1)  # (steps, batch, out) -> (batch, steps, out)
    if target == "spyx":  # its own LIF step: the interpreter's under that step
        _, wanted = simulate(LifGraph.from_nir(nir.read(path)), x, SPYX_STEP)
        np.testing.assert_allclose(readout, wanted, rtol=0, atol=FLOAT32_READOUT)
    else:
        np.testing.assert_allclose(readout, wanted, rtol=0, atol=FLOAT32_READOUT)


@pytest.mark.slow
def test_the_norse_block_of_docs_nir_runs_a_trained_export(memory_smoke_run, tmp_path, monkeypatch):
    """docs/nir.md's Norse code, as written, on the file `export-nir --for norse` writes (the
    page's point of the small preset replaced by the smoke preset's): it runs, and its
    spikes and read-out have the shapes the page's comments give."""
    (code,) = re.findall(r"```python\n(.*?)```", DOCS_NIR.read_text(), re.S)
    page_file = "neuron-L25-seed0-norse.nir"
    assert page_file in code
    argv = ["export-nir", str(memory_smoke_run), "--point", "neuron-L4", "--for", "norse"]
    assert main([*argv, "--out", str(tmp_path), "--samples", "2"]) == 0
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    written_file = "neuron-L4-seed0-norse.nir"
    exec(compile(code.replace(page_file, written_file), str(DOCS_NIR), "exec"), scope)
    hidden = nir.read(written_file).nodes["hidden"].tau.shape[0]
    assert len(scope["spikes"]) == len(scope["readout"]) == 100  # one per step
    assert tuple(scope["spikes"][0].shape) == (8, hidden)
    assert tuple(scope["readout"][0].shape) == (8, 2)  # the memory task: one output per cue
    assert all(np.isfinite(r.numpy()).all() for r in scope["readout"])
