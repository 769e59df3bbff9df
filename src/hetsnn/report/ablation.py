"""The ablation table and the Shapley values of the neuron properties, from a run directory.

The game of each environment: the players are the ablated properties; the value of a
coalition S is the mean return of the final centres (over seeds) when exactly the
properties in S were trained; the value of the empty coalition is the return of the
untrained networks (every run's generation-0 centre, pooled over runs and seeds).
Shapley values are linear in the value function, so the value computed from mean returns
equals the mean over seeds of the per-seed values; the spread reported is the std of the
per-seed values (seed s of every run forms game s).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hetsnn import storage  # noqa: E402
from hetsnn.analysis.shapley import coalitions, shapley_values  # noqa: E402
from hetsnn.report.common import cell, csv_table, finished_points, fmt, save_figure, summarise  # noqa: E402
from hetsnn.rundir import RESULT, read_config  # noqa: E402

CHECK = "✓"


def collect(run_dir: Path, manifest: dict) -> dict[str, dict]:
    """Per environment: ``{"runs": {frozenset(subset): result}, "untrained": (runs*seeds,)}``
    for the finished points of ``run_dir``."""
    games: dict[str, dict] = {}
    for point, folder in finished_points(run_dir, manifest):
        config, result = read_config(folder), storage.read_json(folder / RESULT, dict)
        game = games.setdefault(point["arm"], {"runs": {}, "untrained": []})
        game["runs"][frozenset(config.trainable)] = result
        game["untrained"].extend(result["initial_centre_reward"])
    for game in games.values():
        game["untrained"] = np.asarray(game["untrained"], float)
    return games


def per_seed_values(game: dict, players: list[str]) -> dict[frozenset, np.ndarray] | None:
    """``v(S)`` per seed, ``(seeds,)`` for every coalition, or None while runs are missing."""
    runs = game["runs"]
    if any(s not in runs for s in coalitions(players) if s):
        return None
    seeds = min(len(r["final_centre_reward"]) for r in runs.values())
    untrained = np.stack([r["initial_centre_reward"][:seeds] for r in runs.values()]).mean(0)
    values = {frozenset(): untrained}
    values.update({s: np.asarray(r["final_centre_reward"][:seeds], float) for s, r in runs.items()})
    return values


def shapley_table(game: dict, players: list[str]) -> dict[str, tuple[float, float]] | None:
    """``{player: (Shapley value of the mean returns, std over per-seed games)}``."""
    values = per_seed_values(game, players)
    if values is None:
        return None
    seeds = len(values[frozenset()])
    per_seed = [
        shapley_values(players, {s: float(v[i]) for s, v in values.items()}) for i in range(seeds)
    ]
    mean = shapley_values(players, {s: float(v.mean()) for s, v in values.items()})
    return {p: (mean[p], float(np.std([phi[p] for phi in per_seed]))) for p in players}


def report_section(run_dir: Path, manifest: dict, out: Path) -> str:
    """Markdown of the ablation table and the Shapley values; writes ``shapley.png`` and
    ``shapley.csv`` (full precision)."""
    players = list(manifest["settings"]["properties"])
    games = collect(run_dir, manifest)
    envs = list(games)
    if not envs:
        return ""

    lines = [
        "\n## Ablation: trained properties (the rest at the homogeneous defaults)\n",
        "| " + " | ".join(players) + " | " + " | ".join(envs) + " |",
        "|" + " :---: |" * len(players) + " --- |" * len(envs),
    ]
    for subset in coalitions(players)[1:]:
        marks = [CHECK if p in subset else "" for p in players]
        results = [games[env]["runs"].get(subset) for env in envs]
        cells = [cell(None if r is None else summarise(r)) for r in results]
        lines.append("| " + " | ".join(marks + cells) + " |")
    untrained = [
        f"{fmt(games[e]['untrained'].mean())} ± {fmt(games[e]['untrained'].std(), 2)}" for e in envs
    ]
    lines.append("| " + " | ".join([""] * len(players) + untrained) + " |")
    lines += [
        "",
        "Cells: return of the final centre, mean ± std over seeds (in brackets: all "
        "individuals of the last generation, pooled over seeds). Last row (nothing trained): "
        "the untrained networks, every run's generation-0 centre pooled over runs and seeds. "
        "The subset numbers of the first table follow these rows' order.",
    ]

    tables = {env: shapley_table(games[env], players) for env in envs}
    complete = {env: t for env, t in tables.items() if t is not None}
    if complete:
        lines += [
            "\n## Shapley values of the properties\n",
            "| property | " + " | ".join(complete) + " |",
            "|" + " --- |" * (len(complete) + 1),
        ]
        for p in players:
            row = [f"{fmt(t[p][0])} ± {fmt(t[p][1], 2)}" for t in complete.values()]
            lines.append(f"| {p} | " + " | ".join(row) + " |")
        sums = []
        for env, t in complete.items():
            values = per_seed_values(games[env], players)
            gain = values[frozenset(players)].mean() - values[frozenset()].mean()
            sums.append(f"{env} {fmt(sum(v[0] for v in t.values()))} = {fmt(gain)}")
        lines += [
            "",
            "Exact Shapley values of the mean returns (± std over per-seed games). "
            "Efficiency: the values add up to v(all) - v(none): " + "; ".join(sums) + ".",
        ]
        shapley_figure(complete, players, out / "shapley.png")
        rows = [
            {"env": env, "property": p, "shapley": t[p][0], "std_over_seeds": t[p][1]}
            for env, t in complete.items()
            for p in players
        ]
        storage.atomic_write_bytes(out / "shapley.csv", csv_table(rows).encode())
    missing = [env for env, t in tables.items() if t is None]
    if missing:
        lines.append(f"\nShapley values need all {2 ** len(players) - 1} subsets: "
                     f"{', '.join(missing)} incomplete.")  # fmt: skip
    return "\n".join(lines) + "\n"


def shapley_figure(tables: dict, players: list[str], path: Path) -> None:
    """One bar chart per environment: Shapley value of each property, ±1 std over seeds."""
    fig, axes = plt.subplots(
        1, len(tables), figsize=(3.6 * len(tables), 3.2), dpi=110, squeeze=False
    )
    for ax, (env, table) in zip(axes.flat, tables.items(), strict=True):
        values = [table[p][0] for p in players]
        errors = [table[p][1] for p in players]
        colours = [f"C{i}" for i in range(len(players))]
        ax.bar(players, values, yerr=errors, color=colours, capsize=3)
        ax.axhline(0.0, color="k", linewidth=0.8)
        ax.set_title(env)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("Shapley value (return)")
    fig.suptitle(
        "contribution of each trained property (error bars: ±1 std over the per-seed games)",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, path)
