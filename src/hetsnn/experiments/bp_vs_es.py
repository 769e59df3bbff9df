"""Experiment 6 (docs/specification.md): backprop through time vs evolution on CartPole-v1.

Four arms at equal trainable budgets and equal training episodes:
* WeightES / NeuronES: PGPE, population 128 for 30 generations, one episode each
  (3,840 episodes);
* WeightBP / NeuronBP: REINFORCE through the unrolled SNN with surrogate gradients, Adam,
  ``episodes // batch`` updates of ``batch`` episodes (the same 3,840 episodes).
Two companion experiments sweep the BP arms: ``bp-lr`` (learning rate) and ``bp-surrogate``
(surrogate family x alpha), each as a table with one column per setting.
"""

import dataclasses
from dataclasses import dataclass

from hetsnn.config import GradientConfig, StrategyConfig
from hetsnn.experiments.base import Experiment, Point, neuron_arm, weight_arm
from hetsnn.tasks import CartPoleTask


@dataclass(frozen=True)
class BPvsESSettings:
    caps: tuple[int, ...]
    n_hidden: int  # hidden size of the Neuron arms; Weight arms match its budget
    population: int  # ES population; one episode per individual
    generations: int  # ES generations; BP gets population * generations episodes
    batch: int  # BP episodes per update
    lr: float  # BP learning rate (Adam)
    seeds: int
    eval_episodes: int
    es_arms: bool = True  # False for the BP-only sweeps
    bp_arms: bool = True  # False for the ES-only `cartpole` experiment
    lrs: tuple[float, ...] = ()  # learning-rate sweep (bp-lr)
    surrogates: tuple[tuple[str, float], ...] = ()  # (family, alpha) sweep (bp-surrogate)

    @property
    def episodes(self) -> int:
        return self.population * self.generations


def _options(s: BPvsESSettings, optimiser, generations: int) -> dict:
    chunk = max(1, generations // 6)
    return dict(
        optimiser=optimiser,
        generations=generations,
        seeds=s.seeds,
        chunk=chunk,
        eval_episodes=s.eval_episodes,
    )


def _arm_pair(kind: str, label: str, cap: int, task, s, network: dict, options: dict):
    """The Weight and Neuron arms of one optimiser kind ("ES" or "BP") at one cap."""
    slug = (kind + label).replace(" ", "").replace("=", "").lower()
    weight = weight_arm(task, s.n_hidden, network=network, **options)
    neuron = neuron_arm(task, s.n_hidden, network=network, **options)
    return [
        Point(f"weight{slug}-cap{cap}", f"Weight{kind}{label}", cap, weight),
        Point(f"neuron{slug}-cap{cap}", f"Neuron{kind}{label}", cap, neuron),
    ]


def _bp_pair(s, task, cap, label: str, lr: float, network: dict) -> list[Point]:
    options = _options(s, GradientConfig(lr=lr, batch=s.batch), s.episodes // s.batch)
    return _arm_pair("BP", label, cap, task, s, network, options)


def make_points(s: BPvsESSettings) -> list[Point]:
    points = []
    for cap in s.caps:
        task = CartPoleTask(max_steps=cap, episodes=1)
        if s.es_arms:
            options = _options(s, StrategyConfig(population=s.population), s.generations)
            points += _arm_pair("ES", "", cap, task, s, {}, options)
        if s.bp_arms and not s.lrs and not s.surrogates:
            points += _bp_pair(s, task, cap, "", s.lr, {})
        for lr in s.lrs:
            points += _bp_pair(s, task, cap, f" lr={lr:g}", lr, {})
        for family, alpha in s.surrogates:
            network = {"surrogate": family, "surrogate_alpha": alpha}
            label = f" {family}" + ("" if family == "triangle" else f" a={alpha:g}")
            points += _bp_pair(s, task, cap, label, s.lr, network)
    return points


_SMALL = BPvsESSettings(
    caps=(100, 200, 500, 1000), n_hidden=64, population=128, generations=30, batch=16,
    lr=3e-2, seeds=5, eval_episodes=16,
)  # fmt: skip
PRESETS = {
    "smoke": BPvsESSettings(
        caps=(30,),
        n_hidden=8,
        population=8,
        generations=2,
        batch=4,
        lr=3e-2,
        seeds=2,
        eval_episodes=2,
    ),  # fmt: skip
    "small": _SMALL,
    "paper": dataclasses.replace(_SMALL, seeds=100),
}

_SWEEP_SMALL = dataclasses.replace(_SMALL, caps=(100, 200), seeds=3, es_arms=False)
LR_PRESETS = {
    "smoke": dataclasses.replace(PRESETS["smoke"], es_arms=False, lrs=(1e-2, 0.1)),
    "small": dataclasses.replace(_SWEEP_SMALL, lrs=(1e-3, 1e-2, 3e-2, 0.1, 0.3)),
    "paper": dataclasses.replace(PRESETS["paper"], es_arms=False, lrs=(1e-3, 1e-2, 3e-2, 0.1, 0.3)),
}  # fmt: skip
_ALL_SURROGATES = tuple(
    (family, alpha) for family in ("arctan", "log") for alpha in (0.5, 1.0, 2.0, 4.0)
) + (("triangle", 1.0),)
SURROGATE_PRESETS = {
    "smoke": dataclasses.replace(
        PRESETS["smoke"], es_arms=False, surrogates=(("arctan", 4.0), ("triangle", 1.0))
    ),
    "small": dataclasses.replace(
        _SWEEP_SMALL,
        surrogates=(
            ("arctan", 0.5),
            ("arctan", 4.0),
            ("log", 0.5),
            ("log", 4.0),
            ("triangle", 1.0),
        ),
    ),
    "paper": dataclasses.replace(PRESETS["paper"], es_arms=False, surrogates=_ALL_SURROGATES),
}

_COMMON = dict(
    x_label="episode cap (steps)",
    y_label="return of the final parameters",
    make_points=make_points,
    curve_x="episodes",
)
EXPERIMENT = Experiment(
    name="bp-vs-es",
    summary="CartPole-v1: WeightBP, NeuronBP, WeightES, NeuronES at equal episodes and budgets",
    presets=PRESETS,
    **_COMMON,
)
LR_EXPERIMENT = Experiment(
    name="bp-lr",
    summary="CartPole-v1: learning-rate sweep of the BPTT arms",
    presets=LR_PRESETS,
    **_COMMON,
)
SURROGATE_EXPERIMENT = Experiment(
    name="bp-surrogate",
    summary="CartPole-v1: surrogate family x alpha sweep of the BPTT arms",
    presets=SURROGATE_PRESETS,
    **_COMMON,
)
