"""``build_report(run_dir)``: every table and figure of a run directory, dispatched by the
experiment's name (see :mod:`hetsnn.report` for the files)."""

from pathlib import Path

from hetsnn import storage
from hetsnn.errors import RunDirError
from hetsnn.experiments import EXPERIMENTS
from hetsnn.experiments.base import MANIFEST
from hetsnn.report import ablation, ei, hrsnn, margins, quenched, taudist, trajectories, variants
from hetsnn.report.common import (
    best_centre_table,
    collect,
    csv_table,
    fmt,
    markdown_table,
    read_manifest,
)
from hetsnn.report.figures import (
    curves_figure,
    firing_heatmaps,
    firing_rate_figure,
    membrane_figure,
    membrane_summary,
    probe_summary,
    reward_figure,
    selectivity,
    silent_share,
)

# Extra sections appended to the standard report (names in Experiment.sections):
# ``section(run_dir, manifest, out) -> markdown``.
SECTIONS = {
    "ablation": ablation.report_section,
    "margins": margins.report_section,
    "taudist": taudist.report_section,
}
# Experiments whose report replaces the standard one (the studies that train no RunConfig,
# and the variants study): ``report(run_dir, manifest, out) -> markdown``.
REPORTS = {
    "quenched": quenched.report,
    "hrsnn": hrsnn.report,
    "ei": ei.report,
    "classify-variants": variants.report,
}


def build_report(run_dir: Path) -> str:
    """Write the report files of ``run_dir`` and return the Markdown table."""
    run_dir = Path(run_dir)
    if (run_dir / MANIFEST).exists():
        manifest = read_manifest(run_dir)
        if manifest["experiment"] in REPORTS:
            return REPORTS[manifest["experiment"]](run_dir, manifest, run_dir / "report")
    manifest, rows = collect(run_dir)
    if not rows:
        raise RunDirError(f"{run_dir} has no finished runs yet: nothing to report")
    out = run_dir / "report"
    table = markdown_table(manifest, rows) + best_centre_table(manifest, rows)
    storage.atomic_write_bytes(out / "table.csv", csv_table(rows).encode())
    experiment = EXPERIMENTS.get(manifest["experiment"])
    categorical = experiment is not None and experiment.x_categorical
    reward_figure(manifest, rows, out / "reward.png", categorical)
    curves_figure(run_dir, manifest, out / "curves.png")
    membrane = membrane_summary(run_dir, manifest)
    if membrane:
        membrane_figure(manifest, membrane, out / "membrane.png")
        table += "\nBPTT: share of local factors |dv(t)/dv(t-dt)| > 1 during training\n"
        table += "".join(
            f"- {r['arm']}, {manifest['x_label']} {r['x']:g}: {100 * r['above_one']:.3g}%\n"
            for r in membrane
        )
    probes = probe_summary(run_dir, manifest)
    if probes:
        for x in sorted({r["x"] for r in probes}):
            firing_heatmaps(probes, x, manifest["x_label"], out / f"firing-{x:g}.png")
        firing_rate_figure(manifest, probes, out / "firing-rate.png")
        table += (
            "\nFiring, first -> last probe (mean over seeds): mean rate of all hidden neurons; "
            "share of probed neurons that are silent (< 1 Hz); class selectivity (std of a "
            "probed neuron's rate across classes, Hz)\n"
        )
        table += "".join(
            f"- {r['arm']}, {manifest['x_label']} {r['x']:g}: "
            f"{fmt(r['mean_rate'][0].mean())} -> {fmt(r['mean_rate'][-1].mean())} Hz; silent "
            f"{silent_share(r, 0):.0%} -> {silent_share(r, -1):.0%}; selectivity "
            f"{fmt(selectivity(r, 0))} -> {fmt(selectivity(r, -1))} Hz "
            f"(generation {r['generations'][-1]})\n"
            for r in probes
        )
    heterogeneity = trajectories.section(run_dir, manifest, out)
    if heterogeneity:
        table += heterogeneity
    for name in experiment.sections if experiment else ():
        table += SECTIONS[name](run_dir, manifest, out)
    # written once, whole: a report killed half-way leaves the previous table.md in place
    storage.atomic_write_bytes(out / "table.md", table.encode())
    return table
