"""``hetsnn export-nir`` and ``hetsnn verify-nir``: trained networks out as NIR files, checked.

``export(run_dir, ...)`` writes, per profile (:mod:`hetsnn.interop.profiles`)::

    <point>-seed<S>-<profile>.nir        the graph (nir.write); dt, discretisation, spike
                                         condition and steps per input in its metadata
    <point>-seed<S>-<profile>.data.nir   recorded data (nir.write_data): the inputs at every
                                         simulation step, and hetsnn's own hidden spikes and
                                         read-out on them in float64 and in float32

and a portability table (``<point>-seed<S>-portability.md``) of what each installed simulator
did when it loaded and ran each file (:mod:`hetsnn.interop.simulators`: snnTorch, Norse,
Spyx, run for real). ``verify(file)`` re-simulates the graph with the numpy reference
interpreter (:func:`hetsnn.interop.lif_graph.simulate`) and counts the hidden spikes that
differ from the recorded ones.

The recorded inputs are those of the network's task: test images (each presented from rest
for ``steps_per_input`` steps) for image tasks; the observations of greedy episodes of the
trained network (fed open-loop) for gymnax tasks; standard normal draws for Brax tasks,
which record no episode here. hetsnn's float64 simulation runs hetsnn's own network code
(:class:`hetsnn.model.networks.FeedforwardSNN`) under ``jax.enable_x64`` on the trained numbers in
float64; its float32 simulation is the network exactly as training and evaluation ran it.
"""

import dataclasses
import io
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from hetsnn import __version__, storage
from hetsnn.errors import ConfigError, RunDirError
from hetsnn.interop import profiles, simulators
from hetsnn.interop.lif_graph import HIDDEN, INPUT, READOUT, Discretisation, LifGraph, simulate
from hetsnn.model.networks import FeedforwardSNN, NetworkParams
from hetsnn.model.neuron_models import model_of
from hetsnn.model.neurons import NeuronParams
from hetsnn.rundir import (
    CENTRES,
    RESULT,
    centres_to_params,
    read_centres,
    read_config,
    run_folders,
)
from hetsnn.tasks import ClassificationTask
from hetsnn.train.programs import seed_keys
from hetsnn.train.spec import RunSpec

SPIKE_CONDITION = (
    "forward Euler step, then a spike where v >= v_threshold, then v = v_reset in the same "
    "step; the read-out integrates the spikes of that same step (no synaptic delay)"
)
DECAYS = {"forward-euler": "euler", "exponential": "exp"}  # metadata name -> Discretisation
_INPUT_STREAM = 0x41B  # fold-in constant for the recorded episodes' keys
DEFAULT_SAMPLES = 8
MAX_SAMPLES = 10_000  # an image test split; each sample is stored and run in every simulator


def _nir():
    try:
        import nir
    except ImportError:
        raise ConfigError(
            "NIR export needs the nir package: pip install -e '.[nir]' (or pip install nir)"
        ) from None
    return nir


def _point_folder(run_dir: Path, point: str | None) -> Path:
    """The run directory of ``point`` (or of the first finished point) of an experiment, or
    ``run_dir`` itself when it is a single run. Finished means result.json is there; its
    centres.npz is then required (never another point's in its place)."""
    folders = run_folders(run_dir, RESULT)
    if not folders:
        raise RunDirError(
            f"{run_dir} holds no finished feedforward run (no result.json): export-nir takes "
            "a memory, cartpole, classify or control run directory"
        )
    if point is None or folders == [Path(run_dir)]:
        folder = folders[0]
    else:
        names = [p.name for p in folders]
        if point not in names:
            raise ConfigError(f"--point {point!r} is not a finished point of {run_dir}: {names}")
        folder = Path(run_dir) / "points" / point
    if not (folder / CENTRES).is_file():
        raise storage.DamagedFile(
            f"{folder / CENTRES} is missing although {folder.name} finished: {storage.RESTORE}"
        )
    return folder


