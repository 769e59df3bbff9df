"""`hetsnn run --cluster ray` on a local Ray cluster (2 CPUs, no dashboard): the files of the
sequential run, a killed worker's point resumed from its checkpoint, user errors as one
line, and a second driver refused. One cluster serves the module and is shut down after it."""

import json
import os
import shutil
import signal
import threading
import time
import warnings
from pathlib import Path

import pytest

from hetsnn import storage
from hetsnn.cli import main
from hetsnn.errors import ClusterError, ConfigError, RunDirError
from hetsnn.experiments import get_experiment, run_experiment
from hetsnn.train.cluster import Cluster, projected_wall_seconds

ray = pytest.importorskip("ray")  # in the dev extra; a user's install may lack it

NOT_COMPARED = {"timing", "provenance"}  # when and where it ran, not what it computed


@pytest.fixture(scope="module")
def local_ray():
    with warnings.catch_warnings():  # Ray's fork + exec, not a bare fork (hetsnn.train.cluster)
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def _without(data, keys):
    if isinstance(data, dict):
        return {k: _without(v, keys) for k, v in data.items() if k not in keys}
    if isinstance(data, list):
        return [_without(v, keys) for v in data]
    return data


def run_files(out: Path) -> dict[str, object]:
    """What a run computed: every file under ``points/`` and the manifest, JSON files
    without their timing and provenance, the rest as bytes."""
    files = {}
    for path in sorted([out / "experiment.json", *(out / "points").rglob("*")]):
        if not path.is_file() or path.name == ".lock":
            continue
        name = str(path.relative_to(out))
        if path.suffix == ".json":
            files[name] = _without(json.loads(path.read_text()), NOT_COMPARED)
        else:
            files[name] = path.read_bytes()
    return files


def test_cluster_addresses_are_parsed_and_other_engines_refused():
    assert Cluster.parse("ray") == Cluster(address=None)
    assert Cluster.parse("ray:auto") == Cluster(address="auto")
    assert Cluster.parse("ray:10.1.2.3:6379") == Cluster(address="10.1.2.3:6379")
    for spec in ("dask", "ray:", "slurm:ray"):
        with pytest.raises(ConfigError):
            Cluster.parse(spec)


def test_bad_cluster_value_is_a_one_line_error(tmp_path, capsys):
    argv = ["run", "memory", "--preset", "smoke", "--out", str(tmp_path / "r"), "--quiet"]
    assert main([*argv, "--cluster", "dask"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "hetsnn: error: --cluster 'dask': only Ray is supported; write ray, ray:auto or "
        "ray:HOST:PORT"
    ]
    assert not (tmp_path / "r").exists()


def test_missing_ray_is_a_one_line_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as on an install without the extra
    with pytest.raises(ConfigError, match=r'pip install "hetsnn\[cluster\]"'):
        run_experiment(get_experiment("memory"), "smoke", tmp_path / "r", cluster="ray")


def test_an_unreachable_cluster_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    def refuse(**options):  # what ray.init raises when no head answers at the address
        raise ConnectionError(f"Failed to connect to Ray cluster at {options['address']}")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(ConfigError, match="cannot join the Ray cluster: Failed to connect"):
        run_experiment(get_experiment("memory"), "smoke", tmp_path / "r", cluster="ray:head:6379")
    assert not (tmp_path / "r").exists()


def test_what_the_driver_raises_for_each_kind_of_failed_task():
    from hetsnn.train.cluster import _unwrapped

    mistake = ConfigError("a user's mistake")
    assert _unwrapped(ray, ray.exceptions.RayTaskError("f", "tb", mistake)) is mistake
    bug = ray.exceptions.RayTaskError("f", "Traceback ... ZeroDivisionError", ZeroDivisionError())
    assert _unwrapped(ray, bug) is bug  # a bug keeps the worker's traceback
    for lost in (ray.exceptions.WorkerCrashedError(), ray.exceptions.LocalRayletDiedError()):
        error = _unwrapped(ray, lost)
        assert isinstance(error, ClusterError) and "\n" not in str(error)
        assert "rerun with --resume" in str(error)
    interrupt = KeyboardInterrupt()
    assert _unwrapped(ray, interrupt) is interrupt


def test_projected_wall_time_gives_each_free_device_the_next_point():
    assert projected_wall_seconds([10, 10, 10, 10], 2) == 20
    assert projected_wall_seconds([30, 10, 10, 10], 2) == 30
    assert projected_wall_seconds([5, 4, 3, 3, 3], 2) == 10  # 5+3 | 4+3+3
    assert projected_wall_seconds([3, 3, 3, 4, 5], 2) == 11  # 3+3+5 | 3+4: order matters
    assert projected_wall_seconds([7, 1, 1], 64) == 7  # never below the longest point
    assert projected_wall_seconds([2.0] * 48, 1) == 96


def test_smoke_sweep_on_ray_writes_the_sequential_files(local_ray, memory_smoke_run, tmp_path):
    out = tmp_path / "memory-smoke-ray"
    argv = ["run", "memory", "--preset", "smoke", "--out", str(out), "--quiet", "--no-report"]
    assert main([*argv, "--cluster", "ray"]) == 0
    assert run_files(out) == run_files(memory_smoke_run)
    assert len(list((out / "points").glob("*/result.json"))) == 6


def test_a_study_of_jobs_on_ray_waits_for_what_a_job_reads(local_ray, tmp_path):
    """hrsnn's best-design arm reads the search's result: it starts after the search."""
    study = get_experiment("hrsnn")
    run_experiment(study, "smoke", tmp_path / "seq", progress=False)
    run_experiment(study, "smoke", tmp_path / "ray", progress=False, cluster="ray")
    files = {}
    for name in ("seq", "ray"):
        folder = tmp_path / name
        files[name] = {
            str(p.relative_to(folder)): _without(json.loads(p.read_text()), NOT_COMPARED)
            for p in folder.rglob("*.json")
        }
    assert files["ray"] == files["seq"]
    assert {"search.json", "arms/bayes-opt.json"} <= set(files["ray"])


# Long enough that a point is still training after its first checkpoints.
KILL_OVERRIDES = {"generations": 200, "chunk": 5, "seeds": 1, "lengths": (2,)}


def _kill_a_point_once_checkpointed(out: Path, killed: list, stop: threading.Event) -> None:
    """Send SIGKILL to the process that trains the first point seen with a checkpoint and no
    result (its pid is in the point's lock file), and record (point, pid)."""
    while not stop.is_set() and not killed:
        for folder in sorted((out / "points").glob("*")):
            lock = folder / ".lock"
            if not (folder / "checkpoint.npz").exists() or (folder / "result.json").exists():
                continue
            pid = lock.read_text().strip() if lock.exists() else ""
            if pid.isdigit():
                os.kill(int(pid), signal.SIGKILL)
                killed.append((folder.name, int(pid)))
                return
        time.sleep(0.01)


def test_a_killed_worker_is_retried_and_resumes_its_point(local_ray, tmp_path):
    memory = get_experiment("memory")
    run_experiment(memory, "smoke", tmp_path / "seq", overrides=KILL_OVERRIDES, progress=False)
    out = tmp_path / "ray"
    killed: list = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_a_point_once_checkpointed, args=(out, killed, stop))
    killer.start()
    try:
        run_experiment(memory, "smoke", out, overrides=KILL_OVERRIDES, progress=False,
                       cluster="ray")  # fmt: skip
    finally:
        stop.set()
        killer.join()
    assert killed, "no point was caught between its first checkpoint and its result"
    [(point, pid)] = killed
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # that worker is gone
    assert run_files(out) == run_files(tmp_path / "seq")
    result = storage.read_json(out / "points" / point / "result.json", dict)
    # the retry trained only the generations after the checkpoint it found
    assert 0 < result["timing"]["generations_timed"] < KILL_OVERRIDES["generations"]


