"""Image classification: the task against hand-built oracle networks, cross-entropy BPTT,
the run loop's probes (resume included), and the real data sets where they exist."""

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import Interrupt, interrupt_after, needs_shared_data

from hetsnn import storage
from hetsnn.config import GradientConfig, NetworkConfig, RunConfig, StrategyConfig
from hetsnn.errors import ConfigError
from hetsnn.model import neurons
from hetsnn.model.genome import PROPERTIES, WEIGHTS
from hetsnn.model.networks import FeedforwardSNN
from hetsnn.rundir import METRICS, PROBES, RESULT
from hetsnn.tasks import ClassificationTask, task_from_dict
from hetsnn.tasks.classify import N_PIXELS, ImageData
from hetsnn.train import programs
from hetsnn.train.loop import train
from hetsnn.train.spec import RunSpec

N_IMAGES = 230  # not a multiple of the evaluation chunks used below


def one_pixel_images(labels: np.ndarray) -> ImageData:
    """Image of class c: pixel c at 255, all others 0; mean 0 and std 1, so that the
    standardised input is exactly the one-hot code of the class."""
    images = np.zeros((len(labels), N_PIXELS), np.uint8)
    images[np.arange(len(labels)), labels] = 255
    return ImageData(images, labels.astype(np.int32), np.float32(0.0), np.float32(1.0 / 255.0))


LABELS = np.random.default_rng(0).integers(0, 10, N_IMAGES)
DATA = one_pixel_images(LABELS)
NETWORK = FeedforwardSNN(n_in=N_PIXELS, n_hidden=10, n_out=10, steps_per_input=4)
HIDDEN = neurons.homogeneous(10, dt=5.0, tau_m=20.0, v_th=0.5, v_rest=0.0, resistance=1.0)


def oracle_params(class_of_neuron: np.ndarray):
    """Hidden neuron j is driven only by pixel j (current 8: it fires at every step) and
    votes for class ``class_of_neuron[j]``."""
    w_in = np.zeros((N_PIXELS, 10), np.float32)
    w_in[np.arange(10), np.arange(10)] = 8.0 / 255.0
    w_out = np.eye(10, dtype=np.float32)[class_of_neuron]
    return NETWORK.init(jax.random.key(0), HIDDEN).replace(
        w_in=jnp.asarray(w_in), w_out=jnp.asarray(w_out)
    )


RIGHT, WRONG = oracle_params(np.arange(10)), oracle_params((np.arange(10) + 1) % 10)


def test_oracle_network_scores_exactly_one_and_its_shifted_twin_zero(strict_dtypes):
    task = ClassificationTask(fitness="accuracy", batch=64, eval_chunk=100)
    key = jax.random.key(1)
    assert float(task.evaluate(NETWORK, RIGHT, key, DATA)) == 1.0
    assert float(task.evaluate(NETWORK, WRONG, key, DATA)) == 0.0
    assert float(task.final_score(NETWORK, RIGHT, key, DATA, episodes=1)) == 1.0
    assert float(task.final_score(NETWORK, WRONG, key, DATA, episodes=1)) == 0.0


@pytest.mark.parametrize("chunk", [1, 7, 100, 500])
def test_test_accuracy_does_not_depend_on_the_evaluation_chunk(chunk, strict_dtypes):
    """Padding of the last chunk must neither count nor drop images."""
    params = NETWORK.init(jax.random.key(3), HIDDEN)
    task = ClassificationTask(eval_chunk=chunk)
    inputs = task.standardise(jnp.asarray(DATA.images), DATA)
    logits, _, _ = task.forward(NETWORK, params, inputs)
    expected = np.mean(np.argmax(np.asarray(logits), axis=1) == LABELS)
    score = float(task.final_score(NETWORK, params, None, DATA, episodes=1))
    assert score == pytest.approx(expected, abs=1e-7)


def test_cross_entropy_fitness_is_the_negative_softmax_cross_entropy(strict_dtypes):
    params = NETWORK.init(jax.random.key(4), HIDDEN)
    task = ClassificationTask(batch=32)
    key = jax.random.key(5)
    inputs, labels = task.sample_batch(key, DATA, 32)
    logits, _, _ = task.forward(NETWORK, params, inputs)
    log_p = np.asarray(jax.nn.log_softmax(logits))
    expected = np.mean(log_p[np.arange(32), np.asarray(labels)])
    assert float(task.evaluate(NETWORK, params, key, DATA)) == pytest.approx(expected, rel=1e-5)


