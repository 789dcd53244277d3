"""Figure of the transformation pathways as a graph: structural units (or Gaussian classes) as nodes,
transitions as arrows.

:func:`plot_pathway_graph` draws ``counts`` (n, n), the transitions along tracks: ``counts[i, j]``
from unit or class ``i`` to ``j`` between consecutive observations of a track (the diagonal:
stayed). With ``edge_labels`` (e.g. :func:`rate_labels`: the probability per frame and its 95 %
interval from the Markov model of :mod:`rvae_pathways.pathways.rates`) each arrow carries that
text instead of its count; labels that would overlap are moved apart
(:func:`rvae_pathways.figures.labels.spread_labels`).

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
    fit_to_canvas,
    new_figure,
    no_data,
    padded_names,
    save_figure,
    styled,
)
from .labels import spread_labels

NO_TRANSITIONS_TEXT = "no transitions"
GRAPH_CAPTION = ("Arrows: transitions along tracks between consecutive observations of an atom "
                 "(count on each arrow, width ~ count); node area ~ {what}.")
RATE_CAPTION = ("Arrows: transitions along tracks between consecutive frames (width ~ count); on each: the "
                "probability per frame [95 % interval, Dirichlet posterior] and the count (n); node area ~ {what}.")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2g}"


def rate_labels(markov) -> list[list[str]]:
    """Arrow texts from a Markov model (:func:`rvae_pathways.pathways.rates.markov_model`): the
    probability per frame, its 95 % interval and the count, ``"0.16 [0.09, 0.26]\nn = 12"``."""
    est, low, high = (markov["per_frame"][key] for key in ("estimate", "low", "high"))
    counts = markov["counts"]
    return [[f"{_fmt(est[i][j])} [{_fmt(low[i][j])}, {_fmt(high[i][j])}]\nn = {counts[i][j]}"
             for j in range(len(counts))] for i in range(len(counts))]


def leave_notes(markov) -> list[str]:
    """Node texts from a Markov model: the probability per frame of leaving each unit and its interval."""
    return ["" if row["estimate"] is None else
            f"leaves {_fmt(row['estimate'])}/frame\n[{_fmt(row['low'])}, {_fmt(row['high'])}]"
            for row in markov["leave"]]


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
def _transition_arrows(ax, off, xy, diameter, colours, edge_labels=None) -> None:
    """One curved arrow per observed transition i -> j (off-diagonal ``off[i, j]`` > 0), its width
    growing with the count, the count (or ``edge_labels[i][j]``) written at the arc's middle."""
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
        text = _count_text(off[i, j]) if edge_labels is None else edge_labels[i][j]
        ax.text(*mid, text, ha="center", va="center", fontsize=8 if edge_labels is None else 6.5, zorder=4,
                color="black", gid="count",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": colours[i],
                      "linewidth": 0.8, "alpha": 0.95})


def _nodes(ax, xy, diameter, colours, names, stayed, populations=None, notes=None) -> None:
    """The discs and their labels (name, population, stays), outside each disc away from the centre."""
    from matplotlib import patheffects

    k = len(xy)
    ax.scatter(xy[:, 0], xy[:, 1], s=diameter**2, color=colours, edgecolors="black", linewidths=0.8, zorder=3,
               gid="nodes")
    outline = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for c in range(k):
        direction = xy[c] / np.linalg.norm(xy[c]) if np.linalg.norm(xy[c]) > 0 else np.array([0.0, 1.0])
        offset = diameter[c] / 2 + 5
        text = names[c].replace(" (", "\n(")
        details = f"stayed {_count_text(stayed[c])}"
        if populations is not None:
            details = f"n = {_count_text(populations[c])}, " + details
        if notes is not None and notes[c]:
            details += "\n" + notes[c]
        ha = "center" if abs(direction[0]) < 0.3 else ("left" if direction[0] > 0 else "right")
        va = "center" if abs(direction[1]) < 0.3 else ("bottom" if direction[1] > 0 else "top")
        ax.annotate(f"{text}\n{details}", xy[c], xytext=tuple(direction * offset), textcoords="offset points",
                    ha=ha, va=va, fontsize=8, color="black", multialignment="center", zorder=6,
                    path_effects=outline, gid="node-label")


def pathway_graph_figure(counts, class_names, populations=None, edge_labels=None, noun="class", node_notes=None):
    """The figure of :func:`plot_pathway_graph` (see there)."""
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
        what = f"observations that stayed in the {noun} (diagonal counts)"
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
    _nodes(ax, xy, diameter, colours, names, stayed, size_of if populations is not None else None, node_notes)

    off = counts.copy()
    np.fill_diagonal(off, 0)
    if (off > 0).any():
        _transition_arrows(ax, off, xy, diameter, colours, edge_labels)
    else:
        no_data(ax, NO_TRANSITIONS_TEXT)
        if k == 1:  # the one node is in the middle
            ax.texts[-1].set_position((0.5, 0.1))
    total = off.sum()
    plural = "units" if noun == "unit" else "classes"
    fig.suptitle(f"Transitions between structural {plural} along tracks\n"
                 f"({_count_text(total)} transitions, {_count_text(stayed.sum())} stays)")
    caption = GRAPH_CAPTION if edge_labels is None else RATE_CAPTION
    fig.supxlabel("\n".join(textwrap.wrap(caption.format(what=what), 95)), fontsize=7.5)
    fit_to_canvas(fig)  # the final layout first: labels are spread in display pixels
    spread_labels(fig, [t for t in ax.texts if t.get_gid() == "count"],
                  fixed=[t for t in ax.texts if t.get_gid() == "node-label"])
    return fig


@styled
def plot_pathway_graph(counts, class_names, path, populations=None, edge_labels=None, noun="class",
                       node_notes=None) -> None:
    """The transformation pathways as a graph: units or classes as nodes, transitions as arrows.

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
    edge_labels : (n, n) nested list of str, optional
        The text on each arrow instead of its count (e.g. :func:`rate_labels`); arrow labels that
        would overlap are moved apart.
    noun : str
        "class" or "unit", for the title and caption.
    node_notes : list of str, optional
        A line under each node's counts (e.g. :func:`leave_notes`).
    """
    save_figure(pathway_graph_figure(counts, class_names, populations, edge_labels, noun, node_notes), path)
