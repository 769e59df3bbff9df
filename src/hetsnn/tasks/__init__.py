"""Task registry: every task is a frozen dataclass implementing
:class:`hetsnn.tasks.protocol.Task`; ``TASKS`` maps its name to its class."""

from hetsnn.errors import ConfigError
from hetsnn.tasks.base import GymnaxTask
from hetsnn.tasks.cartpole import CartPoleTask
from hetsnn.tasks.classify import ClassificationTask
from hetsnn.tasks.control import BraxTask
from hetsnn.tasks.memory import MemoryTask
from hetsnn.tasks.protocol import EpisodeSampler, Supervised, Task

TASKS: dict[str, type[Task]] = {
    cls.name: cls for cls in (MemoryTask, CartPoleTask, ClassificationTask, BraxTask)
}


def task_from_dict(data: dict) -> Task:
    """Build a task from ``{"name": ..., **fields}`` with a clear error for bad input."""
    data = dict(data)
    name = data.pop("name", None)
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}: choose one of {sorted(TASKS)}")
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
    "task_from_dict",
]