def test_batches_keep_images_and_labels_together():
    task = ClassificationTask()
    inputs, labels = task.sample_batch(jax.random.key(6), DATA, 500)
    assert inputs.shape == (500, N_PIXELS) and inputs.dtype == jnp.float32
    np.testing.assert_array_equal(np.argmax(np.asarray(inputs), axis=1), np.asarray(labels))
    assert len(np.unique(np.asarray(labels))) == 10


def test_probe_gives_per_class_rates_in_hertz():
    """Neuron j fires at every 5 ms step for images of class j only: 200 Hz on the
    diagonal, 0 elsewhere; the mean over all neurons and images is 200 / 10 Hz."""
    task = ClassificationTask(probe_images=200)
    probe = task.probe(NETWORK, RIGHT, DATA, jax.random.key(7))
    np.testing.assert_array_equal(np.asarray(probe["neurons"]), np.arange(10))  # all 10 < 32
    np.testing.assert_allclose(np.asarray(probe["class_rates"]), 200.0 * np.eye(10), atol=1e-4)
    assert float(probe["mean_rate"]) == pytest.approx(20.0, rel=1e-5)


def test_probe_samples_the_requested_number_of_distinct_neurons():
    network = dataclasses.replace(NETWORK, n_hidden=50)
    hidden = neurons.homogeneous(50, dt=5.0, tau_m=20.0, v_th=0.5, v_rest=0.0, resistance=1.0)
    params = network.init(jax.random.key(8), hidden)
    probe = ClassificationTask(probe_neurons=32).probe(network, params, DATA, jax.random.key(9))
    chosen = np.asarray(probe["neurons"])
    assert probe["class_rates"].shape == (32, 10)
    assert len(np.unique(chosen)) == 32 and chosen.max() < 50


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"dataset": "cifar"}, "unknown dataset"),
        ({"fitness": "hinge"}, "unknown fitness"),
        ({"batch": 0}, "batch must be a positive integer"),
        ({"train_images": -5}, "train_images must be a positive integer or null"),
        ({"encoding": "poisson"}, "unknown encoding"),
        ({"readout": "max"}, "unknown readout"),
        ({"score_on": "train"}, "unknown score_on"),
        ({"validation_images": 60_000}, "validation_images must be an integer in 0..59999"),
        ({"score_on": "validation"}, "needs validation_images > 0"),
    ],
)
def test_bad_task_settings_name_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        task_from_dict({"name": "classify", **fields})


def test_task_config_round_trips():
    task = ClassificationTask(dataset="fashion-mnist", fitness="accuracy", train_images=300)
    assert task_from_dict(task.to_dict()) == task


# --- training through the run loop, on the one-pixel data set ----------------------------


@dataclass(frozen=True)
class OnePixelTask(ClassificationTask):
    """The classification task on :data:`DATA` instead of files (train and test alike)."""

    name: ClassVar[str] = "one-pixel"
    train_images: int | None = N_IMAGES
    test_images: int | None = N_IMAGES

    def load_data(self, split):
        return DATA


def test_cross_entropy_bptt_learns_the_weights_of_a_separable_task():
    config = RunConfig(
        OnePixelTask(batch=32, fitness="accuracy"),
        NetworkConfig(n_hidden=16, steps_per_input=4),
        GradientConfig(lr=3e-2, batch=32),
        trainable=(WEIGHTS,),
        generations=60,
        seeds=2,
        chunk=60,
    )
    spec = RunSpec.from_config(config)
    states = programs.init_states(spec, config.network.neuron, 0, config.seeds)
    before = programs.evaluate_centres(spec, states, DATA, 1, 0)
    states, metrics = programs.compiled_chunk(spec, config.generations, config.seeds)(states, DATA)
    after = programs.evaluate_centres(spec, states, DATA, 1, 0)
    assert np.all(np.asarray(before) < 0.5)
    assert np.all(np.asarray(after) > 0.9)
    assert np.all(np.asarray(metrics["loss"][-1]) < np.asarray(metrics["loss"][0]))


