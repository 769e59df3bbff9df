import pytest

from hetsnn.config import GradientConfig, NetworkConfig, NeuronConfig, RunConfig, StrategyConfig
from hetsnn.errors import ConfigError
from hetsnn.tasks import CartPoleTask, MemoryTask


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: NeuronConfig(tau_m=-5.0), "tau_m must be positive"),
        (lambda: NeuronConfig(tau_m=0.0), "tau_m must be positive"),
        (lambda: NeuronConfig(tau_m=4.0), "must exceed neuron.dt"),
        (lambda: NeuronConfig(dt=0.0), "dt must be positive"),
        (lambda: NeuronConfig(v_th=float("nan")), "finite"),
        (lambda: NetworkConfig(n_hidden=0), "n_hidden"),
        (lambda: NetworkConfig(surrogate="sigmoid"), "surrogate"),
        (lambda: NetworkConfig(state_dtype="float16"), "state_dtype"),
        (lambda: StrategyConfig(population=8, eval_block=0), "eval_block"),
        (lambda: StrategyConfig(population=255), "even number"),
        (lambda: StrategyConfig(population=2), "even number"),
        (lambda: StrategyConfig(name="cmaes"), "unknown"),
        (lambda: StrategyConfig(lr=-0.1), "lr must be positive"),
        (lambda: RunConfig(MemoryTask(), generations=0), "generations"),
        (lambda: RunConfig(MemoryTask(), trainable=("tau",)), "unknown trainable"),
        (lambda: CartPoleTask(max_steps=-1), "max_steps"),
        (lambda: GradientConfig(name="rmsprop"), "unknown"),
        (lambda: GradientConfig(lr=0.0), "lr must be positive"),
        (lambda: GradientConfig(batch=0), "batch"),
        (lambda: GradientConfig(gamma=1.5), "gamma"),
        # issue 19, item 10: every one of these was once accepted, or failed late
        (lambda: NetworkConfig(surrogate_alpha=float("nan")), "surrogate_alpha"),
        (lambda: NetworkConfig(surrogate_alpha=-2.0), "surrogate_alpha must be positive"),
        (lambda: NetworkConfig(surrogate_alpha="2"), "surrogate_alpha"),
        (lambda: NetworkConfig(detach_reset="yes"), "detach_reset must be true or false"),
        (lambda: NetworkConfig(detach_reset=None), "detach_reset"),
        (lambda: NetworkConfig(n_hidden=True), "n_hidden must be a positive integer"),
        (lambda: NetworkConfig(n_hidden=2**30), "n_hidden must be at most"),
        (lambda: NeuronConfig(v_th=True), "v_th must be a finite number"),
        (lambda: StrategyConfig(lr=True), "lr must be a finite number"),
        (lambda: StrategyConfig(lr=1e-320), "lr must be at least 1.2e-38 to be a float32"),
        (lambda: StrategyConfig(population=2**22), "population must be at most"),
        (lambda: RunConfig(MemoryTask(), seeds=True), "seeds must be a positive integer"),
        (lambda: RunConfig(MemoryTask(), seeds=2**31), "seeds must be at most"),
        (lambda: RunConfig(MemoryTask(), generations=10**20), "generations must be at most"),
        (lambda: RunConfig(MemoryTask(), seed=2**63), r"seed must be an integer in \[0, 2\*\*32\)"),
        (lambda: RunConfig(MemoryTask(), seed=1.5), "seed must be an integer"),
        (lambda: RunConfig("memory"), "task must be a"),
        (lambda: RunConfig(MemoryTask(), network={"n_hidden": 4}), "network must be a"),
        (lambda: RunConfig(MemoryTask(), optimiser="pgpe"), "optimiser must be a"),
        (lambda: RunConfig(MemoryTask(), optimiser=GradientConfig(batch=1)), "batch must be >= 2"),
        (
            lambda: RunConfig(
                MemoryTask(), NetworkConfig(n_hidden=2**19), StrategyConfig(population=2**15)
            ),
            "would not fit in memory",
        ),
        (lambda: MemoryTask(memory_length=True), "memory_length"),
    ],
)
def test_bad_values_get_one_line_errors_that_name_the_field(make, message):
    with pytest.raises(ConfigError, match=message) as error:
        make()
    assert "\n" not in str(error.value)


