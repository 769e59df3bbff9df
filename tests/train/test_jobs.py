"""The studies' job loop: skip what is done, write atomically, resume checkpointed steps."""

import jax.numpy as jnp
import pytest

from hetsnn import storage
from hetsnn.errors import RunDirError
from hetsnn.train.jobs import Job, checkpointed_steps, run_jobs


def test_run_jobs_computes_only_missing_results(tmp_path):
    calls = []

    def compute(name):
        def run(out, progress):
            calls.append(name)
            return None if name == "nothing" else {"name": name, "out": str(out)}

        return run

    storage.write_json(tmp_path / "done.json", {"name": "old"})
    jobs = [Job(f"{n}.json", compute(n)) for n in ("done", "a", "nothing")]
    jobs.append(Job("sub/b.json", compute("b")))
    run_jobs(jobs, tmp_path, "test", progress=False)
    assert calls == ["a", "nothing", "b"]
    assert storage.read_json(tmp_path / "done.json") == {"name": "old"}
    assert storage.read_json(tmp_path / "sub" / "b.json")["name"] == "b"
    assert not (tmp_path / "nothing.json").exists()
    run_jobs(jobs, tmp_path, "test", progress=False)  # a resume: only the file-less job again
    assert calls == ["a", "nothing", "b", "nothing"]


def _count(state, i):
    return state + 1.0, {"value": float(state), "step": float(i)}


def test_checkpointed_steps_resume_where_they_stopped(tmp_path):
    checkpoint = tmp_path / "checkpoint.npz"
    whole, history = checkpointed_steps(tmp_path / "whole.npz", "a", jnp.float32(0), 4, _count)
    checkpointed_steps(checkpoint, "a", jnp.float32(0), 2, _count)
    seen = []

    def counting(state, i):
        seen.append(i)
        return _count(state, i)

    resumed, resumed_history = checkpointed_steps(checkpoint, "a", jnp.float32(0), 4, counting)
    assert seen == [2, 3]  # the two finished steps are not redone
    assert float(resumed) == float(whole) == 4.0
    assert resumed_history == history == {"value": [0.0, 1.0, 2.0, 3.0], "step": [0, 1, 2, 3]}


def test_checkpointed_steps_refuse_another_jobs_checkpoint(tmp_path):
    checkpoint = tmp_path / "checkpoint.npz"
    checkpointed_steps(checkpoint, "a", jnp.float32(0), 1, _count)
    with pytest.raises(RunDirError, match="another cell"):
        checkpointed_steps(checkpoint, "b", jnp.float32(0), 2, _count)
    storage.save_pytree(checkpoint, jnp.float32(0), config="a")  # a state without history
    with pytest.raises(RunDirError, match="no consistent history"):
        checkpointed_steps(checkpoint, "a", jnp.float32(0), 2, _count)
