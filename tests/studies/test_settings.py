"""The study settings (quenched, hrsnn, ei, the temporal suite) refuse bad values in one
line, as RunConfig does: a NaN, an infinity, a string, a boolean or an absurd size never
reaches a study, and nothing but ConfigError is raised."""

import dataclasses
import math

import pytest

from hetsnn.errors import ConfigError
from hetsnn.experiments import get_experiment
from hetsnn.tasks.temporal import SuiteConfig

SETTINGS = {
    "quenched": get_experiment("quenched").presets["smoke"],
    "hrsnn": get_experiment("hrsnn").presets["smoke"],
    "ei": get_experiment("ei").presets["smoke"],
    "suite": SuiteConfig(),
}
ALWAYS_BAD = [math.nan, math.inf, "x", True, 10**12]


def _cases():
    for name, settings in SETTINGS.items():
        for field in dataclasses.fields(settings):
            value = getattr(settings, field.name)
            if isinstance(value, tuple):
                bad = [(v,) for v in ALWAYS_BAD] + ["x"]
            elif isinstance(value, int | float | str) and not isinstance(value, bool):
                bad = ALWAYS_BAD if not isinstance(value, str) else [3, None]
            else:
                continue  # nested settings, checked by their own class
            for v in bad:
                yield pytest.param(name, field.name, v, id=f"{name}.{field.name}={v!r}")


@pytest.mark.parametrize("name, field, value", list(_cases()))
def test_a_bad_study_setting_is_refused_in_one_line(name, field, value):
    with pytest.raises(ConfigError) as error:
        dataclasses.replace(SETTINGS[name], **{field: value})
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_the_presets_themselves_pass(name):
    assert dataclasses.replace(SETTINGS[name]) == SETTINGS[name]


@pytest.mark.parametrize("name", ["quenched", "hrsnn", "ei"])
def test_seeds_are_capped_as_in_a_run_config(name):
    """A million seeds would be accepted as a size (6,000,000 quenched jobs) and run."""
    fields = [f.name for f in dataclasses.fields(SETTINGS[name]) if f.name.endswith("seeds")]
    assert fields
    for field in fields:
        with pytest.raises(ConfigError, match=rf"{name}\.{field} must be in 0\.\.10,000"):
            dataclasses.replace(SETTINGS[name], **{field: 10**6})
