"""The population axis sharded over two (forced) host devices gives the numbers of one."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent(
    """
    import json, re
    import jax, numpy as np
    from hetsnn.train import programs
    from hetsnn.train.spec import RunSpec
    from hetsnn.config import NetworkConfig, RunConfig, StrategyConfig
    from hetsnn.tasks import CartPoleTask

    config = RunConfig(CartPoleTask(max_steps=40, episodes=1), NetworkConfig(n_hidden=8),
                       StrategyConfig(population=8), generations=3, seeds=2, chunk=3)
    spec = RunSpec.from_config(config)
    states = programs.init_states(spec, config.network.neuron, 0, config.seeds)
    program = programs.compiled_chunk(spec, config.generations, config.seeds)
    states, metrics = program(states, None)
    print(json.dumps({
        "devices": jax.device_count(),
        "collectives": len(re.findall(r"all-gather|all-reduce|all-to-all", program.as_text())),
        "metrics": {k: np.asarray(v).tolist() for k, v in metrics.items()},
        "centre": np.asarray(programs.centres(spec, states).hidden.v_th).tolist(),
    }))
    """
)


def start_on(devices: int) -> subprocess.Popen:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, text=True
    )


def result_of(process: subprocess.Popen) -> dict:
    stdout, _ = process.communicate(timeout=300)
    assert process.returncode == 0
    return json.loads(stdout.strip().splitlines()[-1])


def test_two_devices_split_the_population_and_match_one_device():
    processes = start_on(1), start_on(2)  # side by side: each is mostly start-up and compile
    one, two = map(result_of, processes)
    assert one["devices"] == 1 and two["devices"] == 2
    assert one["collectives"] == 0 and two["collectives"] > 0  # the work really was split
    for name, values in one["metrics"].items():
        np.testing.assert_allclose(two["metrics"][name], values, rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(two["centre"], one["centre"], rtol=1e-6)
