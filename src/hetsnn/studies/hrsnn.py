"""Companion study 3 (docs/specification.md sec. 2): a heterogeneous recurrent spiking network with
heterogeneous STDP (HRSNN, Chakraborty and Mukhopadhyay 2023), and Bayesian design of its
heterogeneity.

An E/I spiking reservoir (Dale's law, :mod:`hetsnn.model.dale`) learns its excitatory recurrent
weights without supervision (pair-based STDP with per-synapse parameters,
:mod:`hetsnn.model.plasticity`) while driven by a random input stream; then its weights are frozen
and a ridge read-out is scored on the temporal suite (memory capacity, NARMA prediction,
sequence classification). Metrics: memory capacity (MC, steps) and the firing rate (Hz)
during the suite; the design objective is ``rate / MC`` (spikes per unit memory), minimised
by optuna's TPE sampler over the heterogeneity hyper-parameters, subject to
``MC >= min_memory_capacity`` so that a silent network cannot win.

Arms (each on the test seeds): homogeneous tau and STDP; heterogeneous (gamma) tau with
homogeneous STDP; heterogeneous tau and STDP; heterogeneous tau without STDP; and the best
design found (``bayes-opt``). The search uses its own seeds, disjoint from the test seeds.
"""

import math
import pickle
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from hetsnn import storage
from hetsnn.errors import ConfigError, RunDirError
from hetsnn.model import plasticity, reservoir
from hetsnn.model.heterogeneity import Distribution
from hetsnn.model.neuron_models import neuron_model
from hetsnn.studies.suite import family_scores, suite_scores
from hetsnn.tasks.temporal import SuiteConfig, make_suite
from hetsnn.train.jobs import Job
from hetsnn.validate import typed_fields

SEARCH_SEED_OFFSET = 10_000  # search seeds are 10000, 10001, ...; test seeds 0, 1, ...
STUDY = "hrsnn"
ARMS = ("homogeneous", "het-tau", "het-tau+het-stdp", "het-tau, no STDP", "bayes-opt")


@dataclass(frozen=True)
class Design:
    """The heterogeneity hyper-parameters the Bayesian optimisation searches.

    tau_mean (ms), tau_cv: gamma distribution of the membrane time constants (cv 0:
    every neuron at tau_mean); a_plus, a_minus_ratio: mean STDP amplitudes (a_minus =
    ratio * a_plus); stdp_tau (ms): mean of tau_plus and tau_minus; stdp_cv: cv of the
    gamma distributions of the four per-synapse STDP parameters (0: homogeneous STDP).
    """

    tau_mean: float = 20.0
    tau_cv: float = 0.5
    a_plus: float = 0.01
    a_minus_ratio: float = 1.05
    stdp_tau: float = 20.0
    stdp_cv: float = 0.5

    def tau_distribution(self) -> Distribution:
        return _gamma(self.tau_mean, self.tau_cv)

    def stdp(self) -> plasticity.STDPConfig:
        return plasticity.STDPConfig(
            a_plus=_gamma(self.a_plus, self.stdp_cv),
            a_minus=_gamma(self.a_plus * self.a_minus_ratio, self.stdp_cv),
            tau_plus=_gamma(self.stdp_tau, self.stdp_cv),
            tau_minus=_gamma(self.stdp_tau, self.stdp_cv),
        )


def _gamma(mean: float, cv: float) -> Distribution:
    """Gamma with this mean and cv; a constant when cv is 0."""
    if cv == 0:
        return Distribution("constant", mean)
    return Distribution("gamma", scale=mean * cv**2, shape=1 / cv**2)


# (low, high, log scale) of each searched field
SEARCH_SPACE = {
    "tau_mean": (10.0, 100.0, True),
    "tau_cv": (0.0, 1.5, False),
    "a_plus": (1e-3, 1e-1, True),
    "a_minus_ratio": (0.5, 2.0, False),
    "stdp_tau": (5.0, 50.0, True),
    "stdp_cv": (0.0, 1.5, False),
}


