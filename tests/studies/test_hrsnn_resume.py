"""The HRSNN search resumes to the trials of an uninterrupted search, whatever moment the
interruption hits: before the sampler's state is saved, after it, or after the trial's
result is stored (#29: a kill between the stored trial and the sampler file used to repeat
a trial)."""

import dataclasses

import pytest
from tqdm.auto import tqdm

from hetsnn.experiments import get_experiment
from hetsnn.studies import hrsnn

SETTINGS = dataclasses.replace(get_experiment("hrsnn").resolve("smoke"), trials=3)


def _finished(study) -> list:
    return [(t.params, t.value) for t in hrsnn._finished(study)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return _finished(hrsnn.search(SETTINGS, tmp_path_factory.mktemp("whole"), progress=False))


class Stop(KeyboardInterrupt):
    """What Ctrl-C raises inside the search."""


def _kill_before_the_save(monkeypatch):
    save = hrsnn._save_sampler

    def patched(out, sampler, trial):
        if trial == 1:
            raise Stop
        save(out, sampler, trial)

    monkeypatch.setattr(hrsnn, "_save_sampler", patched)


def _kill_after_the_save(monkeypatch):
    save = hrsnn._save_sampler

    def patched(out, sampler, trial):
        save(out, sampler, trial)
        if trial == 1:
            raise Stop

    monkeypatch.setattr(hrsnn, "_save_sampler", patched)


def _kill_after_the_result(monkeypatch):
    finished = []

    class Bar(tqdm):
        def update(self, n=1):
            super().update(n)
            finished.append(n)
            if len(finished) == 2:  # trial 1's result is stored: its callback runs
                raise Stop

    monkeypatch.setattr(hrsnn, "tqdm", Bar)


@pytest.mark.parametrize(
    "kill", [_kill_before_the_save, _kill_after_the_save, _kill_after_the_result]
)
def test_an_interrupted_search_resumes_to_the_same_trials(kill, uninterrupted, tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        kill(patch)
        with pytest.raises(Stop):
            hrsnn.search(SETTINGS, tmp_path, progress=False)
    resumed = hrsnn.search(SETTINGS, tmp_path, progress=False)
    assert _finished(resumed) == uninterrupted
    params = [p for p, _ in uninterrupted]
    assert len({tuple(sorted(p.items())) for p in params}) == len(params)  # no repeat
