"""docs/tutorial.md as a user follows it: its file saved as acrobot.py, then run, report,
probe, tb and export-nir through the command line; and the plug-in loader's refusals."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from hetsnn import plugins, storage
from hetsnn.cli import main
from hetsnn.errors import ConfigError
from hetsnn.experiments import EXPERIMENTS, experiment_in_file, register_experiment
from hetsnn.model.neuron_models import NEURON_MODELS
from hetsnn.tasks import TASKS, register_task

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def tutorial_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TUTORIAL.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def registries():
    """The registries as they were before this module's plug-ins: restored afterwards, so
    no other test sees the tutorial's task or experiment."""
    saved = dict(TASKS), dict(EXPERIMENTS), dict(NEURON_MODELS), dict(plugins._loaded)
    yield
    registries = (TASKS, EXPERIMENTS, NEURON_MODELS, plugins._loaded)
    for registry, before in zip(registries, saved, strict=True):
        registry.clear()
        registry.update(before)


@pytest.fixture(scope="module")
def tutorial_run(registries, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tutorial")
    source = folder / "acrobot.py"
    source.write_text(tutorial_blocks("python")[0])
    out = folder / "runs" / "acrobot-smoke"
    assert main(["run", str(source), "--preset", "smoke", "--out", str(out), "--quiet"]) == 0
    return source, out


def test_the_commands_of_the_tutorial_are_the_ones_tested():
    commands = [line.split("#")[0].split() for b in tutorial_blocks("bash") for line in
                b.splitlines() if line.strip()]  # fmt: skip
    assert [c[:2] for c in commands] == [["hetsnn", "run"], ["hetsnn", "report"],
                                         ["hetsnn", "probe"], ["hetsnn", "tb"],
                                         ["hetsnn", "export-nir"]]  # fmt: skip
    assert "--point neuron-T40 --for norse" in " ".join(commands[-1])


@pytest.mark.slow
def test_the_tutorial_experiment_runs_resumes_and_reports(tutorial_run, capsys):
    source, out = tutorial_run
    manifest = storage.read_json(out / "experiment.json")
    assert manifest["experiment"] == "acrobot" and manifest["source"] == str(source)
    for point in ("neuron-T40", "weight-T40"):
        result = storage.read_json(out / "points" / point / "result.json")
        centre = np.asarray(result["final_centre_reward"])
        assert centre.shape == (2,) and np.all((centre >= -40) & (centre <= 0))  # -1 a step
    args = ["run", str(source), "--preset", "smoke", "--out", str(out), "--quiet"]
    assert main([*args, "--resume", "--no-report"]) == 0  # finished: nothing to do
    assert main(args) == 2 and "pass --resume" in capsys.readouterr().err
    assert main(["report", str(out)]) == 0
    table = (out / "report" / "table.md").read_text()
    assert "Neuron (heterogeneous)" in table and "Weight (homogeneous)" in table
    assert (out / "report" / "reward.png").stat().st_size > 1000


@pytest.mark.slow
def test_the_tutorial_run_is_read_back_from_its_file_alone(tutorial_run, registries, capsys):
    """A new process knows nothing of acrobot: probe, tb and export-nir load the file that
    experiment.json names."""
    source, out = tutorial_run
    TASKS.pop("acrobot")
    EXPERIMENTS.pop("acrobot")
    plugins._loaded.clear()
    assert main(["probe", str(out)]) == 0
    assert (out / "report" / "controls.md").exists() and "acrobot" in TASKS
    TASKS.pop("acrobot")
    plugins._loaded.clear()
    assert main(["tb", str(out)]) == 0
    assert any((out / "tensorboard").rglob("events.out.tfevents.*"))
    TASKS.pop("acrobot")
    plugins._loaded.clear()
    nir_out = out.parent / "nir"
    argv = ["export-nir", str(out), "--point", "neuron-T40", "--for", "norse", "--samples",
            "2", "--out", str(nir_out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "import norse" in printed and "0 hidden-spike mismatches" in printed
    moved = source.with_name("moved.py")
    shutil.move(source, moved)
    TASKS.pop("acrobot")
    plugins._loaded.clear()
    try:
        assert main(["report", str(out)]) == 2
        err = capsys.readouterr().err
        assert "no longer exists" in err and err.count("\n") == 1
    finally:
        shutil.move(moved, source)


def plugin_file(tmp_path, body: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text(
        "from hetsnn.experiments import Experiment, register_experiment\n"
        "from hetsnn.experiments.memory import PRESETS, make_points\n" + body
    )
    return path


def experiment(name: str) -> str:
    return (f"register_experiment(Experiment(name={name!r}, summary='s', x_label='x', "
            "y_label='y', presets=PRESETS, make_points=make_points))\n")  # fmt: skip


def test_a_file_experiment_is_found_and_recorded(registries, tmp_path):
    path = plugin_file(tmp_path, experiment("mine"))
    found = experiment_in_file(path)
    assert found.name == "mine" and found.source == str(path.resolve())
    assert experiment_in_file(path) is found  # loaded once


@pytest.mark.parametrize(
    "body, message",
    [
        ("x = 1\n", "must register exactly one experiment .* registers none"),
        (experiment("memory"), "'memory' is built into hetsnn"),
        ("\n\nraise RuntimeError('broken')\n", r"mine.py, line 5: RuntimeError: broken"),
        ("def f(:\n", "SyntaxError"),
    ],
)
def test_a_bad_plugin_file_is_one_line(registries, tmp_path, capsys, body, message):
    path = plugin_file(tmp_path, body)
    with pytest.raises(ConfigError, match=message):
        experiment_in_file(path)
    assert main(["run", str(path), "--preset", "smoke", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hetsnn: error:") and err.count("\n") == 1


def test_not_a_python_file_is_refused(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.py"), "--out", str(tmp_path / "o")]) == 2
    assert "is not a Python file" in capsys.readouterr().err


def test_a_task_must_have_a_name_of_its_own(registries):
    from hetsnn.tasks import MemoryTask

    class Nameless:
        pass

    with pytest.raises(ConfigError, match="needs a class attribute name"):
        register_task(Nameless)

    class Impostor(MemoryTask):
        pass

    with pytest.raises(ConfigError, match="'memory' is built into hetsnn"):
        register_task(Impostor)

    class Incomplete:
        name = "incomplete"

    with pytest.raises(ConfigError, match="lacks .*evaluate"):
        register_task(Incomplete)
    with pytest.raises(ConfigError, match="not a hetsnn.experiments.Experiment"):
        register_experiment(object())


def test_installed_plugins_are_loaded_from_their_entry_points(registries, monkeypatch, tmp_path):
    """An installed package's entry point in the group hetsnn.plugins is imported the first
    time a name is unknown; its experiment is then found by name."""
    from importlib.metadata import EntryPoint

    package = tmp_path / "site"
    package.mkdir()
    (package / "my_plugin.py").write_text(
        plugin_file(tmp_path, experiment("installed-one")).read_text()
    )
    monkeypatch.syspath_prepend(str(package))
    point = EntryPoint(name="mine", value="my_plugin", group=plugins.GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [point] if group == plugins.GROUP
                        else [])  # fmt: skip
    plugins.load_installed.cache_clear()
    try:
        from hetsnn.experiments import get_experiment

        assert get_experiment("installed-one").name == "installed-one"
        assert plugins.load_installed() == ("mine",)
    finally:
        plugins.load_installed.cache_clear()


def test_the_tutorial_task_travels_to_a_ray_worker_by_value(registries, tmp_path):
    """A Ray worker cannot import the researcher's file by its module name: the cluster
    engine ships its classes by value (a fresh process stands in for the worker)."""
    import subprocess
    import sys

    ray = pytest.importorskip("ray")
    from hetsnn.train.cluster import ship_plugins

    source = tmp_path / "acrobot.py"
    source.write_text(tutorial_blocks("python")[0])
    config = experiment_in_file(source).points("smoke")[0].config
    ship_plugins(ray)
    worker = "import sys, ray.cloudpickle as c; print(c.loads(sys.stdin.buffer.read()).task)"
    done = subprocess.run([sys.executable, "-c", worker], input=ray.cloudpickle.dumps(config),
                          capture_output=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert done.stdout.decode().strip() == "AcrobotTask(episodes=4, max_steps=40)"