@dataclass(frozen=True)
class HRSNNSettings:
    """Attributes:
    n_neurons: reservoir size.  seeds: test seeds per arm.  trials: optuna trials.
    search_seeds: seeds averaged per trial.  stdp_steps: unsupervised steps (dt each).
    suite: the temporal suite the frozen network is scored on.
    excitatory_fraction: Dale's law E share.  w_max_factor: the STDP weight bound as a
    multiple of the mean initial excitatory weight.  min_memory_capacity: the search's
    constraint (steps).  reference: the fixed heterogeneous design of the arms.
    """

    n_neurons: int
    seeds: int
    trials: int
    search_seeds: int
    stdp_steps: int
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    excitatory_fraction: float = 0.8
    w_max_factor: float = 3.0
    min_memory_capacity: float = 1.0
    ridge_alpha: float = 1e-4
    reference: Design = field(default_factory=Design)
    neuron: str = "lif"

    def __post_init__(self):
        typed_fields(self, "hrsnn")
        neuron_model(self.neuron)  # the reservoir's neurons; an unknown name: one line
        if min(self.n_neurons, self.seeds, self.search_seeds, self.stdp_steps) < 1:
            raise ConfigError("hrsnn needs n_neurons, seeds, search_seeds, stdp_steps >= 1")
        if self.trials < 0 or not self.w_max_factor > 0:
            raise ConfigError("hrsnn needs trials >= 0 and w_max_factor > 0")
        if not 0 < self.excitatory_fraction <= 1:
            raise ConfigError("hrsnn needs excitatory_fraction in (0, 1]: STDP acts on E synapses")


def arm_designs(s: HRSNNSettings) -> dict[str, tuple[Design, bool]]:
    """The fixed arms: ``name -> (design, plastic)``."""
    ref = s.reference
    return {
        "homogeneous": (Design(**{**_fields(ref), "tau_cv": 0.0, "stdp_cv": 0.0}), True),
        "het-tau": (Design(**{**_fields(ref), "stdp_cv": 0.0}), True),
        "het-tau+het-stdp": (ref, True),
        "het-tau, no STDP": (ref, False),
    }


def _fields(design: Design) -> dict:
    return {k: getattr(design, k) for k in SEARCH_SPACE}


def _config(s: HRSNNSettings, design: Design) -> reservoir.ReservoirConfig:
    return reservoir.ReservoirConfig(
        s.n_neurons,
        "spiking",
        design.tau_distribution(),
        excitatory_fraction=s.excitatory_fraction,
        neuron=neuron_model(s.neuron).config(),
    )


@cache
def _program(dynamics: reservoir.Dynamics, suite: SuiteConfig, alpha: float, w_max_factor: float):
    """Compiled: stacked reservoirs and STDP parameters (leading axis = seeds), their STDP
    input streams and suite data -> suite scores ``(seeds, V)``, suite rates ``(seeds,)``."""

    def one(r, params, stream, data):
        excitatory = r.w_rec > 0
        w_max = w_max_factor * jnp.sum(r.w_rec * excitatory) / jnp.maximum(excitatory.sum(), 1)
        trained, _ = plasticity.train_stdp(r, stream, params, dynamics, w_max)
        out = suite_scores(trained, data, dynamics, suite, alpha)
        return out["scores"], out["rate_hz"]

    def program(reservoirs, params, streams, suites):
        # lax.map, not vmap: one seed at a time bounds memory, and a vmapped version of
        # this program deadlocked on its second call on a 2-core CPU (docs/science.md)
        return jax.lax.map(lambda args: one(*args), (reservoirs, params, streams, suites))

    return jax.jit(program)


def evaluate(s: HRSNNSettings, design: Design, seeds: list[int], plastic: bool = True) -> dict:
    """Scores of ``design`` on ``seeds``: ``{"scores": (seeds, V), "rate_hz": (seeds,)}``
    (lists), after ``stdp_steps`` of STDP (none when ``plastic`` is False)."""
    config = _config(s, design)
    stdp = design.stdp()
    reservoirs, params, streams, suites = [], [], [], []
    for seed in seeds:
        keys = reservoir.seed_keys(seed)
        r = reservoir.init(keys["weights"], 1, config, tau_key=keys["tau"])
        p = plasticity.draw(keys["stdp"], r.w_rec.shape, stdp, config.neuron.dt)
        if not plastic:
            p = p.replace(a_plus=jnp.zeros_like(p.a_plus), a_minus=jnp.zeros_like(p.a_minus))
        stream = jax.random.uniform(keys["stream"], (s.stdp_steps, 1), minval=-1.0)
        reservoirs.append(r)
        params.append(p)
        streams.append(stream)
        suites.append(make_suite(1000 + seed, s.suite))
    program = _program(config.dynamics, s.suite, s.ridge_alpha, s.w_max_factor)
    scores, rates = program(
        reservoir.stack(reservoirs),
        reservoir.stack(params),
        jnp.stack(streams),
        reservoir.stack(suites),
    )
    return {"scores": np.asarray(scores).tolist(), "rate_hz": np.asarray(rates).tolist()}


