"""The real simulators: load an exported NIR file with each one's own importer and run it.

Each runner reads the file with the simulator's public import function and steps it with
the simulator's own modules, batch first, on the recorded inputs, and returns the hidden
spikes and the read-out potential at every step. Nothing here models an importer: what the
portability table says of a simulator is what that simulator did with the file.

* snnTorch 1.0.0, ``snntorch.import_nir.import_from_nir(graph)``: a ``torch.fx`` module of
  ``snn.Leaky`` neurons (``init_hidden=True``) called once per step. It hard-codes its step
  at 0.1 ms (``dt = 1e-4`` in ``_nir_to_snntorch_module``, snntorch/import_nir.py) whatever
  the file's dt, asserts ``v_leak = 0`` and one ``v_threshold`` per LIF node, and maps no
  ``nir.LI`` node.
* Norse 1.1.0, ``norse.torch.from_nir(graph, dt=...)``: a nirtorch ``GraphExecutor`` called
  as ``out, state = net(x_t, state)``. Its ``dt`` defaults to 1 ms: the file's dt must be
  passed. It maps LIF to ``LIFBoxCell`` (tau, v_leak, v_threshold per neuron; ``r`` dropped
  with a warning, ``v_reset`` not read, norse/torch/utils/import_nir.py) and skips
  ``nir.LI``, so without a LIF read-out the output is ``w_out @ spikes``.
* Spyx 1.0.0, ``spyx.nir.from_nir(graph, inputs, dt=...)``: a Flax NNX ``Sequential`` of its
  LIF (``beta = 1 - dt/tau``, per-neuron thresholds; no ``r``, no ``v_leak``), stepped here
  layer by layer as its ``Sequential.__call__`` does, to read the hidden layer's spikes. Its
  ``LIF.__call__`` (spyx/nn.py) decides the spike on the potential before the step's input
  and resets by subtracting the threshold; a ``nir.LI`` not followed by ``nir.Threshold``
  is refused.

Inputs and outputs: ``inputs (S, T, n_in)``; hidden spikes ``(S, T, H)`` bool and read-out
``(S, T, n_out)`` float, both in the simulator's own float32.
"""

import contextlib
import importlib.util
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hetsnn.interop.lif_graph import HIDDEN, READOUT


@dataclass(frozen=True)
class Simulator:
    """A simulator with a NIR importer.

    Attributes:
        name: as people write it.
        module: the Python package to import; ``install``: the pip requirement tested.
        profile: the export profile written for it (:mod:`hetsnn.interop.profiles`).
        lag: steps by which its hidden spikes and read-out come after hetsnn's.
        run: ``(graph, inputs) -> (spikes, readout)``; raises what the importer raises.
        lines: the Python that loads and runs a file in it, given the file and its dt.
    """

    name: str
    module: str
    install: str
    profile: str
    lag: int
    run: Callable
    lines: Callable[[str, float], str]

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


def _quietly(call: Callable, *args, **kwargs):
    """``call`` with the importer's prints and warnings kept off the terminal."""
    with contextlib.redirect_stdout(io.StringIO()):
        previous = logging.root.level
        logging.root.setLevel(logging.ERROR)
        try:
            return call(*args, **kwargs)
        finally:
            logging.root.setLevel(previous)


