"""Figure of the dwell times per structural unit: Kaplan-Meier survival of a stay in each unit, with
the Markov model's geometric expectation and its 95 % band.

:func:`plot_dwell_times` draws ``dwell`` (:func:`rvae_pathways.pathways.rates.dwell_times`: per unit
the survival ``S(d)``, the probability that a stay lasts longer than ``d`` frames, with the runs
cut by the movie's or the track's end as censored) and, from ``markov``
(:func:`rvae_pathways.pathways.rates.markov_model`), ``(1 - p)^d`` for the probability ``p`` per frame
of leaving the unit, shaded between its interval's ends.

Nothing here imports ``pyplot`` (figures are built by :mod:`rvae_pathways.figures.kit` on an Agg
canvas). :func:`plot_dwell_times` writes one PNG and returns None; the figure itself comes from
:func:`dwell_times_figure` (used by the tests).
"""

from __future__ import annotations

import textwrap

import numpy as np

from .kit import PAGE_WIDTH_IN, discrete_colours, new_figure, no_data, padded_names, save_figure, styled

NO_RUNS_TEXT = "no stays observed"
DWELL_CAPTION = ("Steps: Kaplan-Meier survival of a stay in each unit (a stay cut by the movie's end or its "
                 "track's end is censored, tick); dashed: (1 - p)^d for the Markov model's probability p per frame "
                 "of leaving the unit, shaded over its 95 % interval.")


def _unit_panel(ax, frames, survival, censored, leave, colour):
    """One unit: the Kaplan-Meier steps, ticks where runs were censored, the geometric curve and band."""
    d = np.concatenate([[0], frames])
    s = np.concatenate([[1.0], survival])
    ax.step(d, s, where="post", color=colour, linewidth=1.6, gid="km")
    if len(censored):
        at = np.clip(np.searchsorted(d, censored, side="right") - 1, 0, len(s) - 1)
        ax.plot(censored, s[at], linestyle="none", marker="|", markersize=7, color=colour, gid="censored")
    if leave.get("estimate") is not None:
        grid = np.linspace(0, max(d[-1], 1), 60)
        ax.plot(grid, (1 - leave["estimate"]) ** grid, color="black", linestyle="--", linewidth=0.9, gid="geometric")
        ax.fill_between(grid, (1 - leave["high"]) ** grid, (1 - leave["low"]) ** grid, color=colour, alpha=0.18,
                        linewidth=0, gid="band")


def dwell_times_figure(dwell, markov=None, unit_names=None):
    """The figure of :func:`plot_dwell_times` (see there)."""
    per_unit = dwell["per_unit"]
    k = len(per_unit)
    if k == 0:
        raise ValueError("dwell holds no units")
    names = padded_names(unit_names if unit_names is not None else dwell.get("units"), k)
    colours = discrete_colours(k)
    cols = min(k, 3)
    rows = int(np.ceil(k / cols))
    fig = new_figure(PAGE_WIDTH_IN, 1.2 + 2.1 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for u, ax in enumerate(axes):
        if u >= k:
            ax.set_visible(False)
            continue
        run = per_unit[u]
        leave = markov["leave"][u] if markov is not None else {}
        if run["n_runs"] == 0:
            no_data(ax, NO_RUNS_TEXT)
        else:
            _unit_panel(ax, np.asarray(run["frames"], float), np.asarray(run["survival"], float),
                        np.asarray(run["censored"], float), leave, colours[u])
        p = leave.get("estimate")
        rate = "" if p is None else f"\np = {p:.3g} [{leave['low']:.2g}, {leave['high']:.2g}] / frame"
        ax.set_title(f"{names[u]}: {run['n_ended']} ended, {run['n_censored']} censored{rate}", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3, linewidth=0.5)
        if u % cols == 0:
            ax.set_ylabel("stay longer than d")
        if u >= k - cols:
            ax.set_xlabel("d (frames)")
    fig.suptitle("Dwell times per structural unit")
    fig.supxlabel("\n".join(textwrap.wrap(DWELL_CAPTION, 110)), fontsize=7.5)
    return fig


@styled
def plot_dwell_times(dwell, path, markov=None, unit_names=None) -> None:
    """Dwell-time survival per structural unit.

    Layout: one small panel per unit (up to three across), d (frames) across and the share of
    stays lasting longer than d up (0 to 1). In each: the Kaplan-Meier steps in the unit's colour
    (``discrete_colours``), a tick at each censored stay; with ``markov``, the geometric
    expectation ``(1 - p)^d`` dashed black over a band in the unit's colour between the
    interval's ends. The title gives the unit, its ended and censored stays and ``p`` with its
    95 % interval. A unit without stays says "no stays observed".

    Parameters
    ----------
    dwell : dict, :func:`rvae_pathways.pathways.rates.dwell_times`
    path : path-like
    markov : dict, optional, :func:`rvae_pathways.pathways.rates.markov_model` on the same units
    unit_names : list of str, optional (default ``dwell["units"]``)
    """
    save_figure(dwell_times_figure(dwell, markov, unit_names), path)