def objective_terms(result: dict, suite: SuiteConfig) -> tuple[float, float, float]:
    """``(rate Hz, memory capacity, rate / MC)``, each averaged over the result's seeds
    (the ratio of the means)."""
    mc = float(np.mean(family_scores(np.asarray(result["scores"]), suite)["memory capacity"]))
    rate = float(np.mean(result["rate_hz"]))
    return rate, mc, rate / mc if mc > 0 else math.inf


def search(s: HRSNNSettings, out: Path, progress: bool = True):
    """Run the trials of the Bayesian optimisation not yet in ``out/optuna.db``; return
    the study. Resumable: finished trials are kept in the SQLite storage.

    Raises:
        RunDirError: ``optuna.db`` cannot be read or written (a full disk, a damaged file).
    """
    try:
        return _search(s, Path(out), progress)
    except Exception as error:
        reason = _storage_failure(error)
        if reason is None:
            raise
        raise RunDirError(
            f"{Path(out) / 'optuna.db'} cannot be used ({reason}): on a full disk, free space "
            "and run again with --resume; a damaged file, remove it to restart the search"
        ) from None


def _storage_failure(error: BaseException) -> str | None:
    """The database's own words when ``error`` comes from a failed read or write of the
    study's storage, else None. The chain is searched because optuna 5.0.0 answers a
    failed write of a trial's state with ``AssertionError("Should not reach.")``, raised
    while handling the storage error."""
    import sqlalchemy.exc

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sqlalchemy.exc.SQLAlchemyError):
            return str(getattr(error, "orig", None) or error).splitlines()[0]
        error = error.__cause__ or error.__context__
    return None


def _search(s: HRSNNSettings, out: Path, progress: bool):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=STUDY,
        storage=f"sqlite:///{out / 'optuna.db'}",
        sampler=_restored_sampler(out),
        direction="minimize",
        load_if_exists=True,
    )
    states = optuna.trial.TrialState
    for killed in study.get_trials(deepcopy=False, states=(states.RUNNING,)):
        study.tell(killed.number, state=states.FAIL)  # a process killed inside a trial
    _rerun_interrupted_trial(study, _sampler_trial(out))
    done = len(_finished(study))
    seeds = [SEARCH_SEED_OFFSET + i for i in range(s.search_seeds)]

    def objective(trial) -> float:
        design = Design(
            **{
                name: trial.suggest_float(name, low, high, log=log)
                for name, (low, high, log) in SEARCH_SPACE.items()
            }
        )
        # the sampler's state goes with the trial whose parameters it has just drawn, before
        # any result is stored: a kill at any later moment resumes to the same trials
        _save_sampler(out, study.sampler, trial.number)
        rate, mc, ratio = objective_terms(evaluate(s, design, seeds), s.suite)
        trial.set_user_attr("rate_hz", rate)
        trial.set_user_attr("memory_capacity", mc)
        trial.set_constraint("memory_capacity_shortfall", s.min_memory_capacity - mc)
        if not math.isfinite(ratio):
            raise optuna.TrialPruned(f"non-finite objective (rate {rate}, MC {mc})")
        return ratio

    def after_trial(study, trial) -> None:
        bar.update()

    remaining = max(s.trials - done, 0)
    with tqdm(total=s.trials, initial=done, desc="hrsnn search", disable=not progress) as bar:
        study.optimize(objective, n_trials=remaining, callbacks=[after_trial])
    return study


SAMPLER = "sampler.pkl"  # the TPE sampler and the trial whose parameters it drew last


