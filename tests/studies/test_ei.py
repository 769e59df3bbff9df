"""The Dale's-law E/I network and the E:I study (Fashion-MNIST, smoke sizes)."""

import csv
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import needs_shared_data

from hetsnn import storage
from hetsnn.errors import ConfigError, RunDirError
from hetsnn.experiments import get_experiment, run_experiment
from hetsnn.model.recurrent_ei import EINetwork, add_weight_noise, calibrate_input_gain
from hetsnn.report.build import build_report
from hetsnn.studies import ei as ei_module

NET = EINetwork(20, 30, 4, excitatory_fraction=0.7, steps=6)


def _signs_hold(net, params) -> bool:
    w_rec, w_out = net.weights(params)
    e = net.n_excitatory
    return bool(
        jnp.all(w_rec[:e] >= 0) & jnp.all(w_rec[e:] <= 0)
        & jnp.all(w_out[:e] >= 0) & jnp.all(w_out[e:] <= 0)
    )  # fmt: skip


def test_dale_holds_whatever_the_parameters_and_the_noise():
    params = NET.init(jax.random.key(0))
    assert _signs_hold(NET, params)
    scrambled = jax.tree.map(lambda w: jax.random.normal(jax.random.key(1), w.shape), params)
    assert _signs_hold(NET, scrambled)  # any real parameters give Dale-conform weights
    noisy = add_weight_noise(params, jax.random.key(2), 0.5)
    assert _signs_hold(NET, noisy)
    clean = add_weight_noise(params, jax.random.key(2), 0.0)
    jax.tree.map(np.testing.assert_array_equal, clean, params)
    # inhibition balances excitation in the initial recurrent weights
    w_rec, _ = NET.weights(params)
    assert abs(float(w_rec.sum())) < 0.1 * float(jnp.abs(w_rec).sum())


def test_forward_shapes_and_the_rate_calibration():
    x = jax.random.normal(jax.random.key(3), (64, 20))
    params = NET.init(jax.random.key(4))
    logits, spikes = NET.forward(params, x)
    assert logits.shape == (64, 4) and spikes.shape == (6, 64, 30)
    for target in (5.0, 40.0):
        _, reached = calibrate_input_gain(NET, params, x, target)
        assert float(reached) == pytest.approx(target, rel=0.25)


@pytest.mark.slow
@needs_shared_data
def test_ei_study_trains_resumes_and_reports(shared_data, tmp_path):
    overrides = {"ratios": (0.8, 1.0)}
    out = tmp_path / "ei"
    run_experiment(get_experiment("ei"), "smoke", out, overrides=overrides, progress=False)
    settings = get_experiment("ei").resolve("smoke", overrides)
    result = storage.read_json(out / "cells" / "E80-10Hz-seed0" / "result.json")
    assert result["initial_rate_hz"] == pytest.approx(10.0, rel=0.25)
    assert result["accuracy"] > 0.2  # 10 classes: chance is 0.1
    assert np.isfinite(result["diversity"]["inhibitory"]) and result["rate_i_hz"] >= 0
    only_e = storage.read_json(out / "cells" / "E100-10Hz-seed0" / "result.json")
    assert np.isnan(only_e["diversity"]["inhibitory"]) and np.isnan(only_e["rate_i_hz"])
    # resume: a second epoch continues from the checkpoint of the first
    data = ei_module._split(settings, "train"), ei_module._split(settings, "test")
    folder = out / "cells" / "E80-10Hz-seed0"
    longer = dataclasses.replace(settings, epochs=2)
    resumed = ei_module.train_cell(longer, 0.8, 10.0, 0, folder, data)
    assert resumed["loss_by_epoch"][0] == result["loss_by_epoch"][0]
    assert len(resumed["accuracy_by_epoch"]) == 2
    table = build_report(out)
    assert "80:20" in table and "100:0" in table
    rows = list(csv.DictReader((out / "report" / "results.csv").open()))
    assert {r["ratio"] for r in rows} == {"0.8", "1.0"}
    assert (out / "report" / "ei.png").stat().st_size > 1000


def test_ei_settings_validation():
    with pytest.raises(ConfigError, match="excitatory shares"):
        dataclasses.replace(get_experiment("ei").presets["smoke"], ratios=(0.0,))
    with pytest.raises(ConfigError, match="train_images"):
        dataclasses.replace(get_experiment("ei").presets["smoke"], train_images=10)


@needs_shared_data
def test_an_interrupted_cell_resumes_to_the_uninterrupted_result(
    shared_data, tmp_path, monkeypatch
):
    """A crash right after an epoch's checkpoint (once between two files, breaking every
    later resume) loses nothing: the resumed cell equals the uninterrupted one."""
    settings = dataclasses.replace(get_experiment("ei").resolve("smoke"), epochs=2)
    data = ei_module._split(settings, "train"), ei_module._split(settings, "test")
    whole = ei_module.train_cell(settings, 0.8, 10.0, 0, tmp_path / "whole", data)

    save = storage.save_pytree

    def crash_after_first_checkpoint(path, tree, **meta):
        save(path, tree, **meta)
        raise KeyboardInterrupt

    monkeypatch.setattr(ei_module.storage, "save_pytree", crash_after_first_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        ei_module.train_cell(settings, 0.8, 10.0, 0, tmp_path / "cut", data)
    monkeypatch.setattr(ei_module.storage, "save_pytree", save)
    resumed = ei_module.train_cell(settings, 0.8, 10.0, 0, tmp_path / "cut", data)
    assert resumed["loss_by_epoch"] == whole["loss_by_epoch"]
    assert resumed["accuracy"] == whole["accuracy"]
    with pytest.raises(RunDirError, match="another cell"):  # seed 1 may not take seed 0's
        ei_module.train_cell(settings, 0.8, 10.0, 1, tmp_path / "cut", data)
