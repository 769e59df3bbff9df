"""Decision margins on the working-memory task: a robust recall, or a vanishing difference?

The simulation is noise-free and the action is an arg-max over two read-outs, so a
cue-dependent difference between them that has decayed to 1e-4 of their range still
decides. A network can therefore "remember" through the exponential tail of its leaky
read-out and hidden potentials, a memory that any noise, or a coarser number format, would
erase. For every finished memory point this replays each seed's final centre on both cues
(:meth:`hetsnn.tasks.MemoryTask.decision_margin`) and reports, per arm and length:

* rewarded: the share of (seed, cue) episodes answered right (so the final-centre reward
  is ``2 * rewarded - 1``); a tie counts, as the arg-max answers it with action 0;
* clear: the share answered right with a margin of at least ``MARGIN`` (1 %) of the
  read-out's range; a tie sits on the decision boundary and is never clear;
* the median margin of the rewarded episodes (0 for a tie).
"""

import dataclasses
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hetsnn import storage  # noqa: E402
from hetsnn.report.common import csv_table, finished_points, fmt, save_figure  # noqa: E402
from hetsnn.rundir import load_centres, read_config  # noqa: E402
from hetsnn.train.spec import RunSpec  # noqa: E402

MARGIN = 0.01  # a recall is "clear" when its margin is >= 1 % of the read-out's range


@partial(jax.jit, static_argnums=(0, 1))
def _margins(task, network, params) -> jax.Array:
    """Margins ``(seeds, 2)`` of every seed's centre on episode 0 (cue -1) and 1 (cue +1)."""

    def one(p, episode):
        record = task.record_episode(network, p, jax.random.key(0), episode)
        return task.decision_margin(record, episode)

    episodes = jnp.arange(2)
    return jax.vmap(lambda p: jax.vmap(lambda e: one(p, e))(episodes))(params)


def point_margins(folder: Path) -> np.ndarray:
    """Decision margins ``(seeds, 2)`` of a finished memory run's final centres."""
    config = read_config(folder)
    spec = RunSpec.from_config(config)
    params = load_centres(folder, config.network.neuron)
    task = dataclasses.replace(spec.task, cue="alternate")  # episode 0 cue -1, 1 cue +1
    return np.asarray(_margins(task, spec.network, params))


def episode_rewards(margins: np.ndarray) -> np.ndarray:
    """The rewards ``(seeds, 2)`` the margins imply: +1 recalled, -1 wrong; a tie answers
    action 0, right for cue -1 (episode 0). Their mean per seed is the final-centre reward."""
    tie_reward = np.array([1.0, -1.0])
    return np.where(margins == 0, tie_reward, np.sign(margins))


def summarise(margins: np.ndarray) -> dict:
    """Shares of rewarded and clearly recalled episodes, and the median margin."""
    rewarded = episode_rewards(margins) > 0
    return {
        "rewarded": float(rewarded.mean()),
        "clear": float((margins >= MARGIN).mean()),
        "median_margin": float(np.median(margins[rewarded])) if rewarded.any() else float("nan"),
    }


def report_section(run_dir: Path, manifest: dict, out: Path) -> str:
    """Markdown table of recalls and margins; writes ``margins.csv`` and ``margins.png``."""
    rows = []
    for point, folder in finished_points(run_dir, manifest):
        summary = summarise(point_margins(folder))
        rows.append({"arm": point["arm"], "x": point["x"], **summary})
    if not rows:
        return ""
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    xs = sorted({r["x"] for r in rows})
    by = {(r["arm"], r["x"]): r for r in rows}
    lines = [
        f"\nDecision margins: share of (seed, cue) episodes rewarded / recalled clearly "
        f"(margin >= {MARGIN:.0%} of the read-out's range), and the median margin of the "
        f"rewarded ones. The simulation is noise-free, so a tiny margin still decides.\n",
        f"| {manifest['x_label']} | " + " | ".join(arms) + " |",
        "| --- |" + " --- |" * len(arms),
    ]
    for x in xs:
        cells = []
        for arm in arms:
            r = by.get((arm, x))
            cells.append(
                "–"
                if r is None
                else f"{r['rewarded']:.2f} / {r['clear']:.2f} (median {fmt(r['median_margin'])})"
            )
        lines.append(f"| {x:g} | " + " | ".join(cells) + " |")
    storage.atomic_write_bytes(out / "margins.csv", csv_table(rows).encode())
    save_figure(_figure(manifest, rows, arms), out / "margins.png")
    return "\n".join(lines) + "\n"


def _figure(manifest: dict, rows: list[dict], arms: list[str]):
    fig, (ax_share, ax_margin) = plt.subplots(
        1, 2, figsize=(12, 3.8), layout="constrained", sharex=True
    )
    smallest = min((r["median_margin"] for r in rows if r["median_margin"] > 0), default=MARGIN)
    floor = min(smallest, MARGIN) / 3  # where a median of 0 is drawn, just above the bottom
    xs = sorted({r["x"] for r in rows})
    for i, arm in enumerate(arms):
        mine = sorted((r for r in rows if r["arm"] == arm), key=lambda r: r["x"])
        x = np.array([r["x"] for r in mine])
        color = f"C{i}"
        ax_share.plot(x, [r["clear"] for r in mine], "o-", color=color, label=arm)
        ax_share.plot(x, [r["rewarded"] for r in mine], "o:", color=color, alpha=0.5)
        margin = np.array([r["median_margin"] for r in mine], float)
        ax_margin.plot(x, np.where(margin > 0, margin, np.nan), "o-", color=color)
    # A median of 0 (no right answer, or a tie) has no place on a log axis: a triangle at
    # the bottom, those of several arms at one x side by side around it.
    dodge = 0.02 * ((xs[-1] - xs[0]) or 1.0)
    for x in xs:
        zero = [
            i
            for i, arm in enumerate(arms)
            if any(r["arm"] == arm and r["x"] == x and r["median_margin"] <= 0 for r in rows)
        ]
        for k, i in enumerate(zero):
            shift = (k - (len(zero) - 1) / 2) * dodge
            ax_margin.plot([x + shift], [floor], "v", color=f"C{i}", markersize=7)
    ax_share.set_xticks(xs)  # the lengths measured, not a linear grid between them
    ax_share.set(
        xlabel=manifest["x_label"],
        ylabel="share of episodes",
        ylim=(-0.03, 1.03),
        title=f"right with margin >= {MARGIN:.0%} (solid), right at all (dotted)",
    )
    ax_margin.set(
        xlabel=manifest["x_label"],
        ylabel="median margin / read-out range",
        yscale="log",
        ylim=(floor / 1.6, 3.0),  # margins are at most 2
        title="margin of the right answers (triangles at the bottom: median 0)",
    )
    ax_margin.axhline(MARGIN, color="grey", lw=0.8, ls="--")
    fig.legend(loc="outside right center", fontsize="small")
    seeds = manifest["settings"].get("seeds")
    seeds = f"{seeds} seed{'' if seeds == 1 else 's'}"
    fig.suptitle(f"every seed's final centre on both cues ({seeds} x 2 episodes per point)")
    return fig
