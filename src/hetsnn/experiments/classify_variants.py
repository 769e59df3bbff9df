"""The image variants study: which of the choices the paper leaves open move the Neuron arm?

At budget 4,096 the Neuron arm (H = 1024 neurons with fixed random weights, their four
properties trained by PGPE) trails the Weight arm (H = 5, every weight trained) on MNIST
and Fashion-MNIST, where the paper reports the opposite. Each variant below changes one
modelling choice from ``classify``'s defaults, for both arms and both data sets:

* ``readout=mean``: the class logits are the read-out potentials averaged over the 4 steps
  (default: after the last step);
* ``readout_tau=100``: a read-out time constant of 100 ms (default 20 ms);
* ``encoding=raw``: pixel intensities 0..1 as currents (default: standardised);
* ``encoding=rate``: Bernoulli spikes drawn at every step with the pixel's intensity;
* ``search=relative``: v_th and v_rest searched in units of the threshold gap (Neuron only);
* ``search=log``: R and v_th - v_rest searched as logarithms, so both stay positive
  (Neuron only);
* ``fitness=accuracy``: accuracy on the batch as fitness (default: cross-entropy);
* ``images=4x``: four times the training images per generation;
* ``centre=adam``: PGPE's centre moved by Adam at lr 0.01 (default: ClipUp, lr 0.15).

The last 10,000 training images are held out (``validation_images``): training never sees
them, every run's final score (``result.json``) is its validation accuracy, and the report
ranks the variants by it. The test split is read only by the report, for the final
numbers of the default and of the variant validation chose, per arm and data set.
"""

import dataclasses
from dataclasses import dataclass

from hetsnn.config import NetworkConfig, RunConfig, StrategyConfig
from hetsnn.errors import ConfigError
from hetsnn.experiments.base import Experiment, Point
from hetsnn.experiments.classify import DATASET_LABELS
from hetsnn.model.genome import PROPERTIES, WEIGHTS
from hetsnn.tasks import ClassificationTask


def _task(config: RunConfig, **changes) -> RunConfig:
    return config.replace(task=dataclasses.replace(config.task, **changes))


def _network(config: RunConfig, **changes) -> RunConfig:
    return config.replace(network=dataclasses.replace(config.network, **changes))


def _strategy(config: RunConfig, **changes) -> RunConfig:
    return config.replace(optimiser=dataclasses.replace(config.optimiser, **changes))


# name -> (the switch, whether it applies to the Weight arm too)
VARIANTS = {
    "default": (lambda c: c, True),
    "readout=mean": (lambda c: _task(c, readout="mean"), True),
    "readout_tau=100": (lambda c: _network(c, readout_tau=100.0), True),
    "encoding=raw": (lambda c: _task(c, encoding="raw"), True),
    "encoding=rate": (lambda c: _task(c, encoding="rate"), True),
    "search=relative": (lambda c: c.replace(search_space="relative"), False),
    "search=log": (lambda c: c.replace(search_space="log"), False),
    "fitness=accuracy": (lambda c: _task(c, fitness="accuracy"), True),
    "images=4x": (lambda c: _task(c, batch=4 * c.task.batch), True),
    "centre=adam": (lambda c: _strategy(c, centre_optimiser="adam", lr=0.01), True),
}


@dataclass(frozen=True)
class VariantSettings:
    datasets: tuple[str, ...]
    neuron_hidden: int
    weight_hidden: int
    population: int
    generations: int
    seeds: int
    chunk: int
    batch: int
    validation_images: int
    variants: tuple[str, ...] = tuple(VARIANTS)
    train_images: int | None = None
    test_images: int | None = None
    eval_block: int | None = None

    def __post_init__(self):
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or "default" not in self.variants:
            raise ConfigError(
                f"classify-variants: variants must include 'default' and come from "
                f"{list(VARIANTS)}; unknown: {unknown}"
            )


def slug(variant: str) -> str:
    return variant.replace("=", "-").replace("_", "-")


def make_points(s: VariantSettings) -> list[Point]:
    points = []
    for dataset in s.datasets:
        task = ClassificationTask(
            dataset=dataset,
            batch=s.batch,
            train_images=s.train_images,
            test_images=s.test_images,
            validation_images=s.validation_images,
            score_on="validation",
        )
        label = DATASET_LABELS.get(dataset, dataset)
        for arm, trainable, n_hidden in (
            ("Neuron", PROPERTIES, s.neuron_hidden),
            ("Weight", (WEIGHTS,), s.weight_hidden),
        ):
            default = RunConfig(
                task,
                NetworkConfig(n_hidden=n_hidden, steps_per_input=4),
                StrategyConfig(population=s.population, eval_block=s.eval_block),
                trainable=trainable,
                generations=s.generations,
                seeds=s.seeds,
                chunk=s.chunk,
                eval_episodes=1,
            )
            for index, variant in enumerate(s.variants):
                switch, for_weights = VARIANTS[variant]
                if arm == "Weight" and not for_weights:
                    continue
                name = f"{arm.lower()}-{dataset}-{slug(variant)}"
                points.append(Point(name, f"{label} {arm}", index, switch(default)))
    return points


PRESETS = {
    "smoke": VariantSettings(
        datasets=("mnist",),
        neuron_hidden=64,
        weight_hidden=1,
        population=8,
        generations=2,
        seeds=2,
        chunk=2,
        batch=16,
        validation_images=100,
        train_images=300,
        test_images=100,
    ),
    "small": VariantSettings(
        datasets=("mnist", "fashion-mnist"),
        neuron_hidden=1024,
        weight_hidden=5,
        population=128,
        generations=500,
        seeds=3,
        chunk=50,
        batch=128,
        validation_images=10_000,
    ),
    "paper": VariantSettings(
        datasets=("mnist", "fashion-mnist"),
        neuron_hidden=1024,
        weight_hidden=5,
        population=256,
        generations=1000,
        seeds=5,
        chunk=100,
        batch=1024,
        validation_images=10_000,
        eval_block=32,
    ),
}


EXPERIMENT = Experiment(
    name="classify-variants",
    summary="the Neuron and Weight arms on images under one-switch variants of the modelling "
    "choices, chosen on a validation split",
    x_label="variant",
    y_label="validation accuracy of the final centre",
    presets=PRESETS,
    make_points=make_points,
)
