"""Throughput of one ES generation (ask, evaluate the population, tell) on this machine.

For the memory, CartPole and MNIST tasks at population 256 it reports seconds per generation
and environment steps (for MNIST: images) per second for hetsnn's compiled generation
(population vmapped, chunk of generations under lax.scan), and the same population
evaluated one individual at a time by a jitted single-individual fitness in a Python loop
(the naive reference), as a ratio.
Compile time is reported separately and excluded from throughput.

    python benchmarks/generation_throughput.py [--population 256] [--json out.json]

The MNIST cases need the data set (HETSNN_DATA_DIR, the cache, or a download); without it
they are skipped with a note.
"""

import argparse
import json
import time

import jax

from hetsnn.config import NetworkConfig, RunConfig, StrategyConfig
from hetsnn.data.images import DataNotFound
from hetsnn.model.genome import PROPERTIES, WEIGHTS
from hetsnn.optim import evolution
from hetsnn.tasks import CartPoleTask, ClassificationTask, MemoryTask
from hetsnn.train import programs
from hetsnn.train.bench import best_time
from hetsnn.train.spec import RunSpec

CASES = {  # name: (task, hidden size, trainable)
    "memory L=25, H=64": (MemoryTask(memory_length=25, episodes=2), 64, PROPERTIES),
    "memory L=60, H=64": (MemoryTask(memory_length=60, episodes=2), 64, PROPERTIES),
    "cartpole cap=500, H=64": (CartPoleTask(max_steps=500, episodes=1), 64, PROPERTIES),
    "MNIST batch 128, Neuron H=1024": (ClassificationTask(batch=128), 1024, PROPERTIES),
    "MNIST batch 128, Weight H=5": (ClassificationTask(batch=128), 5, (WEIGHTS,)),
}


def measure(task, n_hidden, trainable, population: int, generations: int, repeats: int) -> dict:
    steps_per_input = 4 if task.supervised else 1
    config = RunConfig(
        task,
        NetworkConfig(n_hidden=n_hidden, steps_per_input=steps_per_input),
        StrategyConfig(population=population),
        trainable=trainable,
        generations=generations,
        chunk=generations,
    )
    spec = RunSpec.from_config(config)
    states = programs.init_states(spec, config.network.neuron, 0, 1)
    data = jax.device_put(task.load_data("train"))
    start = time.perf_counter()
    program = programs.compiled_chunk(spec, generations, 1)
    compile_seconds = time.perf_counter() - start
    best = best_time(lambda: jax.block_until_ready(program(states, data)), repeats)
    per_generation = best / generations
    steps = programs.env_steps_per_generation(spec, 1)

    # Naive reference: the same population, one jitted individual at a time.
    one = jax.jit(spec.fitness)
    seed_state = jax.tree.map(lambda x: x[0], states)
    population_vectors, _ = evolution.maximiser(spec).ask(jax.random.key(1), seed_state.search)
    key = jax.random.key(2)

    def naive_population():
        for member in population_vectors:
            jax.block_until_ready(one(member, seed_state.base, key, data))

    naive = best_time(naive_population, 2)  # the first pass compiles fitness and indexing
    return {
        "population": population,
        "compile_seconds": round(compile_seconds, 2),
        "seconds_per_generation": per_generation,
        "env_steps_per_second": steps / per_generation,
        "naive_seconds_per_population": naive,
        "speedup_vs_naive": naive / per_generation,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=256)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = {}
    print(f"backend {jax.default_backend()}, {jax.device_count()} device(s)")
    print(
        "| case | s / generation | env steps (images) / s | naive s / population | speed-up "
        "| compile s |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, case in CASES.items():
        try:
            row = rows[name] = measure(*case, args.population, args.generations, args.repeats)
        except DataNotFound as error:
            print(f"| {name} | skipped: {str(error).split(':')[0]} |")
            continue
        print(
            f"| {name} | {row['seconds_per_generation']:.4f} | {row['env_steps_per_second']:,.0f} "
            f"| {row['naive_seconds_per_population']:.3f} | {row['speedup_vs_naive']:.0f}x "
            f"| {row['compile_seconds']} |"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
