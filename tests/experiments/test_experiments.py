"""Experiments, CLI and report, end to end on the smoke presets."""

import json

import numpy as np
import pytest
from conftest import needs_shared_data

from hetsnn import storage
from hetsnn.cli import main
from hetsnn.errors import RunDirError
from hetsnn.experiments import EXPERIMENTS, get_experiment, run_experiment
from hetsnn.experiments.base import MANIFEST
from hetsnn.report.build import build_report
from hetsnn.report.common import pooled_mean_std
from hetsnn.rundir import RESULT
from hetsnn.train.spec import RunSpec

PRESET_CASES = [(e, p) for e in EXPERIMENTS for p in EXPERIMENTS[e].presets]


@pytest.mark.parametrize("experiment, preset", PRESET_CASES)
def test_every_preset_builds_valid_points_with_matched_budgets(experiment, preset):
    points = get_experiment(experiment).points(preset)
    assert len({p.name for p in points}) == len(points)
    for x in {p.x for p in points}:
        specs = [RunSpec.from_config(p.config) for p in points if p.x == x]
        budget = max(s.num_dims for s in specs if not s.genome.weights)
        for spec in specs:  # every arm within one hidden neuron of the budget (the paper's
            # MNIST weight arm, H = 42, is one above the nearest size, 41)
            step = spec.genome.per_hidden_neuron(spec.network.n_in, spec.network.n_out)
            assert abs(spec.num_dims - budget) <= step, (spec.genome, spec.num_dims, budget)


