"""Every registered task implements the Task protocol (and its sub-protocols by its flags)."""

import dataclasses
import typing

import pytest

from hetsnn.tasks import TASKS, EpisodeSampler, Supervised, Task


def members(protocol) -> set[str]:
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (typing.Protocol, typing.Generic, object):
            continue
        names |= set(getattr(klass, "__annotations__", {}))
        names |= {n for n in vars(klass) if not n.startswith("_")}
    return names


def missing(cls, protocol) -> set[str]:
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    return {name for name in members(protocol) if not hasattr(cls, name) and name not in fields}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_registered_task_implements_the_protocol(name):
    cls = TASKS[name]
    assert cls.name == name
    assert not missing(cls, Task)
    if cls.supervised:
        assert not missing(cls, Supervised)
    if cls.samples_episodes:
        assert not missing(cls, EpisodeSampler)


def test_a_task_without_a_member_is_caught():
    @dataclasses.dataclass(frozen=True)
    class Incomplete:
        name: typing.ClassVar[str] = "incomplete"
        episodes: int = 1

        def evaluate(self, network, params, key, data):
            return 0.0

    assert {"probe", "final_score", "load_data", "samples_episodes"} <= missing(Incomplete, Task)
    assert "episodes" not in missing(Incomplete, Task)
