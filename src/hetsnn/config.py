"""Validated, JSON-serialisable configuration of one training run.

Everything a run needs is here; the config is saved with the run, and the same config on
the same machine gives the same numbers. Invalid values raise :class:`ConfigError` with a
one-line message that names the field and the fix.
"""

import dataclasses
from dataclasses import asdict, dataclass, field

from hetsnn.errors import ConfigError
from hetsnn.model.genome import SEARCH_SPACES, canonical_trainable
from hetsnn.model.networks import HiddenLayer
from hetsnn.model.neuron_models import model_of, neuron_model
from hetsnn.model.neurons import NeuronConfig
from hetsnn.model.surrogates import SURROGATES
from hetsnn.tasks import TASKS, Task, task_from_dict
from hetsnn.validate import (
    as_floats,
    check,
    finite,
    flag,
    instance,
    is_int,
    positive_int,
    positive_number,
)

STRATEGY_NAMES = ("pgpe", "open_es", "snes", "cma_es")
CENTRE_OPTIMISERS = ("clipup", "sgd", "adam")
# The centre update of each strategy that has one (an optax transformation).
DEFAULT_CENTRE_OPTIMISER = {"pgpe": "clipup", "open_es": "adam"}
GRADIENT_NAMES = ("adam", "sgd")
STATE_DTYPES = ("float32", "bfloat16")
READOUTS = ("leaky", "current")
TIE_BREAKS = ("average", "index")


# Bounds on sizes: far above any study's needs, far below what would exhaust memory or
# run for ever, so a typo (an extra digit, 2**31 seeds) fails at once with a clear message.
MAX_NEURONS = 2**20
MAX_POPULATION = 2**20
MAX_SEEDS = 10_000
MAX_GENERATIONS = 10_000_000
MAX_STATE_FLOATS = 2**33  # population x seeds x n_hidden membrane potentials (32 GiB)
SEED_LIMIT = 2**32


# (section, field, default) of RunConfig.to_dict that older run directories lack
_LATER_FIELDS = (("network", "readout", "leaky"), ("optimiser", "ties", "average"))


def clipup_cap(lr: float) -> float:
    """ClipUp's velocity cap for a centre learning rate ``lr`` when none is given:
    ``2 x lr``, the ratio EvoTorch (from the ClipUp authors) derives when only the rate is
    given. The one place the rule lives: :class:`StrategyConfig` and the command line's
    ``--centre-lr`` both apply it."""
    return 2 * lr


def _known_optimiser(name: str, kind: tuple[str, ...]) -> None:
    check(
        name in kind,
        f"optimiser.name {name!r} is unknown: choose one of {STRATEGY_NAMES + GRADIENT_NAMES}",
    )


@dataclass(frozen=True, kw_only=True)
class NetworkConfig(HiddenLayer):
    """The hidden layer's structure (:class:`~hetsnn.model.networks.HiddenLayer`) and its
    neurons' homogeneous defaults, validated. The class of ``neuron`` picks the neuron
    model (:class:`NeuronConfig` is LIF; :mod:`hetsnn.model.neuron_models` lists the
    others)."""

    neuron: NeuronConfig = field(default_factory=NeuronConfig)

    def __post_init__(self):
        instance(self.neuron, NeuronConfig, "network.neuron")
        positive_int(self.n_hidden, "network.n_hidden", MAX_NEURONS)
        positive_number(self.surrogate_alpha, "network.surrogate_alpha")
        flag(self.detach_reset, "network.detach_reset")
        check(
            self.state_dtype in STATE_DTYPES,
            f"network.state_dtype {self.state_dtype!r} is unknown: choose one of {STATE_DTYPES}",
        )
        positive_int(self.steps_per_input, "network.steps_per_input", 1000)
        check(
            self.readout in READOUTS,
            f"network.readout {self.readout!r} is unknown: choose one of {READOUTS}",
        )
        finite(self.readout_tau, "network.readout_tau")
        as_floats(self, "surrogate_alpha", "readout_tau")
        check(
            self.readout_tau > self.neuron.dt,
            f"network.readout_tau ({self.readout_tau} ms) must exceed neuron.dt "
            f"({self.neuron.dt} ms)",
        )
        check(
            isinstance(self.surrogate, str) and self.surrogate in SURROGATES,
            f"network.surrogate {self.surrogate!r} is unknown: choose one of {sorted(SURROGATES)}",
        )