def test_cross_entropy_gradient_is_that_of_the_mean_loss():
    """The trainer's loss equals optax's cross-entropy of the forward pass."""
    from hetsnn.optim import gradient

    config = RunConfig(OnePixelTask(), NetworkConfig(n_hidden=16, steps_per_input=4),
                       GradientConfig(batch=16), trainable=PROPERTIES)  # fmt: skip
    spec = RunSpec.from_config(config)
    state = jax.tree.map(lambda x: x[0], programs.init_states(spec, config.network.neuron, 0, 1))
    key = jax.random.key(10)
    loss, rollout = gradient.supervised_loss(state.flat, spec, state.base, key, DATA)
    inputs, labels = spec.task.sample_batch(key, DATA, 16)
    params = spec.genome.unflatten(state.flat, state.base)
    logits, _, u = spec.task.forward(spec.network, params, inputs)
    expected = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    assert rollout.u.shape == (16, 1, 4, 16) and rollout.alive.shape == (16, 1)


ES_CONFIG = RunConfig(
    OnePixelTask(batch=32),
    NetworkConfig(n_hidden=12, steps_per_input=4),
    StrategyConfig(population=8),
    trainable=PROPERTIES,
    generations=4,
    seeds=2,
    chunk=2,
)


def test_probes_are_recorded_per_checkpoint_and_survive_a_resume(tmp_path):
    full = train(ES_CONFIG, tmp_path / "full", progress=False)
    probes = storage.read_jsonl(tmp_path / "full" / PROBES)
    assert [p["generation"] for p in probes] == [0, 2, 4]
    assert np.asarray(probes[0]["class_rates"]).shape == (ES_CONFIG.seeds, 12, 10)
    assert 0.0 <= min(full["final_centre_reward"]) <= max(full["final_centre_reward"]) <= 1.0

    with pytest.raises(Interrupt):
        train(ES_CONFIG, tmp_path / "cut", progress=False, on_chunk=interrupt_after(2))
    # a probe written after the checkpoint, as a crash between the two would leave it
    storage.append_jsonl(tmp_path / "cut" / PROBES, [{**probes[1], "generation": 3}])
    resumed = train(ES_CONFIG, tmp_path / "cut", progress=False)
    assert storage.read_jsonl(tmp_path / "cut" / PROBES) == probes
    assert storage.read_jsonl(tmp_path / "cut" / METRICS) == storage.read_jsonl(
        tmp_path / "full" / METRICS
    )
    assert resumed == {**full, "timing": resumed["timing"]}


# --- the real data sets -------------------------------------------------------------------


@needs_shared_data
@pytest.mark.parametrize(
    "dataset, mean, std", [("mnist", 0.1307, 0.3081), ("fashion-mnist", 0.2860, 0.3530)]
)
def test_real_data_is_standardised_like_torchvision(dataset, mean, std, shared_data):
    task = ClassificationTask(dataset=dataset, train_images=1000)
    train_split, test_split = task.load_data("train"), task.load_data("test")
    assert float(train_split.mean) == pytest.approx(mean, abs=5e-5)
    assert float(train_split.std) == pytest.approx(std, abs=5e-5)
    assert train_split.images.shape == (1000, N_PIXELS) and train_split.images.dtype == np.uint8
    assert test_split.images.shape == (10_000, N_PIXELS)
    for split in ("train", "test"):
        spec, data = task.data_spec(split), task.load_data(split)
        assert jax.tree.map(lambda s: (s.shape, s.dtype), spec) == jax.tree.map(
            lambda a: (np.shape(a), np.asarray(a).dtype), data
        )


@pytest.mark.slow
@needs_shared_data
def test_classify_smoke_runs_every_arm_and_draws_firing_maps(tmp_path, shared_data):
    from hetsnn.cli import main

    out = tmp_path / "classify"
    assert main(["run", "classify", "--preset", "smoke", "--out", str(out), "--quiet"]) == 0
    for arm in ("neuron", "weight", "neuronbp", "weightbp"):
        result = storage.read_json(out / "points" / f"{arm}-mnist-800" / RESULT)
        assert all(0.0 <= accuracy <= 1.0 for accuracy in result["final_centre_reward"])
    report = out / "report"
    assert (report / "firing-800.png").stat().st_size > 0
    assert (report / "firing-rate.png").stat().st_size > 0
    table = (report / "table.md").read_text()
    assert "MNIST Neuron" in table and "silent" in table


