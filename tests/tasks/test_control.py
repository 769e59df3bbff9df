"""Brax control task, the control / ablation experiments and their report sections."""

import csv
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SHARED_DATA
from flax import struct

from hetsnn import storage
from hetsnn.analysis.shapley import shapley_values
from hetsnn.config import GradientConfig, NetworkConfig, RunConfig, StrategyConfig
from hetsnn.errors import ConfigError
from hetsnn.experiments import ablation, control, get_experiment, run_experiment
from hetsnn.report.build import build_report
from hetsnn.rundir import CONFIG, RESULT
from hetsnn.tasks import BraxTask, task_from_dict
from hetsnn.tasks import control as control_tasks
from hetsnn.tasks.control import ObservationNormaliser
from hetsnn.train.programs import compiled_chunk, init_states
from hetsnn.train.spec import RunSpec

pytestmark = pytest.mark.slow  # every test here compiles Brax


# --- the episode logic, on a three-step stand-in for a Brax environment ---------------
@struct.dataclass
class _State:
    obs: jax.Array
    reward: jax.Array
    done: jax.Array
    t: jax.Array


class _ThreeStepEnv:
    """obs = (10, t); reward = 1 + sum(action); done once t reaches 3 (Brax goes on)."""

    observation_size, action_size = 2, 2

    def reset(self, key):
        return _State(jnp.array([10.0, 0.0]), jnp.float32(0), jnp.float32(0), jnp.int32(0))

    def step(self, state, action):
        t = state.t + 1
        obs = jnp.array([10.0, t.astype(jnp.float32)])
        return _State(obs, 1.0 + action.sum(), (t >= 3).astype(jnp.float32), t)


@dataclass(frozen=True)
class _ReadoutIsInput:
    """A stand-in network whose read-out is its input times ``gain``."""

    gain: float = 1.0

    def init_state(self, params):
        return jnp.int32(0)

    def step(self, params, state, x):
        return state, self.gain * x, jnp.zeros(1)


@pytest.fixture
def three_step_task(monkeypatch):
    monkeypatch.setattr(control_tasks, "make_brax_env", lambda env, backend: _ThreeStepEnv())
    return BraxTask(env="hopper", max_steps=10, episodes=2, normaliser_episodes=0)


def test_rewards_after_termination_are_masked_and_actions_squashed(three_step_task):
    key = jax.random.key(0)
    silent = float(three_step_task.evaluate(_ReadoutIsInput(0.0), None, key))
    assert silent == 3.0  # three steps of reward 1, not ten
    saturated = float(three_step_task.evaluate(_ReadoutIsInput(1e3), None, key))
    # obs (10, t) for t = 0, 1, 2 -> actions (1, 0), (1, 1), (1, 1): tanh keeps them in [-1, 1]
    assert saturated == pytest.approx(3 + 3 * 1 + (0 + 1 + 1))


def test_observations_are_normalised_and_clipped(three_step_task):
    key = jax.random.key(0)
    raw = float(three_step_task.evaluate(_ReadoutIsInput(), None, key))
    assert raw == pytest.approx(3 + 3 * np.tanh(10.0) + np.tanh(1.0) + np.tanh(2.0), rel=1e-6)
    normaliser = ObservationNormaliser(mean=jnp.array([10.0, 0.0]), std=jnp.array([1.0, 1e-3]))
    normalised = float(three_step_task.evaluate(_ReadoutIsInput(), None, key, normaliser))
    # obs (10, t) -> (0, clip(t / 1e-3, -5, 5)) = (0, 0), (0, 5), (0, 5)
    assert normalised == pytest.approx(3 + 2 * np.tanh(5.0), rel=1e-6)


