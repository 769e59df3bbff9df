"""What each preset of the built-in experiments costs, as measured (``hetsnn list`` prints it).

``smoke`` and ``small``: wall time of ``hetsnn run NAME --preset P`` on 2 CPU cores (an AMD
EPYC virtual machine), compilation included; ``small`` from the README's table, ``smoke``
measured once for the cluster comparison of docs/cluster.md. ``paper``: measured where the
README says so (memory on one H100), else docs/cost.md's projection or estimate, marked.
"""

COSTS: dict[str, dict[str, str]] = {
    "memory": {"smoke": "30 s", "small": "1 min 02 s", "paper": "4 min 29 s on one H100"},
    "cartpole": {"smoke": "23 s", "small": "36 s", "paper": "a GPU job, not measured"},
    "bp-vs-es": {"smoke": "57 s", "small": "6 min", "paper": "about 2 h on 2 CPU cores, estimated"},
    "bp-lr": {"smoke": "68 s", "small": "6 min", "paper": "a GPU job, not measured"},
    "bp-surrogate": {"smoke": "50 s", "small": "5.5 min", "paper": "a GPU job, not measured"},
    "classify": {"smoke": "28 s", "small": "1 min 52 s", "paper": "20 min on one H100, projected"},
    "classify-variants": {
        "smoke": "1 min 50 s",
        "small": "19 min 34 s",
        "paper": "a GPU job, not measured",
    },
    "control": {
        "smoke": "1 min 43 s",
        "small": "13 min",
        "paper": "5.3 h on one H100 (ant, hopper)",
    },
    "ablation": {
        "smoke": "33 s",
        "small": "27 min",
        "paper": "10 h on one H100 for ant and hopper, projected",
    },
    "quenched": {"smoke": "25 s", "small": "1 min 57 s", "paper": "a GPU job, not measured"},
    "hrsnn": {"smoke": "24 s", "small": "1 min 53 s", "paper": "a GPU job, not measured"},
    "ei": {"smoke": "23 s", "small": "2 min 08 s", "paper": "a GPU job, not measured"},
}


def preset_line(name: str, presets) -> str:
    """``smoke (30 s), small (1 min 02 s), paper (7 min on one H100)``: each preset with its
    measured cost when there is one (a researcher's own experiment has none)."""
    costs = COSTS.get(name, {})
    return ", ".join(f"{p} ({costs[p]})" if p in costs else p for p in presets)