@dataclasses.dataclass(frozen=True)
class LoadedRun:
    """One seed of a finished run: its spec, its float32 parameters and float64 numbers."""

    folder: Path
    seed: int
    spec: RunSpec
    params: NetworkParams  # float32, exactly as evaluated
    trained: profiles.TrainedNetwork  # float64


def load_run(run_dir: Path, point: str | None = None, seed: int = 0) -> LoadedRun:
    folder = _point_folder(run_dir, point)
    config = read_config(folder)
    refusal = model_of(config.network.neuron).nir_refusal
    if refusal is not None:
        model = type(config.network.neuron).model
        raise ConfigError(f"{folder} holds {model} neurons, which NIR cannot express: {refusal}")
    arrays = read_centres(folder, config.network.neuron)
    seeds = arrays["tau_m"].shape[0]
    if not 0 <= seed < seeds:
        raise ConfigError(f"--seed {seed} is outside 0..{seeds - 1} for {folder}")
    dt = config.network.neuron.dt
    one = {name: value[seed] for name, value in arrays.items()}
    return LoadedRun(
        folder=folder,
        seed=seed,
        spec=RunSpec.from_config(config),
        params=centres_to_params(one, config.network.neuron),
        trained=profiles.TrainedNetwork.from_centres(arrays, seed, dt, config.network.readout_tau),
    )


def reference_inputs(run: LoadedRun, samples: int, seed: int = 0) -> np.ndarray:
    """``(samples, T, n_in)`` float32 inputs at every simulation step (module docstring)."""
    task, network = run.spec.task, run.spec.network
    repeat = network.steps_per_input
    if isinstance(task, ClassificationTask):
        data = task.load_data("test")
        images = np.asarray(task.encode(jnp.asarray(data.images[:samples]), data))
        if task.encoding == "rate":  # spikes drawn at every step with the pixel's intensity
            rng = np.random.default_rng(seed)
            return (
                rng.random((images.shape[0], repeat, images.shape[1])) < images[:, None]
            ).astype(np.float32)
        return np.repeat(images[:, None, :], repeat, axis=1)
    if hasattr(task, "record_episode"):
        keys = seed_keys(jax.random.fold_in(jax.random.key(seed), _INPUT_STREAM), samples)
        record = jax.vmap(task.record_episode, in_axes=(None, None, 0, 0))(
            network, run.params, keys, jnp.arange(samples)
        )
        return np.repeat(np.asarray(record.inputs, np.float32), repeat, axis=1)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((samples, 50 * repeat, network.n_in)).astype(np.float32)


def simulate_hetsnn(network: FeedforwardSNN, params: NetworkParams, inputs: np.ndarray):
    """hetsnn's own network on ``inputs: (S, T, n_in)``, one simulation step per input row,
    in the dtype of ``params``: ``(spikes (S, T, H) bool, readout (S, T, n_out))``."""
    dtype = params.w_in.dtype
    # float64 throughout for the reference; otherwise the states as the run stored them
    state_dtype = "float64" if dtype == jnp.float64 else network.state_dtype
    net = dataclasses.replace(network, steps_per_input=1, state_dtype=state_dtype)
    xs = jnp.asarray(inputs, dtype).swapaxes(0, 1)  # time-major
    _, readouts, spikes = net.unroll(params, net.init_state(params, xs.shape[1:2]), xs)
    return np.asarray(spikes).swapaxes(0, 1) > 0, np.asarray(readouts).swapaxes(0, 1)


def float64_params(trained: profiles.TrainedNetwork) -> NetworkParams:
    """The trained numbers as float64 hetsnn parameters (call under ``jax.enable_x64``)."""
    k = trained.decay
    hidden = NeuronParams(
        tau_logit=jnp.asarray(np.log(k) - np.log1p(-k)),
        v_th=jnp.asarray(trained.v_th),
        v_rest=jnp.asarray(trained.v_rest),
        resistance=jnp.asarray(trained.resistance),
    )
    return NetworkParams(w_in=jnp.asarray(trained.w_in), w_out=jnp.asarray(trained.w_out),
                         hidden=hidden)  # fmt: skip