def test_odd_population_error_suggests_a_fix():
    with pytest.raises(ConfigError, match="use 256"):
        StrategyConfig(population=255)


def test_round_trip_through_dict():
    config = RunConfig(
        CartPoleTask(max_steps=200, episodes=3),
        NetworkConfig(n_hidden=7, neuron=NeuronConfig(tau_m=50.0)),
        StrategyConfig(name="snes", population=10),
        trainable=("R", "tau_m"),
        generations=5,
        seeds=2,
    )
    assert RunConfig.from_dict(config.to_dict()) == config
    assert config.trainable == ("tau_m", "R")


def test_malformed_dict_is_a_config_error():
    with pytest.raises(ConfigError, match="malformed"):
        RunConfig.from_dict({"task": {"name": "memory"}, "generatoins": 3})


def test_gradient_optimiser_round_trips_and_is_told_apart_from_es():
    config = RunConfig(
        MemoryTask(memory_length=3),
        NetworkConfig(n_hidden=4, surrogate="log", detach_reset=True),
        GradientConfig(lr=0.1, batch=8),
    )
    restored = RunConfig.from_dict(config.to_dict())
    assert restored == config and isinstance(restored.optimiser, GradientConfig)


def test_one_episode_per_update_is_fine_for_a_supervised_task():
    from hetsnn.tasks import ClassificationTask

    config = RunConfig(ClassificationTask(), optimiser=GradientConfig(batch=1))
    assert config.optimiser.batch == 1


@pytest.mark.parametrize("flag", ["--seeds", "--generations"])
@pytest.mark.parametrize("value", [str(2**63), "2147483648", str(10**20)])
def test_huge_cli_sizes_are_refused_at_once(flag, value, tmp_path, capsys):
    from hetsnn.cli import main

    out = tmp_path / "out"
    assert main(["run", "memory", "--preset", "smoke", flag, value, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "must be at most" in err and err.count("\n") == 1
    assert not out.exists()  # nothing claimed on disk


@pytest.mark.parametrize("value", ["2_0", "-3", " 3", "1e3", "\uff13"])
def test_cli_counts_are_plain_digits(value, capsys):
    from hetsnn.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["run", "memory", "--preset", "smoke", "--seeds", value])
    assert stop.value.code == 2 and "is not a whole number" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["bench", "--preset", "smoke"], ["export-nir", "."]])
def test_an_output_path_that_is_a_file_fails_before_any_work(command, tmp_path, capsys):
    from hetsnn.cli import main

    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    assert main([*command, "--out", str(taken)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and err.count("\n") == 1


def test_the_command_line_names_every_experiment_and_preset():
    from hetsnn.cli import EXPERIMENT_NAMES, PRESETS
    from hetsnn.experiments import EXPERIMENTS

    assert tuple(EXPERIMENTS) == EXPERIMENT_NAMES
    assert all(tuple(e.presets) == PRESETS for e in EXPERIMENTS.values())


def test_hetsnn_list_gives_every_preset_its_cost_and_stops_quietly_in_a_pipe():
    import subprocess
    import sys

    from hetsnn.experiments import BUILT_IN, EXPERIMENTS
    from hetsnn.experiments.costs import COSTS

    assert {name: set(COSTS[name]) for name in BUILT_IN} == {
        name: set(EXPERIMENTS[name].presets) for name in BUILT_IN
    }
    # stdout a pipe whose reader has gone, as in `hetsnn list | head -1` once head exits
    code = (
        "import os; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
        "from hetsnn.cli import main; raise SystemExit(main(['list']))"
    )
    closed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)  # fmt: skip
    assert (closed.returncode, closed.stderr) == (0, "")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "memroy"], "unknown experiment 'memroy': did you mean 'memory'?"),
        (["run", "memory", "--preset", "smal"], "unknown preset 'smal': did you mean 'small'?"),
    ],
)
def test_usage_errors_suggest_the_nearest_name(argv, message, capsys):
    from hetsnn.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_parsing_the_command_line_imports_no_jax():
    """Usage errors are answered before the heavy imports (hetsnn --help, a misspelt
    experiment): importing the command line loads neither JAX nor an experiment."""
    import subprocess
    import sys

    code = (
        "import sys, hetsnn.cli; "
        "print(sorted(m for m in ('jax', 'hetsnn.experiments') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
