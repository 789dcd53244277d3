"""Figure of the transformation pathways as a graph: structural classes as nodes, transitions as arrows.

:func:`plot_pathway_graph` draws ``counts`` (n_classes, n_classes), the transitions along tracks:
``counts[i, j]`` from class ``i`` to class ``j`` between consecutive observations of a track (the
diagonal: stayed).

Nothing here imports ``pyplot`` (figures are built by :mod:`rvae_pathways.figures.kit` on an Agg
canvas). Each ``plot_*`` function writes one PNG and returns None; the figure itself comes from the
matching ``*_figure`` function (used by the tests).
"""

from __future__ import annotations

import textwrap

import numpy as np

from .kit import (
    PAGE_WIDTH_IN,
    discrete_colours,
    new_figure,
    no_data,
    padded_names,
    save_figure,
    styled,
)

NO_TRANSITIONS_TEXT = "no transitions"
GRAPH_CAPTION = ("Arrows: transitions along tracks between consecutive observations of an atom "
                 "(count on each arrow, width ~ count); node area ~ {what}.")


def node_positions(k: int) -> np.ndarray:
    """``(k, 2)`` node centres on the unit circle, the first at the top, then clockwise
    (two nodes: left and right; one: the middle)."""
    if k == 1:
        return np.zeros((1, 2))
    start = np.pi if k == 2 else np.pi / 2
    angle = start - 2 * np.pi * np.arange(k) / k
    return np.column_stack([np.cos(angle), np.sin(angle)])


def _count_text(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:.3g}"


ARC_RAD = 0.18  # curvature of the arrows (arc3): i -> j and j -> i bow to opposite sides


@styled
def _transition_arrows(ax, off, xy, diameter, colours) -> None:
    """One curved arrow per observed transition i -> j (off-diagonal ``off[i, j]`` > 0), its width
    growing with the count, the count written at the arc's middle."""
    from matplotlib.patches import FancyArrowPatch

    most = off.max()
    for i, j in np.argwhere(off > 0):
        width = 0.8 + 4.2 * off[i, j] / most
        arrow = FancyArrowPatch(xy[i], xy[j], connectionstyle=f"arc3,rad={ARC_RAD}", arrowstyle="-|>",
                                mutation_scale=9 + 2.2 * width, linewidth=width, color=colours[i], alpha=0.85,
                                shrinkA=diameter[i] / 2 + 2, shrinkB=diameter[j] / 2 + 2, zorder=2,
                                gid="transition")
        ax.add_patch(arrow)
        # midpoint of the arc3 curve (quadratic Bezier, equal aspect): half the control offset
        (x1, y1), (x2, y2) = xy[i], xy[j]
        mid = ((x1 + x2) / 2 + ARC_RAD / 2 * (y2 - y1), (y1 + y2) / 2 - ARC_RAD / 2 * (x2 - x1))
        ax.text(*mid, _count_text(off[i, j]), ha="center", va="center", fontsize=8, zorder=4,
                color="black", gid="count",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": colours[i],
                      "linewidth": 0.8, "alpha": 0.95})


