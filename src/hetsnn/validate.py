"""Checks of user-given settings: each raises :class:`~hetsnn.errors.ConfigError` with a
one-line message that names the field and the fix."""

import dataclasses
import math
import types
import typing

from hetsnn.errors import ConfigError

FLOAT32_MAX = 3.4028234663852886e38  # the compiled programs compute in float32


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def shown(value) -> str:
    """``value`` for a one-line message: a huge integer by its length, not its digits."""
    if is_int(value) and abs(value) >= 10**21:
        return f"a {len(str(abs(value)))}-digit integer"
    return f"{value:,}" if is_int(value) else repr(value)


def positive_int(value, name: str, maximum: int | None = None) -> None:
    check(is_int(value) and value > 0, f"{name} must be a positive integer, got {shown(value)}")
    if maximum is not None:
        check(value <= maximum, f"{name} must be at most {maximum:,}, got {shown(value)}")


def finite(value, name: str) -> None:
    check(
        (is_int(value) or isinstance(value, float)) and math.isfinite(value),
        f"{name} must be a finite number, got {value!r}",
    )
    check(abs(value) <= FLOAT32_MAX, f"{name} must fit a float32 (|x| <= 3.4e38), got {value}")
    check(  # jax reads a Python int as an int32
        not is_int(value) or abs(value) < 2**31,
        f"{name} must be below 2**31 when given as an integer, got {value}: write it as a float",
    )


def as_floats(config, *names: str) -> None:
    """Store validated number fields as floats (an int would give int32 arrays in jax)."""
    for name in names:
        object.__setattr__(config, name, float(getattr(config, name)))


def flag(value, name: str) -> None:
    check(isinstance(value, bool), f"{name} must be true or false, got {value!r}")


def instance(value, kind, name: str) -> None:
    names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
    check(isinstance(value, kind), f"{name} must be a {names}, got {type(value).__name__}")


FLOAT32_TINY = 1.1754943508222875e-38  # the smallest normal float32: below it, 0 or denormal


def positive_number(value, name: str) -> None:
    finite(value, name)
    check(value > 0, f"{name} must be positive, got {value}")
    check(  # 1e-320 is positive in Python and 0 (or a denormal) in the compiled programs
        value >= FLOAT32_TINY, f"{name} must be at least 1.2e-38 to be a float32, got {value}"
    )


MAX_COUNT = 10_000_000  # any size or count of a study: beyond it nothing could run
MAX_SEEDS = 10_000  # seeds of a run or a study


def typed_fields(settings, prefix: str) -> None:
    """Check every field of the dataclass ``settings`` against its annotation: ``int``
    fields are integers in 0..MAX_COUNT (0..MAX_SEEDS for counts of seeds; not booleans),
    ``float`` fields finite numbers
    (an ``int`` is accepted and stored as a float), ``str`` fields strings, and the
    elements of ``tuple[...]`` fields likewise (``| None`` admits None). Range and
    meaning are the settings' own checks; this makes sure those checks compare numbers."""

    def kinds(annotation) -> tuple:
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            return tuple(a for a in typing.get_args(annotation))
        return (annotation,)

    def one(value, annotation, name: str) -> None:
        allowed = kinds(annotation)
        if value is None and type(None) in allowed:
            return
        if int in allowed and is_int(value):
            most = MAX_SEEDS if name.endswith("seeds") else MAX_COUNT
            check(0 <= value <= most, f"{name} must be in 0..{most:,}, got {shown(value)}")
        elif float in allowed:
            finite(value, name)
        elif str in allowed:
            check(isinstance(value, str), f"{name} must be a string, got {value!r}")
        elif int in allowed:
            check(False, f"{name} must be an integer, got {value!r}")

    hints = typing.get_type_hints(type(settings))
    for field in dataclasses.fields(settings):
        annotation, value = hints[field.name], getattr(settings, field.name)
        name = f"{prefix}.{field.name}"
        if typing.get_origin(annotation) is tuple:
            check(isinstance(value, tuple | list), f"{name} must be a list, got {value!r}")
            (element, *_) = typing.get_args(annotation)
            for item in value:
                one(item, element, name)
        else:
            one(value, annotation, name)