def test_firing_summaries_of_a_hand_made_probe():
    from hetsnn.report.figures import selectivity, silent_share

    rates = np.zeros((1, 2, 4, 10))  # (probes, seeds, neurons, classes)
    rates[0, :, 0, :] = 0.5  # silent in both seeds (mean below 1 Hz)
    rates[0, :, 1, ::2] = 100.0  # 100 Hz for even classes: std 50 Hz
    rates[0, 0, 2, :] = 200.0  # firing at every step, unselective
    row = {"class_rates": rates}
    assert silent_share(row, 0) == pytest.approx(5 / 8)  # 0 and 3 in both seeds, 2 in seed 1
    assert selectivity(row, 0) == pytest.approx(2 * 50.0 / 8)


def test_mean_readout_is_the_mean_of_the_step_by_step_readouts(strict_dtypes):
    task = ClassificationTask(readout="mean")
    inputs = jnp.asarray(DATA.images[:20], jnp.float32)  # the oracle fires at every step
    logits, counts, u = task.forward(NETWORK, RIGHT, inputs)
    assert float(counts.sum()) > 0
    single = dataclasses.replace(NETWORK, steps_per_input=1)
    _, readouts, spikes = single.unroll(
        RIGHT, single.init_state(RIGHT, (20,)), jnp.broadcast_to(inputs, (4, 20, N_PIXELS))
    )
    np.testing.assert_allclose(logits, readouts.mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(counts, spikes.sum(axis=0))
    assert u.shape == (4, 20, 10)
    last, _, _ = ClassificationTask().forward(NETWORK, RIGHT, inputs)
    assert not np.allclose(logits, last)  # the switch changes the logits


def test_rate_code_draws_spikes_with_the_pixel_intensity(strict_dtypes):
    """Bernoulli spikes per step: a pixel at 255 always spikes, one at 0 never, so the
    oracle network (driven by its class pixel) still fires at every step; the draw depends
    on the key only."""
    task = ClassificationTask(encoding="rate")
    oracle = RIGHT.replace(w_in=RIGHT.w_in * 255.0)  # intensity 1 -> current 8
    inputs = task.encode(jnp.asarray(DATA.images[:50]), DATA)
    assert float(inputs.max()) == 1.0 and float(inputs.min()) == 0.0  # intensities
    logits, counts, _ = task.forward(NETWORK, oracle, inputs, jax.random.key(3))
    held, held_counts, _ = ClassificationTask(encoding="raw").forward(NETWORK, oracle, inputs)
    assert float(counts.sum()) == 50 * 4  # its class neuron at every step
    np.testing.assert_array_equal(counts, held_counts)  # 0/1 pixels: the same input
    np.testing.assert_allclose(logits, held, rtol=1e-5, atol=1e-6)
    half = inputs * 0.5  # spike probability 0.5: the key decides
    a, _, _ = task.forward(NETWORK, oracle, half, jax.random.key(3))
    b, _, _ = task.forward(NETWORK, oracle, half, jax.random.key(3))
    c, _, _ = task.forward(NETWORK, oracle, half, jax.random.key(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@needs_shared_data
def test_validation_images_are_held_out_of_training(shared_data):
    task = ClassificationTask(validation_images=1000, train_images=None)
    train, validation = task.load_data("train"), task.load_data("validation")
    assert train.images.shape[0] == 59_000 and validation.images.shape[0] == 1000
    full = ClassificationTask().load_data("train")
    np.testing.assert_array_equal(validation.images, full.images[59_000:])
    np.testing.assert_array_equal(train.images, full.images[:59_000])
    assert float(train.mean) != float(full.mean)  # statistics of the training rows only
    scored = dataclasses.replace(task, score_on="validation")
    np.testing.assert_array_equal(scored.load_data("test").labels, validation.labels)
    test = ClassificationTask().load_data("test")
    np.testing.assert_array_equal(task.load_data("test").labels, test.labels)


def test_fields_added_later_leave_older_configs_unchanged():
    """Run directories written before the variants' fields must keep their config.json
    (and so resume): those fields are left out at their defaults, and read back."""
    config = RunConfig(ClassificationTask(), trainable=PROPERTIES)
    stored = config.to_dict()
    assert "search_space" not in stored
    assert not {"encoding", "readout", "score_on", "validation_images"} & set(stored["task"])
    assert RunConfig.from_dict(stored) == config
    changed = config.replace(
        search_space="log", task=dataclasses.replace(config.task, encoding="rate")
    )
    written = changed.to_dict()
    assert written["search_space"] == "log" and written["task"]["encoding"] == "rate"
    assert RunConfig.from_dict(written) == changed
