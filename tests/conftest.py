"""Shared fixtures. JAX compiles are the slow part of this suite, so whole runs are made
once per session (``memory_smoke_run``) and shared by the tests that read them."""

import jax
import pytest


@pytest.fixture
def strict_dtypes():
    """Our own numerics must not rely on implicit dtype promotion (gymnax does, so this
    is applied per module, not globally)."""
    with jax.numpy_dtype_promotion("strict"):
        yield


@pytest.fixture(scope="session")
def memory_smoke_run(tmp_path_factory):
    """A finished `hetsnn run memory --preset smoke` directory, made through the CLI."""
    from hetsnn.cli import main

    out = tmp_path_factory.mktemp("runs") / "memory-smoke"
    assert main(["run", "memory", "--preset", "smoke", "--out", str(out), "--quiet"]) == 0
    return out
