"""The researcher's own code: tasks, neuron models and experiments added without editing hetsnn.

A plug-in is Python code that registers what it adds when it is imported, through
:func:`hetsnn.tasks.register_task`, :func:`hetsnn.model.neuron_models.register_neuron_model`
and :func:`hetsnn.experiments.register_experiment`. It is loaded

- from a file: ``hetsnn run path/to/my_experiment.py`` loads it (:func:`load_file`) and the
  run's ``experiment.json`` records its path as ``source``, so that ``report``, ``probe``,
  ``tb`` and ``export-nir`` load it again (:func:`load_recorded`);
- from an installed package: an entry point in the group ``hetsnn.plugins``, e.g. in the
  package's pyproject.toml ``[project.entry-points."hetsnn.plugins"] acrobot =
  "my_package.acrobot"``; every such module is imported the first time a task, neuron model
  or experiment name is not among the registered ones (:func:`load_installed`).

This module imports nothing else of hetsnn's except its errors: the registries of every layer
call it.
"""

import functools
import hashlib
import importlib.util
import sys
import traceback
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from hetsnn.errors import ConfigError

GROUP = "hetsnn.plugins"

_loaded: dict[Path, ModuleType] = {}
_loading: list[Path] = []  # the files being imported now, innermost last


def loading() -> str | None:
    """The path of the plug-in file being imported now (None outside :func:`load_file`):
    what :func:`hetsnn.experiments.register_experiment` records as an experiment's source."""
    return str(_loading[-1]) if _loading else None


def load_file(path: str | Path) -> ModuleType:
    """Import the Python file ``path`` once per process (a second call returns the module).

    Raises:
        ConfigError: the file does not exist, is not a ``.py`` file, or raises while it is
            imported (the message gives its line and the error, in one line).
    """
    path = Path(path).expanduser().resolve()
    if path in _loaded:
        return _loaded[path]
    if not path.is_file() or path.suffix != ".py":
        raise ConfigError(f"{path} is not a Python file: give the .py file of your experiment")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    name = f"hetsnn_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    _loading.append(path)
    try:
        spec.loader.exec_module(module)
    except ConfigError:
        del sys.modules[name]
        raise
    except Exception as error:
        del sys.modules[name]
        lines = [
            f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)
        ]
        where = f"{path}, line {lines[-1]}" if lines else str(path)
        raise ConfigError(f"{where}: {type(error).__name__}: {error}") from None
    finally:
        _loading.pop()
    _loaded[path] = module
    return module


def loaded_modules() -> list[ModuleType]:
    """The modules of the files :func:`load_file` has imported (a cluster ships their code
    to its workers, which cannot import them by name)."""
    return list(_loaded.values())


def load_recorded(manifest: dict) -> None:
    """Load the file an experiment's manifest (``experiment.json``) records as its
    ``source``, if it records one.

    Raises:
        ConfigError: the file is gone (the message names it and the fix).
    """
    source = manifest.get("source") if isinstance(manifest, dict) else None
    if not isinstance(source, str):
        return
    if not Path(source).is_file():
        raise ConfigError(
            f"this run's experiment is defined in {source}, which no longer exists: put the "
            "file back (its code is needed to read the run)"
        )
    load_file(source)


@functools.cache
def load_installed() -> tuple[str, ...]:
    """Import every module of an installed package's ``hetsnn.plugins`` entry points (once
    per process); return their names.

    Raises:
        ConfigError: an entry point fails to import (named, with its error).
    """
    names = []
    for point in entry_points(group=GROUP):
        try:
            point.load()
        except Exception as error:  # noqa: BLE001 (any failure of someone else's package)
            raise ConfigError(
                f"the installed plug-in {point.name} ({point.value}) fails to import: "
                f"{type(error).__name__}: {error}"
            ) from None
        names.append(point.name)
    return tuple(names)
