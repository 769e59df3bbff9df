"""The reservoir studies end to end: `quenched` and `hrsnn` at their smoke presets, run
through run_experiment, resumed and reported."""

import csv
import dataclasses
import resource
import shutil
import signal

import jax
import numpy as np
import pytest

from hetsnn import storage
from hetsnn.errors import ConfigError, RunDirError
from hetsnn.experiments import get_experiment, run_experiment
from hetsnn.report.build import build_report
from hetsnn.studies import hrsnn as hrsnn_module
from hetsnn.studies.quenched import QuenchedSettings, cell_path, tau_distribution

OVERRIDES = {"sizes": (20,), "kinds": ("rate",)}  # the spiking kind: test_reservoir.py


@pytest.fixture(scope="module")
def quenched_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "quenched"
    run_experiment(get_experiment("quenched"), "smoke", out, overrides=OVERRIDES, progress=False)
    return out


@pytest.mark.slow
def test_quenched_writes_every_cell_and_resumes_without_recomputing(quenched_run):
    settings = get_experiment("quenched").resolve("smoke", OVERRIDES)
    paths = [cell_path(quenched_run, kind, 20, 0) for kind in settings.kinds]
    cells = [storage.read_json(p) for p in paths]
    for cell in cells:
        scores = np.asarray(cell["scores"])
        assert scores.shape == (2, len(settings.suite.variant_names()))  # 2 distributions
        assert np.all(np.isfinite(scores))
    stamps = [p.stat().st_mtime_ns for p in paths]
    run_experiment(
        get_experiment("quenched"),
        "smoke",
        quenched_run,
        resume=True,
        overrides=OVERRIDES,
        progress=False,
    )
    assert [p.stat().st_mtime_ns for p in paths] == stamps


