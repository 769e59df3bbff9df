"""Scale-out: the population axis is sharded over every visible device.

Evaluating a population is embarrassingly parallel: each individual's fitness needs only
its own parameters (and the shared data). :func:`shard_population` asks XLA's SPMD
partitioner to split that axis over a one-dimensional device mesh; everything else (the
ES update, the seeds axis) follows from the compiler's sharding propagation. With one
device it does nothing, so the same code runs on a laptop, one GPU, several GPUs, and
several hosts (after ``jax.distributed.initialize()`` every process sees all devices).

On a CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` creates N host devices,
which is how the tests check that sharded and unsharded runs give the same numbers.
"""

import functools

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "population"


@functools.cache
def population_mesh() -> Mesh | None:
    """A 1-D mesh over all devices, or None with a single device."""
    devices = jax.devices()
    return Mesh(np.array(devices), (AXIS,)) if len(devices) > 1 else None


def shard_population(x: jax.Array) -> jax.Array:
    """Constrain the leading (population) axis of ``x`` to be split over the devices.

    Leaves ``x`` alone with one device, or when the population does not divide evenly
    (the run is then replicated, which is correct, only not parallel).
    """
    mesh = population_mesh()
    if mesh is None or x.shape[0] % mesh.size:
        return x
    spec = PartitionSpec(AXIS, *([None] * (x.ndim - 1)))
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))
