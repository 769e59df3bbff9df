"""Will a run's simulation fit in memory? An estimate made before anything compiles.

The largest live arrays of a generation are the hidden layer's: one float32 (or the state
dtype) per neuron, simulated individual, seed and, for image tasks, image of the batch,
several times over (potential, spikes, the read-out's trace, the input current). BPTT
keeps the pre-reset potentials of every step of every episode of its batch for the
backward pass. The estimate counts those and compares them with the memory of the device
the run will use (the accelerator's, or the machine's RAM); a run that cannot fit is
refused in one line with the estimate and the setting that bounds it.

It is an estimate, not a measurement: XLA may fuse some of the arrays away (the fused
image pass does) or keep more (the compile itself), so only runs above the whole memory
are refused.
"""

import os

import jax

from hetsnn.errors import ConfigError
from hetsnn.train.spec import RunSpec

LIVE_ARRAYS = 4  # per neuron and simulated input: potential, spikes, trace, current
BYTES = 4


def estimated_bytes(spec: RunSpec, seeds: int) -> int:
    """Bytes of the hidden layer's live arrays in one generation of ``seeds`` seeds."""
    task, network, optimiser = spec.task, spec.network, spec.optimiser
    inputs = task.episodes if task.supervised else 1  # images held at once per individual
    per_individual = network.n_hidden * inputs * LIVE_ARRAYS * BYTES
    if hasattr(optimiser, "population"):  # ES: a block of individuals at a time
        individuals = optimiser.eval_block or optimiser.population + 1
        return seeds * individuals * per_individual
    # BPTT: every step of the batch (episodes, or images) is kept for the backward pass
    steps = task.steps_per_episode * network.steps_per_input
    return seeds * optimiser.batch * steps * network.n_hidden * LIVE_ARRAYS * BYTES


def available_bytes() -> int | None:
    """The memory of the default device: an accelerator's limit, or the machine's RAM;
    None where it cannot be read."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        return stats.get("bytes_limit")
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(spec: RunSpec, seeds: int) -> None:
    """Refuse, in one line, a run whose estimate exceeds the device's memory."""
    need, have = estimated_bytes(spec, seeds), available_bytes()
    if have is None or need <= have:
        return
    fix = "fewer seeds or hidden neurons"
    if hasattr(spec.optimiser, "population"):
        fix = "optimiser.eval_block (individuals simulated at once), " + fix
    if spec.task.supervised:
        fix = "fewer images per generation (task.batch), " + fix
    raise ConfigError(
        f"this run needs about {need / 2**30:,.1f} GiB for its hidden layer in one "
        f"generation, more than the {have / 2**30:,.1f} GiB of the "
        f"{jax.devices()[0].platform} device: lower it with {fix}"
    )
