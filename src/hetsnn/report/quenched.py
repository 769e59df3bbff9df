"""Report of the quenched-heterogeneity study (:mod:`hetsnn.studies.quenched`).

Writes into ``out``: ``table.md`` (suite score by size and distribution, the generators at
the largest size, the smallest heterogeneous reservoir that matches the largest
homogeneous one, the robustness sweeps), ``results.csv`` (one row per kind, size,
distribution and seed), ``sizes.png`` (each generator's score vs N), ``memory.png`` (the
memory function m(d) at the largest N) and ``robustness.png``.
"""

import csv
import io
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from hetsnn import storage
from hetsnn.analysis.intervals import caption, mean_interval
from hetsnn.errors import RunDirError
from hetsnn.report.common import fmt, save_figure
from hetsnn.studies.quenched import cell_path, robustness_path
from hetsnn.studies.suite import FAMILIES, family_scores
from hetsnn.tasks.temporal import SuiteConfig


def suite_from_manifest(manifest: dict) -> SuiteConfig:
    fields = manifest["settings"]["suite"]
    return SuiteConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


def load_cells(run_dir: Path, settings: dict) -> dict:
    """``{kind: {"sizes", "scores" (sizes, seeds, distributions, V), "rates"}}`` over the
    finished sizes whose seeds have all finished."""
    loaded = {}
    for kind in settings["kinds"]:
        sizes, scores, rates = [], [], []
        for n in settings["sizes"]:
            paths = [cell_path(run_dir, kind, n, s) for s in range(settings["seeds"])]
            if all(p.exists() for p in paths):
                cells = [storage.read_json(p) for p in paths]
                sizes.append(n)
                scores.append([c["scores"] for c in cells])
                rates.append([c["rate_hz"] for c in cells])
        if sizes:
            loaded[kind] = {
                "sizes": sizes,
                "scores": np.asarray(scores, float),
                "rates": np.asarray(rates, float),
            }
    return loaded


def _mean_std(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return values.mean(axis), values.std(axis)


def _cell(mean: float, std: float) -> str:
    return f"{fmt(mean)} ± {fmt(std, 2)}"


def _size_table(kind: str, cells: dict, names: list[str], suite: SuiteConfig) -> str:
    score = family_scores(cells["scores"], suite)["suite score"]  # (sizes, seeds, dists)
    mean, std = _mean_std(score, 1)
    lines = [
        f"\n### {kind} reservoirs: suite score (mean ± std over seeds)\n",
        "| N | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for i, n in enumerate(cells["sizes"]):
        lines.append(
            f"| {n} | "
            + " | ".join(_cell(m, s) for m, s in zip(mean[i], std[i], strict=True))
            + " |"
        )
    largest_homogeneous = mean[-1, names.index("homogeneous")]
    lines.append(
        f"\nSmallest reservoir matching the homogeneous one at N = {cells['sizes'][-1]} "
        f"(suite score {fmt(largest_homogeneous)}):"
    )
    for j, name in enumerate(names):
        if name == "homogeneous":
            continue
        matching = [n for i, n in enumerate(cells["sizes"]) if mean[i, j] >= largest_homogeneous]
        lines.append(f"- {name}: {f'N = {matching[0]}' if matching else 'none of the sizes'}")
    return "\n".join(lines) + "\n"


def _family_table(kind: str, cells: dict, names: list[str], suite: SuiteConfig) -> str:
    families = family_scores(cells["scores"][-1], suite)  # (seeds, dists) each
    spiking = not np.all(np.isnan(cells["rates"]))
    header = list(FAMILIES) + (["rate (Hz)"] if spiking else [])
    lines = [
        f"\n{kind}, N = {cells['sizes'][-1]}: each generator (memory capacity in steps, "
        f"of {len(suite.delays)} delays)\n",
        "| distribution | " + " | ".join(header) + " |",
        "| --- |" + " --- |" * len(header),
    ]
    for j, name in enumerate(names):
        values = [families[f][:, j] for f in FAMILIES]
        if spiking:
            values.append(cells["rates"][-1][:, j])
        lines.append(f"| {name} | " + " | ".join(_cell(v.mean(), v.std()) for v in values) + " |")
    return "\n".join(lines) + "\n"


def _robustness(run_dir: Path, settings: dict, suite: SuiteConfig) -> dict:
    """``{kind: {"scale": (seeds, dists, n_scales), "removed": (seeds, dists, n_removed)}}``
    of suite scores, for kinds whose seeds have all finished."""
    result = {}
    n_dists = len(settings["distributions"])
    for kind in settings["kinds"]:
        paths = [robustness_path(run_dir, kind, s) for s in range(settings["seeds"])]
        if not all(p.exists() for p in paths):
            continue
        runs = [storage.read_json(p) for p in paths]
        result[kind] = {
            sweep: family_scores(np.asarray([r[f"{sweep}_scores"] for r in runs], float), suite)[
                "suite score"
            ].reshape(len(runs), n_dists, -1)
            for sweep in ("scale", "removed")
        }
    return result


def _robustness_table(kind: str, sweeps: dict, names: list[str], settings: dict) -> str:
    lines = [f"\n{kind}, N = {settings['robustness_size']}: suite score under perturbation\n"]
    for sweep, label in (("scale", "recurrent weights x"), ("removed", "share removed")):
        values = settings["scales" if sweep == "scale" else "removed"]
        mean, std = _mean_std(sweeps[sweep])
        lines += [
            "| distribution | " + " | ".join(f"{label} {v:g}" for v in values) + " |",
            "| --- |" + " --- |" * len(values),
            *(
                f"| {name} | "
                + " | ".join(_cell(m, s) for m, s in zip(mean[j], std[j], strict=True))
                + " |"
                for j, name in enumerate(names)
            ),
            "",
        ]
    return "\n".join(lines)


def _error_bars(ax, x, values: np.ndarray, names: list[str]) -> None:
    """``values: (x, seeds, distributions)``: per distribution, the mean over seeds with its
    95 % bootstrap interval as error bars."""
    mean, low, high = mean_interval(values, axis=1)  # (x, distributions)
    for j, name in enumerate(names):
        m = mean[:, j]
        ax.errorbar(x, m, (m - low[:, j], high[:, j] - m), marker="o", markersize=3, capsize=2,
                    label=name)  # fmt: skip


def _legend_below(fig, axes, seeds: int) -> None:
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize="small")
    fig.suptitle(caption([seeds], "error bars"), fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))