@dataclass(frozen=True)
class StrategyConfig:
    """Evolution strategy (evosax) and its hyper-parameters.

    The PGPE defaults (population 256, centre lr 0.15, std_init 0.1, std_lr 0.1; evosax's
    std change cap of 20 % per generation) are EvoJAX's ``PGPE`` constructor defaults, the
    values the paper cites. The centre update is not: EvoJAX's default
    (``optimizer=None``) is plain SGD, with ``"clipup"`` (momentum 0.9, max speed 0.15 by
    default) and ``"adam"`` as options, and the paper names none. hetsnn defaults to
    ClipUp (Toklu et al. 2020) with max velocity 0.3 = 2 x lr, the ratio EvoTorch (from the
    ClipUp authors) derives when only the rate is given. At paper scale on a GPU ClipUp and
    Adam (lr 0.01) learned alike and SGD far less (docs/reproduction.md).

    Attributes:
        name: one of STRATEGY_NAMES.
        population: individuals per generation (even, for antithetic sampling).
        centre_optimiser: how PGPE and OpenAI-ES move the search centre, one of
            CENTRE_OPTIMISERS; None picks the strategy's default (PGPE ClipUp, OpenAI-ES
            Adam). SNES and CMA-ES have their own update and take None only.
        lr: centre learning rate (ClipUp's step size; Adam wants about 0.01).
        max_velocity: ClipUp's cap on the norm of the centre's step (ignored otherwise);
            None (the default) takes :func:`clipup_cap` of ``lr``, 0.3 at the default rate.
        std_init: initial search standard deviation.
        std_lr: learning rate of the standard deviation (PGPE).
        ties: how PGPE ranks equal rewards: "average" (evosax: tied individuals share their
            mean rank) or "index" (EvoJAX's ``process_scores``: a stable argsort, so ties
            are broken by the individual's index in EvoJAX's population order; see
            :func:`hetsnn.optim.es.index_rank_fitness_shaping_fn`).
        eval_block: individuals simulated at once (None: the whole population). Smaller
            blocks bound memory (a block's state is ``eval_block x batch x n_hidden``
            floats per array); the blocks run one after another, unrolled in the compiled
            program (faster than a loop on CPU, but compile time grows with the number of
            blocks, so keep it to a few dozen); the numbers do not change. Must divide
            ``population``.
    """

    name: str = "pgpe"
    population: int = 256
    centre_optimiser: str | None = None
    lr: float = 0.15
    max_velocity: float | None = None
    std_init: float = 0.1
    std_lr: float = 0.1
    eval_block: int | None = None
    ties: str = "average"

    def __post_init__(self):
        _known_optimiser(self.name, STRATEGY_NAMES)
        default = DEFAULT_CENTRE_OPTIMISER.get(self.name)
        if self.centre_optimiser is None:
            object.__setattr__(self, "centre_optimiser", default)
        elif default is None:
            raise ConfigError(
                f"optimiser.centre_optimiser applies to {sorted(DEFAULT_CENTRE_OPTIMISER)} "
                f"only: {self.name} has its own centre update (leave it null)"
            )
        check(
            self.centre_optimiser in (*CENTRE_OPTIMISERS, None),
            f"optimiser.centre_optimiser {self.centre_optimiser!r} is unknown: "
            f"choose one of {CENTRE_OPTIMISERS}",
        )
        if self.max_velocity is None and isinstance(self.lr, int | float):
            object.__setattr__(self, "max_velocity", clipup_cap(self.lr))
        positive_int(self.population, "optimiser.population", MAX_POPULATION)
        check(
            self.population % 2 == 0 and self.population >= 4,
            f"optimiser.population must be an even number >= 4 for antithetic sampling, "
            f"got {self.population}: use {max(4, self.population + self.population % 2)}",
        )
        for name in ("lr", "max_velocity", "std_init", "std_lr"):
            positive_number(getattr(self, name), f"optimiser.{name}")
        as_floats(self, "lr", "max_velocity", "std_init", "std_lr")
        check(
            self.ties in TIE_BREAKS,
            f"optimiser.ties {self.ties!r} is unknown: choose one of {TIE_BREAKS}",
        )
        check(
            self.ties == "average" or self.name == "pgpe",
            f"optimiser.ties 'index' applies to pgpe only, not {self.name}",
        )
        if self.eval_block is not None:
            positive_int(self.eval_block, "optimiser.eval_block")
            check(
                self.population % self.eval_block == 0,
                f"optimiser.eval_block ({self.eval_block}) must divide the population "
                f"({self.population})",
            )


@dataclass(frozen=True)
class GradientConfig:
    """Backprop through time with surrogate gradients, through optax.

    For reinforcement-learning tasks the loss is REINFORCE (Williams 1992) with a baseline:
    actions are sampled from softmax(read-out); the advantage of step t is the discounted
    return-to-go minus its mean over the batch at step t, divided by the std over all steps.
    The surrogate and the reset path are network settings (NetworkConfig).

    Attributes:
        name: optax optimiser, one of GRADIENT_NAMES (Adam as in the paper).
        lr: learning rate.
        batch: episodes per update (one "generation" is one update).
        gamma: discount of the return-to-go.
    """

    name: str = "adam"
    lr: float = 3e-2
    batch: int = 16
    gamma: float = 0.99

    def __post_init__(self):
        _known_optimiser(self.name, GRADIENT_NAMES)
        positive_number(self.lr, "optimiser.lr")
        positive_int(self.batch, "optimiser.batch", 1_000_000)
        finite(self.gamma, "optimiser.gamma")
        as_floats(self, "lr", "gamma")
        check(0 < self.gamma <= 1, f"optimiser.gamma must be in (0, 1], got {self.gamma}")


