"""A run whose hidden layer cannot fit in memory is refused before anything compiles."""

import pytest

from hetsnn.config import GradientConfig, NetworkConfig, RunConfig, StrategyConfig
from hetsnn.errors import ConfigError
from hetsnn.tasks import ClassificationTask, MemoryTask
from hetsnn.train import memory
from hetsnn.train.loop import train
from hetsnn.train.spec import RunSpec

HUGE = RunConfig(
    ClassificationTask(batch=100_000),
    NetworkConfig(n_hidden=1024, steps_per_input=4),
    StrategyConfig(population=256),
    generations=1,
)


def test_the_estimate_counts_individuals_images_neurons_and_seeds():
    spec = RunSpec.from_config(HUGE)
    one = memory.estimated_bytes(spec, 1)
    assert one == 257 * 100_000 * 1024 * memory.LIVE_ARRAYS * memory.BYTES
    assert memory.estimated_bytes(spec, 3) == 3 * one
    blocked = HUGE.replace(optimiser=StrategyConfig(population=256, eval_block=2))
    assert memory.estimated_bytes(RunSpec.from_config(blocked), 1) == 2 * one // 257
    bptt = RunConfig(MemoryTask(memory_length=9), NetworkConfig(n_hidden=8),
                     GradientConfig(batch=4), trainable=("weights",))  # fmt: skip
    assert memory.estimated_bytes(RunSpec.from_config(bptt), 2) == 2 * 4 * 10 * 8 * 16


def test_a_run_that_cannot_fit_is_refused_in_one_line_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match=r"needs about [\d,.]+ GiB.*eval_block") as error:
        train(HUGE, tmp_path / "run", progress=False)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()
    blocked = HUGE.replace(optimiser=StrategyConfig(population=256, eval_block=2))
    memory.check_fits(RunSpec.from_config(blocked), 1)  # fits: 2 individuals at a time