@pytest.fixture
def unfinished_copy(memory_smoke_run, tmp_path):
    """A copy of the smoke run with one point's result removed (so there is work left)."""
    out = tmp_path / "copy"
    shutil.copytree(memory_smoke_run, out)
    (out / "points" / "neuron-L2" / "result.json").unlink()
    return out


def test_a_user_error_in_a_task_is_one_line(local_ray, unfinished_copy, capsys):
    (unfinished_copy / "points" / "neuron-L2" / "checkpoint.npz").write_bytes(b"not an npz")
    argv = ["run", "memory", "--preset", "smoke", "--out", str(unfinished_copy)]
    assert main([*argv, "--resume", "--quiet", "--no-report", "--cluster", "ray"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("hetsnn: error: ") and "checkpoint" in err
    assert "Traceback" not in err and "RayTaskError" not in err


def test_a_second_driver_on_the_same_out_is_refused(local_ray, unfinished_copy):
    memory = get_experiment("memory")
    with (
        storage.locked(unfinished_copy, "a first driver"),
        pytest.raises(RunDirError, match="in use by another process"),
    ):
        run_experiment(memory, "smoke", unfinished_copy, resume=True, cluster="ray")
    assert not (unfinished_copy / "points" / "neuron-L2" / "result.json").exists()


# docs/cost.md's projection: seconds per paper-preset point from the H100 figures the page
# lists (compile + 1000 generations), and the wall time it prints for 1, 8 and 64 GPUs.
H100_MEMORY_MS = (1.7, 6.5)  # per generation at L 5 and L 50, taken as linear in L
H100_CLASSIFY_S = {1024: 0.033, 2048: 0.070, 4096: 0.152, 8192: 0.305}  # Neuron arm, by H
H100_BRAX_S = {"ant": 1.62, "hopper": 0.73}
BRAX_PRESETS = ("control", "ablation")  # their ant and hopper points: the envs measured


def _paper_point_seconds() -> dict[str, list[float]]:
    low, high = H100_MEMORY_MS
    memory = [
        5 + (low + (int(p.name.rsplit("-L", 1)[1]) - 5) / 45 * (high - low))
        for p in get_experiment("memory").points("paper")
    ]
    classify = [
        5 + 1000 * H100_CLASSIFY_S.get(p.config.network.n_hidden, 0.0015)
        for p in get_experiment("classify").points("paper")
    ]
    brax = {
        name: [
            20 + 1000 * H100_BRAX_S[p.config.task.env]
            for p in get_experiment(name).points("paper")
            if p.config.task.env in H100_BRAX_S
        ]
        for name in BRAX_PRESETS
    }
    return {"memory": memory, "classify": classify, **brax}


def _duration(seconds: float) -> str:
    if seconds < 600:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def cost_rows() -> list[str]:
    rows = []
    for name, seconds in _paper_point_seconds().items():
        walls = [_duration(projected_wall_seconds(seconds, gpus)) for gpus in (1, 8, 64)]
        label = f"`{name} --preset paper`" + (" (ant, hopper)" if name in BRAX_PRESETS else "")
        cells = [label, str(len(seconds)), _duration(max(seconds)), *walls]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def test_the_cost_page_prints_the_projection_of_its_own_figures():
    page = (Path(__file__).parents[2] / "docs" / "cost.md").read_text()
    for row in cost_rows():
        assert row in page, row
