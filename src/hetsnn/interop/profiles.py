"""From a trained hetsnn network to the numbers of a NIR graph, in three profiles.

hetsnn's hidden step (eq. LIF-1) is the forward-Euler step of NIR's LIF equation
``tau dv/dt = (v_leak - v) + r I`` with ``tau = tau_m``, ``r = R``, ``v_leak = v_reset =
v_rest`` and ``v_threshold = v_th``; its read-out is NIR's LI with ``tau = readout_tau``,
``r = 1`` and ``v_leak = 0``. The profiles write the same network in three ways:

* ``native``: the four per-neuron properties as they are.
* ``canonical``: the potential measured from rest, ``v' = v - v_rest``: ``v_leak = v_reset =
  0``, ``v_threshold = v_th - v_rest``, and R folded into the input weights (``r = 1``,
  ``w_in[i, :] *= R_i``). In real arithmetic no spike changes.
* ``snntorch``: what snnTorch's ``import_from_nir`` (snntorch/import_nir.py, read at commit
  0819ba4) accepts: it asserts ``v_leak = 0`` and one ``v_threshold`` for the whole layer,
  and runs ``mem = (1 - dt/tau) mem + W x`` with reset to zero, which is NIR's Euler step
  when ``r = tau / dt``. So the potential is also divided by ``v_th - v_rest`` (threshold
  1) and ``k R / (v_th - v_rest)`` goes into the weights; every neuron needs
  ``v_th > v_rest``. It discretises by forward Euler, so it takes Euler time constants only.

``tau_for`` chooses the time constants: ``"euler"`` writes ``tau = tau_m`` (a forward-Euler
backend then runs hetsnn's network); ``"exp"`` writes ``tau = -dt / log(1 - dt/tau_m)``, so
that a backend with exponential decay ``exp(-dt/tau)`` decays by hetsnn's ``1 - dt/tau_m``
per step and runs hetsnn's network instead.
"""

from dataclasses import dataclass

import numpy as np

from hetsnn.errors import ConfigError
from hetsnn.interop.lif_graph import LifGraph

PROFILES = ("native", "canonical", "snntorch")
TAU_FOR = ("euler", "exp")
MS = 1e-3  # seconds per millisecond


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
    n_out = net.w_out.shape[1]
    tau = _time_constant(net.tau_m, net.dt, tau_for)
    readout_tau = _time_constant(np.full(n_out, net.readout_tau), net.dt, tau_for)
    zeros, ones = np.zeros_like(tau), np.ones_like(tau)
    common = {
        "tau": tau,
        "w_out": net.w_out.T.copy(),
        "readout_tau": readout_tau,
        "readout_r": np.ones(n_out),
        "readout_v_leak": np.zeros(n_out),
        "dt": net.dt * MS,
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
    if profile == "canonical":
        return LifGraph(
            w_in=(net.w_in * net.resistance).T,
            r=ones,
            v_leak=zeros,
            v_threshold=gap,
            v_reset=zeros,
            **common,
        )
    if tau_for != "euler":
        raise ConfigError(
            "the snntorch profile is for snnTorch's importer, which discretises by forward "
            "Euler: use --tau-for euler"
        )
    below = int(np.sum(gap <= 0))
    if below:
        raise ConfigError(
            f"the snntorch profile needs v_th > v_rest in every neuron, and {below} of "
            f"{gap.size} neurons have v_th <= v_rest: export the native or canonical profile"
        )
    return LifGraph(
        w_in=(net.w_in * (net.decay * net.resistance / gap)).T,
        r=tau / (net.dt * MS),
        v_leak=zeros,
        v_threshold=ones,
        v_reset=zeros,
        **common,
    )
