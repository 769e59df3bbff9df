"""Task registry: every task is a frozen dataclass with ``evaluate(network, params, key)``."""

from hetsnn.errors import ConfigError
from hetsnn.tasks.base import GymnaxTask
from hetsnn.tasks.cartpole import CartPoleTask
from hetsnn.tasks.memory import MemoryTask

TASKS: dict[str, type[GymnaxTask]] = {cls.name: cls for cls in (MemoryTask, CartPoleTask)}


def task_from_dict(data: dict) -> GymnaxTask:
    """Build a task from ``{"name": ..., **fields}`` with a clear error for bad input."""
    data = dict(data)
    name = data.pop("name", None)
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}: choose one of {sorted(TASKS)}")
    try:
        return TASKS[name](**data)
    except TypeError as error:
        raise ConfigError(f"task {name}: {error}") from None


__all__ = ["TASKS", "CartPoleTask", "GymnaxTask", "MemoryTask", "task_from_dict"]
