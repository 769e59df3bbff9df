"""A trained feedforward network as NIR describes it, and a reference interpreter for it.

The graph every export writes is::

    input -> Linear(w_in) -> LIF -> Linear(w_out) -> LI -> output

(the LI written as a LIF that never fires for importers that map no LI node).

NIR's nodes are continuous-time: the LIF node is ``tau dv/dt = (v_leak - v) + r I`` with a
spike and ``v = v_reset`` where ``v`` reaches ``v_threshold``; the LI node has the same
equation without the spike. A simulator must discretise them. :class:`Discretisation` names
the choices that differ between simulators, and :func:`simulate` runs a graph under one of
them with numpy, in float64 or float32. hetsnn's own step (eqs. LIF-1..3 of
docs/specification.md) is ``Discretisation()``: forward Euler, a spike where the integrated
potential reaches the threshold (``>=``), reset to ``v_reset`` in the same step, and the
read-out integrating the spikes of that same step (no synaptic delay).

Shapes: ``S`` samples, ``T`` simulation steps, ``n_in``, ``H`` hidden neurons, ``n_out``.
Times are in seconds, as NIR's exporters write them.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

# The node names of the exported graph (also the node names of its recorded data).
INPUT, W_IN, HIDDEN, W_OUT, READOUT, OUTPUT = (
    "input",
    "w_in",
    "hidden",
    "w_out",
    "readout",
    "output",
)

# The threshold of a read-out written as a LIF: the largest float32, which no float32
# potential exceeds. Not infinity: Spyx's reset subtracts spikes x threshold, and 0 x inf
# is NaN.
NEVER = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class LifGraph:
    """The numbers of the exported graph, in NIR's orientation (``y = W x``).

    Attributes:
        w_in: ``(H, n_in)`` input weights.
        tau, r, v_leak, v_threshold, v_reset: ``(H,)`` the LIF node's arrays (tau in s).
        w_out: ``(n_out, H)`` read-out weights.
        readout_tau, readout_r, readout_v_leak: ``(n_out,)`` the LI node's arrays.
        dt: simulation step in s.
        readout_as_lif: write the read-out as a ``nir.LIF`` that never fires (threshold
            :data:`NEVER`), which is the same LI, for importers that map no ``nir.LI``.
    """

    w_in: np.ndarray
    tau: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    w_out: np.ndarray
    readout_tau: np.ndarray
    readout_r: np.ndarray
    readout_v_leak: np.ndarray
    dt: float
    readout_as_lif: bool = False

    def replace(self, **changes) -> "LifGraph":
        return dataclasses.replace(self, **changes)

    @property
    def n_hidden(self) -> int:
        return self.tau.shape[0]

    def to_nir(self, metadata: dict):
        """The ``nir.NIRGraph`` of this network, with ``metadata`` on the graph."""
        import nir

        hidden = nir.LIF(
            tau=self.tau,
            r=self.r,
            v_leak=self.v_leak,
            v_threshold=self.v_threshold,
            v_reset=self.v_reset,
        )
        readout = nir.LI(tau=self.readout_tau, r=self.readout_r, v_leak=self.readout_v_leak)
        if self.readout_as_lif:
            readout = nir.LIF(
                tau=self.readout_tau,
                r=self.readout_r,
                v_leak=self.readout_v_leak,
                v_threshold=np.full_like(self.readout_tau, NEVER),
                v_reset=np.zeros_like(self.readout_tau),
            )
        nodes = {
            INPUT: nir.Input(input_type=np.array([self.w_in.shape[1]])),
            W_IN: nir.Linear(weight=self.w_in),
            HIDDEN: hidden,
            W_OUT: nir.Linear(weight=self.w_out),
            READOUT: readout,
            OUTPUT: nir.Output(output_type=np.array([self.w_out.shape[0]])),
        }
        chain = [INPUT, W_IN, HIDDEN, W_OUT, READOUT, OUTPUT]
        return nir.NIRGraph(
            nodes=nodes, edges=list(zip(chain[:-1], chain[1:], strict=True)), metadata=metadata
        )

    @classmethod
    def from_nir(cls, graph) -> "LifGraph":
        """Read back a graph of the shape :meth:`to_nir` writes (ValueError otherwise)."""
        import nir

        kinds = {
            W_IN: nir.Linear,
            HIDDEN: nir.LIF,
            W_OUT: nir.Linear,
            READOUT: (nir.LI, nir.LIF),
        }
        for name, kind in kinds.items():
            if not isinstance(graph.nodes.get(name), kind):
                kinds = kind if isinstance(kind, tuple) else (kind,)
                names = " or ".join(f"nir.{k.__name__}" for k in kinds)
                raise ValueError(f"not a hetsnn export: node {name!r} should be a {names}")
        hidden, readout = graph.nodes[HIDDEN], graph.nodes[READOUT]
        readout_as_lif = isinstance(readout, nir.LIF)
        if readout_as_lif and not np.all(np.asarray(readout.v_threshold) >= NEVER):
            raise ValueError("not a hetsnn export: its read-out LIF can fire")

        def arr(x):
            return np.asarray(x, np.float64)

        return cls(
            w_in=arr(graph.nodes[W_IN].weight),
            tau=arr(hidden.tau),
            r=arr(hidden.r),
            v_leak=arr(hidden.v_leak),
            v_threshold=arr(hidden.v_threshold),
            v_reset=arr(hidden.v_reset),
            w_out=arr(graph.nodes[W_OUT].weight),
            readout_tau=arr(readout.tau),
            readout_r=arr(readout.r),
            readout_v_leak=arr(readout.v_leak),
            dt=float(np.asarray(graph.metadata["dt"])),
            readout_as_lif=readout_as_lif,
        )


@dataclass(frozen=True)
class Discretisation:
    """How a simulator turns the continuous nodes into steps of ``dt``.

    Attributes:
        decay: ``"euler"``: ``k = dt / tau`` (forward Euler, hetsnn); ``"exp"``:
            ``k = 1 - exp(-dt / tau)`` (exact for an input held over the step). Either way
            ``v <- v + k (r I - v + v_leak)``.
        fire_at_threshold: spike where ``v >= v_threshold`` (hetsnn) or only ``>``.
        reset: ``"value"``: ``v = v_reset`` after a spike (hetsnn); ``"subtract"``:
            ``v -= v_threshold``.
        spike_before_input: the spike is decided on the potential before this step's
            integration, so it comes one step later (hetsnn: False).
    """

    decay: str = "euler"
    fire_at_threshold: bool = True
    reset: str = "value"
    spike_before_input: bool = False

    def rate(self, tau: np.ndarray, dt: float, dtype) -> np.ndarray:
        ratio = (np.asarray(dt, np.float64) / tau).astype(dtype)
        return ratio if self.decay == "euler" else -np.expm1(-ratio)

    def fires(self, v: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        return v >= threshold if self.fire_at_threshold else v > threshold


HETSNN = Discretisation()


def simulate(
    graph: LifGraph, inputs: np.ndarray, how: Discretisation = HETSNN, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Run every sample from rest (``v = v_leak``, read-out 0).

    A reference, written for clarity: a plain loop over the ``T`` steps.

    Args:
        inputs: ``(S, T, n_in)`` the input at every simulation step.

    Returns:
        ``(spikes (S, T, H) bool, readout (S, T, n_out))`` in ``dtype``.
    """
    g = {
        f.name: np.asarray(getattr(graph, f.name), dtype)
        for f in dataclasses.fields(graph)
        if f.name != "readout_as_lif"
    }
    k = how.rate(graph.tau, graph.dt, dtype)
    k_out = how.rate(graph.readout_tau, graph.dt, dtype)
    x = np.asarray(inputs, dtype)
    samples, steps, _ = x.shape
    v = np.broadcast_to(g["v_leak"], (samples, graph.n_hidden)).copy()
    out = np.zeros((samples, g["w_out"].shape[0]), dtype)
    spikes = np.zeros((samples, steps, graph.n_hidden), bool)
    readout = np.zeros((samples, steps, out.shape[1]), dtype)
    for t in range(steps):
        current = x[:, t] @ g["w_in"].T
        early = how.fires(v, g["v_threshold"]) if how.spike_before_input else None
        u = v + k * (g["r"] * current - v + g["v_leak"])
        fired = early if how.spike_before_input else how.fires(u, g["v_threshold"])
        if how.reset == "subtract":
            v = u - fired * g["v_threshold"]
        else:
            v = np.where(fired, g["v_reset"], u)
        synaptic = fired.astype(dtype) @ g["w_out"].T
        out = out + k_out * (g["readout_r"] * synaptic - out + g["readout_v_leak"])
        spikes[:, t], readout[:, t] = fired, out
    return spikes, readout