def pathway_graph_figure(counts, class_names, populations=None):
    """The figure of :func:`plot_pathway_graph` (see there)."""
    from matplotlib import patheffects

    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"counts must be a square (n_classes, n_classes) matrix, got shape {counts.shape}")
    k = counts.shape[0]
    if k == 0:
        raise ValueError("counts has no classes")
    names = padded_names(class_names, k)
    colours = discrete_colours(k)
    stayed = np.diag(counts)
    if populations is not None:
        size_of = np.asarray(populations, dtype=float).ravel()
        if size_of.size != k:
            raise ValueError(f"{size_of.size} populations for {k} classes")
        what = "population"
    else:
        size_of = stayed
        what = "observations that stayed in the class (diagonal counts)"
    size_of = np.nan_to_num(np.clip(size_of, 0, None))

    xy = node_positions(k)
    if k == 1:
        xlim, ylim = (-1.5, 1.5), (-1.0, 0.9)
    else:  # room around the nodes for their labels
        xlim = (xy[:, 0].min() - 0.95, xy[:, 0].max() + 0.95)
        ylim = (xy[:, 1].min() - 0.55, xy[:, 1].max() + 0.55)
    width = PAGE_WIDTH_IN * 0.85
    ax_w = width - 0.3
    ax_h = ax_w * (ylim[1] - ylim[0]) / (xlim[1] - xlim[0])
    fig = new_figure(width, ax_h + 1.5)
    ax = fig.subplots()
    ax.set_aspect("equal")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_axis_off()

    # node diameters in points: area ~ size, the largest fits between neighbours
    unit_pt = 72.0 * 0.95 * ax_w / (xlim[1] - xlim[0])  # about one data unit in points
    chord = 2 * np.sin(np.pi / k) * unit_pt if k > 2 else 2 * unit_pt
    d_max = min(60.0, 0.5 * chord)
    d_min = 9.0
    top = size_of.max()
    diameter = d_max * np.sqrt(size_of / top) if top > 0 else np.full(k, 0.6 * d_max)
    diameter = np.clip(diameter, d_min, d_max)
    ax.scatter(xy[:, 0], xy[:, 1], s=diameter**2, color=colours, edgecolors="black", linewidths=0.8, zorder=3,
               gid="nodes")
    outline = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for c in range(k):
        direction = xy[c] / np.linalg.norm(xy[c]) if np.linalg.norm(xy[c]) > 0 else np.array([0.0, 1.0])
        offset = diameter[c] / 2 + 5
        text = names[c].replace(" (", "\n(")
        details = f"stayed {_count_text(stayed[c])}"
        if populations is not None:
            details = f"n = {_count_text(size_of[c])}, " + details
        ha = "center" if abs(direction[0]) < 0.3 else ("left" if direction[0] > 0 else "right")
        va = "center" if abs(direction[1]) < 0.3 else ("bottom" if direction[1] > 0 else "top")
        ax.annotate(f"{text}\n{details}", xy[c], xytext=tuple(direction * offset), textcoords="offset points",
                    ha=ha, va=va, fontsize=8, color="black", multialignment="center", zorder=6,
                    path_effects=outline)

    off = counts.copy()
    np.fill_diagonal(off, 0)
    if (off > 0).any():
        _transition_arrows(ax, off, xy, diameter, colours)
    else:
        no_data(ax, NO_TRANSITIONS_TEXT)
        if k == 1:  # the one node is in the middle
            ax.texts[-1].set_position((0.5, 0.1))
    total = off.sum()
    fig.suptitle(f"Transitions between structural classes along tracks\n"
                 f"({_count_text(total)} transitions, {_count_text(stayed.sum())} stays)")
    fig.supxlabel("\n".join(textwrap.wrap(GRAPH_CAPTION.format(what=what), 95)), fontsize=7.5)
    return fig


@styled
def plot_pathway_graph(counts, class_names, path, populations=None) -> None:
    """The transformation pathways as a graph: classes as nodes, transitions as arrows.

    Layout: one panel. Each class is a disc in its colour (``discrete_colours``) on a
    circle, the first at the top and the others clockwise, its area proportional to
    ``populations`` (else the diagonal of ``counts``, the observations that stayed), labelled
    with its name and counts. Each nonzero off-diagonal ``counts[i, j]`` is an arrow from
    ``i`` to ``j`` in the colour of ``i``, its width growing with the count and the count
    written at its middle; arrows are curved so ``i -> j`` and ``j -> i`` bow to opposite
    sides. A caption under the panel says what is counted. Without any off-diagonal count the
    panel says "no transitions".

    Parameters
    ----------
    counts : array (n_classes, n_classes)
        ``counts[i, j]``: transitions from class ``i`` to class ``j`` along tracks between
        consecutive observations (the diagonal: stayed).
    class_names : list of str
    path : path-like
    populations : array (n_classes,), optional
        E.g. the number of atom observations of each class.
    """
    save_figure(pathway_graph_figure(counts, class_names, populations), path)
