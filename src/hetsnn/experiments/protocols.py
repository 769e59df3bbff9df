"""Conventions of the paper's code lineage as switches, and protocols that bundle them.

The paper's own code is not public; its first author's public code of the same months
(FloyedShen/Plasticity_Driven_Learning_Framework, commit fbd25c6, which ships a fork of
EvoJAX 0.2.15 under ``Dependencies/evojax/``) fixes conventions the paper leaves open.
Each is a *switch*: one change of a run config, a no-op where it does not apply. A
*protocol* is a named bundle of switches; ``hetsnn run EXPERIMENT --protocol evojax`` (or
``run_experiment(..., protocol="evojax")``) applies it to every point, and
``--protocol adam+index-ties`` applies the switches named. hetsnn's defaults stay as they
are (docs/reproduction.md compares both on validation splits).

The switches, and where the author's code (paths under ``Dependencies/evojax/evojax/``)
or the paper sets each:

* ``bipolar``: LIF neurons fire +1 above v_th and -1 below its mirror about rest
  (``LifNeuron`` in ``policy/mlp_snn.py``, lines 57-59);
* ``current-readout``: the read-out is the current step's ``spikes @ w_out``, no state
  (``MLPs`` in ``policy/mlp_snn.py``: a ``nn.Dense`` on the hidden spikes);
* ``adam``: PGPE moves its centre with Adam at the run's lr: the paper's 0.15 unless
  ``--centre-lr`` says otherwise (every script of the author passes ``optimizer='adam'``,
  e.g. ``examples/seq_learning.py`` line 299, with ``--center-lr`` defaulting to 0.01 there,
  line 77; 0.15 is the constructor's ``center_learning_rate`` in ``algo/pgpe.py`` and the
  paper's stated rate);
* ``index-ties``: PGPE's ranks break ties by index (``process_scores`` in ``algo/pgpe.py``);
* ``one-episode``: one episode per fitness evaluation, one reset key for the whole
  population (``SimManager`` with ``n_repeats=1``, ``get_task_reset_keys`` in
  ``sim_mgr.py``); on the memory task each generation then sees one random cue;
* ``evojax-images``: raw pixels / 255, 1,024 images per generation drawn without
  replacement (upstream EvoJAX's ``task/mnist.py``), and the training loss averaged over
  the simulation steps (the paper's Eq. 3).
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from hetsnn.config import RunConfig, StrategyConfig
from hetsnn.errors import ConfigError
from hetsnn.model.neuron_models import as_model
from hetsnn.model.neurons import NeuronConfig
from hetsnn.tasks import BraxTask, ClassificationTask, GymnaxTask, MemoryTask


@dataclass(frozen=True)
class Switch:
    """One convention: its name, a line saying what it sets, and the change itself."""

    name: str
    summary: str
    apply: Callable[[RunConfig], RunConfig]


def _network(config: RunConfig, **changes) -> RunConfig:
    return config.replace(network=dataclasses.replace(config.network, **changes))


def _bipolar(config: RunConfig) -> RunConfig:
    neuron = config.network.neuron
    if type(neuron) is not NeuronConfig:  # LIF only: another model keeps its own spikes
        return config
    return _network(config, neuron=as_model(neuron, "bipolar"))


def _strategy(config: RunConfig, **changes) -> RunConfig:
    optimiser = config.optimiser
    if not isinstance(optimiser, StrategyConfig) or optimiser.name != "pgpe":
        return config
    return config.replace(optimiser=dataclasses.replace(optimiser, **changes))


def _one_episode(config: RunConfig) -> RunConfig:
    task = config.task
    if isinstance(task, MemoryTask):
        return config.replace(task=dataclasses.replace(task, episodes=1, cue="random"))
    if isinstance(task, GymnaxTask | BraxTask):
        return config.replace(task=dataclasses.replace(task, episodes=1))
    return config


def _evojax_images(config: RunConfig) -> RunConfig:
    task = config.task
    if not isinstance(task, ClassificationTask):
        return config
    task = dataclasses.replace(
        task, encoding="raw", batch=1024, sampling="without", loss_steps="mean"
    )
    return config.replace(task=task)


SWITCHES: dict[str, Switch] = {
    s.name: s
    for s in (
        Switch("bipolar", "LIF neurons fire +1 above v_th and -1 below its mirror", _bipolar),
        Switch(
            "current-readout",
            "read-out = the current step's spikes @ w_out (no state)",
            lambda c: _network(c, readout="current"),
        ),
        Switch(
            "adam",
            "PGPE's centre moves by Adam at its lr",
            lambda c: _strategy(c, centre_optimiser="adam"),
        ),
        Switch(
            "index-ties", "PGPE's ranks break ties by index", lambda c: _strategy(c, ties="index")
        ),
        Switch(
            "one-episode",
            "one episode per fitness (memory: a random cue), one key for the population",
            _one_episode,
        ),
        Switch(
            "evojax-images",
            "images: raw pixels, 1,024 per generation without replacement, loss over steps",
            _evojax_images,
        ),
    )
}
PROTOCOLS: dict[str, tuple[str, ...]] = {"evojax": tuple(SWITCHES)}
DEFAULT = "default"  # today's conventions: no switch


def switches_of(protocol: str | None) -> tuple[str, ...]:
    """The switches of ``protocol``: a name in PROTOCOLS, ``"default"`` (none), or switch
    names joined by ``+``; a one-line error for anything else."""
    if protocol in (None, DEFAULT):
        return ()
    if protocol in PROTOCOLS:
        return PROTOCOLS[protocol]
    names = tuple(protocol.split("+")) if isinstance(protocol, str) else (protocol,)
    unknown = [n for n in names if n not in SWITCHES]
    if unknown:
        raise ConfigError(
            f"unknown protocol or switch {', '.join(map(repr, unknown))}: choose a protocol "
            f"{sorted(PROTOCOLS)} or switches joined by '+' from {list(SWITCHES)}"
        )
    return tuple(n for n in SWITCHES if n in names)  # canonical order


def apply_protocol(config: RunConfig, protocol: str | None) -> RunConfig:
    """``config`` with every switch of ``protocol`` applied."""
    for name in switches_of(protocol):
        config = SWITCHES[name].apply(config)
    return config


def idle_switches(configs: list[RunConfig], protocol: str | None) -> tuple[str, ...]:
    """The switches of ``protocol`` that leave every one of ``configs`` as it was: the
    convention is already today's there (bp-vs-es's CartPole points already score one
    episode per fitness with one key for the population), or it does not apply."""

    def unchanged(name: str, config: RunConfig) -> bool:
        try:
            return SWITCHES[name].apply(config) == config
        except ConfigError:  # it changes the config into one that is refused: not idle
            return False

    return tuple(name for name in switches_of(protocol) if all(unchanged(name, c) for c in configs))


def canonical(protocol: str | None) -> str | None:
    """The name ``protocol`` is recorded under: a protocol's name, the switches joined by
    ``+`` in canonical order, or None for the default conventions."""
    names = switches_of(protocol)
    if not names:
        return None
    return protocol if protocol in PROTOCOLS else "+".join(names)
