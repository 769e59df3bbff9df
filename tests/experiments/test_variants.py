"""The image variants study: every variant is one switch away from the default, runs at
smoke, and the report ranks on validation and reads the test split only for the final
numbers."""

import dataclasses

import numpy as np
import pytest
from conftest import SHARED_DATA, needs_shared_data

from hetsnn import storage
from hetsnn.data import images
from hetsnn.experiments import classify_variants as cv
from hetsnn.experiments import get_experiment, run_experiment
from hetsnn.experiments.base import MANIFEST
from hetsnn.report.build import build_report


def test_each_variant_changes_exactly_one_setting_of_the_default():
    settings = cv.PRESETS["small"]
    points = {p.name: p.config for p in cv.make_points(settings)}
    for dataset in settings.datasets:
        default = points[f"neuron-{dataset}-default"]
        assert default.task.score_on == "validation" and default.task.validation_images == 10_000
        for variant in settings.variants[1:]:
            changed = points[f"neuron-{dataset}-{cv.slug(variant)}"]
            differences = [
                f.name
                for part in ("task", "network", "optimiser")
                for f in dataclasses.fields(getattr(default, part))
                if getattr(getattr(default, part), f.name)
                != getattr(getattr(changed, part), f.name)
            ]
            if changed.search_space != default.search_space:
                differences.append("search_space")
            assert len(differences) in (1, 2), (variant, differences)  # adam: name and lr
    weight_variants = [n for n in points if n.startswith("weight-mnist")]
    assert not any("search" in n for n in weight_variants)  # weights have no search space


def test_unknown_variant_is_refused():
    from hetsnn.errors import ConfigError

    with pytest.raises(ConfigError, match="variants must include 'default'"):
        dataclasses.replace(cv.PRESETS["smoke"], variants=("default", "dropout"))


@pytest.fixture(scope="module")
def variants_run(tmp_path_factory):
    """A finished smoke run of four of the variants (one the Weight arm skips), reading
    the data set files (SHARED_DATA): every variant is its own program, so all ten would
    cost the suite about 2.5 minutes of compiling."""
    out = tmp_path_factory.mktemp("runs") / "variants"
    variants = ("default", "readout=mean", "search=log", "centre=adam")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(images.DATA_DIR_ENV, str(SHARED_DATA))
        patch.setenv(images.CACHE_ENV, str(out.parent / "cache"))
        experiment = get_experiment("classify-variants")
        run_experiment(experiment, "smoke", out, overrides={"variants": variants}, progress=False)
        build_report(out)
    return out


@pytest.mark.slow
@needs_shared_data
def test_variants_smoke_reports_ranked_validation_and_final_test_numbers(variants_run):
    manifest = storage.read_json(variants_run / MANIFEST)
    report = (variants_run / "report" / "variants.md").read_text()
    neuron_rows = [
        line for line in report.split("## Final numbers")[0].splitlines()
        if line.startswith("| ") and not line.startswith("| variant") and "---" not in line
    ]  # fmt: skip
    assert len(neuron_rows) == len(manifest["settings"]["variants"])
    means = [float(row.split("|")[2].split("±")[0]) for row in neuron_rows]
    assert means == sorted(means, reverse=True)  # ranked by the Neuron arm
    assert "| MNIST | Neuron |" in report and "| MNIST | Weight |" in report
    assert (variants_run / "report" / "variants.png").read_bytes()[:4] == b"\x89PNG"
    # every run's own score is its validation accuracy: the test split stays unread
    for point in manifest["points"]:
        config = storage.read_json(variants_run / "points" / point["name"] / "config.json")
        assert config["task"]["score_on"] == "validation"
        result = storage.read_json(variants_run / "points" / point["name"] / "result.json")
        assert np.all(np.asarray(result["final_centre_reward"]) <= 1.0)
