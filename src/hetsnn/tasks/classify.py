"""Image classification (MNIST, Fashion-MNIST) by a spiking network (docs/specification.md exp. 5).

Each image is flattened to 784 pixels, standardised with the training split's pixel mean
and std (as torchvision's ``Normalize`` does for these data sets), and presented as an
input current for ``network.steps_per_input`` simulation steps (4 in the paper) from rest.
The read-out potentials after the last step are the class logits.

* Training fitness (ES): on a mini-batch of ``batch`` training images drawn per generation
  (with replacement, or with ``sampling="without"`` without, as EvoJAX's MNIST task draws
  its 1,024 with ``random.choice(..., replace=False)`` in ``evojax/task/mnist.py``; the whole
  population sees the same batch), the negative mean cross-entropy of softmax(logits)
  (``fitness="cross_entropy"``, EvoJAX's MNIST task) or the accuracy
  (``fitness="accuracy"``). With ``loss_steps="mean"`` the per-image score is the mean over
  the simulation steps of the score of each step's read-out, the average over steps of the
  paper's Eq. 3; with ``"last"`` that of the read-out the final score decides on.
* Gradient training (BPTT) minimises the cross-entropy on mini-batches (optim.gradient),
  likewise of the last read-out or averaged over the steps.
* Final score: accuracy on the whole test split (10,000 images), in chunks of
  ``eval_chunk`` images to bound memory; or, with ``score_on="validation"``, on the last
  ``validation_images`` images of the training split, which training then never sees (a
  study choosing between variants reads validation accuracy, never the test split).
* Variants (docs/reproduction.md, the variants study), each one field: ``encoding`` of the
  pixels (standardised currents, raw 0..1 intensities, or Bernoulli spikes drawn anew at
  every step with the pixel's intensity as probability); ``readout`` (the read-out
  potentials after the last step, or their mean over the steps).
* Probe, recorded at checkpoints: the per-class mean firing rate (Hz) of ``probe_neurons``
  randomly chosen hidden neurons (the same ones throughout a run) and the mean rate of all
  hidden neurons, over the first ``probe_images`` test images.

The images are data passed to the compiled programs (:class:`ImageData`), not part of the
task: the task stays a small hashable config, and executables hold no 47 MB constants.
"""

import dataclasses
from dataclasses import asdict, dataclass
from functools import cache
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from hetsnn.data.images import DATASETS, SPLIT_SIZES, load_dataset
from hetsnn.errors import ConfigError
from hetsnn.model.networks import FeedforwardSNN, NetworkParams
from hetsnn.tasks.base import require_positive
from hetsnn.tasks.episodic import initial_state

FITNESSES = ("cross_entropy", "accuracy")
ENCODINGS = ("standardised", "raw", "rate")
READOUTS = ("last", "mean")
SCORE_SPLITS = ("test", "validation")
SAMPLINGS = ("replacement", "without")
LOSS_STEPS = ("last", "mean")
_ENCODING_STREAM = 0xE1C  # fold-in constant for the rate code's spike draws
_LATER_FIELDS = {"validation_images": 0, "score_on": "test", "encoding": "standardised",
                 "readout": "last", "sampling": "replacement", "loss_steps": "last"}  # fmt: skip
N_PIXELS, N_CLASSES = 28 * 28, 10


@struct.dataclass
class ImageData:
    """One split of an image data set, as passed to compiled programs.

    Attributes:
        images: ``(N, 784)`` uint8 pixels (kept as bytes: 4x less memory than float32).
        labels: ``(N,)`` int32 classes 0..9.
        mean, std: float32 scalars, the training split's pixel mean and std on a 0..1 scale.
    """

    images: jax.Array
    labels: jax.Array
    mean: jax.Array
    std: jax.Array