@pytest.mark.slow
def test_a_resume_recomputes_a_damaged_cell_and_sweeps_temporaries(quenched_run, tmp_path, capsys):
    out = tmp_path / "quenched"
    shutil.copytree(quenched_run, out)
    settings = get_experiment("quenched").resolve("smoke", OVERRIDES)
    damaged = cell_path(out, settings.kinds[0], 20, 0)
    good = damaged.read_bytes()
    damaged.write_bytes(good[: len(good) // 2])  # a disk fault or a hand edit
    leftover = damaged.parent / f".{damaged.name}.x1y2.tmp"  # a writer killed in the folder
    leftover.write_text("{")
    others = {p: p.stat().st_mtime_ns for p in out.rglob("*.json") if p != damaged}
    run_experiment(get_experiment("quenched"), "smoke", out, resume=True, overrides=OVERRIDES,
                   progress=False)  # fmt: skip
    assert damaged.read_bytes() == good  # computed again, to the same numbers
    assert not leftover.exists()
    assert {p: p.stat().st_mtime_ns for p in others} == others  # nothing else recomputed
    assert f"computing it again: {damaged} is damaged" in capsys.readouterr().err


def test_quenched_report(quenched_run):
    table = build_report(quenched_run)
    assert "| 20 |" in table and "homogeneous" in table and "share removed 1" in table
    report = quenched_run / "report"
    for name in ("sizes.png", "memory.png", "robustness.png"):
        assert (report / name).stat().st_size > 1000
    rows = list(csv.DictReader((report / "results.csv").open()))
    assert len(rows) == 2  # distributions (one kind, size and seed)
    # the CSV's memory capacity is the sum of the stored m(d) of that cell
    cell = storage.read_json(cell_path(quenched_run, "rate", 20, 0))
    delays = len(get_experiment("quenched").presets["smoke"].suite.delays)
    expected = sum(cell["scores"][1][:delays])
    gamma = next(r for r in rows if r["kind"] == "rate" and r["distribution"] == "gamma")
    assert float(gamma["memory capacity"]) == pytest.approx(expected, rel=1e-4)


def test_matched_distributions_have_the_asked_mean_and_cv():
    for name in ("gamma", "lognormal", "uniform"):
        dist = tau_distribution(name, 20.0, 0.5)
        draws = np.asarray(dist.sample(jax.random.key(0), 100_000))
        assert draws.mean() == pytest.approx(20.0, rel=0.02)
        assert draws.std() / draws.mean() == pytest.approx(0.5, rel=0.03)
    with pytest.raises(ConfigError, match="uniform"):
        QuenchedSettings(
            sizes=(10,),
            seeds=1,
            robustness_size=10,
            tau_cv=0.8,
            distributions=("homogeneous", "uniform"),
        )
    with pytest.raises(ConfigError, match="homogeneous"):
        QuenchedSettings(sizes=(10,), seeds=1, robustness_size=10, distributions=("gamma",))


@pytest.mark.slow
def test_hrsnn_arms_search_resume_and_report(tmp_path):
    out = tmp_path / "hrsnn"
    overrides = {"trials": 2}
    run_experiment(get_experiment("hrsnn"), "smoke", out, overrides=overrides, progress=False)
    for arm in hrsnn_module.ARMS:
        result = storage.read_json(hrsnn_module.arm_path(out, arm))
        assert np.asarray(result["scores"]).shape[0] == 1  # one test seed
    settings = get_experiment("hrsnn").resolve("smoke", overrides)
    # an interrupted search continues where it stopped: one more trial, not three
    study = hrsnn_module.search(dataclasses.replace(settings, trials=3), out, progress=False)
    assert [t.number for t in study.trials] == [0, 1, 2]
    table = build_report(out)
    assert "bayes-opt" in table and "3 trials" in table
    assert (out / "report" / "search.png").stat().st_size > 1000
    rows = list(csv.DictReader((out / "report" / "trials.csv").open()))
    for row in rows:  # the objective is the ratio the trial recorded
        ratio = float(row["rate_hz"]) / float(row["memory_capacity"])
        assert float(row["objective"]) == pytest.approx(ratio, rel=1e-6)


@pytest.mark.slow
def test_quenched_writes_nothing_without_the_allen_table(monkeypatch, tmp_path):
    from hetsnn.data import allen
    from hetsnn.data.locations import DataNotFound

    def missing():
        raise DataNotFound("no Allen table here")

    monkeypatch.setattr(allen, "read_table", missing)
    out = tmp_path / "quenched"
    with pytest.raises(DataNotFound, match="Allen"):
        run_experiment(get_experiment("quenched"), "small", out, progress=False)
    assert not out.exists()


def test_an_interrupted_search_resumes_to_the_uninterrupted_one(tmp_path):
    """A process killed inside a trial leaves it RUNNING, its parameters drawn: the resumed
    search fails it, restores the sampler and proposes exactly what the uninterrupted
    search did (a fresh TPESampler(seed=0) once repeated trial 0's parameters)."""
    import optuna

    settings = dataclasses.replace(get_experiment("hrsnn").resolve("smoke"), trials=4)
    whole = hrsnn_module.search(settings, tmp_path / "whole", progress=False)
    cut = tmp_path / "cut"
    hrsnn_module.search(dataclasses.replace(settings, trials=2), cut, progress=False)
    killed = optuna.load_study(
        study_name=hrsnn_module.STUDY,
        storage=f"sqlite:///{cut / 'optuna.db'}",
        sampler=hrsnn_module._restored_sampler(cut),
    ).ask()
    for name, (low, high, log) in hrsnn_module.SEARCH_SPACE.items():
        killed.suggest_float(name, low, high, log=log)
    resumed = hrsnn_module.search(settings, cut, progress=False)

    states = optuna.trial.TrialState

    def finished(study):
        return [t.params for t in study.trials if t.state in (states.COMPLETE, states.PRUNED)]

    assert len(finished(whole)) == 4
    assert finished(resumed) == finished(whole)
    assert [t.state for t in resumed.trials].count(states.FAIL) == 1
    assert not [t for t in resumed.trials if t.state == states.RUNNING]
    minimum = settings.min_memory_capacity
    assert hrsnn_module.best_design(resumed, minimum) == hrsnn_module.best_design(whole, minimum)


def _instant_trials(monkeypatch, during_trial=lambda number: None):
    """The search with trials that cost nothing: only its storage is under test."""
    calls = []

    def evaluate(s, design, seeds, plastic=True):
        calls.append(design)
        during_trial(len(calls))
        return {}

    monkeypatch.setattr(hrsnn_module, "evaluate", evaluate)
    monkeypatch.setattr(hrsnn_module, "objective_terms", lambda result, suite: (1.0, 1.0, 1.0))


def test_a_search_on_a_full_disk_stops_in_one_line_and_resumes(monkeypatch, tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def disk_fills(trial):
        if trial == 2:  # no file may grow past 1 byte: what a full disk does to a write
            resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))

    _instant_trials(monkeypatch, disk_fills)
    settings = dataclasses.replace(get_experiment("hrsnn").resolve("smoke"), trials=3)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a kill
    try:
        with pytest.raises(RunDirError, match="optuna.db cannot be used") as caught:
            hrsnn_module.search(settings, tmp_path, progress=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert "\n" not in str(caught.value) and "--resume" in str(caught.value)
    study = hrsnn_module.search(settings, tmp_path, progress=False)  # space freed
    assert len(hrsnn_module._finished(study)) == 3


def test_a_damaged_search_storage_is_one_line(monkeypatch, tmp_path):
    _instant_trials(monkeypatch)
    (tmp_path / "optuna.db").write_bytes(b"not a database" * 100)
    settings = dataclasses.replace(get_experiment("hrsnn").resolve("smoke"), trials=1)
    with pytest.raises(RunDirError, match="optuna.db cannot be used") as caught:
        hrsnn_module.search(settings, tmp_path, progress=False)
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_a_study_directory_in_use_is_refused(tmp_path):
    out = tmp_path / "hrsnn"
    out.mkdir()
    with storage.locked(out, "in a test"), pytest.raises(RunDirError, match="pid"):
        run_experiment(get_experiment("hrsnn"), "smoke", out, progress=False)