@pytest.mark.slow
def test_smoke_run_through_the_cli_writes_results_and_report(memory_smoke_run):
    manifest = storage.read_json(memory_smoke_run / MANIFEST)
    assert manifest["experiment"] == "memory" and manifest["preset"] == "smoke"
    for point in manifest["points"]:
        result = storage.read_json(memory_smoke_run / "points" / point["name"] / RESULT)
        rewards = np.asarray(result["final_centre_reward"])
        assert rewards.shape == (2,) and np.all(np.abs(rewards) <= 1)
    report = memory_smoke_run / "report"
    for name in ("table.md", "table.csv", "reward.png", "curves.png"):
        assert (report / name).stat().st_size > 0
    assert (report / "reward.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_report_table_has_every_arm_and_length(memory_smoke_run):
    table = build_report(memory_smoke_run)
    for arm in ("Neuron (heterogeneous)", "Weight (tau_m 20 ms)", "Weight (tau_m 50 ms)"):
        assert arm in table
    first, best = table.split("\n\n")[0], table.split("The third statistic")[1]
    for part in (first, best.split("\n\n")[1]):  # the final centre's, the best centre's
        rows = [line for line in part.splitlines() if line.startswith("| ") and "±" in line]
        assert [row.split("|")[1].strip() for row in rows] == ["2", "4"]
    assert (memory_smoke_run / "report" / "table.csv").read_text().count("\n") == 1 + 6


@pytest.mark.slow
def test_rerun_without_resume_is_refused_and_overwrites_nothing(memory_smoke_run, capsys):
    manifest = memory_smoke_run / MANIFEST
    before = manifest.stat().st_mtime_ns
    assert main(["run", "memory", "--preset", "smoke", "--out", str(memory_smoke_run)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert manifest.stat().st_mtime_ns == before


@pytest.mark.slow
def test_resume_of_a_finished_run_reuses_results(memory_smoke_run):
    args = ["run", "memory", "--preset", "smoke", "--out", str(memory_smoke_run)]
    assert main([*args, "--resume", "--quiet", "--no-report"]) == 0


@pytest.mark.slow
def test_another_preset_in_the_same_directory_is_refused(memory_smoke_run, capsys):
    args = ["run", "memory", "--preset", "smoke", "--seeds", "3", "--out", str(memory_smoke_run)]
    assert main([*args, "--resume"]) == 2
    assert "holds memory/smoke with other settings (seeds 2 -> 3)" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_with_another_centre_optimiser_is_refused(memory_smoke_run, capsys):
    args = ["run", "memory", "--preset", "smoke", "--out", str(memory_smoke_run)]
    assert main([*args, "--resume", "--centre-optimiser", "adam", "--centre-lr", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "with other settings" in err and "'centre_optimiser': 'adam'" in err


def test_strategy_changes_reach_every_es_point_and_the_manifest():
    from hetsnn.config import GradientConfig
    from hetsnn.experiments.base import manifest, with_strategy

    experiment = get_experiment("bp-vs-es")
    settings = experiment.resolve("smoke")
    points = with_strategy(experiment.make_points(settings), {"centre_optimiser": "sgd", "lr": 0.2})
    strategies = [p.config.optimiser for p in points if p.arm.endswith("ES")]
    assert strategies and all(o.centre_optimiser == "sgd" and o.lr == 0.2 for o in strategies)
    assert all(o.max_velocity == pytest.approx(0.4) for o in strategies)
    bp = [p.config.optimiser for p in points if p.arm.endswith("BP")]
    assert bp and all(isinstance(o, GradientConfig) and o.lr == 3e-2 for o in bp)
    record = manifest(experiment, "smoke", settings, points, {"centre_optimiser": "sgd"})
    assert record["strategy"] == {"centre_optimiser": "sgd"}
    assert "strategy" not in manifest(experiment, "smoke", settings, points)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "pong"], "unknown experiment 'pong'"),
        (["run", "memory", "--preset", "huge"], "unknown preset 'huge'"),
        (["report", "/nonexistent/run"], "holds no experiment"),
        (["run", "memory", "--centre-optimiser", "rmsprop"], "'rmsprop' is unknown"),
        (["run", "quenched", "--centre-optimiser", "sgd"], "quenched trains no evolution"),
    ],
)
def test_bad_cli_input_gets_a_one_line_error(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.slow
def test_bad_data_dir_is_refused(tmp_path, capsys):
    argv = ["run", "classify", "--preset", "smoke", "--data-dir", str(tmp_path / "no")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.slow
def test_missing_data_is_reported_before_anything_is_written(tmp_path, capsys, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("HETSNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HETSNN_DATA_DIR", "")  # restored after the test; --data-dir sets it
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    argv = ["run", "classify", "--preset", "smoke", "--data-dir", str(tmp_path / "empty")]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "HETSNN_DATA_DIR" in err and "download" in err and err.count("\n") == 1
    assert not (out / MANIFEST).exists()


@pytest.mark.slow
def test_non_empty_foreign_directory_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["run", "memory", "--preset", "smoke", "--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_cartpole_smoke_experiment(tmp_path):
    out = run_experiment(get_experiment("cartpole"), "smoke", tmp_path / "cp", progress=False)
    table = build_report(out)
    assert "NeuronES" in table and "WeightES" in table
    for point in storage.read_json(out / MANIFEST)["points"]:
        result = storage.read_json(out / "points" / point["name"] / RESULT)
        assert all(0 < r <= 30 for r in result["final_centre_reward"])  # cap 30


def test_pooled_mean_std_equals_statistics_of_the_union():
    rng = np.random.default_rng(0)
    groups = rng.normal(size=(5, 40)) * rng.uniform(0.5, 2, size=(5, 1)) + np.arange(5)[:, None]
    mean, std = pooled_mean_std(groups.mean(1), groups.std(1))
    assert mean == pytest.approx(groups.mean())
    assert std == pytest.approx(groups.std())


def test_list_command(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "memory" in out and "cartpole" in out and "smoke" in out


@pytest.mark.slow
def test_bp_vs_es_smoke_reports_membrane_diagnostics(tmp_path):
    out = tmp_path / "bp"
    assert main(["run", "bp-vs-es", "--preset", "smoke", "--out", str(out), "--quiet"]) == 0
    table = (out / "report" / "table.md").read_text()
    for arm in ("WeightES", "NeuronES", "WeightBP", "NeuronBP"):
        assert arm in table
    assert "|dv(t)/dv(t-dt)| > 1" in table
    assert (out / "report" / "membrane.png").read_bytes()[:4] == b"\x89PNG"
    manifest = storage.read_json(out / MANIFEST)
    assert manifest["curve_x"] == "episodes"
    es = storage.read_json(out / "points" / "weightes-cap30" / RESULT)
    bp = storage.read_json(out / "points" / "weightbp-cap30" / RESULT)
    # equal training episodes: ES population x generations == BP batch x updates
    assert (
        es["training_episodes_per_generation"] * es["generations"]
        == bp["training_episodes_per_generation"] * bp["generations"]
    )


@pytest.mark.slow
def test_memory_margins_replay_the_final_centres_exactly(memory_smoke_run):
    """The margins are recomputed from centres.npz; the rewards they imply must equal the
    final-centre rewards the run recorded, seed by seed."""
    from hetsnn.report.margins import episode_rewards, point_margins

    manifest = storage.read_json(memory_smoke_run / MANIFEST)
    for point in manifest["points"]:
        folder = memory_smoke_run / "points" / point["name"]
        margins = point_margins(folder)
        recorded = storage.read_json(folder / RESULT)["final_centre_reward"]
        np.testing.assert_array_equal(episode_rewards(margins).mean(axis=1), recorded)
    table = (memory_smoke_run / "report" / "table.md").read_text()
    assert "Decision margins" in table and (memory_smoke_run / "report" / "margins.png").exists()


@pytest.mark.slow
def test_controls_reset_gives_the_untrained_network_and_write_a_report(memory_smoke_run):
    from hetsnn.report.controls import ALL, point_controls, run_controls

    folder = memory_smoke_run / "points" / "neuron-L4"
    rows = {(r["property"], r["control"]): r for r in point_controls(folder)}
    result = storage.read_json(folder / RESULT)
    # the Neuron arm's weights never change: resetting every property is the untrained net
    reset = rows[(ALL, "reset")]
    assert reset["score"] == pytest.approx(np.mean(result["initial_centre_reward"]))
    assert reset["baseline"] == pytest.approx(np.mean(result["final_centre_reward"]))
    assert {p for p, _ in rows} == {"tau_m", "v_th", "v_rest", "R", ALL}
    table = run_controls(memory_smoke_run)
    assert table.count("## Neuron") == 2  # the two Neuron points; weight arms are skipped
    for name in ("controls.md", "controls.csv", "controls.png"):
        assert (memory_smoke_run / "report" / name).exists()


@pytest.mark.slow
def test_controls_leave_a_homogeneous_layer_unchanged(memory_smoke_run, tmp_path):
    """A trained centre whose properties are all equal across neurons: homogenise,
    permute, resample and quantise change nothing."""
    import shutil

    from hetsnn.report.controls import point_controls
    from hetsnn.rundir import CENTRES

    folder = tmp_path / "neuron-L4"
    shutil.copytree(memory_smoke_run / "points" / "neuron-L4", folder)
    arrays = storage.load_arrays(folder / CENTRES)
    for key in ("tau_m", "v_th", "v_rest", "resistance"):
        per_seed = arrays[key][:, :1] * np.array([1.3, 0.9])[:, None]  # differ across seeds
        arrays[key] = np.broadcast_to(per_seed, arrays[key].shape).astype(np.float32)
    storage.save_arrays(folder / CENTRES, **arrays)
    for row in point_controls(folder):
        if row["control"] != "reset":
            assert row["change"] == 0.0, row


def test_probe_of_a_run_without_trained_properties_is_a_one_line_error(tmp_path, capsys):
    assert main(["probe", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds no experiment" in err and err.count("\n") == 1


@pytest.mark.slow
@needs_shared_data
def test_report_shows_how_heterogeneity_emerged(memory_smoke_run, shared_data):
    from hetsnn.rundir import PROPERTIES

    history = storage.read_jsonl(memory_smoke_run / "points" / "neuron-L4" / PROPERTIES)
    assert [row["generation"] for row in history] == [0, 2, 4]
    assert not (memory_smoke_run / "points" / "weight-tau20-L4" / PROPERTIES).exists()
    table = build_report(memory_smoke_run)
    line = next(x for x in table.splitlines() if x.startswith("- Neuron") and "KS" in x)
    assert "tau_m 0 ->" in line  # every neuron starts at the homogeneous default
    assert (memory_smoke_run / "report" / "heterogeneity.png").exists()


def test_a_start_that_trained_nothing_does_not_claim_the_directory(tmp_path):
    """A first start that failed before training (wrong options, a crash while compiling)
    leaves only bookkeeping; a corrected start takes the directory over."""
    from hetsnn.experiments.base import forget_unstarted, trained_anything

    out = tmp_path / "run"
    (out / "points" / "neuron-L2").mkdir(parents=True)
    storage.write_json(out / MANIFEST, {"experiment": "memory", "preset": "smoke"})
    storage.write_json(out / "points" / "neuron-L2" / "config.json", {})
    (out / "points" / "neuron-L2" / ".lock").write_text("")
    assert not trained_anything(out)
    still_compiling = storage.locked(out / "points" / "neuron-L2", "in a test")
    with still_compiling, pytest.raises(RunDirError, match="in use by another process"):
        forget_unstarted(out)
    assert (out / "points" / "neuron-L2" / "config.json").exists()
    forget_unstarted(out)
    assert not (out / "points").exists() or not any((out / "points").iterdir())
    (out / "points" / "neuron-L2").mkdir(parents=True)
    (out / "points" / "neuron-L2" / "metrics.jsonl").write_text('{"generation": 1}\n')
    assert trained_anything(out)


def test_describe_difference_names_what_changed():
    from hetsnn.experiments.base import describe_difference

    stored = {"experiment": "memory", "preset": "smoke", "settings": {"seeds": 2, "chunk": 2}}
    wanted = {"experiment": "memory", "preset": "smoke", "settings": {"seeds": 3, "chunk": 2}}
    assert describe_difference(stored, wanted) == "memory/smoke with other settings (seeds 2 -> 3)"
    other = {**wanted, "experiment": "cartpole"}
    assert describe_difference(stored, other) == "another experiment or preset (memory/smoke)"


@pytest.mark.slow
@pytest.mark.parametrize("make_out", ["a file", "a name too long"])
def test_unusable_out_locations_get_one_line_errors(make_out, tmp_path, capsys):
    if make_out == "a file":
        out = tmp_path / "notes.txt"
        out.write_text("mine")
    else:
        out = tmp_path / ("x" * 300)
    assert main(["run", "memory", "--preset", "smoke", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hetsnn: error:") and err.count("\n") == 1
    assert "is a file" in err or "too long" in err


@pytest.mark.slow
def test_resuming_a_finished_run_writes_nothing(memory_smoke_run):
    """So a finished run resumes from a read-only copy (only its report is rebuilt)."""
    before = {
        p: p.stat().st_mtime_ns for p in memory_smoke_run.rglob("*") if "report" not in p.parts
    }
    args = ["run", "memory", "--preset", "smoke", "--out", str(memory_smoke_run)]
    assert main([*args, "--resume", "--quiet", "--no-report"]) == 0
    after = {
        p: p.stat().st_mtime_ns for p in memory_smoke_run.rglob("*") if "report" not in p.parts
    }
    assert after == before


def _truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _to_folder(path):
    path.unlink()
    path.mkdir()


def _drop_array(name):
    def damage(path):
        arrays = storage.load_arrays(path)
        del arrays[name]
        storage.save_arrays(path, **arrays)

    return damage


def _binary(path):
    path.write_bytes(bytes(range(256)) * 4)


def _last_row(change):
    def damage(path):
        rows = path.read_text().splitlines()
        rows[-1] = json.dumps(change(json.loads(rows[-1])))
        path.write_text("\n".join(rows) + "\n")

    return damage


def _without(key):
    def damage(path):
        data = json.loads(path.read_text())
        del data[key]
        path.write_text(json.dumps(data))

    return damage


def _set(key, value):
    def damage(path):
        data = json.loads(path.read_text())
        data[key] = value
        path.write_text(json.dumps(data))

    return damage


DAMAGES = {
    "truncated": _truncate,
    "empty": lambda p: p.write_text(""),
    "null": lambda p: p.write_text("null"),
    "a folder": _to_folder,
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "file, damage, command",
    [(f, d, "resume") for f in ("experiment.json", "config.json", "result.json") for d in DAMAGES]
    + [(f, d, "report") for f in ("experiment.json", "result.json") for d in DAMAGES]
    + [("result.json", "no keys", "report"), ("centres.npz", "truncated", "report")]
    + [("checkpoint.npz", d, "resume") for d in ("truncated", "empty", "a leaf", "generation")]
    + [
        (f, d, c)
        for f in ("metrics.jsonl", "properties.jsonl")
        for c in ("report", "tb")
        for d in ("binary", "a string value", "a repeated row")
    ]  # fmt: skip
    + [("properties.jsonl", "empty", "report"), ("metrics.jsonl", "ragged", "tb")]
    + [
        ("config.json", d, c)
        for d in ("a list", "no trainable", "a 400-digit integer")
        for c in ("report", "export")
    ]
    + [
        ("centres.npz", d, c)
        for d in ("no arrays", "another point's", "missing")
        for c in ("report", "export")
    ],
)
def test_damaged_run_files_give_one_line_errors(
    memory_smoke_run, tmp_path, capsys, file, damage, command
):
    import shutil

    from hetsnn.rundir import CHECKPOINT

    run = tmp_path / "run"
    shutil.copytree(memory_smoke_run, run)
    point = run / "points" / "neuron-L4"
    path = run / file if file == MANIFEST else point / file
    if file == CHECKPOINT:
        (point / RESULT).unlink()  # unfinished: the resume must read the checkpoint
    extra = {"no keys": lambda p: p.write_text("{}"), "a leaf": _drop_array("leaf_00000"),
             "generation": _drop_array("meta_generation"), "binary": _binary,
             "a string value": _last_row(lambda row: {**row, "centre_reward": "x"}
                                          if "centre_reward" in row else {**row, "tau_m": "x"}),
             "ragged": _last_row(lambda row: {**row, "centre_reward": [[1.0], 2.0]}),
             "a repeated row": lambda p: p.write_text(p.read_text() * 2),
             "a list": lambda p: p.write_text("[1, 2]"),
             "no trainable": _without("trainable"),
             "a 400-digit integer": _set("generations", 10**400),
             "no arrays": lambda p: storage.save_arrays(p, nothing=np.zeros(2)),
             "another point's": lambda p: p.write_bytes(
                 (p.parent.parent / "neuron-L2" / p.name).read_bytes()),
             "missing": lambda p: p.unlink()}  # fmt: skip
    {**DAMAGES, **extra}[damage](path)
    argv = {
        "resume": ["run", "memory", "--preset", "smoke", "--out", str(run), "--resume", "--quiet",
                   "--no-report"],
        "report": ["report", str(run)],
        "tb": ["tb", str(run)],
        "export": ["export-nir", str(run), "--point", point.name, "--profile", "native",
                   "--samples", "2", "--out", str(tmp_path / "nir")],
    }[command]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hetsnn: error:") and err.count("\n") == 1, err
    assert path.name in err and len(err) < 400, err


def _event_tags(folder) -> dict[str, list[int]]:
    """``{tag: [steps]}`` of the event files in ``folder`` (TFRecord framing: length,
    crc, Event proto, crc)."""
    import struct

    from tensorboardX.proto import event_pb2

    tags = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data, i = path.read_bytes(), 0
        while i < len(data):
            (length,) = struct.unpack("<Q", data[i : i + 8])
            event = event_pb2.Event.FromString(data[i + 12 : i + 12 + length])
            i += 12 + length + 4
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    return tags


@pytest.mark.slow
def test_tensorboard_events_hold_rewards_and_property_histograms(memory_smoke_run, capsys):
    assert main(["tb", str(memory_smoke_run)]) == 0
    manifest = storage.read_json(memory_smoke_run / MANIFEST)
    neuron = next(p for p in manifest["points"] if p["name"].startswith("neuron"))
    generations = storage.read_json(memory_smoke_run / "points" / neuron["name"] / RESULT)[
        "generations"
    ]
    tags = _event_tags(memory_smoke_run / "tensorboard" / neuron["name"])
    assert tags["centre_reward/mean"] == list(range(1, generations + 1))
    assert tags["centre_reward/seed1"] == list(range(1, generations + 1))
    for prop in ("tau_m", "v_th", "v_rest", "R"):
        assert tags[f"{prop}/quantiles"][0] == 0 and tags[f"{prop}/quantiles"][-1] == generations
        assert tags[f"{prop}/final_centres"] == [generations]
    # rebuilt, not appended, on a second call
    assert main(["tb", str(memory_smoke_run)]) == 0
    again = _event_tags(memory_smoke_run / "tensorboard" / neuron["name"])
    assert again["centre_reward/mean"] == tags["centre_reward/mean"]
    assert main(["tb", str(memory_smoke_run / "nothing-here")]) == 2
    assert "no started hetsnn run" in capsys.readouterr().err


@pytest.mark.slow
def test_provenance_is_recorded_and_does_not_block_a_resume(memory_smoke_run, capsys):
    import jax

    manifest = storage.read_json(memory_smoke_run / MANIFEST)
    result = storage.read_json(memory_smoke_run / "points" / manifest["points"][0]["name"] / RESULT)
    for record in (manifest["provenance"], result["provenance"]):
        assert record["packages"]["jax"] == jax.__version__
        assert record["backend"] == jax.default_backend()
        assert record["device_count"] == jax.device_count() and record["device_kind"]
        assert "xla_flags" in record
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("hetsnn 0.1.0 (")
    # a resume by another version of hetsnn is the same run
    edited = {**manifest, "provenance": {**manifest["provenance"], "hetsnn": "0.0.1"}}
    storage.write_json(memory_smoke_run / MANIFEST, edited)
    args = ["run", "memory", "--preset", "smoke", "--out", str(memory_smoke_run), "--resume"]
    assert main([*args, "--quiet", "--no-report"]) == 0
    assert storage.read_json(memory_smoke_run / MANIFEST)["provenance"]["hetsnn"] == "0.0.1"


@pytest.mark.parametrize(
    "command",
    [["export-nir"], ["tb"], ["probe"], ["probe", "--noise"], ["report"]],
)
def test_a_non_finite_network_is_refused_by_every_reader(memory_smoke_run, tmp_path, command,
                                                         capsys):  # fmt: skip
    pytest.importorskip("nir")
    import shutil

    import numpy as np

    from hetsnn.rundir import CENTRES

    run = tmp_path / "run"
    shutil.copytree(memory_smoke_run, run, ignore=shutil.ignore_patterns("report", "nir"))
    folder = sorted((run / "points").iterdir())[0]
    arrays = storage.load_arrays(folder / CENTRES)
    arrays["tau_m"] = np.full_like(arrays["tau_m"], np.nan)
    storage.save_arrays(folder / CENTRES, **arrays)
    assert main([command[0], str(run), *command[1:]]) == 2
    err = capsys.readouterr().err
    assert "tau_m holds non-finite values" in err and err.count("\n") == 1
    assert not (run / "nir").exists()


@pytest.mark.slow
def test_a_report_without_the_allen_table_keeps_the_comparison_to_biology(
    memory_smoke_run, shared_data, tmp_path, monkeypatch
):
    import shutil

    from hetsnn.data.locations import CACHE_ENV, DATA_DIR_ENV
    from hetsnn.report.biology import CACHE

    run = tmp_path / "run"
    shutil.copytree(memory_smoke_run, run)
    shutil.rmtree(run / "report", ignore_errors=True)
    assert main(["report", str(run)]) == 0
    with_table = (run / "report" / "table.md").read_text()
    ks_lines = [line for line in with_table.splitlines() if "; KS " in line]
    assert ks_lines and (run / "report" / CACHE).exists()
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "nothing"))  # a machine without the data
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "empty-cache"))
    assert main(["report", str(run)]) == 0
    without = (run / "report" / "table.md").read_text()
    assert [line for line in without.splitlines() if "; KS " in line] == ks_lines
    assert "stored by an earlier report" in without
    (run / "report" / CACHE).unlink()  # nothing stored either: said, not invented
    assert main(["report", str(run)]) == 0
    assert "no Allen Cell Types table here" in (run / "report" / "table.md").read_text()
