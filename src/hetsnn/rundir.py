"""The run-directory format: file names, the centres file and where a run's folders are.

A run directory holds::

    config.json      the RunConfig (a different config in the same directory is an error)
    metrics.jsonl    one line per generation; every metric is a list over seeds
    checkpoint.npz   the stacked per-seed trainer state after the last finished chunk
    probes.jsonl     the task's recordings of each seed's current solution at generation 0
                     and after every chunk (tasks with a probe only, e.g. firing rates)
    properties.jsonl per trained neuron property, each seed's mean, std and cv over the
                     hidden layer, and its quantiles, at generation 0 and after every
                     chunk: how heterogeneity emerges during training
    result.json      final evaluation (and the untrained network's, as a baseline) and
                     timings (written last; its presence = done)
    centres.npz      each seed's final hidden-layer properties (in natural units, keyed by
                     the neuron model's ``Property.stored`` names) and weights, and the
                     fingerprint of the config that trained them (``config_fingerprint``,
                     32 bytes as uint8)
    selection.jsonl  each seed's current solution scored after every chunk (and at
                     generation 0) on the selection split: held-out validation images, or
                     greedy episodes of their own stream (never the test split)
    best.npz         each seed's best solution so far by that score, as centres.npz, with
                     ``generation`` and ``score`` per seed

An experiment's directory holds ``experiment.json`` and one such folder per point under
``points/``. This module is the one place that names these files; the run loop writes
them, reports and exports read them.
"""

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from hetsnn import storage
from hetsnn.config import RunConfig
from hetsnn.errors import ConfigError, RunDirError
from hetsnn.model.networks import NetworkParams
from hetsnn.model.neuron_models import model_of
from hetsnn.model.neurons import NeuronConfig

CONFIG, METRICS, CHECKPOINT, PROBES, RESULT, CENTRES, PROPERTIES = (
    "config.json",
    "metrics.jsonl",
    "checkpoint.npz",
    "probes.jsonl",
    "result.json",
    "centres.npz",
    "properties.jsonl",
)
SELECTION, BEST = "selection.jsonl", "best.npz"
QUANTILES = np.linspace(0.0, 1.0, 101)  # levels of the quantiles in properties.jsonl


def centre_keys(neuron: NeuronConfig) -> dict[str, str]:
    """Property name -> its key in centres.npz (also its field in ``neuron``'s config),
    for the model of ``neuron``, in table order: LIF's ``{"tau_m": "tau_m", "v_th":
    "v_th", "v_rest": "v_rest", "R": "resistance"}``."""
    return {p.name: p.stored for p in model_of(neuron).properties}


def run_folders(run_dir: Path, holding: str) -> list[Path]:
    """The runs of ``run_dir`` whose folder holds the file ``holding`` (e.g. METRICS for a
    started run, CENTRES for a finished one): ``[run_dir]`` when it is a single run, else
    its points' folders, sorted by name."""
    run_dir = Path(run_dir)
    if (run_dir / holding).exists():
        return [run_dir]
    return sorted(p for p in (run_dir / "points").glob("*") if (p / holding).exists())


