"""Companion study 2 (docs/specification.md, section 2): excitatory/inhibitory balance under Dale's
law (Kilgore, Kopsick, Ascoli and Adam 2024).

For each E:I ratio (share of excitatory hidden neurons) and seed, a recurrent E/I
spiking network (:mod:`hetsnn.model.recurrent_ei`) is trained on Fashion-MNIST by
surrogate-gradient BPTT (Adam, softmax cross-entropy of the read-out; the optimiser of
:mod:`hetsnn.optim.gradient`). Its input gain is first set so that the
untrained network fires at ``init_rate_hz`` on a batch of training images (initial
firing-rate control; ``None`` keeps the LeCun draw). Reported: test accuracy after each
epoch, mean firing rates of the E and I neurons, the spike-pattern diversity of the
inhibitory (and excitatory) neurons (mean pairwise van Rossum distance over test images),
and the test accuracy when every weight is perturbed by multiplicative Gaussian noise.

Each (ratio, rate, seed) cell is a job of :mod:`hetsnn.train.jobs`: it checkpoints after
every epoch in ``cells/<name>/checkpoint.npz`` (one atomic file: the state, the epochs'
history and a fingerprint of the cell) and writes ``cells/<name>/result.json`` when done; a
resumed run continues from the last finished epoch.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hetsnn import storage
from hetsnn.analysis.spike_distance import spike_pattern_diversity
from hetsnn.config import GradientConfig
from hetsnn.data.images import load_dataset
from hetsnn.errors import ConfigError
from hetsnn.model.neuron_models import neuron_model
from hetsnn.model.recurrent_ei import EINetwork, add_weight_noise, calibrate_input_gain
from hetsnn.optim import gradient
from hetsnn.tasks.classify import N_CLASSES, N_PIXELS, pixel_statistics
from hetsnn.train.jobs import Job, checkpointed_steps
from hetsnn.validate import typed_fields


@dataclass(frozen=True)
class EISettings:
    """Attributes:
    ratios: excitatory shares of the hidden layer swept (0.1 = 10:90 ... 1.0 = 100:0).
    init_rates: target initial mean firing rates (Hz; None: no control), one arm each.
    seeds, n_hidden, steps (per image), epochs, batch, lr: network and Adam training.
    train_images, test_images: first N images of each split (None: all).
    weight_noise: relative std of the multiplicative weight noise at test time.
    diversity_images: test images the spike-pattern diversity averages over.
    van_rossum_tau: kernel time constant of the van Rossum distance (ms).
    """

    ratios: tuple[float, ...]
    seeds: int
    n_hidden: int
    epochs: int
    steps: int = 10
    batch: int = 128
    lr: float = 2e-3
    init_rates: tuple[float | None, ...] = (10.0,)
    train_images: int | None = None
    test_images: int | None = None
    weight_noise: tuple[float, ...] = (0.0, 0.1, 0.2, 0.5)
    diversity_images: int = 32
    van_rossum_tau: float = 20.0
    dataset: str = "fashion-mnist"
    neuron: str = "lif"

    def __post_init__(self):
        typed_fields(self, "ei")
        neuron_model(self.neuron)  # the hidden neurons; an unknown name: one line
        if any(not 0 < r <= 1 for r in self.ratios):
            raise ConfigError(f"E:I ratios are excitatory shares in (0, 1], got {self.ratios}")
        if min(self.seeds, self.n_hidden, self.epochs, self.steps, self.batch) < 1:
            raise ConfigError("ei needs seeds, n_hidden, epochs, steps and batch >= 1")
        if any(r is not None and not r > 0 for r in self.init_rates):
            raise ConfigError(
                f"initial firing rates must be > 0 Hz (or None), got {self.init_rates}"
            )
        if self.train_images is not None and self.train_images < self.batch:
            raise ConfigError(f"train_images ({self.train_images}) must be >= batch ({self.batch})")


def cell_name(ratio: float, init_rate: float | None, seed: int) -> str:
    rate = "free" if init_rate is None else f"{init_rate:g}Hz"
    return f"E{round(100 * ratio)}-{rate}-seed{seed}"


def network(s: EISettings, ratio: float) -> EINetwork:
    return EINetwork(
        N_PIXELS, s.n_hidden, N_CLASSES, excitatory_fraction=ratio, steps=s.steps,
        neuron=neuron_model(s.neuron).config(),
    )  # fmt: skip


def _split(s: EISettings, split: str):
    images, labels = load_dataset(s.dataset, split)
    count = s.train_images if split == "train" else s.test_images
    images, labels = images[:count], labels[:count]
    mean, std = pixel_statistics(s.dataset)
    x = (images.reshape(len(images), -1).astype(np.float32) / 255.0 - mean) / std
    return jnp.asarray(x), jnp.asarray(labels.astype(np.int32))


class Programs(NamedTuple):
    """The compiled pieces of one network's training and evaluation."""

    optimiser: optax.GradientTransformation
    epoch: Callable  # (params, opt_state, key, x, y) -> (params, opt_state, mean loss)
    predict: Callable  # (params, x) -> (predicted labels, summed per-neuron rates)
    forward: Callable  # (params, x) -> (logits, spikes (steps, B, H))


