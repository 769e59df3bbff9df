"""A generated table of odd inputs for every config constructor and the command line.

Each field of each config is set, one at a time, to each value of ODD. Either the config is
built, or the project's own ConfigError says what is wrong in one line; nothing else may
happen. A sample of the accepted configs (every eighth, in the table's order) trains one
smoke generation through the real run loop; the command line refuses bad options with exit
status 2 and one line (argparse's usage message for an option of the wrong type).
"""

import dataclasses
import itertools

import numpy as np
import pytest

from hetsnn.cli import main
from hetsnn.config import GradientConfig, NetworkConfig, NeuronConfig, RunConfig, StrategyConfig
from hetsnn.errors import ConfigError, TrainingDiverged
from hetsnn.tasks import CartPoleTask, MemoryTask
from hetsnn.train.loop import train

ODD = [None, True, False, "3", [], {}, float("nan"), float("inf"), -float("inf"), -1, 0,
       2**70, 1e300, -1e-9, 0.5, 7, 30.0, "pgpe", object()]  # fmt: skip

FIELDS = {
    NeuronConfig: ("dt", "tau_m", "v_th", "v_rest", "resistance"),
    NetworkConfig: (
        "n_hidden",
        "steps_per_input",
        "readout_tau",
        "surrogate",
        "surrogate_alpha",
        "detach_reset",
        "state_dtype",
    ),  # fmt: skip
    StrategyConfig: (
        "name",
        "population",
        "centre_optimiser",
        "lr",
        "max_velocity",
        "std_init",
        "std_lr",
        "eval_block",
    ),  # fmt: skip
    GradientConfig: ("name", "lr", "batch", "gamma"),
    MemoryTask: ("memory_length", "episodes"),
    CartPoleTask: ("max_steps", "episodes"),
}
CASES = [(kind, name, value) for kind, names in FIELDS.items() for name in names for value in ODD]


def _label(kind, name, value) -> str:
    """A test id that is the same in every process (an object's repr holds its address)."""
    shown = "object()" if type(value) is object else repr(value)
    return f"{kind.__name__}.{name}={shown}"[:60]


def _build(kind, name, value):
    try:
        return kind(**{name: value})
    except ConfigError as error:
        message = str(error)
        assert message and "\n" not in message, message
        return None


@pytest.mark.parametrize("kind, name, value", CASES, ids=[_label(*case) for case in CASES])
def test_a_config_field_is_accepted_or_refused_in_one_line(kind, name, value):
    _build(kind, name, value)  # any exception but ConfigError fails the test


def _smoke_run(part) -> RunConfig:
    """A tiny run with ``part`` (a config built above) in its place."""
    task = part if isinstance(part, MemoryTask | CartPoleTask) else MemoryTask(memory_length=3)
    if isinstance(task, CartPoleTask):
        task = dataclasses.replace(task, max_steps=min(task.max_steps, 20))
    task = (
        dataclasses.replace(task, memory_length=min(task.memory_length, 5))
        if isinstance(task, MemoryTask)
        else task
    )
    network = NetworkConfig(n_hidden=4)
    if isinstance(part, NeuronConfig):
        network = NetworkConfig(n_hidden=4, neuron=part)
    elif isinstance(part, NetworkConfig):
        network = dataclasses.replace(part, n_hidden=min(part.n_hidden, 4))
    optimiser = StrategyConfig(population=4)
    if isinstance(part, StrategyConfig):
        optimiser = dataclasses.replace(part, population=4, eval_block=None)
    elif isinstance(part, GradientConfig):
        optimiser = dataclasses.replace(part, batch=min(part.batch, 4))
    episodes = min(task.episodes, 2)
    return RunConfig(dataclasses.replace(task, episodes=episodes), network, optimiser,
                     generations=1, seeds=1, chunk=1, eval_episodes=1)  # fmt: skip


ACCEPTED = [c for c in CASES if _build(*c) is not None]


@pytest.mark.parametrize(
    "kind, name, value", ACCEPTED[::8], ids=[_label(*case) for case in ACCEPTED[::8]]
)
def test_an_accepted_config_trains_a_smoke_generation(kind, name, value, tmp_path):
    """It trains, or stops with the project's one-line TrainingDiverged (a search state
    that overflowed at run time): never anything else."""
    try:
        result = train(_smoke_run(kind(**{name: value})), tmp_path, progress=False)
    except TrainingDiverged as error:
        assert "\n" not in str(error)
        return
    assert len(result["final_centre_reward"]) == 1


BAD_OPTIONS = [
    ("--seeds", ["0", "-2", "abc", "1.5", str(2**40)]),
    ("--generations", ["0", "-1", "x", str(10**12)]),
    ("--centre-optimiser", ["rmsprop", "", "SGD"]),
    ("--centre-lr", ["nan", "-1", "0", "inf", "abc"]),
    ("--preset", ["huge", ""]),
]
ARGV = [
    (option, value, experiment)
    for (option, values), experiment in itertools.product(BAD_OPTIONS, ("memory", "cartpole"))
    for value in values
]


@pytest.mark.parametrize("option, value, experiment", ARGV)
def test_a_bad_command_line_option_is_refused_in_one_line(option, value, experiment, tmp_path,
                                                          capsys):  # fmt: skip
    out = tmp_path / "out"
    argv = ["run", experiment, "--out", str(out), "--quiet", option, value]
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse: an option of the wrong type
        status = exit.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith(("hetsnn: error:", "hetsnn run: error:")), err
    assert not out.exists() or not any(f.name != ".lock" for f in out.rglob("*"))
    assert np.isfinite(len(err))
