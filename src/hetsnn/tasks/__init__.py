"""Task registry: every task is a frozen dataclass implementing
:class:`hetsnn.tasks.protocol.Task`; ``TASKS`` maps its name to its class. A researcher's
own task is added with :func:`register_task`, from their own code (:mod:`hetsnn.plugins`)."""

from hetsnn import plugins
from hetsnn.errors import ConfigError
from hetsnn.tasks.base import GymnaxTask
from hetsnn.tasks.cartpole import CartPoleTask
from hetsnn.tasks.classify import ClassificationTask
from hetsnn.tasks.control import BraxTask
from hetsnn.tasks.memory import MemoryTask
from hetsnn.tasks.protocol import EpisodeSampler, Supervised, Task, missing_members

TASKS: dict[str, type[Task]] = {
    cls.name: cls for cls in (MemoryTask, CartPoleTask, ClassificationTask, BraxTask)
}


BUILT_IN = frozenset(TASKS)


def register_task(cls: type) -> type:
    """Add a task class to the registry (a class decorator; returns the class), so that
    run directories holding it can be read back: ``@register_task`` above a frozen dataclass
    with a unique class attribute ``name`` that implements :class:`Task`.

    Raises:
        ConfigError: no ``name``, a built-in task's name, or a class missing what
            :class:`Task` asks for.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"task class {cls.__name__} needs a class attribute name = '...'")
    if name in BUILT_IN and TASKS[name] is not cls:
        raise ConfigError(f"task {name!r} is built into hetsnn: give {cls.__name__} another name")
    missing = missing_members(cls)
    if missing:
        raise ConfigError(f"task class {cls.__name__} lacks {', '.join(sorted(missing))} (Task)")
    TASKS[name] = cls
    return cls


def task_from_dict(data: dict) -> Task:
    """Build a task from ``{"name": ..., **fields}`` with a clear error for bad input."""
    data = dict(data)
    name = data.pop("name", None)
    if isinstance(name, str) and name not in TASKS:
        plugins.load_installed()  # an installed package may register it
    if name not in TASKS:
        raise ConfigError(
            f"unknown task {name!r}: choose one of {sorted(TASKS)}, or load the code that "
            "registers it (hetsnn.tasks.register_task)"
        )
    try:
        return TASKS[name](**data)
    except TypeError as error:
        raise ConfigError(f"task {name}: {error}") from None


__all__ = [
    "TASKS",
    "BraxTask",
    "CartPoleTask",
    "ClassificationTask",
    "EpisodeSampler",
    "GymnaxTask",
    "MemoryTask",
    "Supervised",
    "Task",
    "missing_members",
    "register_task",
    "task_from_dict",
]
