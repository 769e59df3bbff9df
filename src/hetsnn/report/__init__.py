"""Tables and figures rebuilt from a run directory alone.

``build_report(run_dir)`` writes into ``run_dir/report/``:

* ``table.md`` / ``table.csv``: per arm and x, the final centre's reward (mean +- std over
  seeds) and the reward of all individuals of the last generation (pooled over seeds);
* ``reward.png``: final reward vs x per arm: every seed as a dot, the mean with its 95 %
  bootstrap interval (:mod:`hetsnn.analysis.intervals`);
* ``curves.png``: the centre's reward over generations (or training episodes), one panel per
  x, mean over seeds with its bootstrap interval;
* ``membrane.png`` (BPTT runs): distribution of the pre-reset potential relative to
  threshold during training, with the share of local BPTT factors above 1;
* ``firing-<x>.png`` (runs with firing-rate probes, e.g. classification): heat maps of the
  per-class mean firing rate of the probed hidden neurons (neurons x classes), one row per
  arm, one column per recorded generation (seed 0);
* ``firing-rate.png``: the mean firing rate of all hidden neurons over training, per arm;
* ``heterogeneity.png`` (runs that train neuron properties): each property's coefficient of
  variation over training and tau_m's distance to biology (:mod:`hetsnn.report.trajectories`);
* the experiment's own sections (``Experiment.sections``), appended to ``table.md``: the
  ablation table, Shapley values and ``shapley.png`` (:mod:`hetsnn.report.ablation`);
  learned vs measured time constants, ``taudist.csv`` and ``taudist.png``
  (:mod:`hetsnn.report.taudist`); decision margins of the memory task, ``margins.csv``
  and ``margins.png`` (:mod:`hetsnn.report.margins`).

:mod:`~hetsnn.report.build` puts them together; :mod:`~hetsnn.report.common` holds what
every section shares (reading a run directory, tables, saving figures).
"""
