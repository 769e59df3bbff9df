"""The noise probe: membrane noise enters only when asked, and the probe reports it."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn import storage
from hetsnn.config import GradientConfig, NetworkConfig, RunConfig, StrategyConfig
from hetsnn.experiments import get_experiment
from hetsnn.experiments.base import run_experiment
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.model.neurons import NeuronConfig
from hetsnn.report.noise import LEVELS, perturbation_scores, point_noise, run_noise_probe
from hetsnn.rundir import CONFIG
from hetsnn.tasks import MemoryTask
from hetsnn.train.loop import train
from hetsnn.train.spec import RunSpec


def test_membrane_noise_needs_both_a_level_and_a_key():
    net = FeedforwardSNN(n_in=2, n_out=2, n_hidden=32)
    params = net.init(jax.random.key(0), NeuronConfig().homogeneous(32))
    xs = jax.random.normal(jax.random.key(1), (20, 2))
    key = jax.random.key(7)

    def final(network, noise_key):
        return network.final_readout(params, network.init_state(params, noise_key=noise_key), xs)

    clean = final(net, None)
    np.testing.assert_array_equal(final(net, key), clean)  # level 0: the key is ignored
    noisy_net = dataclasses.replace(net, membrane_noise=0.2)
    np.testing.assert_array_equal(final(noisy_net, None), clean)  # no key: no noise
    once, again = final(noisy_net, key), final(noisy_net, key)
    np.testing.assert_array_equal(once, again)  # the key fixes the draws
    assert not np.allclose(once, clean)
    assert not np.allclose(final(noisy_net, jax.random.key(8)), once)
    # the noise reaches the potentials with the std asked for (before the first spike)
    quiet = params.replace(w_in=jnp.zeros_like(params.w_in))
    state = noisy_net.init_state(quiet, noise_key=key)
    _, _, _, u = noisy_net.trace(quiet, state, jnp.zeros(2))
    assert float(jnp.std(u)) == pytest.approx(0.2, rel=0.3)


@pytest.fixture(scope="module")
def memory_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("noise") / "memory"
    overrides = {"generations": 2, "lengths": (3,), "taus": ()}
    return run_experiment(get_experiment("memory"), "smoke", out, overrides=overrides,
                          progress=False)  # fmt: skip


def test_the_probe_scores_noise_levels_and_search_draws(memory_run):
    table = run_noise_probe(memory_run)
    assert (memory_run / "report" / "noise.md").read_text() == table
    assert table.count("\n| ") == 2 + 2  # header, rule, two points
    for folder in sorted((memory_run / "points").iterdir()):
        probe = point_noise(folder)
        assert set(probe["membrane"]) == set(LEVELS)
        config = RunConfig.from_dict(storage.read_json(folder / CONFIG))
        assert probe["perturbed"].shape == (8, config.seeds)
        assert np.all(np.abs(probe["perturbed"]) <= 1)


def test_bptt_runs_have_no_search_std(tmp_path):
    config = RunConfig(
        MemoryTask(memory_length=2),
        NetworkConfig(n_hidden=4),
        GradientConfig(batch=4),
        trainable=("weights",),
        generations=1,
        eval_episodes=2,
    )
    train(config, tmp_path, progress=False)
    spec = RunSpec.from_config(config)
    assert perturbation_scores(spec, config, tmp_path, None) is None
    es = config.replace(optimiser=StrategyConfig(population=4))
    train(es, tmp_path / "es", progress=False)
    draws = perturbation_scores(RunSpec.from_config(es), es, tmp_path / "es", None, draws=3)
    assert draws.shape == (3, 1)


def test_a_run_made_by_train_is_reported_and_probed_as_a_one_point_experiment(tmp_path):
    from hetsnn.cli import main

    config = RunConfig(
        MemoryTask(memory_length=2),
        NetworkConfig(n_hidden=8),
        StrategyConfig(population=8),
        generations=4,
        chunk=2,
        seeds=2,
        eval_episodes=2,
    )
    run = tmp_path / "notebook-run"
    train(config, run, progress=False)
    assert main(["report", str(run)]) == 0
    table = (run / "report" / "table.md").read_text()
    assert "trains tau_m, v_th, v_rest, R" in table
    assert (run / "report" / "curves.png").exists() and (run / "report" / "reward.png").exists()
    assert main(["probe", str(run)]) == 0
    assert "## trains tau_m, v_th, v_rest, R" in (run / "report" / "controls.md").read_text()
    assert main(["probe", str(run), "--noise"]) == 0
    assert (run / "report" / "noise.md").exists()
