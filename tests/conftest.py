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


def synthetic_layer(seed=0, n_in=3, n_hidden=48, n_out=2):
    """A trained network whose every property differs in every neuron, every threshold
    above rest (a :class:`hetsnn.interop.profiles.TrainedNetwork`)."""
    import numpy as np

    from hetsnn.interop import profiles

    rng = np.random.default_rng(seed)
    v_rest = rng.normal(0.0, 0.2, n_hidden)
    return profiles.TrainedNetwork(
        tau_m=rng.uniform(6.0, 200.0, n_hidden),
        v_th=v_rest + 0.05 + rng.gamma(2.0, 0.2, n_hidden),
        v_rest=v_rest,
        resistance=rng.uniform(0.5, 2.0, n_hidden),
        w_in=rng.normal(0.0, 1.5, (n_in, n_hidden)),
        w_out=rng.normal(0.0, 0.5, (n_hidden, n_out)),
        dt=5.0,
        readout_tau=20.0,
    )


@pytest.fixture(scope="module")
def synthetic_network():
    """``(network, inputs (4, 80, 3) float32, hetsnn's spikes, read-out)``: the reference
    run of :func:`synthetic_layer` in float64 on inputs the float32 simulators read too."""
    import numpy as np

    from hetsnn.interop import nir_export
    from hetsnn.model.networks import FeedforwardSNN

    net = synthetic_layer()
    inputs = np.random.default_rng(1).normal(0.5, 1.0, (4, 80, 3)).astype(np.float32)
    n_in, n_hidden = net.w_in.shape
    spec = FeedforwardSNN(n_in=n_in, n_hidden=n_hidden, n_out=net.w_out.shape[1], dt=net.dt,
                          readout_tau=net.readout_tau)  # fmt: skip
    with jax.enable_x64(True):
        spikes, readout = nir_export.simulate_hetsnn(
            spec, nir_export.float64_params(net), inputs.astype(np.float64)
        )
    assert 0.05 < spikes.mean() < 0.6  # a network that fires, not one that saturates
    return net, inputs, spikes, readout
