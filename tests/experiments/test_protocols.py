"""The authors' conventions as switches: each changes exactly what it says, and does it
the way the source does (EvoJAX's ranks, one key per population, the stateless read-out)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn import storage
from hetsnn.config import NetworkConfig, RunConfig, StrategyConfig
from hetsnn.errors import ConfigError, RunDirError
from hetsnn.experiments import get_experiment
from hetsnn.experiments.base import MANIFEST, run_experiment
from hetsnn.experiments.protocols import (
    PROTOCOLS,
    SWITCHES,
    apply_protocol,
    canonical,
    idle_switches,
    switches_of,
)
from hetsnn.model.bipolar import BipolarConfig
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.model.neurons import NeuronConfig
from hetsnn.optim import evolution
from hetsnn.optim.es import evojax_order, index_rank_fitness_shaping_fn, make_maximiser
from hetsnn.rundir import CONFIG, RESULT, SELECTION
from hetsnn.tasks import CartPoleTask, ClassificationTask, MemoryTask
from hetsnn.train.programs import init_states
from hetsnn.train.spec import RunSpec

# ----- EvoJAX's ranks ------------------------------------------------------------------


def process_scores(x, use_ranking=True):
    """EvoJAX's ``process_scores`` (evojax/algo/pgpe.py, in the author's fork and upstream),
    transcribed line by line."""
    x = jnp.array(x)
    if use_ranking:
        ranks = jnp.zeros(x.size, dtype=int)
        ranks = ranks.at[x.argsort()].set(jnp.arange(x.size)).reshape(x.shape)
        return ranks / ranks.max() - 0.5
    else:
        return x


@pytest.mark.parametrize("seed", range(5))
def test_index_ties_match_evojax_process_scores(seed):
    rng = np.random.default_rng(seed)
    pop = 16
    rewards = rng.choice([-1.0, 1.0, 0.5], size=pop)  # many ties, as on the memory task
    fitness = -jnp.asarray(rewards, jnp.float32)  # evosax minimises
    ours = np.asarray(index_rank_fitness_shaping_fn(None, fitness, None, None))
    # the same individuals in EvoJAX's interleaved order: ours is the negated EvoJAX score
    order = np.asarray(evojax_order(pop))
    in_evojax_order = np.zeros(pop)
    in_evojax_order[order] = rewards
    theirs = np.asarray(process_scores(in_evojax_order))
    np.testing.assert_allclose(ours, -theirs[order], atol=1e-7)
    # ties are broken: every rank is used once
    assert sorted(np.round((0.5 - ours) * (pop - 1)).astype(int)) == list(range(pop))


def test_evojax_order_pairs_each_perturbation_with_its_mirror():
    order = np.asarray(evojax_order(8))
    np.testing.assert_array_equal(order, [0, 2, 4, 6, 1, 3, 5, 7])


def test_index_ties_differ_from_averaged_ranks_only_on_ties():
    distinct = -jnp.arange(8, dtype=jnp.float32)
    es_avg = make_maximiser(StrategyConfig(population=8), 4)
    es_idx = make_maximiser(StrategyConfig(population=8, ties="index"), 4)
    shape_avg = es_avg.es.fitness_shaping_fn(None, distinct, None, None)
    shape_idx = es_idx.es.fitness_shaping_fn(None, distinct, None, None)
    np.testing.assert_allclose(shape_avg, shape_idx, atol=1e-7)
    tied = jnp.zeros(8, jnp.float32)
    assert np.ptp(np.asarray(es_avg.es.fitness_shaping_fn(None, tied, None, None))) == 0
    assert np.ptp(np.asarray(es_idx.es.fitness_shaping_fn(None, tied, None, None))) == 1
    with pytest.raises(ConfigError, match="pgpe only"):
        StrategyConfig(name="snes", ties="index")


# ----- the stateless read-out ------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 4])
def test_current_readout_is_the_current_spikes_times_w_out(steps):
    net = FeedforwardSNN(n_in=3, n_out=2, n_hidden=16, steps_per_input=steps, readout="current")
    params = net.init(jax.random.key(0), NeuronConfig(v_th=0.2).homogeneous(16))
    params = params.replace(w_in=params.w_in * 3)
    xs = jax.random.normal(jax.random.key(1), (6, 3))
    state = net.init_state(params)
    for x in xs:
        state, readout, events, us = net.trace(params, state, x)
        spikes = (us[-1] >= params.hidden.v_th).astype(jnp.float32)  # the last step's
        np.testing.assert_array_equal(readout, spikes @ params.w_out)
    assert float(events.sum()) > 0
    # the open-loop path (memory's training fitness) decides on the same read-out
    final = net.final_readout(params, net.init_state(params), xs)
    _, readouts, _ = net.unroll(params, net.init_state(params), xs)
    np.testing.assert_allclose(final, readouts[-1], rtol=1e-6)


def test_current_readout_keeps_nothing_of_earlier_steps():
    net = FeedforwardSNN(n_in=1, n_out=1, n_hidden=1, readout="current")
    params = net.init(jax.random.key(0), NeuronConfig().homogeneous(1))
    params = params.replace(w_in=jnp.ones((1, 1)), w_out=jnp.ones((1, 1)))
    xs = jnp.array([[50.0], [0.0], [0.0]])  # one spike at the first step, then silence
    _, readouts, _ = net.unroll(params, net.init_state(params), xs)
    np.testing.assert_array_equal(np.asarray(readouts)[:, 0], [1.0, 0.0, 0.0])
    leaky = dataclasses.replace(net, readout="leaky")
    _, kept, _ = leaky.unroll(params, leaky.init_state(params), xs)
    assert float(kept[2, 0]) > 0  # the integrator still remembers it


# ----- one episode, one key for the population -------------------------------------------


def test_random_cue_episodes_show_the_cue_they_reward():
    task = MemoryTask(memory_length=3, episodes=1, cue="random")
    keys = jax.random.split(jax.random.key(0), 64)
    cues = []
    for key in keys[:16]:
        inputs = task.inputs(key, jnp.int32(0))
        shown = int(inputs[0, 1] > 0)
        cues.append(shown)
        assert int(task.cue_action(0, jax.random.split(key)[0])) == shown
    assert 0 < sum(cues) < 16  # both cues occur
    alternate = MemoryTask(memory_length=3)
    assert [int(alternate.inputs(keys[0], jnp.int32(e))[0, 1] > 0) for e in range(4)] == [
        0,
        1,
        0,
        1,
    ]


class KeyEcho(MemoryTask):
    """A fitness that is a function of the episode key alone."""

    def evaluate(self, network, params, key, data=None):
        return jax.random.uniform(key)


def test_one_shared_key_gives_every_individual_the_same_episode():
    """Every individual (and the centre) of a generation is scored with one key, so with
    one episode they all play the same episode (EvoJAX tiles one reset key over the
    population); the next generation draws another."""
    config = RunConfig(
        KeyEcho(memory_length=2, episodes=1, cue="random"),
        NetworkConfig(n_hidden=4),
        StrategyConfig(population=16),
        trainable=("weights",),
    )
    spec = RunSpec.from_config(config)
    state = jax.tree.map(lambda x: x[0], init_states(spec, config.network.neuron, 0, 1))
    step = jax.jit(evolution.generation, static_argnums=0)
    state, first = step(spec, state)
    assert float(first["reward_std"]) == 0.0
    assert float(first["reward_max"]) == float(first["centre_reward"])
    _, second = step(spec, state)
    assert float(second["centre_reward"]) != float(first["centre_reward"])


# ----- each switch changes exactly what it says --------------------------------------------

MEMORY = RunConfig(MemoryTask(memory_length=3), NetworkConfig(n_hidden=4), StrategyConfig())
CARTPOLE = RunConfig(CartPoleTask(max_steps=50), NetworkConfig(n_hidden=4))
IMAGES = RunConfig(ClassificationTask(batch=64), NetworkConfig(n_hidden=4, steps_per_input=4))
CONFIGS = {"memory": MEMORY, "cartpole": CARTPOLE, "images": IMAGES}
EVERYWHERE = {name: None for name in CONFIGS}

# switch -> {config: the fields that change and what they read after the switch}
EXPECTED = {
    "bipolar": {name: {"network.neuron": BipolarConfig()} for name in CONFIGS},
    "current-readout": {name: {"network.readout": "current"} for name in CONFIGS},
    "adam": {name: {"optimiser.centre_optimiser": "adam"} for name in CONFIGS},
    "index-ties": {name: {"optimiser.ties": "index"} for name in CONFIGS},
    "one-episode": {
        "memory": {"task.episodes": 1, "task.cue": "random"},
        "cartpole": {"task.episodes": 1},
        "images": {},
    },
    "evojax-images": {
        "memory": {},
        "cartpole": {},
        "images": {"task.encoding": "raw", "task.batch": 1024, "task.sampling": "without",
                   "task.loss_steps": "mean"},
    },
}  # fmt: skip


def _fields(config: RunConfig) -> dict:
    out = {}
    for part in ("task", "network", "optimiser"):
        value = getattr(config, part)
        for f in dataclasses.fields(value):
            out[f"{part}.{f.name}"] = getattr(value, f.name)
    for f in dataclasses.fields(config):
        if f.name not in ("task", "network", "optimiser"):
            out[f.name] = getattr(config, f.name)
    return out


@pytest.mark.parametrize("name", list(SWITCHES))
@pytest.mark.parametrize("config", list(CONFIGS))
def test_each_switch_changes_exactly_what_it_says(name, config):
    before = _fields(CONFIGS[config])
    after = _fields(SWITCHES[name].apply(CONFIGS[config]))
    changed = {k: after[k] for k in before if before[k] != after[k]}
    assert changed == EXPECTED[name][config]


def test_protocol_names_and_switch_lists():
    assert switches_of("evojax") == tuple(SWITCHES) == PROTOCOLS["evojax"]
    assert switches_of("index-ties+adam") == ("adam", "index-ties")
    assert canonical("index-ties+adam") == "adam+index-ties" and canonical(None) is None
    assert switches_of("default") == ()
    with pytest.raises(ConfigError, match="unknown protocol or switch 'adma'"):
        switches_of("adma")
    bundle = apply_protocol(MEMORY, "evojax")
    assert bundle == apply_protocol(apply_protocol(MEMORY, "adam+bipolar"), "evojax")


@pytest.mark.parametrize(
    "experiment, idle",
    [
        ("memory", ("evojax-images",)),
        ("bp-vs-es", ("one-episode", "evojax-images")),  # one episode, one key already
        ("classify", ("one-episode",)),
    ],
)
def test_the_switches_an_experiment_already_follows_are_named(experiment, idle, capsys):
    chosen = get_experiment(experiment)
    configs = [p.config for p in chosen.make_points(chosen.resolve("smoke"))]
    assert idle_switches(configs, "evojax") == idle
    assert idle_switches(configs, "bipolar") == ()
    assert idle_switches(configs, None) == ()


def test_evojax_images_draws_without_replacement_and_averages_the_loss():
    task = ClassificationTask(batch=8, sampling="without", loss_steps="mean", train_images=8)
    from hetsnn.tasks.classify import ImageData

    data = ImageData(
        images=jnp.arange(8 * 784, dtype=jnp.uint8).reshape(8, 784),
        labels=jnp.arange(8, dtype=jnp.int32) % 10,
        mean=jnp.float32(0.5),
        std=jnp.float32(0.25),
    )
    _, labels = task.sample_batch(jax.random.key(3), data, 8)
    assert sorted(np.asarray(labels).tolist()) == sorted(np.asarray(data.labels).tolist())
    net = FeedforwardSNN(n_in=784, n_out=10, n_hidden=6, steps_per_input=4)
    params = net.init(jax.random.key(0), NeuronConfig().homogeneous(6))
    inputs = task.encode(data.images, data)
    readouts, _, _ = task.step_readouts(net, params, inputs)
    by_hand = np.mean([np.asarray(task.scores(r, data.labels)) for r in readouts], axis=0)
    scores, _, _ = task.training_scores(net, params, inputs, data.labels)
    np.testing.assert_allclose(scores, by_hand, rtol=1e-6)
    loss, _, _ = task.training_loss(net, params, inputs, data.labels)
    assert float(loss) == pytest.approx(-by_hand.mean(), rel=1e-5)
    with pytest.raises(ConfigError, match="without replacement needs at most 8"):
        ClassificationTask(batch=9, sampling="without", train_images=8)


# ----- the run records its protocol and all three statistics ---------------------------------


def test_protocol_run_records_itself_and_all_three_statistics(tmp_path):
    experiment = get_experiment("memory")
    overrides = {"generations": 2, "lengths": (2,), "taus": ()}
    out = run_experiment(
        experiment, "smoke", tmp_path / "m", overrides=overrides, protocol="evojax", progress=False
    )
    assert storage.read_json(out / MANIFEST)["protocol"] == "evojax"
    for folder in sorted((out / "points").iterdir()):
        config = RunConfig.from_dict(storage.read_json(folder / CONFIG))
        assert config == apply_protocol(config, "evojax")  # every switch already applied
        result = storage.read_json(folder / RESULT)
        assert len(result["last_generation_reward_mean"]) == config.seeds
        best = result["best_centre"]
        assert best["split"] == "episodes" and len(best["final_score"]) == config.seeds
        rows = storage.read_jsonl(folder / SELECTION)
        checkpoints = list(range(0, config.generations + 1, config.chunk))
        assert [r["generation"] for r in rows] == checkpoints
        for seed, generation in enumerate(best["generation"]):
            scores = [r["score"][seed] for r in rows]
            assert best["selection_score"][seed] == max(scores)
            assert generation == rows[scores.index(max(scores))]["generation"]
    with pytest.raises(RunDirError, match="protocol evojax -> adam"):
        run_experiment(experiment, "smoke", out, overrides=overrides, protocol="adam", resume=True)
    with pytest.raises(ConfigError, match="drop --protocol"):
        run_experiment(get_experiment("ei"), "smoke", tmp_path / "ei", protocol="evojax")