def claim_run_dir(run_dir: Path, config: RunConfig) -> None:
    """Create ``run_dir`` for ``config``, or check that it already belongs to ``config``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CONFIG
    if not path.exists():
        foreign = [n for n in (CHECKPOINT, RESULT, METRICS, CENTRES) if (run_dir / n).exists()]
        if foreign:
            raise RunDirError(
                f"{run_dir} holds {', '.join(foreign)} but no {CONFIG}: these files belong "
                "to an unknown run; choose another directory or remove them"
            )
    if path.exists():
        stored = storage.read_json(path, dict)
        wanted = storage.as_json(config.to_dict())
        if stored != wanted:
            changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise RunDirError(
                f"{run_dir} holds a run with a different config (differs in {', '.join(changed)}): "
                "choose another --out directory"
            )
    else:
        storage.write_json(path, config.to_dict())


def config_fingerprint(config: RunConfig) -> str:
    """The fingerprint (:func:`hetsnn.storage.fingerprint`) its checkpoints carry."""
    return storage.fingerprint(config.to_dict())


def read_result(run_dir: Path) -> dict:
    return storage.read_json(Path(run_dir) / RESULT, dict)


def read_config(run_dir: Path) -> RunConfig:
    """The RunConfig in ``run_dir / config.json``.

    Raises:
        DamagedFile: the file is not a JSON object, lacks one of the fields every run
            writes (task, network, trainable), or does not make a valid RunConfig.
    """
    path = Path(run_dir) / CONFIG
    data = storage.read_json(path, dict)
    missing = [name for name in ("task", "network", "trainable") if name not in data]
    try:
        if missing:
            raise ConfigError(f"no {', '.join(missing)}")
        return RunConfig.from_dict(data)
    except (ConfigError, TypeError, ValueError) as error:
        raise storage.DamagedFile(f"{path} is damaged ({error}): {storage.RESTORE}") from None


def read_rows(path: Path, *, torn_tail_ok: bool = False, required: bool = False) -> list[dict]:
    """The rows of one of a run's JSON-lines files (metrics, properties, probes, selection),
    checked against what the run loop writes: each row's ``generation`` an integer above the
    previous row's, every other value numbers (in rectangular lists, or objects of them).

    Args:
        torn_tail_ok: drop an undecodable last line (a crash inside an append).
        required: a finished run's file: missing or without rows is damage.

    Raises:
        DamagedFile: naming the file, the row and what is wrong.
    """
    path = Path(path)
    rows = storage.read_jsonl(path, torn_tail_ok=torn_tail_ok)
    if required and not rows:
        state = "empty" if path.exists() else "missing"
        raise storage.DamagedFile(f"{path} is {state}: {storage.RESTORE}")
    previous = None
    for number, row in enumerate(rows, start=1):
        generation = row.get("generation")
        if type(generation) is not int or (previous is not None and generation <= previous):
            raise storage.DamagedFile(
                f"{path}: row {number} has generation {generation!r} after {previous!r} "
                f"(a repeated, missing or non-integer generation): {storage.RESTORE}"
            )
        previous = generation
        for key, value in row.items():
            if key != "generation" and not _numbers(value):
                raise storage.DamagedFile(
                    f"{path}: row {number} holds {key} = {str(value)[:40]!r}, not numbers: "
                    f"{storage.RESTORE}"
                )
    return rows


def _numbers(value) -> bool:
    """Whether ``value`` is a number, a rectangular nest of lists of numbers, or an object
    of such values (None and booleans count: JSON's null and the loop's flags)."""
    if isinstance(value, dict):
        return all(_numbers(v) for v in value.values())

    def leaves_are_numbers(x) -> bool:
        if isinstance(x, list):
            return all(leaves_are_numbers(v) for v in x)
        return x is None or isinstance(x, int | float)

    if not leaves_are_numbers(value):
        return False
    try:
        np.asarray(value, dtype=float)  # ragged lists raise
    except ValueError:
        return False
    return True


def centre_arrays(params: NetworkParams, neuron: NeuronConfig) -> dict[str, np.ndarray]:
    """The arrays of ``centres.npz`` (leading axis seeds): the hidden properties of
    ``neuron``'s model in natural units (time constants in ms) and the weights.
    :func:`centres_to_params` is the inverse."""
    return {
        **model_of(neuron).to_arrays(params.hidden, neuron.dt),
        "w_in": np.asarray(params.w_in),
        "w_out": np.asarray(params.w_out),
    }


def check_centres(arrays: dict, where: str = CENTRES, neuron: NeuronConfig | None = None) -> dict:
    """``arrays`` (of ``centres.npz``) when every number is finite and, given the run's
    ``neuron`` config, every array of its model is there (with the weights); else a one-line
    error naming the array: nothing is derived from a damaged or non-finite network."""
    if neuron is not None:
        needed = [*centre_keys(neuron).values(), "w_in", "w_out"]
        missing = [name for name in needed if name not in arrays]
        if missing:
            raise storage.DamagedFile(
                f"{where} is damaged (no {', '.join(missing)}): {storage.RESTORE}"
            )
    for name, values in arrays.items():
        if not np.isfinite(np.asarray(values, np.float64)).all():
            raise RunDirError(
                f"{where}: {name} holds non-finite values; nothing is derived from such a "
                "network: retrain the point"
            )
    return arrays


def centres_to_params(arrays: dict, neuron: NeuronConfig, where: str = CENTRES) -> NetworkParams:
    """Network parameters from the arrays of ``centres.npz`` (at ``where``) of a run of
    ``neuron``'s model (time constants in ms go back through their logits at ``neuron.dt``,
    in float32, so decay rates match the trained ones to rounding); refused when any is not
    finite."""
    check_centres(arrays, where, neuron)
    return NetworkParams(
        w_in=jnp.asarray(arrays["w_in"]),
        w_out=jnp.asarray(arrays["w_out"]),
        hidden=model_of(neuron).from_arrays(arrays, neuron.dt),
    )


FINGERPRINT = "config_fingerprint"  # in centres.npz: the config of the run that wrote it


def fingerprint_array(config: RunConfig) -> np.ndarray:
    """The config's fingerprint as centres.npz stores it: its 32 bytes as ``uint8``, so that
    every array of the file stays numeric for code that reads them all."""
    return np.frombuffer(bytes.fromhex(config_fingerprint(config)), np.uint8).copy()


def read_centres(run_dir: Path, neuron: NeuronConfig | None = None) -> dict[str, np.ndarray]:
    """The arrays of ``run_dir / centres.npz`` (without its fingerprint), checked: written
    by the run whose config.json is beside it (files written before the fingerprint was
    stored carry none and are taken as they are), every array of ``neuron``'s model there,
    every number finite.

    Raises:
        DamagedFile: the file belongs to another run, or lacks an array.
        RunDirError: a non-finite number.
    """
    path = Path(run_dir) / CENTRES
    arrays = storage.load_arrays(path)
    stamp = arrays.pop(FINGERPRINT, None)
    if stamp is not None and not np.array_equal(stamp, fingerprint_array(read_config(run_dir))):
        raise storage.DamagedFile(
            f"{path} belongs to another run (its config fingerprint is not that of "
            f"{CONFIG} beside it): restore this run's own file, or remove {Path(run_dir).name} "
            "and resume the experiment to retrain it"
        )
    return check_centres(arrays, str(path), neuron)


def load_centres(run_dir: Path, neuron: NeuronConfig) -> NetworkParams:
    """The final centres of a finished run of ``neuron``'s model as network parameters,
    leading axis seeds (:func:`read_centres`)."""
    path = Path(run_dir) / CENTRES
    return centres_to_params(read_centres(run_dir, neuron), neuron, str(path))