def _sizes_figure(loaded: dict, names: list[str], suite: SuiteConfig, path: Path) -> None:
    fig, axes = plt.subplots(
        len(loaded), len(FAMILIES), figsize=(4 * len(FAMILIES), 3.2 * len(loaded) + 0.8),
        squeeze=False,
    )  # fmt: skip
    seeds = 0
    for row, (kind, cells) in zip(axes, loaded.items(), strict=True):
        families = family_scores(cells["scores"], suite)
        for ax, family in zip(row, FAMILIES, strict=True):
            seeds = families[family].shape[1]  # (sizes, seeds, distributions)
            _error_bars(ax, cells["sizes"], families[family], names)
            ax.set_xscale("log", base=2)
            sizes = list(cells["sizes"])  # ticks at the sizes measured, not at powers of 2
            ax.set_xticks(sizes, [f"{n:g}" for n in sizes], minor=False)
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.set(title=f"{kind}: {family}", xlabel="reservoir size N", ylabel=family)
    _legend_below(fig, axes, seeds)
    save_figure(fig, path)


def _memory_figure(loaded: dict, names: list[str], suite: SuiteConfig, path: Path) -> None:
    fig, axes = plt.subplots(1, len(loaded), figsize=(5 * len(loaded), 3.5), squeeze=False)
    for ax, (kind, cells) in zip(axes[0], loaded.items(), strict=True):
        recall = cells["scores"][-1][..., : len(suite.delays)].mean(0)  # (dists, delays)
        for j, name in enumerate(names):
            ax.plot(suite.delays, recall[j], label=name)
        ax.set(title=f"{kind}, N = {cells['sizes'][-1]}", xlabel="delay d (steps)", ylabel="m(d)")
    axes[0, 0].legend(fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)


def _robustness_figure(robust: dict, names: list[str], settings: dict, path: Path) -> None:
    fig, axes = plt.subplots(len(robust), 2, figsize=(10, 3.5 * len(robust) + 0.8), squeeze=False)
    seeds = 0
    for row, (kind, sweeps) in zip(axes, robust.items(), strict=True):
        for ax, sweep, label in (
            (row[0], "scale", "recurrent weights multiplied by"),
            (row[1], "removed", "share of recurrent weights removed"),
        ):
            x = settings["scales" if sweep == "scale" else "removed"]
            seeds = sweeps[sweep].shape[0]  # (seeds, distributions, x)
            _error_bars(ax, x, np.transpose(sweeps[sweep], (2, 0, 1)), names)
            ax.set(title=kind, xlabel=label, ylabel="suite score")
    _legend_below(fig, axes, seeds)
    save_figure(fig, path)


def _csv(loaded: dict, names: list[str], suite: SuiteConfig) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["kind", "n_neurons", "distribution", "seed", *FAMILIES, "rate_hz"])
    for kind, cells in loaded.items():
        families = family_scores(cells["scores"], suite)
        for i, n in enumerate(cells["sizes"]):
            for seed in range(cells["scores"].shape[1]):
                for j, name in enumerate(names):
                    values = [f"{families[f][i, seed, j]:.6g}" for f in FAMILIES]
                    writer.writerow(
                        [kind, n, name, seed, *values, f"{cells['rates'][i, seed, j]:.6g}"]
                    )
    return buffer.getvalue()


def report(run_dir: Path, manifest: dict, out: Path) -> str:
    """Write the study's tables and figures into ``out``; return the Markdown."""
    settings = manifest["settings"]
    suite = suite_from_manifest(manifest)
    names = list(settings["distributions"])
    loaded = load_cells(run_dir, settings)
    if not loaded:
        raise RunDirError(f"{run_dir} has no finished reservoir sizes yet: nothing to report")
    table = (
        f"# Quenched heterogeneity ({manifest['preset']}): {len(suite.variant_names())} task "
        f"variants, {settings['seeds']} seeds; tau_m mean {settings['tau_mean']:g} ms, "
        f"cv {settings['tau_cv']:g} (matched distributions)\n"
    )
    for kind, cells in loaded.items():
        table += _size_table(kind, cells, names, suite)
        table += _family_table(kind, cells, names, suite)
    robust = _robustness(run_dir, settings, suite)
    for kind, sweeps in robust.items():
        table += _robustness_table(kind, sweeps, names, settings)
    out = Path(out)
    storage.atomic_write_bytes(out / "table.md", table.encode())
    storage.atomic_write_bytes(out / "results.csv", _csv(loaded, names, suite).encode())
    _sizes_figure(loaded, names, suite, out / "sizes.png")
    _memory_figure(loaded, names, suite, out / "memory.png")
    if robust:
        _robustness_figure(robust, names, settings, out / "robustness.png")
    return table
