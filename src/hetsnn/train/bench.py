"""``hetsnn bench``: how fast a population of spiking networks runs here, against references.

Workloads (feedforward SNN; every individual has its own hidden-neuron properties, the
weights are shared, as in the Neuron arm):

* ``stream``: a synthetic input stream of ``T`` steps (16 inputs, 4 read-outs) through the
  whole population, vmapped and compiled. Measured against two references on the same
  network and inputs: the same JAX network evaluated one individual at a time (jitted, a
  Python loop over individuals: timed on up to 64 of them and scaled to the population)
  and a straightforward PyTorch implementation (batched over individuals, Python loop over
  time; skipped if torch is not installed).
* ``memory`` (L = 25, 60), ``mnist`` (128 images) and ``cartpole`` (cap 500): one whole ES
  generation (ask, evaluate the population, tell) of hetsnn's compiled training program,
  raced in one process against the vmapped JAX + evosax peer
  (:mod:`~hetsnn.train.bench_peers`) and, when torch is installed, the PyTorch peer eager
  and under ``torch.compile`` (:mod:`~hetsnn.train.bench_torch`), each
  checked to compute hetsnn's fitness on the same individuals and inputs.

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
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hetsnn.allocator import allocator
from hetsnn.config import NetworkConfig, NeuronConfig, RunConfig, StrategyConfig
from hetsnn.data.locations import DataNotFound
from hetsnn.model import neurons
from hetsnn.model.genome import PROPERTIES
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.sharding import shard_population
from hetsnn.tasks import CartPoleTask, ClassificationTask, MemoryTask
from hetsnn.train import bench_peers, bench_torch, programs
from hetsnn.train.spec import RunSpec

N_IN, N_OUT = 16, 4  # synthetic stream sizes
NAIVE_SAMPLE = 64  # individuals timed by the naive reference


@dataclass(frozen=True)
class BenchGrid:
    stream: tuple[tuple[int, int], ...]  # (population, hidden) pairs
    stream_steps: int
    generations: int  # per timed task call
    repeats: int


def _grid(populations, hiddens, max_neurons: int) -> tuple[tuple[int, int], ...]:
    return tuple((p, h) for p in populations for h in hiddens if p * h <= max_neurons)


GRIDS = {
    "smoke": BenchGrid(((8, 16),), stream_steps=10, generations=2, repeats=1),
    "small": BenchGrid(
        stream=_grid((64, 256, 1024, 4096), (64, 1024, 8192), 2**21),
        stream_steps=100,
        generations=5,
        repeats=3,
    ),
    "full": BenchGrid(
        stream=_grid((64, 256, 1024, 4096), (64, 256, 1024, 4096, 8192), 2**24),
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
    network = FeedforwardSNN(n_in=N_IN, n_hidden=n_hidden, n_out=N_OUT, state_dtype=state_dtype)
    key_net, key_pop, key_x = jax.random.split(jax.random.key(seed), 3)
    hidden = NeuronConfig().homogeneous(n_hidden)
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


def bench_stream(
    population: int,
    n_hidden: int,
    grid: BenchGrid,
    references: bool,
    state_dtype: str,
    matmul: float | None = None,
) -> dict:
    """One stream row; ``times_floor`` against ``matmul`` GFLOP/s (default: a matmul of the
    population's state size, measured here)."""
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
    row["times_floor"] = (matmul or row["matmul_gflops"]) / row["gflops"]
    row["allocator"] = allocator()
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
        if bench_torch.available():
            torch_seconds = best_time(
                lambda: bench_torch.stream(base, population_hidden, xs), grid.repeats
            )
            row["torch_seconds"] = torch_seconds
            row["speedup_vs_torch"] = torch_seconds / seconds
            # the reference must compute the same network: spikes flip only where a
            # potential is within float rounding of its threshold
            difference = bench_torch.stream(base, population_hidden, xs) - np.asarray(
                program(base, population_hidden, xs)
            )
            row["torch_readouts_equal_share"] = float(np.mean(np.abs(difference) < 1e-4))
    return row


# --- whole ES generations against the peer -------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """One ES generation of the Neuron arm on a task."""

    name: str
    task: object
    population: int
    n_hidden: int
    steps_per_input: int = 1


def workloads(preset: str) -> list[Workload]:
    """The workloads of ``preset``; ``smoke`` is tiny, for the tests."""
    if preset == "smoke":
        return [
            Workload("memory L=5", MemoryTask(memory_length=5, episodes=1), 8, 16),
            Workload("cartpole cap 50", CartPoleTask(max_steps=50, episodes=1), 8, 16),
            Workload(
                "mnist 8 images",
                ClassificationTask(batch=8, train_images=64, test_images=8),
                8,
                32,
                steps_per_input=4,
            ),  # fmt: skip
        ]
    population = 256
    return [
        Workload("memory L=25", MemoryTask(memory_length=25), population, 128),
        Workload("memory L=60", MemoryTask(memory_length=60), population, 128),
        Workload(
            "mnist 128 images", ClassificationTask(batch=128), population, 1024, steps_per_input=4
        ),  # fmt: skip
        Workload("cartpole cap 500", CartPoleTask(max_steps=500, episodes=1), population, 128),
    ]


def generation_flops(spec, population: int) -> float:
    """The arithmetic one generation needs (the population and the centre), counted as the
    cheapest correct implementation does it: per hidden neuron and simulated step 7 for the
    LIF update (integrate 5, compare 1, reset 1); per neuron and input ``2 n_in`` for the
    input current (per individual for episodes; once per batch of images, whose input
    weights every individual shares) and ``2 n_out`` for the read-out."""
    network, task = spec.network, spec.task
    h, spi = network.n_hidden, network.steps_per_input
    individuals = population + 1
    if isinstance(task, ClassificationTask):
        per_individual = task.batch * h * (7 * spi + 2 * network.n_out)
        return float(individuals * per_individual + 2 * task.batch * network.n_in * h)
    inputs = task.episodes * task.steps_per_episode
    return float(individuals * inputs * h * (7 * spi + 2 * network.n_in + 2 * network.n_out))


def best_times(
    fns: list[Callable[[], object]], repeats: int, budget: float = 1.0, settle: float = 0.01
) -> list[float]:
    """Fastest call of each of ``fns``, called in turn (so a drift of the machine's speed
    hits them alike) ``repeats`` times, or more while the round took under ``budget`` s.

    Each call starts after ``settle`` s of sleep, not timed: a thread pool that has just
    finished (PyTorch's OpenMP workers, XLA's) spins for a while before it sleeps, and on
    a 2-core machine that spinning takes the cores from the next implementation (hetsnn's
    memory L=60 generation, raced against all three peers: 0.0031-0.0035 s without the
    pause, 0.0023-0.0027 s with it, against 0.0021-0.0024 s alone)."""
    best = [np.inf] * len(fns)
    rounds = 0
    while rounds < repeats or (rounds < 50 and sum(best) * rounds < budget):
        for i, fn in enumerate(fns):
            time.sleep(settle)
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
        rounds += 1
    return best


def bench_workload(
    work: Workload, grid: BenchGrid, peer: bool, matmul: float, state_dtype: str = "float32"
) -> dict:
    """hetsnn's compiled generations against the peer's, on the same network and inputs;
    ``matmul``: the measured float32 matmul rate (GFLOP/s) that sets the floor;
    ``state_dtype``: hetsnn's membrane-state dtype (the peer stays float32)."""
    network = NetworkConfig(
        n_hidden=work.n_hidden, steps_per_input=work.steps_per_input, state_dtype=state_dtype
    )
    config = RunConfig(
        work.task,
        network,
        StrategyConfig(population=work.population),
        trainable=PROPERTIES,
        generations=grid.generations,
        chunk=grid.generations,
    )
    spec = RunSpec.from_config(config)
    data = jax.device_put(spec.task.load_data("train"))
    states = programs.init_states(spec, config.network.neuron, 0, 1)
    start = time.perf_counter()
    program = programs.compiled_chunk(spec, grid.generations, 1)
    compile_seconds = time.perf_counter() - start

    def ours():
        return jax.block_until_ready(program(states, data))

    ours()  # first call: allocation, warm caches
    fns, extra, torch_peers = [ours], {}, {}
    if peer:
        check = _check_individuals(spec, states, data)
        theirs, extra = _peer(spec, config, check, data, grid)
        fns.append(theirs)
        if bench_torch.available():
            torch_peers, torch_extra = _torch_peers(spec, config, check, data, grid)
            extra.update(torch_extra)
            fns.extend(torch_peers.values())
    seconds = [t / grid.generations for t in best_times(fns, grid.repeats)]
    floor = generation_flops(spec, work.population) / (matmul * 1e9)
    steps = programs.env_steps_per_generation(spec, 1)
    row = _row(work.name, spec.network, work.population, compile_seconds, seconds[0], steps)
    row.update(floor_seconds=floor, times_floor=seconds[0] / floor, allocator=allocator())
    if peer:
        row.update(extra, peer_seconds=seconds[1], speedup_vs_peer=seconds[1] / seconds[0],
                   peer_times_floor=seconds[1] / floor)  # fmt: skip
    for name, torch_seconds in zip(torch_peers, seconds[2:], strict=True):
        row[f"{name}_seconds"] = torch_seconds
        row[f"speedup_vs_{name}"] = torch_seconds / seconds[0]
    return row


class CheckedIndividuals(NamedTuple):
    """What every peer's fitness is checked against: seed 0's fixed network ``base``, four
    individuals around its genome (``genomes``: the peers' ``(4, 4 H)`` layout), the key
    their fitness is drawn with and hetsnn's fitness of them, ``ours (4,)``."""

    base: object
    key: jax.Array
    genomes: jax.Array
    ours: jax.Array


def _check_individuals(spec, states, data) -> CheckedIndividuals:
    base = jax.tree.map(lambda x: x[0], states.base)
    key = jax.random.key(7)
    flats = jax.random.normal(key, (4, spec.num_dims)) * 0.1 + spec.genome.flatten(base)
    ours = jax.vmap(lambda f: spec.fitness(f, base, key, data))(flats)
    genomes = jax.vmap(lambda f: bench_peers.genome_of(spec.genome.unflatten(f, base).hidden))
    return CheckedIndividuals(base.params, key, genomes(flats), ours)


def _torch_peers(spec, config, check, data, grid) -> tuple[dict[str, Callable], dict]:
    """``{"torch": eager, "torch_compile": compiled}``: ``grid.generations`` generations of
    the PyTorch peer (:mod:`hetsnn.train.bench_torch`) each, and how far its fitness is from
    hetsnn's on the same individuals and inputs (0 up to rounding; CartPole's chaotic
    physics can turn a last-digit difference of sin and cos into another return)."""
    import torch

    base, key = check.base, check.key
    net = bench_torch.TorchNetwork.from_base(
        base, spec.network.dt, spec.network.readout_tau, spec.network.steps_per_input
    )
    task = spec.task
    if isinstance(task, ClassificationTask):
        fitness = bench_torch.image_fitness(net)
        inputs, labels = task.sample_batch(key, data, task.batch)
        same_inputs = (
            torch.tensor(np.asarray(inputs)),
            torch.tensor(np.asarray(labels), dtype=torch.int64),
        )
        sample = bench_torch.image_sampler(
            data.images, data.labels, data.mean, data.std, task.batch
        )
    elif isinstance(task, CartPoleTask):
        fitness = bench_torch.cartpole_fitness(net, task.env_params(), task.max_steps)
        same_inputs = (torch.tensor(np.asarray(_initial_states(task, key))),)
        sample = bench_torch.cartpole_sampler(task.episodes)
    else:
        fitness = bench_torch.memory_fitness(net, task.memory_length, task.episodes)
        same_inputs, sample = (), lambda generator: ()
    theirs = fitness(torch.tensor(np.asarray(check.genomes)), *same_inputs).numpy()
    strategy = config.optimiser
    extra = {"torch_fitness_max_abs_diff": float(np.max(np.abs(np.asarray(check.ours) - theirs)))}
    centre = torch.tensor(np.asarray(bench_peers.genome_of(base.hidden)))
    peers = {}
    for name, fn in (("torch", fitness), ("torch_compile", torch.compile(fitness))):
        generation = bench_torch.pgpe_generation(
            fn, sample, strategy.population, strategy.std_init, strategy.lr
        )
        start = time.perf_counter()
        generation(centre, torch.Generator().manual_seed(0))  # torch.compile compiles here
        extra[f"{name}_first_call_seconds"] = time.perf_counter() - start

        def run(generation=generation):
            state, generator = centre, torch.Generator().manual_seed(1)
            for _ in range(grid.generations):
                state = generation(state, generator)
            return state

        peers[name] = run
    return peers, extra


def _peer(spec, config, check, data, grid) -> tuple[Callable[[], object], dict]:
    """The peer's ``grid.generations`` generations as a callable, its compile time, and how
    far its fitness is from hetsnn's on the same individuals (it must be 0 up to rounding)."""
    base = check.base
    network = bench_peers.PeerNetwork.from_base(
        base, spec.network.dt, spec.network.readout_tau, spec.network.steps_per_input
    )
    generation, init = bench_peers.peer_generation(spec.task, network, config.optimiser)
    fitness = bench_peers.peer_fitness(spec.task, network)
    theirs = jax.vmap(fitness, in_axes=(0, None, None))(check.genomes, check.key, data)
    search = init(jax.random.key(0), bench_peers.genome_of(base.hidden))
    keys = jax.random.split(jax.random.key(1), grid.generations)
    start = time.perf_counter()
    jax.block_until_ready(generation(search, keys[0], data))
    compile_seconds = time.perf_counter() - start

    def run():
        state = search
        for k in keys:  # the peer's generation loop, as its users write it
            state = generation(state, k, data)
        return jax.block_until_ready(state)

    run()
    return run, {
        "peer_compile_seconds": compile_seconds,
        "peer_fitness_max_abs_diff": float(jnp.max(jnp.abs(check.ours - theirs))),
    }


def _initial_states(task: CartPoleTask, key: jax.Array) -> jax.Array:
    """``(episodes, 4)`` the initial CartPole states hetsnn's fitness draws from ``key``
    (the reset key of each episode, as ``GymnaxTask._run_episode`` splits it)."""

    def initial(episode_key, episode):
        state = task.reset(jax.random.split(episode_key)[0], episode)
        return jnp.stack([state.x, state.x_dot, state.theta, state.theta_dot])

    keys = jax.random.split(key, task.episodes)
    return jax.vmap(initial)(keys, jnp.arange(task.episodes))


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


def run_bench(
    preset: str = "small", references: bool = True, progress=None, state_dtype: str = "float32"
) -> list[dict]:
    """Every row of ``GRIDS[preset]`` and ``workloads(preset)``; ``progress(row)`` is called
    after each row. ``state_dtype`` is hetsnn's networks' membrane-state dtype (the
    references stay float32). A workload whose data set is missing is left out."""
    grid = GRIDS[preset]
    rows = []
    matmul = matmul_gflops(1024, 1024, grid.repeats)
    for population, n_hidden in grid.stream:
        rows.append(bench_stream(population, n_hidden, grid, references, state_dtype, matmul))
        if progress:
            progress(rows[-1])
    for work in workloads(preset):
        try:
            rows.append(bench_workload(work, grid, references, matmul, state_dtype))
        except DataNotFound as error:
            print(f"{work.name}: skipped ({error})", flush=True)
            continue
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
    "| workload | population | H | s / call | env steps / s | neuron updates / s "
    "| x floor | vs vmapped JAX + evosax | vs naive JAX | vs PyTorch | vs torch.compile "
    "| allocator | compile s |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def _ratio(row: dict, key: str) -> str:
    """``row[key]`` to three significant digits (whole above 100): 0.0842x, 3.17x, 412x."""
    if key not in row:
        return "-"
    value = row[key]
    return f"{value:.0f}x" if abs(value) >= 100 else f"{value:.3g}x"


def table_row(row: dict) -> str:
    """One Markdown table row (``-`` where a column does not apply). Ratios are the other
    implementation's time over hetsnn's: above 1, hetsnn is faster. ``x floor``: hetsnn's
    time over the arithmetic floor (the operations at this machine's matmul rate)."""
    cells = [
        row["workload"],
        str(row["population"]),
        str(row["n_hidden"]),
        f"{row['seconds']:.3g}",
        _si(row["env_steps_per_second"]),
        _si(row["neuron_updates_per_second"]),
        f"{row['times_floor']:.3g}" if "times_floor" in row else "-",
        _ratio(row, "speedup_vs_peer"),
        _ratio(row, "speedup_vs_naive_jax"),
        _ratio(row, "speedup_vs_torch"),
        _ratio(row, "speedup_vs_torch_compile"),
        row.get("allocator", "-"),
        f"{row['compile_seconds']:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"
