"""``hetsnn bench``: how fast a population of spiking networks runs here, against references.

Workloads (feedforward SNN; every individual has its own hidden-neuron properties, the
weights are shared, as in the Neuron arm):

* ``stream``: a synthetic input stream of ``T`` steps (16 inputs, 4 read-outs) through the
  whole population, vmapped and compiled. Measured against two references on the same
  network and inputs: the same JAX network evaluated one individual at a time (jitted, a
  Python loop over individuals: timed on up to 64 of them and scaled to the population)
  and a straightforward PyTorch implementation (batched over individuals, Python loop over
  time; skipped if torch is not installed).
* ``memory`` (L = 25) and ``cartpole`` (cap 500): one whole ES generation (ask, evaluate
  the population, tell) of hetsnn's compiled training program.

Each row gives seconds per call, generations (or streams) per second, environment steps
per second, neuron updates per second (population x hidden x simulated steps), achieved
GFLOP/s from an operation count, and that as a share of a dense float32 matmul of the
population's state size ``(population, H) @ (H, min(H, 1024))`` measured in the same run:
the distance to what this machine's arithmetic can do. Compile time is separate.
With several devices the population is sharded over them (see :mod:`hetsnn.sharding`).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from hetsnn import neurons, training
from hetsnn.config import NetworkConfig, RunConfig, StrategyConfig
from hetsnn.genome import PROPERTIES
from hetsnn.networks import FeedforwardSNN
from hetsnn.sharding import shard_population
from hetsnn.tasks import CartPoleTask, MemoryTask

N_IN, N_OUT = 16, 4  # synthetic stream sizes
NAIVE_SAMPLE = 64  # individuals timed by the naive reference


@dataclass(frozen=True)
class BenchGrid:
    stream: tuple[tuple[int, int], ...]  # (population, hidden) pairs
    tasks: tuple[tuple[int, int], ...]
    stream_steps: int
    generations: int  # per timed task call
    repeats: int


def _grid(populations, hiddens, max_neurons: int) -> tuple[tuple[int, int], ...]:
    return tuple((p, h) for p in populations for h in hiddens if p * h <= max_neurons)


GRIDS = {
    "smoke": BenchGrid(((8, 16),), ((8, 16),), stream_steps=10, generations=2, repeats=1),
    "small": BenchGrid(
        stream=_grid((64, 256, 1024, 4096), (64, 1024, 8192), 2**21),
        tasks=_grid((64, 256, 1024), (64, 256), 2**18),
        stream_steps=100,
        generations=5,
        repeats=3,
    ),
    "full": BenchGrid(
        stream=_grid((64, 256, 1024, 4096), (64, 256, 1024, 4096, 8192), 2**24),
        tasks=_grid((64, 256, 1024, 4096), (64, 256, 1024), 2**22),
        stream_steps=100,
        generations=5,
        repeats=3,
    ),
}


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` timed calls of ``fn`` (which must block until done)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(rows: int, inner: int, repeats: int) -> float:
    """Measured float32 GFLOP/s of ``(rows, inner) @ (inner, min(inner, 1024))``."""
    cols = min(inner, 1024)
    a = jnp.ones((rows, inner), jnp.float32)
    b = jnp.ones((inner, cols), jnp.float32)
    matmul = jax.jit(jnp.dot)
    jax.block_until_ready(matmul(a, b))
    seconds = best_time(lambda: jax.block_until_ready(matmul(a, b)), repeats)
    return 2 * rows * inner * cols / seconds / 1e9


# --- the synthetic stream ---------------------------------------------------------------


def stream_flops(population: int, n_hidden: int, steps: int) -> float:
    """Operations of one stream: per neuron and step 10 for the LIF update (integrate 5,
    compare 1, reset 4) and 2 * N_OUT for the read-out; the input current, shared by the
    population, 2 * N_IN per neuron and step once."""
    per_step = population * n_hidden * (10 + 2 * N_OUT) + 2 * N_IN * n_hidden
    return float(per_step * steps)


def stream_setup(
    population: int, n_hidden: int, steps: int, seed: int = 0, state_dtype: str = "float32"
):
    """Network, shared weights, a population of heterogeneous hidden layers and inputs."""
    network = FeedforwardSNN(N_IN, n_hidden, N_OUT, state_dtype=state_dtype)
    key_net, key_pop, key_x = jax.random.split(jax.random.key(seed), 3)
    hidden = neurons.homogeneous(n_hidden, dt=5.0, tau_m=20.0, v_th=0.5, v_rest=0.0, resistance=1.0)
    base = network.init(key_net, hidden)
    noise = jax.random.normal(key_pop, (4, population, n_hidden)) * 0.1
    population_hidden = neurons.NeuronParams(
        tau_logit=hidden.tau_logit + noise[0],
        v_th=hidden.v_th + noise[1],
        v_rest=hidden.v_rest + noise[2],
        resistance=hidden.resistance + noise[3],
    )
    xs = jax.random.normal(key_x, (steps, N_IN)) * 2.0
    return network, base, population_hidden, xs


def stream_readout(network: FeedforwardSNN, base, hidden, xs) -> jax.Array:
    """Read-out ``(N_OUT,)`` of one individual after the stream ``xs: (T, N_IN)``."""
    params = base.replace(hidden=hidden)
    _, readouts, _ = network.unroll(params, network.init_state(params), xs)
    return readouts[-1]


def stream_program(network: FeedforwardSNN):
    """``program(base, population_hidden, xs) -> (population, N_OUT)``, population sharded."""

    def run(base, population_hidden, xs):
        population_hidden = jax.tree.map(shard_population, population_hidden)
        return jax.vmap(stream_readout, in_axes=(None, None, 0, None))(
            network, base, population_hidden, xs
        )

    return jax.jit(run)


def torch_stream(base, population_hidden, xs, dt: float = 5.0, readout_tau: float = 20.0):
    """The same network in PyTorch: ``(population, N_OUT)`` read-out, float32, CPU."""
    import torch

    def tensor(x):
        return torch.tensor(np.asarray(x), dtype=torch.float32)

    decay = torch.sigmoid(tensor(population_hidden.tau_logit))
    v_th, v_rest = tensor(population_hidden.v_th), tensor(population_hidden.v_rest)
    resistance = tensor(population_hidden.resistance)
    w_in, w_out, inputs = tensor(base.w_in), tensor(base.w_out), tensor(xs)
    a = dt / readout_tau
    with torch.no_grad():
        v = v_rest.clone()
        readout = torch.zeros(v.shape[0], w_out.shape[1])
        for x in inputs:  # the Python loop over time of a typical PyTorch SNN
            current = x @ w_in
            u = v + decay * (resistance * current - v + v_rest)
            spikes = (u >= v_th).float()
            v = u * (1 - spikes) + v_rest * spikes
            readout = readout + a * (spikes @ w_out - readout)
    return readout.numpy()


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def bench_stream(
    population: int, n_hidden: int, grid: BenchGrid, references: bool, state_dtype: str
) -> dict:
    steps = grid.stream_steps
    network, base, population_hidden, xs = stream_setup(
        population, n_hidden, steps, state_dtype=state_dtype
    )
    program = stream_program(network)
    start = time.perf_counter()
    jax.block_until_ready(program(base, population_hidden, xs))
    compile_seconds = time.perf_counter() - start
    seconds = best_time(
        lambda: jax.block_until_ready(program(base, population_hidden, xs)), grid.repeats
    )
    row = _row("stream", network, population, compile_seconds, seconds, population * steps)
    row["gflops"] = stream_flops(population, n_hidden, steps) / seconds / 1e9
    row["matmul_gflops"] = matmul_gflops(population, n_hidden, grid.repeats)
    row["share_of_matmul_peak"] = row["gflops"] / row["matmul_gflops"]
    if references:
        sample = min(population, NAIVE_SAMPLE)
        one = jax.jit(stream_readout, static_argnums=0)
        members = [jax.tree.map(lambda x, i=i: x[i], population_hidden) for i in range(sample)]
        jax.block_until_ready(one(network, base, members[0], xs))

        def naive():
            for member in members:
                jax.block_until_ready(one(network, base, member, xs))

        naive_seconds = best_time(naive, grid.repeats) * population / sample
        row["naive_jax_seconds"] = naive_seconds
        row["speedup_vs_naive_jax"] = naive_seconds / seconds
        if torch_available():
            torch_seconds = best_time(
                lambda: torch_stream(base, population_hidden, xs), grid.repeats
            )
            row["torch_seconds"] = torch_seconds
            row["speedup_vs_torch"] = torch_seconds / seconds
            # the reference must compute the same network: spikes flip only where a
            # potential is within float rounding of its threshold
            difference = torch_stream(base, population_hidden, xs) - np.asarray(
                program(base, population_hidden, xs)
            )
            row["torch_readouts_equal_share"] = float(np.mean(np.abs(difference) < 1e-4))
    return row


# --- whole ES generations on tasks ----------------------------------------------------------


def bench_task(
    name: str, task, population: int, n_hidden: int, grid: BenchGrid, state_dtype: str
) -> dict:
    config = RunConfig(
        task,
        NetworkConfig(n_hidden=n_hidden, state_dtype=state_dtype),
        StrategyConfig(population=population),
        trainable=PROPERTIES,
        generations=grid.generations,
        chunk=grid.generations,
    )
    spec = training.RunSpec.from_config(config)
    states = training.init_states(spec, config.network.neuron, 0, 1)
    start = time.perf_counter()
    program = training.compiled_chunk(spec, grid.generations, 1)
    compile_seconds = time.perf_counter() - start
    jax.block_until_ready(program(states, None))  # first call: allocation, warm caches
    seconds = best_time(lambda: jax.block_until_ready(program(states, None)), grid.repeats)
    env_steps = training.env_steps_per_generation(spec, 1)
    per_generation = seconds / grid.generations
    return _row(name, spec.network, population, compile_seconds, per_generation, env_steps)


def _row(workload, network, population, compile_seconds, seconds, env_steps) -> dict:
    """Columns common to every workload; ``seconds`` per stream or per ES generation, and
    ``env_steps`` simulated in it (one neuron update per hidden neuron and step)."""
    return {
        "workload": workload,
        "population": population,
        "n_hidden": network.n_hidden,
        "state_dtype": network.state_dtype,
        "devices": jax.device_count(),
        "backend": jax.default_backend(),
        "compile_seconds": compile_seconds,
        "seconds": seconds,
        "calls_per_second": 1.0 / seconds,
        "env_steps_per_second": env_steps / seconds,
        "neuron_updates_per_second": env_steps * network.n_hidden / seconds,
    }


TASKS = {
    "memory": MemoryTask(memory_length=25, episodes=2),
    "cartpole": CartPoleTask(max_steps=500, episodes=1),
}


def run_bench(
    preset: str = "small", references: bool = True, progress=None, state_dtype: str = "float32"
) -> list[dict]:
    """Every row of ``GRIDS[preset]``; ``progress(row)`` is called after each row.
    ``state_dtype`` is the networks' membrane-state dtype (the references stay float32)."""
    grid = GRIDS[preset]
    rows = []
    for population, n_hidden in grid.stream:
        rows.append(bench_stream(population, n_hidden, grid, references, state_dtype))
        if progress:
            progress(rows[-1])
    for name, task in TASKS.items():
        for population, n_hidden in grid.tasks:
            rows.append(bench_task(name, task, population, n_hidden, grid, state_dtype))
            if progress:
                progress(rows[-1])
    return rows


def _si(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g}"


HEADER = (
    "| workload | population | H | state | devices | s / call | calls / s | env steps / s "
    "| neuron updates / s | GFLOP/s (% of matmul) | vs naive JAX | vs PyTorch | compile s |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def table_row(row: dict) -> str:
    """One Markdown table row (``-`` where a column does not apply)."""
    flops = (
        f"{row['gflops']:.3g} ({100 * row['share_of_matmul_peak']:.2g}%)"
        if "gflops" in row
        else "-"
    )
    naive = f"{row['speedup_vs_naive_jax']:.0f}x" if "speedup_vs_naive_jax" in row else "-"
    torch = f"{row['speedup_vs_torch']:.1f}x" if "speedup_vs_torch" in row else "-"
    cells = [
        row["workload"],
        str(row["population"]),
        str(row["n_hidden"]),
        row["state_dtype"],
        str(row["devices"]),
        f"{row['seconds']:.3g}",
        f"{row['calls_per_second']:.3g}",
        _si(row["env_steps_per_second"]),
        _si(row["neuron_updates_per_second"]),
        flops,
        naive,
        torch,
        f"{row['compile_seconds']:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"
