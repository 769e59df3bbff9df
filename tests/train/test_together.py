"""Runs that share one compiled program train side by side (``train_together``): each
run directory ends up as training it alone leaves it."""

import numpy as np
import pytest
from conftest import Interrupt, interrupt_after

from hetsnn import storage
from hetsnn.config import NetworkConfig, RunConfig, StrategyConfig
from hetsnn.experiments import get_experiment
from hetsnn.experiments.base import program_groups
from hetsnn.rundir import CENTRES, METRICS, PROPERTIES, RESULT
from hetsnn.tasks import CartPoleTask
from hetsnn.train.loop import train, train_together
from hetsnn.train.spec import RunSpec

TAU = RunConfig(
    CartPoleTask(max_steps=40, episodes=1),
    NetworkConfig(n_hidden=8),
    StrategyConfig(population=8),
    trainable=("tau_m",),
    generations=4,
    seeds=2,
    chunk=2,
    eval_episodes=2,
)
CONFIGS = [TAU, TAU.replace(trainable=("R",)), TAU.replace(trainable=("v_th",))]
FILES = (METRICS, PROPERTIES)


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """Each config trained on its own: the reference."""
    root = tmp_path_factory.mktemp("alone")
    dirs = [root / str(i) for i in range(len(CONFIGS))]
    results = [train(c, d, progress=False) for c, d in zip(CONFIGS, dirs, strict=True)]
    return dirs, results


def assert_same_runs(dirs, reference_dirs):
    for mine, theirs in zip(dirs, reference_dirs, strict=True):
        for name in FILES:
            assert (mine / name).read_bytes() == (theirs / name).read_bytes(), (mine, name)
        a, b = storage.read_json(mine / RESULT), storage.read_json(theirs / RESULT)
        for key in ("final_centre_reward", "initial_centre_reward", "trainable_parameters"):
            assert a[key] == b[key]
        for name, value in storage.load_arrays(mine / CENTRES).items():
            np.testing.assert_array_equal(value, storage.load_arrays(theirs / CENTRES)[name])


def test_side_by_side_runs_write_what_they_write_alone(alone, tmp_path):
    dirs = [tmp_path / str(i) for i in range(len(CONFIGS))]
    results = train_together(CONFIGS, dirs, progress=False)
    assert_same_runs(dirs, alone[0])
    assert [r["timing"]["runs_per_program"] for r in results] == [3, 3, 3]
    assert [r["timing"]["runs_per_program"] for r in alone[1]] == [1, 1, 1]


def test_one_program_trains_a_different_property_for_each_run(alone):
    """The configs share every compiled program, yet each trains its own property: which
    one is data in the seeds' state, not baked into the program."""
    fields = {"tau_m": "tau_m", "R": "resistance", "v_th": "v_th"}
    for config, run_dir in zip(CONFIGS, alone[0], strict=True):
        centres = storage.load_arrays(run_dir / CENTRES)
        for name, field in fields.items():
            spread = float(np.ptp(centres[field]))
            assert (spread > 0) == (name in config.trainable), (config.trainable, name)


def test_an_interrupted_group_resumes_and_mixed_progress_trains_in_turn(alone, tmp_path):
    dirs = [tmp_path / str(i) for i in range(len(CONFIGS))]
    with pytest.raises(Interrupt):
        train_together(CONFIGS[:2], dirs[:2], progress=False, on_chunk=interrupt_after(2))
    assert [len(storage.read_jsonl(d / METRICS)) for d in dirs[:2]] == [2, 2]
    assert not any((d / RESULT).exists() for d in dirs)
    # two runs at generation 2 and a new one at 0: trained one after another
    results = train_together(CONFIGS, dirs, progress=False)
    assert_same_runs(dirs, alone[0])
    assert [r["timing"]["generations_timed"] for r in results] == [2, 2, 4]


def test_finished_runs_are_read_not_retrained(alone):
    before = [(d / METRICS).stat().st_mtime_ns for d in alone[0]]
    assert train_together(CONFIGS, alone[0], progress=False) == alone[1]
    assert [(d / METRICS).stat().st_mtime_ns for d in alone[0]] == before


def test_runs_that_cannot_share_a_program_are_refused(tmp_path):
    for other in (TAU.replace(seeds=3), TAU.replace(trainable=("tau_m", "R"))):
        with pytest.raises(ValueError, match="share one compiled program"):
            train_together([TAU, other], [tmp_path / "a", tmp_path / "b"], progress=False)
    assert not (tmp_path / "a").exists()


def test_the_ablation_trains_its_subsets_of_one_size_together():
    points = get_experiment("ablation").points("smoke")
    groups = program_groups(points)
    assert [len(group) for group in groups] == [4, 6, 4, 1]
    assert [len(p.config.trainable) for group in groups for p in group] == sorted(
        len(p.config.trainable) for p in points
    )
    specs = {RunSpec.from_config(p.config) for p in points}
    assert len(specs) == 4  # four programs, where each subset had its own before
