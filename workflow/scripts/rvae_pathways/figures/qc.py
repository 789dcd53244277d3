"""Figure of the atom quality check: each lattice metric against frame, in its verdict bands.

Input
-----
``qc``: the QC JSON of one sample (see :mod:`rvae_pathways.stem.qc`)::

    {"sample": "graphene_1",                  # optional
     "frames": [{"frame": 0, "verdict": "ok", "reasons": [], "density_ratio": 0.8, ...}, ...],
     "summary": {"verdict": "warn", "counts": {"ok": 9, "warn": 1, "fail": 0}, ...}}

Every value comes from the JSON; only the bands are read from
:data:`rvae_pathways.stem.qc_verdicts.THRESHOLDS`, the same numbers that made the verdicts. A metric
missing from a frame (None: no atoms, nothing resolved) leaves a gap.

Like the other figure modules (sharing the style and helpers of :mod:`rvae_pathways.figures.kit`)
nothing here imports ``pyplot``. :func:`plot_atom_qc` writes one PNG and returns None; the figure
itself comes from :func:`atom_qc_figure` (used by the tests).
"""

from __future__ import annotations

import numpy as np

from ..stem.qc_verdicts import THRESHOLDS, VERDICTS
from .kit import PAGE_WIDTH_IN, count_label, new_figure, no_data, save_figure, styled

#: The panels, in reading order: (metric, panel title, y label, y range shown at least).
PANELS = (
    ("density_ratio", "Atom density in the lattice", "atoms per spacing²", (0.0, 2.8)),
    ("nn_ratio_median", "Nearest-neighbour distance", "median distance / spacing", (0.0, 2.2)),
    ("missed_peak_share", "Lattice peaks without an atom", "share of the peaks", (0.0, 1.0)),
    ("resolved_fraction", "Field with a resolved lattice", "share of the field", (0.0, 1.0)),
    ("lattice_atom_share", "Atoms with a neighbour at ~1 spacing", "share of the atoms", (0.0, 1.0)),
    ("outside_lattice_share", "Atoms outside the lattice", "share of the atoms", (0.0, 1.0)),
    ("amorphous_fraction", "Material without a lattice", "share of the field", (0.0, 1.0)),
)
#: Colours of the verdicts: points (frames) in full, bands faint.
VERDICT_COLOURS = {"ok": "#2ca02c", "warn": "#ff9f1a", "fail": "#d62728"}
BAND_ALPHA = 0.13
NO_VALUES_TEXT = "no values"


def verdict_bands(name: str, low: float, high: float) -> list[tuple[str, float, float]]:
    """The (verdict, from, to) intervals of a metric's bands within ``low..high``.

    >>> verdict_bands("outside_lattice_share", 0.0, 1.0)
    [('ok', 0.0, 0.15), ('warn', 0.15, 0.5), ('fail', 0.5, 1.0)]
    """
    bands = THRESHOLDS[name]
    inf = float("inf")
    ok_lo, warn_lo = (-inf if v is None else v for v in (bands["ok"][0], bands["warn"][0]))
    ok_hi, warn_hi = (inf if v is None else v for v in (bands["ok"][1], bands["warn"][1]))
    edges = [("fail", -inf, warn_lo), ("warn", warn_lo, ok_lo), ("ok", ok_lo, ok_hi), ("warn", ok_hi, warn_hi),
             ("fail", warn_hi, inf)]
    out = []
    for verdict, start, end in edges:
        start, end = max(start, low), min(end, high)
        if end > start:
            out.append((verdict, float(start), float(end)))
    return out


def _values(frames: list[dict], name: str) -> np.ndarray:
    return np.array([np.nan if f.get(name) is None else float(f[name]) for f in frames])


def _title(qc: dict) -> str:
    summary = qc.get("summary") or {}
    frames = qc.get("frames") or []
    verdict = summary.get("verdict", "?")
    counts = summary.get("counts") or {}
    parts = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
    sample = f" of {qc['sample']}" if qc.get("sample") else ""
    return f"Atom QC{sample}: {str(verdict).upper()} ({count_label(len(frames), 'frame')}: {parts})"


