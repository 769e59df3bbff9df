"""BPTT with surrogate gradients: plumbing checked against finite differences and formulas."""

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn import storage
from hetsnn.config import GradientConfig, NetworkConfig, RunConfig
from hetsnn.model import neurons, surrogates
from hetsnn.model.genome import PROPERTIES, WEIGHTS, Genome
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.optim import gradient
from hetsnn.rundir import METRICS
from hetsnn.tasks import CartPoleTask
from hetsnn.train.loop import train
from hetsnn.train.programs import init_states
from hetsnn.train.spec import RunSpec


def smooth_arctan(alpha: float = 2.0):
    """A spike function whose *forward* is the arctan primitive: a smooth network whose
    exact gradient finite differences can check."""

    def primitive(x):
        return jnp.arctan(jnp.pi / 2 * alpha * x) / jnp.pi + 0.5

    def derivative(x, v_th):
        return (alpha / 2) / (1 + (jnp.pi / 2 * alpha * x) ** 2)

    return surrogates.spike_with_derivative(derivative, forward=primitive)


@pytest.mark.parametrize("trainable", [PROPERTIES, (WEIGHTS,)], ids=["neuron", "weight"])
def test_bptt_gradient_matches_finite_differences_of_smoothed_network(trainable, monkeypatch):
    monkeypatch.setitem(surrogates.SURROGATES, "smooth", smooth_arctan)
    network = FeedforwardSNN(n_in=3, n_hidden=6, n_out=2, surrogate="smooth")
    hidden = neurons.homogeneous(6, dt=5.0, tau_m=20.0, v_th=0.5, v_rest=0.0, resistance=1.0)
    base = network.init(jax.random.key(0), hidden)
    genome = Genome(trainable)
    xs = jax.random.normal(jax.random.key(1), (12, 3)) * 2.0  # (T, n_in)
    targets = jax.random.normal(jax.random.key(2), (12, 2))

    def loss(flat):
        params = genome.unflatten(flat, base)
        _, readouts, _ = network.unroll(params, network.init_state(params), xs)
        return jnp.sum((readouts - targets) ** 2)

    flat = genome.flatten(base)
    grad = jax.grad(loss)(flat)
    eps = 1e-2
    for i in range(4):
        direction = jax.random.normal(jax.random.key(10 + i), flat.shape)
        direction = direction / jnp.linalg.norm(direction)
        numeric = (loss(flat + eps * direction) - loss(flat - eps * direction)) / (2 * eps)
        assert float(grad @ direction) == pytest.approx(float(numeric), rel=0.03, abs=1e-3)


@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("name", sorted(surrogates.SURROGATES))
def test_reset_jacobian_formula_matches_autodiff(name, detach_reset):
    spike_fn = surrogates.SURROGATES[name](2.0)
    params = neurons.NeuronParams(
        tau_logit=neurons.tau_to_logit(jnp.array([10.0, 20.0, 40.0, 80.0, 20.0]), 5.0),
        v_th=jnp.array([0.5, 0.3, 0.8, 0.5, 0.5]),
        v_rest=jnp.array([0.0, -0.2, 0.1, 0.0, 0.0]),
        resistance=jnp.ones(5),
    )
    v_prev = jnp.array([0.2, 0.25, -0.4, 0.45, 0.1])
    current = jnp.array([1.0, 0.3, 0.2, 0.2, 3.0])

    def v_next(v):
        state, _ = neurons.lif_step(params, neurons.LIFState(v), current, spike_fn, detach_reset)
        return state.v

    autodiff = np.diag(np.asarray(jax.jacrev(v_next)(v_prev)))
    u = neurons.integrate(params, v_prev, current)
    formula = neurons.reset_jacobian(params, u, spike_fn, detach_reset)
    np.testing.assert_allclose(formula, autodiff, rtol=1e-5, atol=1e-7)


def test_steep_surrogate_above_threshold_gives_factors_above_one():
    """Far above threshold, on the full path, a steep surrogate makes |dv/dv_prev| > 1."""
    params = neurons.homogeneous(1, dt=5.0, tau_m=200.0, v_th=0.5, v_rest=0.0, resistance=1.0)
    u = jnp.array([0.55])  # just above threshold: factor 0.975 * -0.55 * 2.87 = -1.54
    steep = neurons.reset_jacobian(params, u, surrogates.arctan(8.0), detach_reset=False)
    detached = neurons.reset_jacobian(params, u, surrogates.arctan(8.0), detach_reset=True)
    assert abs(float(steep[0])) > 1
    assert float(detached[0]) == 0.0


def test_returns_to_go_and_advantages_by_hand():
    rewards = jnp.array([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    alive = jnp.array([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(gradient.returns_to_go(rewards[0], 0.5), [1.75, 1.5, 1.0, 0.0])
    adv = np.asarray(gradient.advantages(rewards, alive, 1.0))
    # step 0: returns 3 and 1, baseline 2 -> +1, -1; steps 1-2: one live episode -> 0
    centred = np.array([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]])
    np.testing.assert_allclose(adv, centred / np.sqrt(2 / 4), rtol=1e-5)


SMALL = RunConfig(
    CartPoleTask(max_steps=60, episodes=1),
    NetworkConfig(n_hidden=16),
    GradientConfig(lr=3e-2, batch=16),
    trainable=(WEIGHTS,),
    generations=40,
    seeds=2,
    chunk=20,
    eval_episodes=4,
)


def test_reinforce_through_the_snn_improves_the_sampled_return(tmp_path):
    train(SMALL, tmp_path, progress=False)
    rows = storage.read_jsonl(tmp_path / METRICS)
    first = np.mean([row["reward_mean"] for row in rows[:5]])
    last = np.mean([row["reward_mean"] for row in rows[-5:]])
    assert last > first + 10
    assert all(sum(row["nonfinite"]) == 0 for row in rows)
    histogram = np.asarray(rows[-1]["u_histogram"])
    assert histogram.shape == (2, len(gradient.U_EDGES) - 1) and histogram.sum() > 0


@dataclass(frozen=True)
class NaNRewardCartPole(CartPoleTask):
    name: ClassVar[str] = "nan-reward-cartpole"

    def sample_episode(self, network, params, key, episode):
        trajectory = super().sample_episode(network, params, key, episode)
        return trajectory.replace(reward=trajectory.reward * jnp.nan)


def test_nonfinite_gradient_skips_the_update():
    config = dataclasses.replace(SMALL, task=NaNRewardCartPole(max_steps=20, episodes=1))
    spec = RunSpec.from_config(config)
    states = init_states(spec, config.network.neuron, seed=0, seeds=1)
    state = jax.tree.map(lambda x: x[0], states)
    new, metrics = jax.jit(gradient.generation, static_argnums=0)(spec, state)
    assert int(metrics["nonfinite"]) == 1
    np.testing.assert_array_equal(new.flat, state.flat)
    assert int(new.generation) == 1


def test_interrupted_bptt_run_resumes_to_identical_numbers(tmp_path):
    config = dataclasses.replace(SMALL, generations=4, chunk=2)
    full = train(config, tmp_path / "full", progress=False)

    def interrupt(done):
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "cut", progress=False, on_chunk=interrupt)
    resumed = train(config, tmp_path / "cut", progress=False)
    assert storage.read_jsonl(tmp_path / "cut" / METRICS) == storage.read_jsonl(
        tmp_path / "full" / METRICS
    )
    assert resumed["final_centre_reward"] == full["final_centre_reward"]
