"""What each known NIR importer keeps of a heterogeneous LIF layer, and what it then runs.

Each model below reads a :class:`LifGraph` as one importer's source code reads a ``nir.LIF``
node, and returns either the reason it refuses the graph or the graph and
:class:`Discretisation` it would simulate; :func:`portability` re-simulates that network on
the recorded inputs and counts the hidden spikes that differ from hetsnn's. Every importer
is run from rest. The sources were read at the commits named; a later release may differ.

* snnTorch, ``snntorch/import_nir.py`` (commit 0819ba4), ``import_from_nir(graph, dt)``
  with the file's dt: asserts ``v_leak = 0`` and a single ``v_threshold``; runs ``mem =
  (1 - dt/tau) mem + W x`` (so ``r`` enters only as ``w_scale = r dt / tau``, and when that
  is not 1 the threshold is divided by the smallest of its values), spikes where ``mem >
  threshold``, resets to zero. It maps no LI node: the read-out is not imported.
* Norse, ``norse/torch/utils/import_nir.py`` (commit 22a17ec) with ``LIFBoxCell``
  (``norse/torch/functional/lif_box.py``, f7e4752): keeps tau, v_leak and v_threshold per
  neuron, warns about and drops ``r`` (runs r = 1), and passes no ``v_reset`` (its default
  0); forward Euler; spikes where ``v - v_th > 0`` is assumed. It maps no LI node.
* Spyx, ``spyx/nir.py`` (commit 00e6ba4) with ``spyx/nn.py`` LIF (c290535): scales the
  Linear weights before a LIF by ``dt / tau``, runs ``V = (1 - dt/tau) V + x - s
  v_threshold`` with the spike decided on V *before* the step's input, and reads neither
  ``r`` nor ``v_leak``. As read, its Linear -> LIF branch tests a variable ``w_in`` it never
  assigned (UnboundLocalError); the numbers are what it would run with that fixed.
* Lava-DL: a public NIR-to-Lava import script (two versions read; its repository could not
  be identified here, so no commit is named), whose lava-dl path builds slayer ``cuba``
  blocks from ``CubaLIF`` only (with ``r = tau_mem / dt``, ``v_leak = 0`` and one decay and
  threshold per layer) and raises NotImplementedError for a plain ``LIF``. Its other path,
  to Lava processes for Loihi, is not modelled.
* An exponential backend: any simulator that integrates the node exactly over a step with
  the input held, ``v <- v + (1 - exp(-dt/tau)) (r I - v + v_leak)``; keeps every array.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hetsnn.interop.lif_graph import Discretisation, LifGraph, simulate


@dataclass(frozen=True)
class Importer:
    """One importer: its name, what it does with each LIF array, and its model."""

    name: str
    keeps: str
    model: Callable[[LifGraph], tuple[LifGraph, Discretisation] | str]


def _snntorch(g: LifGraph):
    if not np.allclose(g.v_leak, 0.0):
        return "refuses: asserts v_leak = 0 ('v_leak not supported')"
    if np.unique(g.v_threshold).size != 1:
        return "refuses: asserts one v_threshold for all neurons"
    w_scale = g.r * g.dt / g.tau
    threshold = g.v_threshold
    if not np.allclose(w_scale, 1.0):
        threshold = threshold / np.unique(w_scale)[0]
    runs = g.replace(
        r=g.tau / g.dt, v_leak=np.zeros_like(g.tau), v_reset=np.zeros_like(g.tau),
        v_threshold=threshold,
    )  # fmt: skip
    return runs, Discretisation(fire_at_threshold=False)


def _norse(g: LifGraph):
    runs = g.replace(r=np.ones_like(g.r), v_reset=np.zeros_like(g.v_reset))
    return runs, Discretisation(fire_at_threshold=False)


def _spyx(g: LifGraph):
    # V = (1 - k) V + k W x - s thr (weights scaled by k = dt/tau): NIR's Euler step with
    # r = 1 and v_leak = 0, starting from V = 0.
    runs = g.replace(r=np.ones_like(g.r), v_leak=np.zeros_like(g.v_leak))
    return runs, Discretisation(reset="subtract", spike_before_input=True)


def _lava_dl(g: LifGraph):
    return "refuses: its lava-dl path converts CubaLIF only; a LIF node raises NotImplementedError"


def _exponential(g: LifGraph):
    return g, Discretisation(decay="exp")


IMPORTERS = (
    Importer(
        "snnTorch",
        "tau; one threshold (r dt/tau folded into it); v_leak must be 0; reset to 0; no read-out",
        _snntorch,
    ),  # fmt: skip
    Importer(
        "Norse",
        "tau, v_leak, v_threshold; drops r (runs 1) and v_reset (runs 0); no read-out",
        _norse,
    ),  # fmt: skip
    Importer(
        "Spyx",
        "tau, v_threshold; drops r and v_leak; reset by subtraction, spike one step late",
        _spyx,
    ),  # fmt: skip
    Importer("Lava-DL", "nothing of a LIF node", _lava_dl),
    Importer("exponential backend", "every array; decay exp(-dt/tau) per step", _exponential),
)


def portability(graph: LifGraph, inputs: np.ndarray, reference_spikes: np.ndarray) -> list[dict]:
    """Per importer: ``{"importer", "keeps", "outcome", "mismatches", "spikes"}`` where
    ``mismatches`` counts the (sample, step, neuron) entries whose hidden spike differs from
    ``reference_spikes: (S, T, H)`` (None where the importer refuses the graph)."""
    rows = []
    for importer in IMPORTERS:
        modelled = importer.model(graph)
        row = {"importer": importer.name, "keeps": importer.keeps, "spikes": None}
        if isinstance(modelled, str):
            rows.append({**row, "outcome": modelled, "mismatches": None})
            continue
        runs, how = modelled
        spikes, _ = simulate(runs, inputs, how)
        mismatches = int(np.sum(spikes != reference_spikes))
        rows.append({**row, "outcome": "imports", "mismatches": mismatches,
                     "spikes": int(spikes.sum())})  # fmt: skip
    return rows
