"""The registry of neuron models: ``--neuron NAME`` and ``NeuronConfig.model`` look here.

Each entry is a :class:`~hetsnn.model.neuron_interface.NeuronModel` defined in one module.
A user's own model is added with :func:`register_neuron_model` (docs/architecture.md, "Add
a neuron model").
"""

import dataclasses

from hetsnn import plugins
from hetsnn.errors import ConfigError
from hetsnn.model.alif import ALIF
from hetsnn.model.bipolar import BIPOLAR
from hetsnn.model.neuron_interface import NeuronModel
from hetsnn.model.neurons import LIF, NeuronConfig

NEURON_MODELS: dict[str, NeuronModel] = {model.name: model for model in (LIF, ALIF, BIPOLAR)}


def neuron_model(name: str) -> NeuronModel:
    """The registered model called ``name``; a one-line error naming the choices."""
    if isinstance(name, str) and name not in NEURON_MODELS:
        plugins.load_installed()  # an installed package may register it
    if not isinstance(name, str) or name not in NEURON_MODELS:
        raise ConfigError(f"unknown neuron model {name!r}: choose one of {sorted(NEURON_MODELS)}")
    return NEURON_MODELS[name]


def model_of(config) -> NeuronModel:
    """The model of a neuron config (its class attribute ``model``)."""
    return neuron_model(type(config).model)


def as_model(neuron, name: str):
    """A config of the model called ``name`` with ``neuron``'s LIF defaults (dt, tau_m,
    v_th, v_rest, R) and the model's own defaults for its other properties."""
    shared = {f.name: getattr(neuron, f.name) for f in dataclasses.fields(NeuronConfig)}
    return neuron_model(name).config(**shared)


def register_neuron_model(model: NeuronModel) -> NeuronModel:
    """Add ``model`` to the registry (its ``config`` class must name it); returns it."""
    if not isinstance(model, NeuronModel):
        raise ConfigError(f"{model!r} is not a NeuronModel")
    if getattr(model.config, "model", None) != model.name:
        raise ConfigError(
            f"neuron model {model.name!r}: its config class {model.config.__name__} must set "
            f"model = {model.name!r}"
        )
    NEURON_MODELS[model.name] = model
    return model
