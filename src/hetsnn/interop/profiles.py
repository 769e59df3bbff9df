"""From a trained hetsnn network to the numbers of a NIR graph, in one profile per reader.

hetsnn's hidden step (eq. LIF-1) is the forward-Euler step of NIR's LIF equation
``tau dv/dt = (v_leak - v) + r I`` with ``tau = tau_m``, ``r = R``, ``v_leak = v_reset =
v_rest`` and ``v_threshold = v_th``; its read-out is NIR's LI with ``tau = readout_tau``,
``r = 1`` and ``v_leak = 0``. Every profile below is that network, read with NIR's semantics
at the graph's ``dt`` (the reference interpreter runs each spike for spike); they differ in
which of NIR's arrays carry the numbers, so that one importer runs the file as it is:

* ``native``: the four per-neuron properties as they are.
* ``canonical``: the potential measured from rest, ``v' = v - v_rest``: ``v_leak = v_reset =
  0``, ``v_threshold = v_th - v_rest``, and R folded into the input weights (``r = 1``,
  ``w_in[i, :] *= R_i``).
* ``norse``: the canonical numbers with the read-out as a LIF that never fires (Norse's
  ``from_nir`` maps no LI node). Norse keeps per-neuron ``tau``, ``v_leak``, ``v_threshold``
  and runs forward Euler; it drops ``r`` and ``v_reset``, both 1 and 0 here.
* ``snntorch``: snnTorch's ``import_from_nir`` runs ``mem = (1 - dt/tau) mem + W x`` with
  ``dt`` fixed at 0.1 ms, one threshold per layer, ``v_leak = 0`` and reset to zero. So the
  potential is also divided by the threshold gap ``v_th - v_rest`` (threshold 1), ``k R /
  gap`` goes into the weights (``k = dt / tau_m``), ``r = tau / dt`` (so NIR's step is
  snnTorch's), and every time is rescaled to snnTorch's step: the graph's ``dt`` is 0.1 ms
  and ``tau`` is ``tau_m x 0.1 ms / dt``, the same decay per step. The read-out is a LIF that
  never fires, with ``k_out`` in its weights. Every neuron needs ``v_th > v_rest``.
* ``spyx``: Spyx's ``from_nir`` loads weights as they are and ``beta = 1 - dt/tau`` per
  neuron, with per-neuron thresholds and no ``r`` or ``v_leak``: the canonical numbers with
  ``k R`` in the weights and ``r = tau / dt``, the read-out as for snnTorch at hetsnn's dt.
  Spyx's LIF itself differs (reset by subtraction, the spike decided before the step's
  input), which no profile can undo.

``tau_for`` chooses the time constants of the native and canonical profiles: ``"euler"``
writes ``tau = tau_m`` (a forward-Euler backend then runs hetsnn's network); ``"exp"``
writes ``tau = -dt / log(1 - dt/tau_m)``, so that a backend with exponential decay
``exp(-dt/tau)`` decays by hetsnn's ``1 - dt/tau_m`` per step. The importer profiles are
for the importers' own forward-Euler steps and take ``"euler"`` only.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from hetsnn.errors import ConfigError
from hetsnn.interop.lif_graph import LifGraph

TARGETS = ("snntorch", "norse", "spyx")  # the importers with a profile of their own
PROFILES = ("native", "canonical", *TARGETS)
TAU_FOR = ("euler", "exp")
MS = 1e-3  # seconds per millisecond
SNNTORCH_DT = 1e-4  # s: the step snntorch/import_nir.py hard-codes for every LIF node


@dataclass(frozen=True)
class TrainedNetwork:
    """One seed's trained numbers in hetsnn's units, as float64.

    Attributes:
        tau_m, v_th, v_rest, resistance: ``(H,)`` hidden properties (tau_m in ms).
        w_in: ``(n_in, H)``; w_out: ``(H, n_out)`` (hetsnn's orientation, ``x @ w``).
        dt, readout_tau: ms.
    """

    tau_m: np.ndarray
    v_th: np.ndarray
    v_rest: np.ndarray
    resistance: np.ndarray
    w_in: np.ndarray
    w_out: np.ndarray
    dt: float
    readout_tau: float

    @classmethod
    def from_centres(cls, arrays: dict, seed: int, dt: float, readout_tau: float):
        """Seed ``seed`` of the arrays of a run's centres.npz (same keys as the fields)."""
        names = ("tau_m", "v_th", "v_rest", "resistance", "w_in", "w_out")
        pick = {k: np.asarray(arrays[k][seed], np.float64) for k in names}
        return cls(**pick, dt=float(dt), readout_tau=float(readout_tau))

    @property
    def decay(self) -> np.ndarray:
        """hetsnn's Euler decay ``k = dt / tau_m`` per hidden neuron."""
        return self.dt / self.tau_m


def _time_constant(tau_ms: np.ndarray, dt_ms: float, tau_for: str) -> np.ndarray:
    """Seconds; see the module docstring for the two choices."""
    if tau_for == "euler":
        return tau_ms * MS
    return -dt_ms * MS / np.log1p(-dt_ms / tau_ms)


def check_choices(profile_names, tau_for: str) -> None:
    """ConfigError for an unknown profile or time-constant choice."""
    for profile in profile_names:
        if profile not in PROFILES:
            raise ConfigError(f"unknown NIR profile {profile!r}: choose one of {PROFILES}")
    if tau_for not in TAU_FOR:
        raise ConfigError(f"unknown --tau-for {tau_for!r}: choose one of {TAU_FOR}")


def to_graph(net: TrainedNetwork, profile: str, tau_for: str = "euler") -> LifGraph:
    """The graph numbers of ``net`` in ``profile`` (ConfigError where it cannot be written)."""
    check_choices((profile,), tau_for)
    if profile in TARGETS and tau_for != "euler":
        raise ConfigError(
            f"the {profile} profile is for {profile}'s own forward-Euler step: use --tau-for euler"
        )
    n_out = net.w_out.shape[1]
    tau = _time_constant(net.tau_m, net.dt, tau_for)
    readout_tau = _time_constant(np.full(n_out, net.readout_tau), net.dt, tau_for)
    zeros, ones = np.zeros_like(tau), np.ones_like(tau)
    dt = net.dt * MS
    common = {
        "tau": tau,
        "w_out": net.w_out.T.copy(),
        "readout_tau": readout_tau,
        "readout_r": np.ones(n_out),
        "readout_v_leak": np.zeros(n_out),
        "dt": dt,
    }
    if profile == "native":
        return LifGraph(
            w_in=net.w_in.T.copy(),
            r=net.resistance,
            v_leak=net.v_rest,
            v_threshold=net.v_th,
            v_reset=net.v_rest,
            **common,
        )
    gap = net.v_th - net.v_rest  # threshold above rest
    canonical = LifGraph(
        w_in=(net.w_in * net.resistance).T,
        r=ones,
        v_leak=zeros,
        v_threshold=gap,
        v_reset=zeros,
        **common,
    )
    if profile == "canonical":
        return canonical
    if profile == "norse":
        return canonical.replace(readout_as_lif=True)
    k_out = net.dt / net.readout_tau
    # r = tau / dt makes NIR's Euler step v + k (r I - v) read v (1 - k) + I: the importer's
    # own step, which adds the weighted input unscaled
    unscaled_input = {
        "r": tau / dt,
        "w_out": (net.w_out * k_out).T,
        "readout_r": readout_tau / dt,
        "readout_as_lif": True,
    }
    if profile == "spyx":
        return canonical.replace(w_in=(net.w_in * (net.decay * net.resistance)).T,
                                 **unscaled_input)  # fmt: skip
    below = np.flatnonzero(gap <= 0)
    if below.size:
        shown = ", ".join(str(i) for i in below[:8]) + (", ..." if below.size > 8 else "")
        raise ConfigError(
            f"snnTorch holds one threshold per layer, reached from rest: {below.size} of "
            f"{gap.size} hidden neurons have v_th <= v_rest (neurons {shown}), which no "
            "rescaling puts above it: export the norse or canonical profile"
        )
    scale = SNNTORCH_DT / dt  # snnTorch's step over hetsnn's: every time shrinks by it
    return LifGraph(
        w_in=(net.w_in * (net.decay * net.resistance / gap)).T,
        v_leak=zeros,
        v_threshold=ones,
        v_reset=zeros,
        tau=tau * scale,
        readout_tau=readout_tau * scale,
        readout_v_leak=np.zeros(n_out),
        dt=SNNTORCH_DT,
        **unscaled_input,
    )


def raised_thresholds(net: TrainedNetwork, margin: float = 1e-6) -> TrainedNetwork:
    """``net`` with every threshold at or below rest raised to ``margin`` above it: the
    nearest network the snntorch profile can hold (its spikes differ where those neurons
    fired at rest)."""
    return dataclasses.replace(net, v_th=np.maximum(net.v_th, net.v_rest + margin))