def run_snntorch(graph, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import torch
    from snntorch import utils
    from snntorch.import_nir import import_from_nir

    net = _quietly(import_from_nir, graph)
    hidden, readout = net.get_submodule(HIDDEN), net.get_submodule(READOUT)
    spikes, potentials = [], []
    hidden.register_forward_hook(lambda module, args, out: spikes.append(out.detach().clone()))
    utils.reset(net)
    with torch.no_grad():
        for x_t in torch.as_tensor(inputs, dtype=torch.float32).unbind(1):
            net(x_t)
            potentials.append(readout.mem.detach().clone())
    return torch.stack(spikes, 1).numpy() > 0, torch.stack(potentials, 1).numpy()


def run_norse(graph, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import norse.torch as norse
    import torch

    net = _quietly(norse.from_nir, graph, dt=float(np.asarray(graph.metadata["dt"])))
    state, spikes, potentials = None, [], []
    with torch.no_grad():
        for x_t in torch.as_tensor(inputs, dtype=torch.float32).unbind(1):
            out, state = net(x_t, state)
            spikes.append(state.cache[HIDDEN].clone())
            # the read-out's membrane where it is a LIF; Norse's output (w_out @ spikes)
            # where it skipped the LI node
            readout = state.state.get(READOUT)
            potentials.append(out.clone() if readout is None else readout[0].v.clone())
    return torch.stack(spikes, 1).numpy() > 0, torch.stack(potentials, 1).numpy()


def run_spyx(graph, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import jax.numpy as jnp
    from spyx.nir import from_nir

    x = jnp.asarray(np.swapaxes(inputs, 0, 1), jnp.float32)  # Spyx is time-major
    model, _ = _quietly(from_nir, graph, x[:1], dt=float(np.asarray(graph.metadata["dt"])))
    layers = list(model.layers)
    hidden_layer = next(i for i, layer in enumerate(layers) if hasattr(layer, "threshold"))
    state = model.initial_state(x.shape[1])
    spikes, potentials = [], []
    for x_t in x:  # Spyx's Sequential.__call__, one layer at a time to see the hidden one
        h, new_state = x_t, []
        for i, (layer, s) in enumerate(zip(layers, state, strict=True)):
            if s is None:
                h = layer(h)
            else:
                h, s = layer(h, s)
            new_state.append(s)
            if i == hidden_layer:
                spikes.append(np.asarray(h) > 0)
        state = new_state
        potentials.append(np.asarray(state[-1]))
    return np.stack(spikes, 1), np.stack(potentials, 1)


def _snntorch_lines(path: str, dt: float) -> str:
    return f"""import nir, torch
from snntorch import utils
from snntorch.import_nir import import_from_nir

net = import_from_nir(nir.read("{path}"))  # its step is 0.1 ms: the file's times are scaled
utils.reset(net)
spikes = []
net.hidden.register_forward_hook(lambda module, args, out: spikes.append(out))
readout = []
with torch.no_grad():
    for x_t in torch.as_tensor(x, dtype=torch.float32).unbind(1):  # x: (batch, steps, inputs)
        net(x_t)
        readout.append(net.readout.mem.clone())  # the read-out: a LIF that never fires
"""


def _norse_lines(path: str, dt: float) -> str:
    return f"""import nir, torch
import norse.torch as norse

net = norse.from_nir(nir.read("{path}"), dt={dt!r})  # the file's dt; Norse's default is 1 ms
state, spikes, readout = None, [], []
with torch.no_grad():
    for x_t in torch.as_tensor(x, dtype=torch.float32).unbind(1):  # x: (batch, steps, inputs)
        out, state = net(x_t, state)
        spikes.append(state.cache["hidden"])
        readout.append(state.state["readout"][0].v)  # the read-out: a LIF that never fires
"""


def _spyx_lines(path: str, dt: float) -> str:
    return f"""import nir, numpy as np, jax.numpy as jnp
import spyx.nir

# x: (batch, steps, inputs); Spyx is time-major. Its spikes come one step after hetsnn's.
model, (out, states) = spyx.nir.from_nir(
    nir.read("{path}"), jnp.asarray(np.swapaxes(x, 0, 1)), dt={dt!r}, return_all_states=True
)
readout = states[-1]  # (steps, batch, outputs): the read-out, a LIF that never fires
"""


SIMULATORS = (
    Simulator("snnTorch", "snntorch", "snntorch==1.0.0", "snntorch", 0, run_snntorch,
              _snntorch_lines),
    Simulator("Norse", "norse", "norse==1.1.0", "norse", 0, run_norse, _norse_lines),
    Simulator("Spyx", "spyx", "spyx==1.0.0", "spyx", 1, run_spyx, _spyx_lines),
)  # fmt: skip
BY_PROFILE = {s.profile: s for s in SIMULATORS}


def refusal(error: BaseException) -> str:
    """The first line of what an importer raised, with its type."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def measure(
    simulator: Simulator,
    path: Path,
    inputs: np.ndarray,
    reference_spikes: np.ndarray,
    reference_readout: np.ndarray,
) -> dict:
    """Run the file at ``path`` in ``simulator`` and compare with hetsnn's spikes and read-out
    (``(S, T, H)``, ``(S, T, n_out)``), shifting the simulator's by its lag.

    Returns ``{"simulator", "outcome", "mismatches", "entries", "spikes",
    "readout_max_abs_diff"}``: ``outcome`` is ``"runs"``, ``"not installed"`` or the
    importer's refusal; the numbers are None unless it ran.
    """
    import nir

    row = {"simulator": simulator.name, "mismatches": None, "entries": None, "spikes": None,
           "readout_max_abs_diff": None}  # fmt: skip
    if not simulator.installed():
        return {**row, "outcome": "not installed"}
    try:
        spikes, readout = simulator.run(nir.read(path), inputs)
    except Exception as error:  # the importer's own refusal, reported as the outcome
        return {**row, "outcome": refusal(error)}
    lag, steps = simulator.lag, inputs.shape[1]
    spikes, readout = spikes[:, lag:], readout[:, lag:]
    wanted, wanted_readout = reference_spikes[:, : steps - lag], reference_readout[:, : steps - lag]
    return {
        **row,
        "outcome": "runs",
        "mismatches": int(np.sum(spikes != wanted)),
        "entries": int(spikes.size),
        "spikes": int(wanted.sum()),
        "readout_max_abs_diff": float(np.max(np.abs(readout - wanted_readout))),
    }
