"""Shared fixtures. JAX compiles are the slow part of this suite, so whole runs are made
once per session (``memory_smoke_run``) and shared by the tests that read them."""

import os
from pathlib import Path

import jax
import pytest

from hetsnn.data import images

# The real data set files: $HETSNN_DATA_DIR, else ../shared/data beside the repository.
SHARED_DATA = Path(
    os.environ.get(images.DATA_DIR_ENV) or Path(__file__).resolve().parents[2] / "shared" / "data"
)
needs_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "mnist").exists(), reason=f"no data set files in {SHARED_DATA}"
)


@pytest.fixture
def shared_data(monkeypatch, tmp_path):
    """Read the real files from SHARED_DATA only (empty cache, no download); skip the test
    on a machine without them (a stranger's offline clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"no data set files in {SHARED_DATA}")
    monkeypatch.setenv(images.DATA_DIR_ENV, str(SHARED_DATA))
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path / "cache"))
    return SHARED_DATA


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


class Interrupt(Exception):
    """Raised by :func:`interrupt_after` to stop a run as a crash would."""


def interrupt_after(generations: int):
    """An ``on_chunk`` callback for :func:`hetsnn.train.loop.train` that stops the run once
    ``generations`` are checkpointed."""

    def on_chunk(done):
        if done >= generations:
            raise Interrupt

    return on_chunk
