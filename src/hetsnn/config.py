"""Validated, JSON-serialisable configuration of one training run.

Everything a run needs is here; the config is saved with the run, and the same config on
the same machine gives the same numbers. Each trainer owns its config (``StrategyConfig``
in :mod:`hetsnn.optim.evolution`, ``GradientConfig`` in :mod:`hetsnn.optim.gradient`);
both are importable from here too. Invalid values raise :class:`ConfigError` with a
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
from hetsnn.optim import TRAINERS, Optimiser, optimiser_config
from hetsnn.optim.evolution import (  # noqa: F401  (re-exported: the configs' old home)
    CENTRE_OPTIMISERS,
    DEFAULT_CENTRE_OPTIMISER,
    STRATEGY_NAMES,
    StrategyConfig,
    clipup_cap,
)
from hetsnn.optim.gradient import GRADIENT_NAMES, GradientConfig  # noqa: F401
from hetsnn.tasks import Task, missing_members, task_from_dict
from hetsnn.validate import (
    MAX_SEEDS,
    as_floats,
    check,
    finite,
    flag,
    instance,
    is_int,
    positive_int,
    positive_number,
)

STATE_DTYPES = ("float32", "bfloat16")
READOUTS = ("leaky", "current")


# Bounds on sizes: far above any study's needs, far below what would exhaust memory or
# run for ever, so a typo (an extra digit, 2**31 seeds) fails at once with a clear message.
MAX_NEURONS = 2**20
MAX_GENERATIONS = 10_000_000
MAX_STATE_FLOATS = 2**33  # population x seeds x n_hidden membrane potentials (32 GiB)
SEED_LIMIT = 2**32


# (section, field, default) of RunConfig.to_dict that older run directories lack
_LATER_FIELDS = (("network", "readout", "leaky"), ("optimiser", "ties", "average"))


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


def optimiser_from_dict(data: dict) -> Optimiser:
    """The optimiser config a trainer of :data:`hetsnn.optim.TRAINERS` owns, told apart by
    ``name`` (an ES strategy, or a gradient optimiser)."""
    return optimiser_config(data.get("name", "pgpe"))(**data)


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
        missing = missing_members(self.task) if not isinstance(self.task, type) else ["an instance"]
        lacks = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        check(not missing, f"task must be a Task (hetsnn.tasks.Task); {self.task!r} lacks {lacks}")
        instance(self.network, NetworkConfig, "network")
        names = model_of(self.network.neuron).names
        object.__setattr__(self, "trainable", canonical_trainable(self.trainable, names))
        instance(self.optimiser, tuple(TRAINERS), "optimiser")
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
