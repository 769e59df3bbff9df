"""Checks of user-given settings: each raises :class:`~hetsnn.errors.ConfigError` with a
one-line message that names the field and the fix."""

import math

from hetsnn.errors import ConfigError

FLOAT32_MAX = 3.4028234663852886e38  # the compiled programs compute in float32


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value, name: str, maximum: int | None = None) -> None:
    check(is_int(value) and value > 0, f"{name} must be a positive integer, got {value!r}")
    if maximum is not None:
        check(value <= maximum, f"{name} must be at most {maximum:,}, got {value:,}")


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


def positive_number(value, name: str) -> None:
    finite(value, name)
    check(value > 0, f"{name} must be positive, got {value}")