def hetsnn_references(run: LoadedRun, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """hetsnn's spikes and read-out on ``inputs`` in float64 and float32."""
    with jax.enable_x64(True):
        spikes64, readout64 = simulate_hetsnn(
            run.spec.network, float64_params(run.trained), inputs.astype(np.float64)
        )
    spikes32, readout32 = simulate_hetsnn(run.spec.network, run.params, inputs)
    return {
        "spikes_float64": spikes64,
        "spikes_float32": spikes32,
        "v_float64": readout64,
        "v_float32": readout32,
    }


def _metadata(run: LoadedRun, graph: LifGraph, profile: str, tau_for: str, inputs) -> dict:
    network = run.spec.network
    metadata = {
        "source": f"hetsnn {__version__}",
        "profile": profile,
        "dt": graph.dt,
        "time_unit": "s",
        "discretisation": {decay: name for name, decay in DECAYS.items()}[tau_for],
        "spike_condition": SPIKE_CONDITION,
        "steps_per_input": network.steps_per_input,
        "initial_state": "hidden v = v_leak, read-out v = 0",
        "readout": (
            "the mean of the LI membrane over the steps of an input"
            if getattr(run.spec.task, "readout", "last") == "mean"
            else "the LI membrane after the last step of an input"
        )
        + ": action preferences (arg-max) or class logits",
        "task": json.dumps(run.spec.task.to_dict(), sort_keys=True),
        "run": str(run.folder),
        "seed": run.seed,
        "reference_samples": inputs.shape[0],
    }
    if not np.isclose(graph.dt, network.dt * profiles.MS):
        metadata["time_scale"] = (
            f"every time is hetsnn's x {graph.dt / (network.dt * profiles.MS):g}, so that one "
            f"step of {graph.dt:g} s here is one of hetsnn's {network.dt * profiles.MS:g} s"
        )
    return metadata


def _graph_data(nir, inputs: np.ndarray, references: dict, dt: float):
    def gridded(array):
        return nir.TimeGriddedData(data=np.asarray(array), dt=dt)

    def node(**observables):
        return nir.NIRNodeData(observables={k: gridded(v) for k, v in observables.items()})

    return nir.NIRGraphData(
        nodes={
            INPUT: node(x=inputs),
            HIDDEN: node(**{k: v for k, v in references.items() if k.startswith("spikes")}),
            READOUT: node(**{k: v for k, v in references.items() if k.startswith("v_")}),
        }
    )


def _write(path: Path, writer, value) -> None:
    """``writer(file, value)`` (nir.write or nir.write_data) into ``path`` atomically."""
    buffer = io.BytesIO()
    writer(buffer, value)
    storage.atomic_write_bytes(path, buffer.getvalue())


def data_path(graph_path: Path) -> Path:
    """The recorded data next to a graph file: ``x.nir`` -> ``x.data.nir``."""
    graph_path = Path(graph_path)
    return graph_path.with_name(graph_path.name.removesuffix(".nir") + ".data.nir")


def export(
    run_dir: Path,
    *,
    point: str | None = None,
    seed: int = 0,
    profile_names: tuple[str, ...] = profiles.PROFILES,
    tau_for: str = "euler",
    samples: int = DEFAULT_SAMPLES,
    out: Path | None = None,
) -> dict:
    """Write one graph and its data per profile; return the files, the profiles that cannot
    hold this network (with the reason; an error if it was the only one asked for), the
    verification of each file and the portability table (see the module docstring)."""
    nir = _nir()
    if not 1 <= samples <= MAX_SAMPLES:
        raise ConfigError(f"--samples must be in 1..{MAX_SAMPLES:,}, got {samples:,}")
    profiles.check_choices(profile_names, tau_for)
    run = load_run(run_dir, point, seed)
    inputs = reference_inputs(run, samples)
    references = hetsnn_references(run, inputs)
    graphs, skipped = {}, {}
    for name in profile_names:
        try:
            graphs[name] = profiles.to_graph(run.trained, name, tau_for)
        except ConfigError as error:
            reason = str(error) + _nearest_snntorch(run, name, tau_for, inputs, references)
            if len(profile_names) == 1:
                raise ConfigError(reason) from None
            skipped[name] = reason
    if not graphs:
        raise ConfigError("; ".join(f"{name}: {reason}" for name, reason in skipped.items()))
    out = Path(out) if out else Path(run_dir) / "nir"
    stem = f"{run.folder.name}-seed{seed}" if run.folder != Path(run_dir) else f"seed{seed}"
    suffix = "" if tau_for == "euler" else f"-{tau_for}"
    files, checks, tables = {}, {}, {}
    for name, graph in graphs.items():
        path = out / f"{stem}-{name}{suffix}.nir"
        _write(path, nir.write, graph.to_nir(_metadata(run, graph, name, tau_for, inputs)))
        _write(data_path(path), nir.write_data, _graph_data(nir, inputs, references, graph.dt))
        files[name] = path
        checks[name] = verify(path)
        tables[name] = [
            simulators.measure(simulator, path, inputs, references["spikes_float64"],
                               references["v_float64"])
            for simulator in simulators.SIMULATORS
        ]  # fmt: skip
    notes = _spyx_note(tables)
    report = portability_markdown(tables, references["spikes_float64"])
    report += "".join(f"\n{name}: {note}\n" for name, note in notes.items())
    storage.atomic_write_bytes(out / f"{stem}{suffix}-portability.md", report.encode())
    return {
        "files": files,
        "skipped": skipped,
        "notes": notes,
        "checks": checks,
        "portability": tables,
        "markdown": report,
    }


def _spyx_note(tables: dict[str, list[dict]]) -> dict[str, str]:
    """Why the spyx file is not hetsnn's network in Spyx, with Spyx's count where it ran."""
    if "spyx" not in tables:
        return {}
    row = tables["spyx"][simulators.SIMULATORS.index(simulators.BY_PROFILE["spyx"])]
    counted = (
        f": {row['mismatches']:,} of {row['spikes']:,} hidden spikes differ here"
        if row["mismatches"] is not None
        else f" (Spyx {row['outcome']})"
    )
    return {
        "spyx": "Spyx cannot hold this network exactly: its LIF resets by subtracting the "
        "threshold where hetsnn resets to rest, and decides each spike on the potential "
        "before the step's input (spyx/nn.py, LIF.__call__)" + counted
    }


def _nearest_snntorch(run: LoadedRun, profile: str, tau_for: str, inputs, references) -> str:
    """For a network the snntorch profile cannot hold (thresholds at or below rest): what
    the nearest one it can hold changes, counted by the reference interpreter."""
    if profile != "snntorch" or tau_for != "euler":
        return ""
    nearest = profiles.to_graph(profiles.raised_thresholds(run.trained), "snntorch")
    spikes, _ = simulate(nearest, inputs)
    wanted = references["spikes_float64"]
    return (
        f". With their thresholds raised to 1e-6 above rest (the nearest network it holds), "
        f"{int(np.sum(spikes != wanted)):,} of {int(wanted.sum()):,} hidden spikes change on "
        "the recorded inputs"
    )


def graph_dt(path: Path) -> float:
    """The simulation step (s) a written graph's metadata names."""
    return float(np.asarray(_nir().read(path).metadata["dt"]))


def verify(path: Path) -> dict:
    """Re-simulate the graph in ``path`` on its recorded inputs, in float64 and float32.

    Returns ``{dtype: {"mismatches", "entries", "spikes", "readout_max_abs_diff",
    "readout_scale"}}`` against hetsnn's recorded spikes and read-out of the same dtype
    (``readout_scale``: the largest recorded |read-out|); :func:`agrees` judges it.
    """
    nir = _nir()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist (export-nir writes it)")
    try:
        graph = nir.read(path)
    except (OSError, KeyError, ValueError) as error:
        raise ConfigError(f"{path} is not a NIR file ({type(error).__name__})") from None
    if not data_path(path).is_file():
        raise ConfigError(f"{data_path(path)} does not exist (export-nir writes it)")
    try:
        lif = LifGraph.from_nir(graph)
        decay = DECAYS[str(graph.metadata["discretisation"])]
        data = nir.read_data(str(data_path(path)))
        inputs = data.nodes[INPUT].observables["x"].data
        recorded = {
            dtype: (
                data.nodes[HIDDEN].observables[f"spikes_{dtype}"].data,
                data.nodes[READOUT].observables[f"v_{dtype}"].data,
            )
            for dtype in ("float64", "float32")
        }
    except (OSError, KeyError, ValueError) as error:
        raise ConfigError(f"{path} is not a readable hetsnn NIR export: {error!r}") from None
    result = {}
    for dtype, (wanted, wanted_readout) in recorded.items():
        spikes, readout = simulate(lif, inputs, Discretisation(decay=decay), np.dtype(dtype))
        result[dtype] = {
            "mismatches": int(np.sum(spikes != wanted)),
            "entries": int(spikes.size),
            "spikes": int(wanted.sum()),
            "readout_max_abs_diff": float(np.max(np.abs(readout - wanted_readout))),
            "readout_scale": float(np.max(np.abs(wanted_readout))),
        }
    return result


# float64 re-simulations of an unchanged file differ from the recording by rounding only
# (summation order): at most 6e-17 of the read-out's range on 66 memory and image exports of
# every profile; a 1 % change of the read-out weights moves it by 2.6e-3 to 1e-2 of it.
READOUT_RTOL = 1e-9


def agrees(result: dict) -> bool:
    """Whether a :func:`verify` result is the recorded network: every float64 hidden spike,
    and the float64 read-out to within :data:`READOUT_RTOL` of its range."""
    exact = result["float64"]
    tolerance = READOUT_RTOL * max(1.0, exact["readout_scale"])
    return exact["mismatches"] == 0 and exact["readout_max_abs_diff"] <= tolerance


def verification_lines(path: Path, result: dict) -> str:
    lines = [f"{path}:"]
    for dtype, r in result.items():
        lines.append(
            f"  {dtype}: {r['mismatches']} hidden-spike mismatches in {r['entries']:,} entries "
            f"({r['spikes']:,} spikes in hetsnn's simulation); read-out max |diff| "
            f"{r['readout_max_abs_diff']:.3g}"
        )
    return "\n".join(lines)


def _cell(row: dict) -> str:
    if row["mismatches"] is None:
        return row["outcome"].replace("|", "/")
    return f"{row['mismatches']:,} (read-out {row['readout_max_abs_diff']:.2g})"


def portability_markdown(tables: dict[str, list[dict]], reference_spikes: np.ndarray) -> str:
    """One row per simulator, one column per exported profile: the hidden spikes that
    differ from hetsnn's float64 simulation when the simulator ran the file (and the
    largest read-out difference), or what it said instead."""
    names = list(tables)
    total = int(reference_spikes.sum())
    lines = [
        f"Hidden spikes that differ from hetsnn's (float64; hetsnn fired {total:,} spikes in "
        f"{reference_spikes.size:,} neuron-steps) when each simulator loaded the exported "
        "file with its own importer and ran the recorded inputs, with the largest difference "
        "of the read-out potential in brackets; Spyx's spikes compared one step later "
        "(hetsnn.interop.simulators).",
        "",
        "| simulator | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for i, simulator in enumerate(simulators.SIMULATORS):
        cells = [_cell(tables[name][i]) for name in names]
        lines.append(f"| {simulator.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