@cache
def _programs(net: EINetwork, batch: int, lr: float) -> Programs:
    optimiser = gradient.optimiser(GradientConfig(name="adam", lr=lr))

    def loss_fn(params, x, y):
        logits, _ = net.forward(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def epoch(params, opt_state, key, x, y):
        """One pass over a shuffled training set (the last partial batch dropped)."""
        n_batches = x.shape[0] // batch
        order = jax.random.permutation(key, x.shape[0])[: n_batches * batch]

        def step(carry, idx):
            params, opt_state = carry
            loss, grad = jax.value_and_grad(loss_fn)(params, x[idx], y[idx])
            updates, opt_state = optimiser.update(grad, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(
            step, (params, opt_state), order.reshape(n_batches, batch)
        )
        return params, opt_state, losses.mean()

    @jax.jit
    def predict(params, x):
        logits, spikes = net.forward(params, x)
        return jnp.argmax(logits, -1), net.rate_hz(spikes) * x.shape[0]

    return Programs(optimiser, epoch, predict, jax.jit(net.forward))


def evaluate(net: EINetwork, params, x, y, predict, chunk: int = 1000) -> tuple[float, np.ndarray]:
    """Test accuracy and the per-neuron mean rate (Hz, ``(H,)``) over ``x``, in chunks."""
    correct, rate_sum = 0, np.zeros(net.n_hidden)
    for start in range(0, x.shape[0], chunk):
        labels, rates = predict(params, x[start : start + chunk])
        correct += int(jnp.sum(labels == y[start : start + chunk]))
        rate_sum += np.asarray(rates)
    return correct / x.shape[0], rate_sum / x.shape[0]


def diversity(net: EINetwork, params, x, tau: float, forward: Callable) -> dict[str, float]:
    """Mean pairwise van Rossum distance between the spike trains of the inhibitory (and
    of the excitatory) neurons, per image, averaged over the images of ``x``; NaN for a
    population with fewer than two neurons. ``forward``: the network's compiled forward."""
    _, spikes = forward(params, x)  # (steps, B, H)
    n_e = net.n_excitatory
    result = {}
    for name, part in (("inhibitory", spikes[..., n_e:]), ("excitatory", spikes[..., :n_e])):
        n = part.shape[-1]
        if n < 2:
            result[name] = float("nan")
            continue
        per_image = jax.vmap(lambda r: spike_pattern_diversity(r, net.dt, tau), in_axes=1)(part)
        result[name] = float(per_image.mean())
    return result


def cell_fingerprint(s: EISettings, ratio: float, init_rate, seed: int) -> str:
    """SHA-256 of what shapes one cell's training; the number of epochs and the sweep's
    lists are left out, so a cell may be trained for more epochs later."""
    settings = {k: v for k, v in dataclasses.asdict(s).items()
                if k not in ("epochs", "ratios", "init_rates", "seeds")}  # fmt: skip
    if settings["neuron"] == "lif":  # absent at LIF, as in cells trained before models
        del settings["neuron"]
    return storage.fingerprint([settings, ratio, init_rate, seed])


def train_cell(s: EISettings, ratio: float, init_rate, seed: int, folder: Path, data) -> dict:
    """Train and evaluate one network, checkpointing after every epoch."""
    (x_train, y_train), (x_test, y_test) = data
    net = network(s, ratio)
    optimiser, epoch, predict, forward = _programs(net, s.batch, s.lr)
    key_init, key_train, key_noise = jax.random.split(jax.random.key(seed), 3)
    params = net.init(key_init)
    if init_rate is None:
        initial_rate = float(evaluate(net, params, x_train[:256], y_train[:256], predict)[1].mean())
    else:
        params, reached = calibrate_input_gain(net, params, x_train[:256], init_rate)
        initial_rate = float(reached)

    def one_epoch(state, e: int):
        params, opt_state, loss = epoch(*state, jax.random.fold_in(key_train, e), x_train, y_train)
        accuracy = evaluate(net, params, x_test, y_test, predict)[0]
        return (params, opt_state), {"loss": float(loss), "accuracy": accuracy}

    (params, _), history = checkpointed_steps(
        folder / "checkpoint.npz",
        cell_fingerprint(s, ratio, init_rate, seed),
        (params, optimiser.init(params)),
        s.epochs,
        one_epoch,
    )
    accuracy, rates = evaluate(net, params, x_test, y_test, predict)
    noise_accuracy = [
        evaluate(net, add_weight_noise(params, jax.random.fold_in(key_noise, i), sd), x_test,
                 y_test, predict)[0]
        for i, sd in enumerate(s.weight_noise)
    ]  # fmt: skip
    n_e = net.n_excitatory
    return {
        "ratio": ratio,
        "init_rate_target_hz": init_rate,
        "seed": seed,
        "initial_rate_hz": initial_rate,
        "accuracy": accuracy,
        "accuracy_by_epoch": history["accuracy"],
        "loss_by_epoch": history["loss"],
        "rate_e_hz": float(rates[:n_e].mean()) if n_e else float("nan"),
        "rate_i_hz": float(rates[n_e:].mean()) if n_e < net.n_hidden else float("nan"),
        "diversity": diversity(
            net, params, x_test[: s.diversity_images], s.van_rossum_tau, forward
        ),
        "weight_noise": list(s.weight_noise),
        "noise_accuracy": noise_accuracy,
    }


def cells(s: EISettings) -> list[tuple[float, float | None, int]]:
    return [(r, rate, seed) for rate in s.init_rates for r in s.ratios for seed in range(s.seeds)]


def jobs(s: EISettings) -> list[Job]:
    """One job per (ratio, initial rate, seed) cell; the data are read once, when the
    first unfinished cell needs them."""
    loaded = {}

    def data():
        if not loaded:
            loaded["splits"] = _split(s, "train"), _split(s, "test")
        return loaded["splits"]

    def cell(out: Path, ratio: float, init_rate, seed: int) -> dict:
        folder = out / "cells" / cell_name(ratio, init_rate, seed)
        return train_cell(s, ratio, init_rate, seed, folder, data())

    return [
        Job(f"cells/{cell_name(r, rate, seed)}/result.json",
            lambda out, progress, r=r, rate=rate, seed=seed: cell(out, r, rate, seed))
        for r, rate, seed in cells(s)
    ]  # fmt: skip


def check_data(s: EISettings) -> None:
    """The data set must be readable before anything is written."""
    for split in ("train", "test"):
        load_dataset(s.dataset, split)
