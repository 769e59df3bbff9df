"""The report registries agree with the experiment registry."""

from hetsnn.experiments import EXPERIMENTS
from hetsnn.report.build import REPORTS, SECTIONS


def test_every_named_section_exists():
    for experiment in EXPERIMENTS.values():
        assert set(experiment.sections) <= set(SECTIONS), experiment.name


def test_every_study_of_jobs_has_its_own_report():
    studies = {name for name, e in EXPERIMENTS.items() if e.jobs is not None}
    assert studies == {"quenched", "hrsnn", "ei"}
    assert studies <= set(REPORTS) <= set(EXPERIMENTS)