def _rerun_interrupted_trial(study, drawn_by: int | None) -> None:
    """Queue the parameters of a trial that an interruption ended (FAIL: optuna's own
    verdict on Ctrl-C, or ours on a killed process's RUNNING trial) when the saved sampler
    is the one that drew them: its random state is already past them, so the trial reruns
    with the same parameters and no draw. Otherwise the saved sampler is from before the
    trial and draws the same parameters again by itself. TPE ignores failed trials, so the
    search then continues exactly as an uninterrupted one."""
    import optuna

    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    if not trials or any(t.state == states.WAITING for t in trials):
        return
    last = trials[-1]
    if (
        last.state == states.FAIL
        and last.number == drawn_by
        and set(last.params) == set(SEARCH_SPACE)
    ):
        study.enqueue_trial(last.params)


def _finished(study) -> list:
    """The trials that ran to an end (complete or pruned); killed ones are FAIL."""
    import optuna

    states = optuna.trial.TrialState
    return study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED))


def _save_sampler(out: Path, sampler, trial: int) -> None:
    payload = {"drew_trial": trial, "sampler": sampler}
    storage.atomic_write_bytes(out / SAMPLER, pickle.dumps(payload))


def _load_sampler(out: Path) -> dict | None:
    """``{"drew_trial": n, "sampler": s}`` of an interrupted search (a sampler pickled by
    itself, as earlier versions wrote it, drew no known trial), or None."""
    path = out / SAMPLER
    if not path.exists():
        return None
    try:
        payload = pickle.loads(path.read_bytes())  # noqa: S301 (our own file)
    except Exception as error:  # noqa: BLE001 (any unpickling failure: a damaged file)
        raise RunDirError(
            f"{path} is damaged ({error}): remove it and optuna.db to restart the search"
        ) from None
    return payload if isinstance(payload, dict) else {"drew_trial": None, "sampler": payload}


def _sampler_trial(out: Path) -> int | None:
    payload = _load_sampler(out)
    return None if payload is None else payload["drew_trial"]


def _restored_sampler(out: Path):
    """The pickled sampler of an interrupted search, or a fresh TPESampler(seed=0)."""
    import optuna

    payload = _load_sampler(out)
    return optuna.samplers.TPESampler(seed=0) if payload is None else payload["sampler"]


def is_feasible(trial, min_memory_capacity: float) -> bool:
    """Whether a finished trial met the search's constraint MC >= min_memory_capacity."""
    return trial.user_attrs["memory_capacity"] >= min_memory_capacity


def best_design(study, min_memory_capacity: float) -> Design | None:
    """The best feasible trial's design (None if no trial met the constraint)."""
    feasible = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.value is not None and is_feasible(t, min_memory_capacity)
    ]
    if not feasible:
        return None
    return Design(**min(feasible, key=lambda t: t.value).params)


def arm_path(out: Path, arm: str) -> Path:
    return Path(out) / "arms" / f"{arm.replace(', ', '-').replace(' ', '-')}.json"


SEARCH_RESULT = "search.json"  # the finished search: trials done and the best design


def jobs(s: HRSNNSettings) -> list[Job]:
    """The fixed arms, the search (when ``s.trials``), then the best design on the test
    seeds (nothing is written when no trial met the constraint)."""
    seeds = list(range(s.seeds))

    def arm(design: Design, plastic: bool) -> dict:
        result = evaluate(s, design, seeds, plastic)
        return {"design": _fields(design), "plastic": plastic, **result}

    def search_result(out: Path, progress: bool) -> dict:
        study = search(s, out, progress)
        design = best_design(study, s.min_memory_capacity)
        return {"trials": len(_finished(study)), "best_design": design and _fields(design)}

    def best_arm(out: Path, progress: bool) -> dict | None:
        best = storage.read_json(out / SEARCH_RESULT, dict)["best_design"]
        return None if best is None else arm(Design(**best), True)

    fixed = [
        Job(str(arm_path(".", name)), lambda out, progress, d=design, p=plastic: arm(d, p))
        for name, (design, plastic) in arm_designs(s).items()
    ]
    if s.trials == 0:
        return fixed
    best = Job(str(arm_path(".", "bayes-opt")), best_arm, after=(SEARCH_RESULT,))
    return [*fixed, Job(SEARCH_RESULT, search_result), best]