def correct(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """``(B,)`` bool: the arg-max of the logits is the label."""
    return jnp.argmax(logits, axis=-1) == labels


@cache
def pixel_statistics(dataset: str, rows: int = SPLIT_SIZES["train"]) -> tuple[float, float]:
    """Mean and std of the first ``rows`` training images' pixels on a 0..1 scale (all
    of them: MNIST 0.1307, 0.3081)."""
    images, _ = load_dataset(dataset, "train")
    pixels = images[:rows].astype(np.float64) / 255.0
    return float(pixels.mean()), float(pixels.std())


@dataclass(frozen=True)
class ClassificationTask:
    """Attributes:
    dataset: "mnist" or "fashion-mnist".
    batch: training images per fitness evaluation (and per ES generation).
    fitness: "cross_entropy" (negative mean cross-entropy) or "accuracy".
    train_images, test_images: use only the first N images of a split (None: all).
    validation_images: hold out the last N training images (0: none); the pixel
        statistics are then those of the training images alone.
    score_on: the split of the run's final score and probes: "test", or "validation"
        (needs ``validation_images``); the run loop's "test" split is this one.
    encoding: "standardised", "raw" or "rate" (module docstring).
    readout: "last" or "mean" (module docstring).
    sampling: "replacement" or "without": how a training batch is drawn.
    loss_steps: "last" or "mean": the training score of the last read-out, or the mean of
        every step's (module docstring).
    probe_images: test images the firing-rate probe averages over.
    probe_neurons: hidden neurons whose per-class rates are recorded (all if fewer).
    eval_chunk: test images simulated at once in the final evaluation.
    """

    name: ClassVar[str] = "classify"
    supervised: ClassVar[bool] = True
    samples_episodes: ClassVar[bool] = False
    has_probe: ClassVar[bool] = True
    dataset: str = "mnist"
    batch: int = 256
    fitness: str = "cross_entropy"
    train_images: int | None = None
    test_images: int | None = None
    validation_images: int = 0
    score_on: str = "test"
    encoding: str = "standardised"
    readout: str = "last"
    sampling: str = "replacement"
    loss_steps: str = "last"
    probe_images: int = 1000
    probe_neurons: int = 32
    eval_chunk: int = 500

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ConfigError(
                f"task {self.name}: unknown dataset {self.dataset!r}: "
                f"choose one of {sorted(DATASETS)}"
            )
        if self.fitness not in FITNESSES:
            raise ConfigError(
                f"task {self.name}: unknown fitness {self.fitness!r}: choose one of {FITNESSES}"
            )
        for field, choices in (
            ("encoding", ENCODINGS),
            ("readout", READOUTS),
            ("score_on", SCORE_SPLITS),
            ("sampling", SAMPLINGS),
            ("loss_steps", LOSS_STEPS),
        ):
            if getattr(self, field) not in choices:
                raise ConfigError(
                    f"task {self.name}: unknown {field} {getattr(self, field)!r}: choose one "
                    f"of {choices}"
                )
        for field in ("batch", "probe_images", "probe_neurons", "eval_chunk"):
            require_positive(self, field)
        for field in ("train_images", "test_images"):
            require_positive(self, field, optional=True)
        held_out = self.validation_images
        if (
            not isinstance(held_out, int)
            or isinstance(held_out, bool)
            or not 0 <= held_out < SPLIT_SIZES["train"]
        ):
            raise ConfigError(
                f"task {self.name}: validation_images must be an integer in 0..59999, "
                f"got {held_out!r}"
            )
        if self.sampling == "without" and isinstance(self.batch, int):
            rows = self.train_images or SPLIT_SIZES["train"] - held_out
            if self.batch > rows:
                raise ConfigError(
                    f"task {self.name}: a batch of {self.batch} images drawn without "
                    f"replacement needs at most {rows} training images"
                )
        if self.score_on == "validation" and not held_out:
            raise ConfigError(
                f"task {self.name}: score_on 'validation' needs validation_images > 0"
            )

    # --- sizes and accounting (see tasks.base for the interface) ----------------------
    n_inputs: ClassVar[int] = N_PIXELS
    n_outputs: ClassVar[int] = N_CLASSES
    steps_per_episode: ClassVar[int] = 1  # one "episode" is one image in the run loop's counts

    @property
    def episodes(self) -> int:
        """Images per fitness evaluation."""
        return self.batch

    @property
    def max_return(self) -> float:
        return 1.0 if self.fitness == "accuracy" else 0.0

    def to_dict(self) -> dict:
        data = {"name": self.name, **asdict(self)}
        # fields added later are left out at their defaults, so run directories written
        # before them keep their config (and resume)
        for field, default in _LATER_FIELDS.items():
            if data[field] == default:
                del data[field]
        return data

    # --- data -------------------------------------------------------------------------
    def _rows(self, split: str) -> tuple[str, int, int]:
        """``(file split, first row, rows)`` of ``split``: "train", "validation", or "test"
        (the split of the final score: see ``score_on``)."""
        train_rows = SPLIT_SIZES["train"] - self.validation_images
        if split == "train":
            return "train", 0, min(self.train_images or train_rows, train_rows)
        if split == "validation" or (split == "test" and self.score_on == "validation"):
            return "train", train_rows, self.validation_images
        return "test", 0, min(self.test_images or SPLIT_SIZES["test"], SPLIT_SIZES["test"])

    def split_size(self, split: str) -> int:
        return self._rows(split)[2]

    def data_spec(self, split: str) -> ImageData:
        n = self.split_size(split)
        scalar = jax.ShapeDtypeStruct((), jnp.float32)
        return ImageData(
            images=jax.ShapeDtypeStruct((n, N_PIXELS), jnp.uint8),
            labels=jax.ShapeDtypeStruct((n,), jnp.int32),
            mean=scalar,
            std=scalar,
        )

    def load_data(self, split: str) -> ImageData:
        """The images of ``split`` (see :meth:`_rows`), as numpy arrays."""
        file_split, first, n = self._rows(split)
        images, labels = load_dataset(self.dataset, file_split)
        rows = slice(first, first + n)
        mean, std = pixel_statistics(self.dataset, SPLIT_SIZES["train"] - self.validation_images)
        return ImageData(
            images=images[rows].reshape(n, N_PIXELS),
            labels=labels[rows].astype(np.int32),
            mean=np.float32(mean),
            std=np.float32(std),
        )

    def sample_batch(self, key: jax.Array, data: ImageData, size: int):
        """``size`` random images of ``data`` (with or without replacement, ``sampling``):
        encoded ``(size, 784)`` float32 (see :meth:`encode`) and labels ``(size,)`` int32."""
        n = data.labels.shape[0]
        if self.sampling == "without":
            # the ``size`` largest of n uniform draws: a uniformly random subset in random
            # order, as jax.random.choice(replace=False) draws (not the same draws), 20x
            # faster than its permutation of all n on a CPU
            index = jax.lax.top_k(jax.random.uniform(key, (n,)), size)[1]
        else:
            index = jax.random.randint(key, (size,), 0, n)
        return self.encode(data.images[index], data), data.labels[index]

    def encode(self, images: jax.Array, data: ImageData) -> jax.Array:
        """uint8 ``images (B, 784)`` as the network's input ``(B, 784)`` float32: standardised
        currents, raw intensities, or (rate code) the spike probabilities per step."""
        if self.encoding == "standardised":
            return self.standardise(images, data)
        return images.astype(jnp.float32) / 255.0

    @staticmethod
    def standardise(images: jax.Array, data: ImageData) -> jax.Array:
        return (images.astype(jnp.float32) / 255.0 - data.mean) / data.std

    # --- the network on images -----------------------------------------------------------
    def forward(
        self,
        network: FeedforwardSNN,
        params: NetworkParams,
        inputs: jax.Array,
        key: jax.Array | None = None,
    ):
        """Present encoded ``inputs: (B, 784)`` from rest for ``network.steps_per_input``
        steps; ``key`` draws the rate code's spikes (unused otherwise).

        Returns:
            ``(logits (B, 10), spike_counts (B, n_hidden), u (steps_per_input, B, n_hidden))``.
        """
        if self.encoding != "rate" and self.readout == "last":  # the input held: one pass
            state = initial_state(network, params, key, inputs.shape[:1])
            _, logits, spikes, u = network.trace(params, state, inputs)
            return logits, spikes, u
        readouts, spikes, u = self.step_readouts(network, params, inputs, key)
        logits = readouts.mean(axis=0) if self.readout == "mean" else readouts[-1]
        return logits, spikes, u

    def step_readouts(self, network, params, inputs: jax.Array, key: jax.Array | None = None):
        """Every simulation step's read-out: ``(readouts (steps, B, 10), spike_counts (B,
        n_hidden), u (steps, B, n_hidden))``."""
        if self.encoding != "rate":  # the input held: its current computed once
            state = initial_state(network, params, key, inputs.shape[:1])
            _, readouts, spikes, u = network.trace_readouts(params, state, inputs)
            return readouts, spikes, u
        steps = network.steps_per_input
        if self.encoding == "rate":
            key = jax.random.fold_in(key, _ENCODING_STREAM)
            frames = jax.random.bernoulli(key, inputs, (steps, *inputs.shape))
            frames = frames.astype(jnp.float32)
        else:
            frames = jnp.broadcast_to(inputs, (steps, *inputs.shape))
        single = dataclasses.replace(network, steps_per_input=1)

        def step(state, frame):
            state, readout, spikes, u = single.trace(params, state, frame)
            return state, (readout, spikes, u[0])

        state = initial_state(single, params, key, inputs.shape[:1])
        _, (readouts, spikes, u) = jax.lax.scan(step, state, frames)
        return readouts, spikes.sum(axis=0), u

    def training_scores(self, network, params, inputs, labels, key=None):
        """``(scores (B,), logits (B, 10), u)`` of a training batch: per-image fitness
        (:meth:`scores`) of the logits, or with ``loss_steps="mean"`` its mean over every
        step's read-out."""
        if self.loss_steps == "mean":
            readouts, _, u = self.step_readouts(network, params, inputs, key)
            scores = jax.vmap(lambda r: self.scores(r, labels))(readouts).mean(axis=0)
            logits = readouts.mean(axis=0) if self.readout == "mean" else readouts[-1]
            return scores, logits, u
        logits, _, u = self.forward(network, params, inputs, key)
        return self.scores(logits, labels), logits, u

    def training_loss(self, network, params, inputs, labels, key=None):
        """``(loss, scores (B,), u)`` for gradient training: the mean softmax cross-entropy
        of the logits (or, with ``loss_steps="mean"``, of every step's read-out, averaged
        over the steps: Eq. 3), and the per-image fitness scores."""
        if self.loss_steps == "mean":
            readouts, _, u = self.step_readouts(network, params, inputs, key)
            per_step = jax.vmap(
                lambda r: optax.softmax_cross_entropy_with_integer_labels(r, labels)
            )(readouts)
            scores = jax.vmap(lambda r: self.scores(r, labels))(readouts).mean(axis=0)
            return per_step.mean(), scores, u
        logits, _, u = self.forward(network, params, inputs, key)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, self.scores(logits, labels), u

    def scores(self, logits: jax.Array, labels: jax.Array) -> jax.Array:
        """Per-image fitness ``(B,)``: negative cross-entropy, or 1.0 if correct."""
        if self.fitness == "accuracy":
            return correct(logits, labels).astype(jnp.float32)
        return -optax.softmax_cross_entropy_with_integer_labels(logits, labels)

    def evaluate(
        self, network: FeedforwardSNN, params: NetworkParams, key: jax.Array, data: ImageData
    ) -> jax.Array:
        """Fitness on ``batch`` training images drawn with ``key``, a float32 scalar."""
        inputs, labels = self.sample_batch(key, data, self.batch)
        scores, _, _ = self.training_scores(network, params, inputs, labels, key)
        return scores.mean()

    def _chunked(self, data: ImageData, chunk: int):
        """``data`` padded to a whole number of chunks: inputs ``(C, chunk, 784)``, labels and
        a validity mask ``(C, chunk)``."""
        n = data.labels.shape[0]
        pad = -n % chunk
        images = jnp.pad(data.images, ((0, pad), (0, 0))).reshape(-1, chunk, N_PIXELS)
        labels = jnp.pad(data.labels, (0, pad)).reshape(-1, chunk)
        valid = (jnp.arange(n + pad) < n).reshape(-1, chunk)
        return images, labels, valid

    def final_score(self, network, params, key, data: ImageData, episodes: int) -> jax.Array:
        """Accuracy on all of ``data`` (the score split); ``key`` draws the rate code's
        spikes (unused otherwise); ``episodes`` unused."""
        chunk = min(self.eval_chunk, data.labels.shape[0])
        images, labels, valid = self._chunked(data, chunk)

        def count_correct(args):
            images, labels, valid = args
            logits, _, _ = self.forward(network, params, self.encode(images, data), key)
            return (correct(logits, labels) & valid).sum()

        return jax.lax.map(count_correct, (images, labels, valid)).sum() / data.labels.shape[0]

    def probe(self, network: FeedforwardSNN, params: NetworkParams, data: ImageData, key):
        """Firing rates in Hz on the first ``probe_images`` images of ``data``.

        Returns a dict: ``class_rates (n, 10)`` mean rate of each probed neuron per class,
        ``neurons (n,)`` their indices, ``mean_rate ()`` the mean over all hidden neurons
        and images, with ``n = min(probe_neurons, n_hidden)``.
        """
        n_images = min(self.probe_images, data.labels.shape[0])
        n_probed = min(self.probe_neurons, network.n_hidden)
        neurons = jnp.sort(jax.random.permutation(key, network.n_hidden)[:n_probed])
        inputs = self.encode(data.images[:n_images], data)
        _, spikes, _ = self.forward(network, params, inputs, key)
        hz = 1000.0 / (network.steps_per_input * network.dt)  # spikes per presentation -> Hz
        rates = spikes * hz  # (images, n_hidden)
        onehot = jax.nn.one_hot(data.labels[:n_images], N_CLASSES, dtype=jnp.float32)
        per_class = (onehot.T @ rates[:, neurons]) / jnp.maximum(onehot.sum(axis=0), 1.0)[:, None]
        return {"class_rates": per_class.T, "neurons": neurons, "mean_rate": rates.mean()}
