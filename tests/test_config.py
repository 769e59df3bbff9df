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