Optimiser = StrategyConfig | GradientConfig


def optimiser_from_dict(data: dict) -> Optimiser:
    """An ES strategy or a gradient optimiser, told apart by ``name``."""
    kind = GradientConfig if data.get("name") in GRADIENT_NAMES else StrategyConfig
    return kind(**data)


@dataclass(frozen=True)
class RunConfig:
    """One training run: a task, a network, what is trained, how, for how long.

    Attributes:
        task: the task object (its fields are its config).
        optimiser: an evolution strategy (StrategyConfig) or BPTT (GradientConfig).
        trainable: ``("weights",)`` or a subset of the neuron model's properties (LIF:
            ``("tau_m", "v_th", "v_rest", "R")``), or both.
        generations: ES generations, or gradient updates.
        seeds: independent seeds trained side by side in one compiled program.
        seed: base PRNG seed; seed s of the run uses ``fold_in(key(seed), s)``.
        chunk: generations per compiled chunk, also the checkpoint interval.
        eval_episodes: episodes for the final evaluation of each seed's centre.
        search_space: how the optimiser's coordinates map to the neuron properties:
            "direct" (the values), "relative" (voltages in units of the default threshold
            gap) or "log" (log R and log(v_th - v_rest)); see ``hetsnn.model.genome``.
    """

    task: Task
    network: NetworkConfig = field(default_factory=NetworkConfig)
    optimiser: Optimiser = field(default_factory=StrategyConfig)
    trainable: tuple[str, ...] = ("tau_m", "v_th", "v_rest", "R")
    generations: int = 100
    seeds: int = 1
    seed: int = 0
    chunk: int = 10
    eval_episodes: int = 16
    search_space: str = "direct"

    def __post_init__(self):
        instance(self.task, tuple(TASKS.values()), "task")
        instance(self.network, NetworkConfig, "network")
        names = model_of(self.network.neuron).names
        object.__setattr__(self, "trainable", canonical_trainable(self.trainable, names))
        instance(self.optimiser, (StrategyConfig, GradientConfig), "optimiser")
        check(
            self.search_space in SEARCH_SPACES,
            f"unknown search_space {self.search_space!r}: choose one of {SEARCH_SPACES}",
        )
        gap = self.network.neuron.v_th - self.network.neuron.v_rest
        check(
            self.search_space == "direct" or gap > 0,
            f"search_space {self.search_space!r} needs neuron.v_th > neuron.v_rest, got a "
            f"gap of {gap:g}",
        )
        positive_int(self.generations, "generations", MAX_GENERATIONS)
        positive_int(self.seeds, "seeds", MAX_SEEDS)
        positive_int(self.chunk, "chunk")
        positive_int(self.eval_episodes, "eval_episodes", 1_000_000)
        check(
            is_int(self.seed) and 0 <= self.seed < SEED_LIMIT,
            f"seed must be an integer in [0, 2**32), got {self.seed!r}",
        )
        if isinstance(self.optimiser, StrategyConfig):
            floats = self.optimiser.population * self.seeds * self.network.n_hidden
            check(
                floats <= MAX_STATE_FLOATS,
                f"population x seeds x n_hidden = {floats:,} membrane potentials would not fit "
                f"in memory (at most {MAX_STATE_FLOATS:,}): lower one of them",
            )
        if isinstance(self.optimiser, GradientConfig):
            check(
                self.task.supervised or self.task.samples_episodes,
                f"task {self.task.name} has no sampled policy for REINFORCE: train it with an "
                f"evolution strategy (optimiser.name one of {STRATEGY_NAMES})",
            )
            check(
                self.task.supervised or self.optimiser.batch >= 2,
                "optimiser.batch must be >= 2 for REINFORCE: its baseline is the batch mean, "
                "so one episode per update has no advantage to learn from",
            )

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["task"] = self.task.to_dict()
        model = type(self.network.neuron).model
        if model != "lif":  # absent for LIF, as in run directories written before models
            data["network"]["neuron"] = {"model": model, **data["network"]["neuron"]}
        # fields added later are left out at their defaults, so run directories written
        # before them keep their config (and resume)
        for part, key, default in _LATER_FIELDS:
            if data[part].get(key, default) == default:
                data[part].pop(key, None)
        data["trainable"] = list(self.trainable)
        # a field added later is left out at its default, so run directories written
        # before it keep their config (and resume)
        if data["search_space"] == "direct":
            del data["search_space"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        data = dict(data)
        try:
            network = dict(data.pop("network", {}))
            neuron = dict(network.pop("neuron", {}))
            network["neuron"] = neuron_model(neuron.pop("model", "lif")).config(**neuron)
            return cls(
                task=task_from_dict(data.pop("task")),
                network=NetworkConfig(**network),
                optimiser=optimiser_from_dict(data.pop("optimiser", {})),
                trainable=tuple(data.pop("trainable", cls.trainable)),
                **data,
            )
        except (TypeError, KeyError) as error:
            raise ConfigError(f"malformed run config: {error}") from None
