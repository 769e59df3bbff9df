"""docs/neurons.md's code runs as written: the recipe registers a model and trains it."""

import re
from pathlib import Path

import numpy as np

from hetsnn import storage
from hetsnn.model.neuron_models import NEURON_MODELS
from hetsnn.rundir import CENTRES, PROPERTIES

DOC = Path(__file__).parents[2] / "docs" / "neurons.md"


def _blocks(heading: str) -> list[str]:
    text = DOC.read_text()
    section = text[text.index(heading) :]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_add_a_model_recipe_registers_and_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (recipe,) = _blocks("## Add a neuron model")
    try:
        namespace: dict = {}
        exec(compile(recipe, str(DOC), "exec"), namespace)
        assert "lif-subtract" in NEURON_MODELS
        result = namespace["result"]
        assert np.isfinite(result["final_centre_reward"]).all()
        run = tmp_path / "runs" / "lif-subtract"
        rows = storage.read_jsonl(run / PROPERTIES)
        assert set(rows[-1]) == {"generation", "tau_m", "v_th"}
        assert set(storage.load_arrays(run / CENTRES)) >= {"tau_m", "v_th", "v_rest"}
        # the subtractive reset keeps the excess above threshold: 0.7 - 1 * 0.5 = 0.2
        model, params = (
            NEURON_MODELS["lif-subtract"],
            namespace["SubtractiveConfig"]().homogeneous(1),
        )
        state = model.rest(params).replace(u=np.full((1,), 0.7, np.float32))
        from hetsnn.model.surrogates import arctan

        v = model.after_reset(params, state, arctan(), False).v
        np.testing.assert_allclose(v, [0.2], rtol=1e-6)
    finally:
        NEURON_MODELS.pop("lif-subtract", None)


def test_the_alif_config_example_builds():
    example = _blocks("To train the adaptation itself")[0]
    namespace: dict = {}
    exec(compile(example, str(DOC), "exec"), namespace)
    assert namespace["config"].trainable[-2:] == ("tau_a", "beta")
