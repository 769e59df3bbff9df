"""The code in the README and docs does not rot: every Python block is executed by a test,
and the values its comments promise are checked.

Blocks that train for minutes run with smaller sizes (``SMALLER``): each replacement must
occur in its block, so an edited page fails here instead of silently running something
else. Blocks that need what another test makes (a trained NIR file, the tutorial's
plug-in, a registered neuron model) run there (``ELSEWHERE``)."""

import ast
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hetsnn.model.neuron_models import NEURON_MODELS

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = {
    f"{page.name}:{n}": code
    for page in PAGES
    for n, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
}

SMALLER = {
    "README.md:0": (
        ("n_hidden=64", "n_hidden=8"),
        ("population=128", "population=8"),
        ("generations=200", "generations=2"),
        ("seeds=10", "seeds=2"),
    ),
    "README.md:1": (
        ("max_steps=1000", "max_steps=10"),
        ("n_hidden=256", "n_hidden=8"),
        ("generations=100", "generations=2"),
    ),
    "README.md:2": (),
    "neurons.md:0": (),
    "cost.md:0": (('"paper"', '"smoke", "--generations", "2", "--seeds", "1"'),),
}
ELSEWHERE = {
    "neurons.md:1": "tests/model/test_neuron_docs.py",
    "nir.md:0": "tests/interop/test_simulators.py",
    "tutorial.md:0": "tests/test_tutorial.py",
}


def smaller(name: str) -> str:
    code = BLOCKS[name]
    for page_text, run_text in SMALLER[name]:
        assert page_text in code, f"{name} no longer says {page_text}: update SMALLER"
        code = code.replace(page_text, run_text)
    return code


def test_every_block_is_executed_by_a_test():
    assert len(BLOCKS) >= 5
    assert sorted(BLOCKS) == sorted([*SMALLER, *ELSEWHERE])
    for name, test_file in ELSEWHERE.items():
        assert name.split(":")[0] in (ROOT / test_file).read_text(), f"{test_file} runs {name}"


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_python_block_compiles_and_its_imports_resolve(name):
    """Cheap and first: a renamed module fails here in a second, not after a training run."""
    tree = ast.parse(BLOCKS[name])
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    exec(compile(ast.Module(body=imports, type_ignores=[]), "<docs>", "exec"), {})


@pytest.mark.slow
def test_the_readme_library_blocks_run_in_order(tmp_path, monkeypatch):
    """The three blocks share one namespace, as in a notebook; the hopper run compiles Brax."""
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for n in range(3):
        exec(compile(smaller(f"README.md:{n}"), f"README.md block {n}", "exec"), scope)
    assert np.isfinite(scope["result"]["final_centre_reward"]).all()
    assert len(scope["result"]["final_centre_reward"]) == 1  # the hopper run: one seed
    assert scope["tau_m"].shape == (1, 8)  # (seeds, n_hidden), ms
    assert (scope["tau_m"] > 0).all()
    assert {"gamma", "lognormal"} <= set(scope["fits"])
    assert scope["phi"] == pytest.approx({"a": 1.5, "b": 2.5})
    assert scope["scores"].shape == (62,)
    learned, drawn = scope["learned"].w_rec, scope["net"].w_rec
    assert learned.shape == (200, 200) and not np.array_equal(learned, drawn)  # STDP moved it
    assert scope["rate_hz"].shape == (200,) and np.isfinite(scope["rate_hz"]).all()
    assert (tmp_path / "runs" / "my-run" / "centres.npz").is_file()
    assert scope["bptt"].optimiser.lr == pytest.approx(3e-2)


def test_the_alif_block_of_docs_neurons_trains_the_adaptation():
    scope: dict = {}
    exec(compile(smaller("neurons.md:0"), "docs/neurons.md block 0", "exec"), scope)
    assert {"tau_a", "beta"} <= set(scope["config"].trainable)
    assert scope["config"].network.neuron.model in NEURON_MODELS


@pytest.mark.slow
def test_the_multi_host_block_of_docs_cost_runs_as_one_process(shared_data, tmp_path):
    """jax.distributed.initialize must come before any JAX computation, so the block runs
    in a fresh process, given the coordinator as arguments (as its comment allows) for a
    cluster of one process."""
    with socket.socket() as free:
        free.bind(("localhost", 0))
        port = free.getsockname()[1]
    code = smaller("cost.md:0").replace(
        "jax.distributed.initialize()",
        f'jax.distributed.initialize("localhost:{port}", num_processes=1, process_id=0)',
    )
    assert f"localhost:{port}" in code
    done = subprocess.run(
        [sys.executable, "-c", code + "\nassert jax.process_count() == 1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "runs" / "classify-paper" / "report" / "table.md").is_file()


def test_every_file_the_docs_name_exists():
    """Paths like ``tests/tasks/test_tasks.py`` or ``src/hetsnn/...`` in the README and docs."""
    named = {
        path
        for page in PAGES
        for path in re.findall(r"\b((?:tests|src|docs)/[\w/.-]+\.(?:py|md|png))", page.read_text())
    }
    assert named and not sorted(p for p in named if not (ROOT / p).exists())