@styled
def atom_qc_figure(qc: dict):
    """The figure of :func:`plot_atom_qc` (see there)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    frames = list(qc.get("frames") or [])
    numbers = np.array([f.get("frame", i) for i, f in enumerate(frames)], dtype=float)
    verdicts = [f.get("verdict", "ok") for f in frames]
    order = np.argsort(numbers, kind="stable")
    numbers = numbers[order]
    frames = [frames[i] for i in order]
    verdicts = [verdicts[i] for i in order]
    many = len(frames) > 60

    rows = -(-len(PANELS) // 2)
    fig = new_figure(PAGE_WIDTH_IN, 2.45 * rows + 0.05)
    grid = fig.subplots(rows, 2, sharex=True)
    for ax in grid.ravel()[len(PANELS):]:
        ax.set_visible(False)
    axes = grid.ravel()[: len(PANELS)]
    for ax, (name, title, label, (low, high)) in zip(axes, PANELS):
        values = _values(frames, name)
        finite = values[np.isfinite(values)]
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()) * 1.05)
        pad = 0.02 * (high - low)
        for verdict, start, end in verdict_bands(name, low - pad, high + pad):
            ax.axhspan(start, end, color=VERDICT_COLOURS[verdict], alpha=BAND_ALPHA, linewidth=0, zorder=0,
                       gid=f"band-{verdict}")
        if finite.size:
            ax.plot(numbers, values, color="0.55", linewidth=0.6, zorder=1)
            for verdict in VERDICTS:
                here = np.array([v == verdict for v in verdicts]) & np.isfinite(values)
                if here.any():
                    ax.scatter(numbers[here], values[here], s=9 if many else 22, color=VERDICT_COLOURS[verdict],
                               edgecolors="black", linewidths=0.3 if many else 0.5, zorder=3, gid=f"frames-{verdict}")
        else:
            no_data(ax, NO_VALUES_TEXT)
        ax.set_ylim(low - pad, high + pad)
        ax.set_title(title)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, linewidth=0.5)
    for ax in axes[-2:]:  # the lowest panel of each column
        ax.set_xlabel("frame (index)")
        ax.xaxis.set_tick_params(labelbottom=True)
    if len(frames):
        span = max(numbers.max() - numbers.min(), 1.0)
        axes[0].set_xlim(numbers.min() - 0.03 * span - 0.5, numbers.max() + 0.03 * span + 0.5)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))

    counts = {v: verdicts.count(v) for v in VERDICTS}
    handles = [Line2D([], [], linestyle="none", marker="o", markersize=5, markerfacecolor=VERDICT_COLOURS[v],
                      markeredgecolor="black", markeredgewidth=0.5, label=f"frame {v} ({counts[v]})")
               for v in VERDICTS]
    handles += [Patch(facecolor=VERDICT_COLOURS[v], alpha=min(1.0, 3 * BAND_ALPHA), label=f"{v} band")
                for v in VERDICTS]
    fig.legend(handles=handles, loc="outside lower center", ncols=6, fontsize=7.5)
    fig.suptitle(_title(qc))
    return fig


@styled
def plot_atom_qc(qc: dict, path) -> None:
    """The lattice metrics of every frame of one sample, in their ok / warn / fail bands.

    Layout: seven panels (four rows of two, frame across, shared): atom density in the resolved
    lattice (atoms per spacing²), median nearest-neighbour distance over the spacing, share of
    the lattice's peaks without an atom, share of the field with a resolved lattice, share of
    atoms with a neighbour at about one spacing, share of atoms outside the lattice, share of
    the field holding material without a lattice (an amorphous support). Each panel
    is shaded green / orange / red where :data:`~rvae_pathways.stem.qc_verdicts.THRESHOLDS` make a value
    ok / warn / fail (the resolved share fails only with atoms found). Points are the frames,
    coloured by the frame's verdict (the worst of its metrics), joined by a grey line. One legend
    under the panels; the title names the sample, its summary verdict and the frame counts.

    Parameters
    ----------
    qc : dict
        ``{"frames": [metrics per frame, with "frame"], "summary": {...}}``, optional
        ``"sample"`` (see the module notes).
    path : path-like
        The PNG written.
    """
    save_figure(atom_qc_figure(qc), path)
