"""Every registered neuron model trains on memory smoke by ES and by BPTT, is probed and
summarised through its own property table, and is exported to NIR or refused by name."""

import dataclasses

import numpy as np
import pytest

from hetsnn import storage
from hetsnn.config import GradientConfig, NetworkConfig, RunConfig, StrategyConfig
from hetsnn.errors import ConfigError, RunDirError
from hetsnn.experiments import EXPERIMENTS, get_experiment
from hetsnn.experiments.base import MANIFEST, run_experiment, with_neuron, with_strategy
from hetsnn.interop import nir_export
from hetsnn.model.neuron_models import NEURON_MODELS
from hetsnn.report.controls import point_controls
from hetsnn.rundir import CENTRES, CONFIG, PROPERTIES, centre_keys, load_centres
from hetsnn.tasks import MemoryTask
from hetsnn.train.loop import train
from hetsnn.train.spec import RunSpec

TRAINERS = {
    "es": StrategyConfig(population=8),
    "bptt": GradientConfig(lr=1e-2, batch=4),
}


def _config(model: str, trainer: str) -> RunConfig:
    neuron = NEURON_MODELS[model].config()
    return RunConfig(
        MemoryTask(memory_length=2),
        NetworkConfig(n_hidden=8, neuron=neuron),
        TRAINERS[trainer],
        trainable=NEURON_MODELS[model].names,  # every property of the model
        generations=2,
        seeds=2,
        chunk=1,
        eval_episodes=2,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("neuron-runs")
    done = {}
    for model in NEURON_MODELS:
        for trainer in TRAINERS:
            folder = root / f"{model}-{trainer}"
            done[model, trainer] = (folder, train(_config(model, trainer), folder, progress=False))
    return done


@pytest.mark.parametrize("trainer", list(TRAINERS))
@pytest.mark.parametrize("model", ["lif", "alif", "bipolar"])
def test_each_model_trains_and_summarises_its_own_properties(runs, model, trainer):
    folder, result = runs[model, trainer]
    assert np.isfinite(result["final_centre_reward"]).all()
    rows = storage.read_jsonl(folder / PROPERTIES)
    assert [row["generation"] for row in rows] == [0, 1, 2]
    assert set(rows[-1]) - {"generation"} == set(NEURON_MODELS[model].names)
    config = RunConfig.from_dict(storage.read_json(folder / CONFIG))
    assert type(config.network.neuron).model == model
    arrays = storage.load_arrays(folder / CENTRES)
    assert set(centre_keys(config.network.neuron).values()) <= set(arrays)
    params = load_centres(folder, config.network.neuron)
    assert type(params.hidden) is type(NEURON_MODELS[model].config().homogeneous(1))
    for stored in centre_keys(config.network.neuron).values():
        assert arrays[stored].shape == (2, 8) and np.isfinite(arrays[stored]).all()


def test_training_moves_the_alif_adaptation_properties(runs):
    folder, _ = runs["alif", "es"]
    rows = storage.read_jsonl(folder / PROPERTIES)
    first, last = rows[0], rows[-1]
    assert first["tau_a"]["std"] == [0.0, 0.0]  # homogeneous at generation 0
    assert all(std > 0 for std in last["tau_a"]["std"] + last["beta"]["std"])


@pytest.mark.parametrize("model", ["alif", "bipolar"])
def test_controls_act_on_the_models_properties(runs, model):
    folder, _ = runs[model, "es"]
    rows = point_controls(folder)
    assert {row["property"] for row in rows} == {*NEURON_MODELS[model].names, "all"}
    assert all(np.isfinite(row["score"]) for row in rows)


def test_nir_exports_lif_and_refuses_the_others_by_name(runs, tmp_path):
    pytest.importorskip("nir")
    folder, _ = runs["lif", "es"]
    result = nir_export.export(folder, samples=2, out=tmp_path / "lif", profile_names=("native",))
    assert set(result["files"]) == {"native"}
    for model, why in [("alif", "no adaptive neuron"), ("bipolar", "positive spikes only")]:
        refusal = f"holds {model} neurons, which NIR cannot express.*{why}"
        with pytest.raises(ConfigError, match=refusal):
            nir_export.export(runs[model, "es"][0], samples=2, out=tmp_path / model)
        assert not (tmp_path / model).exists()  # nothing written


def test_every_experiment_of_points_takes_every_model():
    """``--neuron`` changes the neurons of every point of every experiment that trains
    RunConfigs, and nothing else; a study of jobs takes the model as a setting."""
    for experiment in EXPERIMENTS.values():
        points = experiment.points("smoke")
        for name in NEURON_MODELS:
            changed = with_neuron(points, name)
            assert len(changed) == len(points)
            for before, after in zip(points, changed, strict=True):
                neuron = after.config.network.neuron
                assert type(neuron).model == name
                assert after.config.trainable == before.config.trainable
                assert neuron.tau_m == before.config.network.neuron.tau_m
                assert after.config.replace(network=before.config.network) == before.config
                RunSpec.from_config(after.config)  # builds
    for name in ("quenched", "hrsnn", "ei"):  # studies of jobs: the model is a setting
        experiment = get_experiment(name)
        for model in NEURON_MODELS:
            settings = experiment.resolve("smoke", {"neuron": model})
            assert experiment.jobs(settings)  # their networks are built from it
        with pytest.raises(ConfigError, match="unknown neuron model 'adex'"):
            experiment.resolve("smoke", {"neuron": "adex"})


def test_run_records_the_model_and_refuses_to_resume_with_another(tmp_path):
    experiment = get_experiment("memory")
    overrides = {"generations": 2, "lengths": (2,), "taus": ()}
    out = run_experiment(
        experiment, "smoke", tmp_path / "m", overrides=overrides, neuron="bipolar", progress=False
    )
    assert storage.read_json(out / MANIFEST)["neuron"] == "bipolar"
    for folder in (out / "points").iterdir():
        config = storage.read_json(folder / CONFIG)
        assert config["network"]["neuron"]["model"] == "bipolar"
    with pytest.raises(RunDirError, match="neuron bipolar -> alif"):
        run_experiment(experiment, "smoke", out, overrides=overrides, neuron="alif", resume=True)


def test_clipup_cap_is_one_rule_for_the_api_and_the_command_line():
    built = StrategyConfig(population=8, lr=0.05)
    assert built.max_velocity == pytest.approx(0.1)
    assert StrategyConfig().max_velocity == 0.3  # the default rate's cap, as before
    points = get_experiment("memory").points("smoke")
    changed = with_strategy(points, {"lr": 0.05})  # the --centre-lr path
    for before, after in zip(points, changed, strict=True):
        fields = dataclasses.asdict(before.config.optimiser)
        fields.pop("max_velocity")
        assert after.config.optimiser == StrategyConfig(**{**fields, "lr": 0.05})
    explicit = with_strategy(points, {"lr": 0.05, "max_velocity": 0.2})
    assert all(p.config.optimiser.max_velocity == 0.2 for p in explicit)
