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


def test_the_layout_check_finds_a_legend_over_a_label_and_passes_a_clean_figure():
    import matplotlib.pyplot as plt

    from hetsnn.report.layout import layout_faults

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="a very long legend entry that reaches far")
    ax.set_xlabel("generation")
    fig.tight_layout()
    assert layout_faults(fig) == []
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02))  # onto the x-label
    assert any("legend over x-label 'generation'" in f for f in layout_faults(fig))
    plt.close(fig)

    fig, axes = plt.subplots(2, 1, figsize=(4, 2))  # no room: panel titles hit tick labels
    for ax in axes:
        ax.set_title("a title")
        ax.set_xlabel("x")
    assert any("over" in f for f in layout_faults(fig))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
    ax.set_ylabel("\n".join(["a label of 30 lines"] * 30))  # taller than the figure
    assert layout_faults(fig) == [
        "the constrained layout collapsed (constrained_layout not applied because axes sizes "
        "collapsed to zero.  Try making figure larger or Axes decorations smaller.)"
    ]
    ax.set_ylabel("y")
    assert layout_faults(fig) == []
    plt.close(fig)
