"""Command line: ``hetsnn list | run | report | probe | export-nir | verify-nir | tb | bench``.

One parser builder per group of commands; each command's handler (``set_defaults``)
imports what it needs when it runs, so parsing and usage errors import no JAX."""

import argparse
import difflib
import os
import sys
from pathlib import Path

from hetsnn.data.locations import DATA_DIR_ENV, DataNotFound
from hetsnn.errors import ClusterError, ConfigError, RunDirError, TrainingDiverged

# the registries' names, written out so that a usage error is answered without importing
# JAX (tests/model/test_neuron_models.py and tests/test_config.py check them)
NEURON_CHOICES = ("lif", "alif", "bipolar")
EXPERIMENT_NAMES = (
    "memory", "cartpole", "bp-vs-es", "bp-lr", "bp-surrogate", "classify",
    "classify-variants", "control", "ablation", "quenched", "hrsnn", "ei",
)  # fmt: skip
PRESETS = ("smoke", "small", "paper")


def _known(value: str, choices: tuple[str, ...], what: str) -> None:
    """A one-line error, with the nearest choice, for a name not in ``choices``."""
    if value in choices:
        return
    near = difflib.get_close_matches(value, choices, n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise ConfigError(f"unknown {what} {value!r}: {hint}choose one of {list(choices)}")


DATA_DIR_HELP = (
    "folder with mnist/, fashion-mnist/ (IDX files) and allen-cell-types/ (sets "
    "HETSNN_DATA_DIR; default: the environment variable, else the cache, else a download)"
)


def whole_number(text: str) -> int:
    """An argparse type: plain decimal digits only (``int`` would read ``2_0`` as 20 and
    ``" 3"`` as 3)."""
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (digits only)")
    return int(text)


def _folder_for_output(path: Path | None, flag: str = "--out") -> None:
    """Fail before any work when an output folder is an existing file."""
    if path is not None and path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a folder: choose another {flag}")


def _use_data_dir(data_dir: Path | None) -> None:
    if data_dir is not None:
        if not data_dir.is_dir():
            raise ConfigError(f"--data-dir {data_dir} is not a directory")
        os.environ[DATA_DIR_ENV] = str(data_dir.resolve())


def _add_run(commands) -> None:
    run = commands.add_parser("run", help="run an experiment")
    run.set_defaults(handler=_run)
    run.add_argument(
        "experiment",
        help="experiment name (see `hetsnn list`), or the .py file of your own experiment "
        "(docs/tutorial.md)",
    )
    run.add_argument(
        "--preset",
        default="small",
        help="smoke | small | paper, or your experiment's own (default: small)",
    )
    run.add_argument("--out", type=Path, help="run directory (default: runs/EXPERIMENT-PRESET)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("--seeds", type=whole_number, help="override the preset's number of seeds")
    run.add_argument("--generations", type=whole_number, help="override the preset's generations")
    run.add_argument(
        "--centre-optimiser",
        help="clipup | sgd | adam: how PGPE moves its centre in every ES arm "
        "(default: the preset's, clipup)",
    )
    run.add_argument(
        "--centre-lr",
        type=float,
        help="centre learning rate of every ES arm (default 0.15; Adam wants about 0.01); "
        "ClipUp's velocity cap follows as 2 x lr",
    )
    run.add_argument(
        "--neuron",
        help="neuron model of every point's hidden layer: lif (default), alif, bipolar, or "
        "one your code registers; the Neuron arms train its LIF properties, its others stay "
        "at their defaults (docs/neurons.md)",
    )
    run.add_argument(
        "--protocol",
        help="conventions of the paper's code lineage for every point: 'evojax' (all of "
        "them), or switches joined by '+' (bipolar, current-readout, adam, index-ties, "
        "one-episode, evojax-images); default: hetsnn's (docs/reproduction.md)",
    )
    run.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--no-report", action="store_true", help="do not build the report")
    run.add_argument(
        "--tensorboard",
        action="store_true",
        help="write TensorBoard event files to OUT/tensorboard after every point",
    )
    run.add_argument(
        "--together",
        choices=("auto", "yes", "no"),
        default="auto",
        help="train consecutive points that share a compiled program (the ablation's "
        "subsets of one size) side by side, their seeds in one batch: yes, no, or auto "
        "(default): yes on a GPU or TPU, no on a CPU, where the larger batch was slower",
    )
    run.add_argument(
        "--cluster",
        metavar="ray[:ADDRESS]",
        help="spread the points (or a study's jobs) over a Ray cluster, one task each, "
        "with identical results: ray ($RAY_ADDRESS, else a new Ray instance on this "
        "machine), ray:auto (the cluster `ray start` began on this node) or ray:HOST:PORT; "
        "--out must be on a filesystem every node shares (docs/cluster.md)",
    )


def _add_readers(commands) -> None:
    """The commands that read a run directory: tb, report, probe."""
    tb = commands.add_parser(
        "tb", help="write TensorBoard event files of a run directory (rewards, properties)"
    )
    tb.set_defaults(handler=_tb)
    tb.add_argument("run_dir", type=Path)

    report = commands.add_parser("report", help="build tables and figures from a run directory")
    report.set_defaults(handler=_report)
    report.add_argument("run_dir", type=Path)
    report.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    probe = commands.add_parser(
        "probe",
        help="heterogeneity controls: re-score trained centres after homogenising, "
        "permuting, resampling, quantising or resetting each neuron property",
    )
    probe.set_defaults(handler=_probe)
    probe.add_argument("run_dir", type=Path)
    probe.add_argument(
        "--noise",
        action="store_true",
        help="instead of the controls: re-score the trained centres with Gaussian membrane "
        "noise and with perturbations at the final search std (report/noise.md)",
    )
    probe.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)


def _add_nir(commands) -> None:
    export = commands.add_parser(
        "export-nir",
        help="write trained networks as NIR graphs (needs nir: pip install -e '.[nir]'), "
        "verify them and report what each known importer keeps",
    )
    export.set_defaults(handler=_export_nir)
    export.add_argument("run_dir", type=Path)
    export.add_argument(
        "--point", help="point of the experiment (default: the first finished, by name)"
    )
    export.add_argument(
        "--seed", type=whole_number, default=0, help="which seed's network (default 0)"
    )
    export.add_argument(
        "--for",
        dest="target",
        choices=("snntorch", "norse", "spyx"),
        help="write the file that simulator runs as it is, and print the Python that loads "
        "and runs it there (docs/nir.md)",
    )
    export.add_argument(
        "--profile",
        help="native | canonical | snntorch | norse | spyx | all (default: all): how the "
        "four properties are written (docs/nir.md)",
    )
    export.add_argument(
        "--tau-for",
        default="euler",
        help="euler | exp: time constants for a forward-Euler backend (hetsnn's own step) or "
        "for one that decays by exp(-dt/tau) per step (default: euler)",
    )
    export.add_argument(
        "--samples", type=whole_number, default=8, help="recorded inputs (default 8)"
    )
    export.add_argument("--out", type=Path, help="folder for the files (default: RUN_DIR/nir)")
    export.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    verify = commands.add_parser(
        "verify-nir",
        help="re-simulate an exported NIR file with the reference interpreter and count the "
        "spikes that differ from hetsnn's (exit 1 if any differ in float64, or if the float64 "
        "read-out differs by more than rounding)",
    )
    verify.set_defaults(handler=_verify_nir)
    verify.add_argument("file", type=Path)


def _add_bench(commands) -> None:
    bench = commands.add_parser("bench", help="measure throughput against reference code")
    bench.set_defaults(handler=_bench)
    bench.add_argument("--preset", default="small", help="smoke | small | full (default: small)")
    bench.add_argument("--out", type=Path, help="folder for bench.json and bench.md "
                       "(default: runs/bench-PRESET)")  # fmt: skip
    bench.add_argument(
        "--no-references",
        action="store_true",
        help="skip the vmapped JAX + evosax peer, the naive JAX and the PyTorch references",
    )
    bench.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    bench.add_argument(
        "--state-dtype",
        default="float32",
        choices=("float32", "bfloat16"),
        help="membrane-state dtype of hetsnn's networks (default: float32)",
    )


EXAMPLES = """examples:
  hetsnn list                                         what there is to run
  hetsnn run memory --preset smoke                    a first run (seconds), then its report
  hetsnn run memory --preset small --out runs/m --resume   continue after Ctrl-C
  hetsnn run my_experiment.py --preset smoke          your own experiment (docs/tutorial.md)
  hetsnn report runs/m                                tables and figures again
  hetsnn probe runs/m                                 is the neurons' diversity used?
  hetsnn export-nir runs/m --point neuron-L25 --for norse   the trained network in Norse
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hetsnn",
        description="Neuronal heterogeneity in spiking neural networks.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    commands = parser.add_subparsers(dest="command")
    listing = commands.add_parser("list", help="list experiments, presets and neuron models")
    listing.set_defaults(handler=_list)
    _add_run(commands)
    _add_readers(commands)
    _add_nir(commands)
    _add_bench(commands)
    return parser


def _list(args) -> None:
    from hetsnn import plugins

    plugins.load_installed()
    from hetsnn.experiments import EXPERIMENTS
    from hetsnn.experiments.costs import preset_line
    from hetsnn.experiments.protocols import PROTOCOLS, SWITCHES
    from hetsnn.model.neuron_models import NEURON_MODELS

    width = max(map(len, EXPERIMENTS)) + 1
    for name, experiment in EXPERIMENTS.items():
        print(f"{name:{width}s} {experiment.summary}")
        print(f"{'':{width}s} presets: {preset_line(name, experiment.presets)}")
    print(f"{'':{width}s} (smoke and small: wall time on 2 CPU cores; paper: see docs/cost.md)")
    print("\nneuron models (run --neuron NAME):")
    for name, model in NEURON_MODELS.items():
        print(f"{name:10s} {model.summary}")
    print("\nprotocols (run --protocol NAME, or switches joined by '+'):")
    for name, switches in PROTOCOLS.items():
        print(f"{name:16s} {' + '.join(switches)}")
    for name, switch in SWITCHES.items():
        print(f"{name:16s} {switch.summary}")


def _run(args) -> None:
    from hetsnn import plugins

    own_file = args.experiment.endswith(".py")
    if not own_file and not plugins.load_installed():  # built-ins only: before heavy imports
        _known(args.experiment, EXPERIMENT_NAMES, "experiment")
        _known(args.preset, PRESETS, "preset")
        if args.neuron is not None:
            _known(args.neuron, NEURON_CHOICES, "neuron model")
    from hetsnn.experiments import experiment_in_file, get_experiment, run_experiment
    from hetsnn.report.build import build_report

    if own_file:
        experiment = experiment_in_file(args.experiment)
    else:
        experiment = get_experiment(args.experiment)
    experiment.resolve(args.preset)  # fail fast on a bad preset name
    if args.tensorboard and experiment.jobs is not None:
        raise ConfigError(
            f"{experiment.name} is a study of jobs and keeps no per-generation metrics "
            "for TensorBoard: drop --tensorboard"
        )
    _use_data_dir(args.data_dir)
    out = args.out or Path("runs") / f"{experiment.name}-{args.preset}"
    overrides = {"seeds": args.seeds, "generations": args.generations}
    strategy = {"centre_optimiser": args.centre_optimiser, "lr": args.centre_lr}
    run_experiment(
        experiment,
        args.preset,
        out,
        resume=args.resume,
        overrides=overrides,
        strategy=strategy,
        progress=not args.quiet,
        after_point=_tensorboard if args.tensorboard else None,
        together={"auto": None, "yes": True, "no": False}[args.together],
        neuron=args.neuron,
        protocol=args.protocol,
        cluster=args.cluster,
    )
    if args.tensorboard:
        print(f"TensorBoard: tensorboard --logdir {out / 'tensorboard'}")
    print(f"results in {out}")
    if not args.no_report:
        print(build_report(out))


def _report(args) -> None:
    from hetsnn.report.build import build_report

    _use_data_dir(args.data_dir)
    print(build_report(args.run_dir))
    print(f"figures and tables in {args.run_dir / 'report'}")


def _probe(args) -> None:
    _use_data_dir(args.data_dir)
    if args.noise:
        from hetsnn.report.noise import run_noise_probe

        print(run_noise_probe(args.run_dir))
        print(f"noise.md and noise.csv in {args.run_dir / 'report'}")
        return
    from hetsnn.report.controls import run_controls

    print(run_controls(args.run_dir))
    print(f"controls.md, controls.csv and controls.png in {args.run_dir / 'report'}")


def _load_recorded_code(run_dir: Path) -> None:
    """Load the researcher's file that defines the experiment of ``run_dir`` (an experiment
    or one of its points), when its experiment.json records one."""
    from hetsnn import plugins, storage
    from hetsnn.experiments.base import MANIFEST

    for folder in (run_dir, run_dir.parent.parent):
        if (folder / MANIFEST).is_file():
            try:
                manifest = storage.read_json(folder / MANIFEST, dict)
            except storage.DamagedFile:
                return  # the command itself says so, in its own words
            plugins.load_recorded(manifest)
            return


def _tb(args) -> None:
    _load_recorded_code(args.run_dir)
    folder = _tensorboard(args.run_dir)
    print(f"event files in {folder}: tensorboard --logdir {args.run_dir / 'tensorboard'}")


def _tensorboard(run_dir: Path) -> Path:
    from hetsnn.interop.tensorboard import write_events

    return write_events(run_dir)


def _bench(args) -> None:
    import jax

    from hetsnn import storage
    from hetsnn.train import bench

    if args.preset not in bench.GRIDS:
        raise ConfigError(
            f"unknown bench preset {args.preset!r}: choose one of {sorted(bench.GRIDS)}"
        )
    _use_data_dir(args.data_dir)
    suffix = "" if args.state_dtype == "float32" else f"-{args.state_dtype}"
    out = args.out or Path("runs") / f"bench-{args.preset}{suffix}"
    _folder_for_output(out)
    torch = "yes" if bench.bench_torch.available() else "not installed"
    print(f"backend {jax.default_backend()}, {jax.device_count()} device(s); torch peers: {torch}")
    print(bench.HEADER, flush=True)
    rows = bench.run_bench(
        args.preset,
        references=not args.no_references,
        state_dtype=args.state_dtype,
        progress=lambda row: print(bench.table_row(row), flush=True),
    )
    storage.write_json(out / "bench.json", rows)
    table = "\n".join([bench.HEADER, *map(bench.table_row, rows)]) + "\n"
    storage.atomic_write_bytes(out / "bench.md", table.encode())
    print(f"rows in {out / 'bench.json'} and {out / 'bench.md'}")


def _export_nir(args) -> None:
    from hetsnn.interop import nir_export, profiles

    if args.target and args.profile:
        raise ConfigError("--for picks the profile: drop --profile")
    _use_data_dir(args.data_dir)
    _folder_for_output(args.out)
    _load_recorded_code(args.run_dir)
    chosen = args.target or args.profile or "all"
    names = profiles.PROFILES if chosen == "all" else (chosen,)
    result = nir_export.export(
        args.run_dir,
        point=args.point,
        seed=args.seed,
        profile_names=names,
        tau_for=args.tau_for,
        samples=args.samples,
        out=args.out,
    )
    for name, path in result["files"].items():
        print(nir_export.verification_lines(path, result["checks"][name]))
    for name, reason in result["skipped"].items():
        print(f"{name}: not written: {reason}")
    print()
    print(result["markdown"])
    if args.target:
        from hetsnn.interop import simulators

        simulator = simulators.BY_PROFILE[args.target]
        path = result["files"][args.target]
        print(f"To run it in {simulator.name} ({simulator.install}), with x the inputs:\n")
        print(simulator.lines(str(path), nir_export.graph_dt(path)))


def _verify_nir(args) -> int:
    from hetsnn.interop import nir_export

    result = nir_export.verify(args.file)
    print(nir_export.verification_lines(args.file, result))
    return 0 if nir_export.agrees(result) else 1


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the hetsnn command itself (not a call from Python): faster malloc
        from hetsnn.allocator import reexec_with_tcmalloc

        reexec_with_tcmalloc(sys.argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from hetsnn.provenance import version_line

        print(version_line())
        return 0
    if args.command is None:
        parser.error("a command is required (see --help)")
    from hetsnn import interrupts

    try:
        with interrupts.catching():
            code = args.handler(args) or 0
        sys.stdout.flush()  # a reader that closed the pipe is met here, not at exit
        return code
    except (ConfigError, RunDirError, DataNotFound, TrainingDiverged, ClusterError) as error:
        print(f"hetsnn: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `hetsnn list | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 0
    except OSError as error:  # an unwritable, missing or full location: say where
        where = f"{error.filename}: " if error.filename else ""
        print(f"hetsnn: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nhetsnn: interrupted; finished chunks are checkpointed: rerun with --resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
