"""Checks of a figure's layout before it is saved: text that another text hides, and
panels a failed layout squashed.

:func:`hetsnn.report.common.save_figure` saves with a tight bounding box, so no title, label
or legend is cut off at the canvas edge; what remains to go wrong is overlap. A legend or
title over an axis label, a title or tick labels, or two panels' labels on each other, is
reported by :func:`layout_faults` and raised as a :class:`FigureLayoutWarning` (the test
suite turns it into an error, so every figure a test draws is checked). So is a constrained
layout that gave up: matplotlib then only warns and draws the panels as slivers.
"""

import warnings

from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import Bbox


class FigureLayoutWarning(UserWarning):
    """A figure's texts overlap (see :func:`layout_faults`)."""


def _drawn_tick_labels(axis, limits) -> list[Text]:
    """The tick labels ``axis`` draws: matplotlib also lays out ticks beyond the view
    limits, which it does not draw."""
    low, high = sorted(limits)
    slack = 1e-9 * max(abs(low), abs(high), 1.0)
    return [
        tick.label1
        for tick in axis.get_major_ticks()
        if low - slack <= tick.get_loc() <= high + slack
    ]


def _labels(fig: Figure) -> list[tuple[str, Text, object]]:
    """``(what, text, its panel)`` for every visible, non-empty title, axis label, text
    placed on a panel and drawn tick label (panel None for the suptitle)."""
    found = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for what, text in (
            ("title", ax.title),
            ("left title", ax._left_title),
            ("right title", ax._right_title),
            ("x-label", ax.xaxis.label),
            ("y-label", ax.yaxis.label),
        ):
            found.append((what, text, ax))
        found += [("text", t, ax) for t in ax.texts]
        found += [("x tick label", t, ax) for t in _drawn_tick_labels(ax.xaxis, ax.get_xlim())]
        found += [("y tick label", t, ax) for t in _drawn_tick_labels(ax.yaxis, ax.get_ylim())]
    if fig._suptitle is not None:
        found.append(("suptitle", fig._suptitle, None))
    return [(w, t, ax) for w, t, ax in found if t.get_visible() and t.get_text().strip()]


def _overlap(a: Bbox, b: Bbox, slack: float = 1.0) -> bool:
    """Whether two boxes (pixels) share more than ``slack`` pixels in both directions."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > slack and min(a.y1, b.y1) - max(a.y0, b.y0) > slack


def layout_faults(fig: Figure) -> list[str]:
    """Every pair of a legend and a label, or of two labels of different panels (or of a
    panel and the suptitle), whose boxes overlap, as ``"legend over x-label 'generation'"``;
    and a constrained layout that collapsed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    collapsed = [w for w in caught if "constrained_layout not applied" in str(w.message)]
    if collapsed:
        return [f"the constrained layout collapsed ({collapsed[0].message})"]
    for w in caught:  # anything else is not ours to judge: pass it on
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    renderer = fig.canvas.get_renderer()
    labels = [(w, t, ax, t.get_window_extent(renderer)) for w, t, ax in _labels(fig)]
    legends = [a for a in fig.findobj(Legend) if a.get_visible()]
    faults = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        faults += [
            f"legend over {what} {text.get_text()!r}"
            for what, text, _, extent in labels
            if _overlap(box, extent)
        ]
    for i, (what_a, a, panel_a, box_a) in enumerate(labels):
        for what_b, b, panel_b, box_b in labels[i + 1 :]:
            if (panel_a is None or panel_a is not panel_b) and _overlap(box_a, box_b):
                faults.append(f"{what_a} {a.get_text()!r} over {what_b} {b.get_text()!r}")
    return faults