def test_normaliser_statistics_cover_the_steps_before_termination(monkeypatch):
    monkeypatch.setattr(control_tasks, "make_brax_env", lambda env, backend: _ThreeStepEnv())
    statistics = control_tasks._random_action_statistics
    try:
        normaliser = BraxTask(env="ant", max_steps=7, normaliser_episodes=3).load_data("train")
    finally:
        statistics.cache_clear()  # keep the stand-in's numbers out of the cache
    # alive observations: (10, 0), (10, 1), (10, 2) in every episode; the constant one gets
    # the floor 1e-3 as its std
    np.testing.assert_allclose(normaliser.mean, [10.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(normaliser.std, [1e-3, np.sqrt(2 / 3)], rtol=1e-6)


def test_brax_task_validation_and_round_trip():
    task = BraxTask(env="walker2d", max_steps=50, normaliser_episodes=0)
    assert task_from_dict(task.to_dict()) == task
    assert task.data_spec("train") is None and task.load_data("test") is None
    with pytest.raises(ConfigError, match="env 'pong' is unknown"):
        BraxTask(env="pong")
    with pytest.raises(ConfigError, match="backend"):
        BraxTask(backend="bullet")
    with pytest.raises(ConfigError, match="normaliser_episodes"):
        BraxTask(normaliser_episodes=-1)
    with pytest.raises(ConfigError, match="no sampled policy for REINFORCE"):
        RunConfig(task, optimiser=GradientConfig())


# --- a real Brax environment ----------------------------------------------------------
def test_es_generations_on_hopper():
    """Two PGPE generations on the real hopper through the shared compiled program (one
    Brax compile; the rest of the run loop is task-independent and tested on gymnax)."""
    task = BraxTask(env="hopper", max_steps=25, normaliser_episodes=0)
    config = RunConfig(
        task, NetworkConfig(n_hidden=8), StrategyConfig(population=4), generations=2, seeds=2
    )
    spec = RunSpec.from_config(config)
    states = init_states(spec, config.network.neuron, seed=0, seeds=2)
    states, metrics = compiled_chunk(spec, 2, 2)(states, None)
    brax_env = control_tasks.make_brax_env("hopper", "spring")
    assert (brax_env.observation_size, brax_env.action_size) == (task.n_inputs, task.n_outputs)
    assert spec.num_dims == 4 * 8
    assert np.asarray(states.generation).tolist() == [2, 2]
    for name in ("reward_mean", "reward_max", "centre_reward"):
        returns = np.asarray(metrics[name])
        # the healthy reward is 1 per step alive; forward and control terms are small
        assert returns.shape == (2, 2) and np.all((returns > 0) & (returns < 25 * 3)), name
    assert np.asarray(metrics["nonfinite"]).sum() == 0


# --- the experiments ------------------------------------------------------------------
def test_control_points_match_budgets_per_environment():
    settings = get_experiment("control").resolve("paper")
    points = control.make_points(settings)
    assert len(points) == 4 * 4 * 2
    hopper = {p.name: p.config for p in points if "hopper" in p.name}
    assert hopper["neuron-hopper-16384"].network.n_hidden == 4096
    # hopper: 11 observations, 3 torques -> 14 weights per hidden neuron
    assert hopper["weight-hopper-16384"].network.n_hidden == round(16384 / 14)
    assert {p.config.optimiser.population for p in points} == {256}


def test_ablation_points_cover_every_subset_at_one_budget():
    points = ablation.make_points(get_experiment("ablation").resolve("paper"))
    assert len(points) == 4 * 15
    hopper = [p for p in points if p.arm == "hopper"]
    assert len({p.config.trainable for p in hopper}) == 15
    for p in hopper:
        k = len(p.config.trainable)
        assert p.config.network.n_hidden == round(16384 / k)
        assert "weights" not in p.config.trainable
    with pytest.raises(ConfigError, match="ablation env 'pong'"):
        get_experiment("ablation").points("smoke", {"envs": ("pong",)})


@pytest.fixture(scope="module")
def cartpole_ablation(tmp_path_factory, monkeypatch_module):
    """A two-property ablation on CartPole (two programs: {tau_m} and {v_th} train side
    by side in one), reported."""
    if (SHARED_DATA / "allen-cell-types").exists():
        monkeypatch_module.setenv("HETSNN_DATA_DIR", str(SHARED_DATA))
    out = tmp_path_factory.mktemp("ablation") / "run"
    overrides = {
        "envs": ("cartpole",),
        "properties": ("tau_m", "v_th"),
        "budget": 16,
        "population": 8,
        "generations": 3,
        "seeds": 2,
        "max_steps": 50,
        "eval_episodes": 2,
    }
    ablation = get_experiment("ablation")
    run_experiment(ablation, "smoke", out, overrides=overrides, progress=False, together=True)
    return out, build_report(out)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_ablation_report_has_the_table_shapley_values_and_time_constants(cartpole_ablation):
    out, table = cartpole_ablation
    results = {
        frozenset(storage.read_json(d / CONFIG)["trainable"]): storage.read_json(d / RESULT)
        for d in sorted((out / "points").iterdir())
    }
    assert set(results) == {frozenset({"tau_m"}), frozenset({"v_th"}), frozenset({"tau_m", "v_th"})}
    hidden = {
        frozenset(storage.read_json(d / CONFIG)["trainable"]): storage.read_json(d / CONFIG)[
            "network"
        ]["n_hidden"]
        for d in (out / "points").iterdir()
    }
    assert hidden[frozenset({"tau_m"})] == 16 and hidden[frozenset({"tau_m", "v_th"})] == 8
    together = {s: r["timing"]["runs_per_program"] for s, r in results.items()}
    assert together == {
        frozenset({"tau_m"}): 2,
        frozenset({"v_th"}): 2,
        frozenset({"tau_m", "v_th"}): 1,
    }
    assert "| tau_m | v_th | cartpole |" in table
    assert "| ✓ |  |" in table and "| ✓ | ✓ |" in table

    v = {s: float(np.mean(r["final_centre_reward"])) for s, r in results.items()}
    v[frozenset()] = float(np.mean([r["initial_centre_reward"] for r in results.values()]))
    phi = shapley_values(["tau_m", "v_th"], v)
    with open(out / "report" / "shapley.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["property"]: float(r["shapley"]) for r in rows} == pytest.approx(phi, abs=1e-9)
    assert "## Shapley values" in table and "Efficiency" in table
    assert (out / "report" / "shapley.png").stat().st_size > 0

    assert "| model: cartpole | 16 |" in table  # 2 seeds x 8 neurons of the two-property run
    assert (out / "report" / "taudist.png").stat().st_size > 0
    if (SHARED_DATA / "allen-cell-types").exists():
        assert "| biology: mouse VISp L4 spiny | 290 |" in table
        assert "| biology: human MTG spiny | 236 |" in table
