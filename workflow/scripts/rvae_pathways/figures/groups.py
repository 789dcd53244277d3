"""Figure of a group: its movies compared in the latent space they share (``comparison.json`` of
rule ``compare_group``, :mod:`rvae_pathways.pathways.groups`).

:func:`plot_group_comparison` draws six panels, the movies coloured along the comparison's axis
(dose per frame, frame time, or the movies' order):

- top: the distribution of z1 and of z2 of every movie on common bins; right of them each
  structural unit's share of the atoms (mean over frames) against the axis;
- bottom: persistent unit changes (events along tracks) per frame against the axis, with their
  95 % interval; the same per unit dose (a cross-section, A^2/e), or per second without doses;
  and the four most populous units' probability of being left per frame (Markov model, 95 %
  interval).

Axes name their power of ten (``10^6 e-/A^2``) rather than carry an offset text.

Nothing here imports ``pyplot``; :func:`group_comparison_figure` returns the figure (tests).
"""

from __future__ import annotations

import numpy as np

from .kit import PAGE_WIDTH_IN, discrete_colours, new_figure, no_data, save_figure, styled

MOST_UNITS = 6  # units drawn in the fraction panel (the most populous); the leaving panel draws 4
AXES = {
    "dose_e_per_A2_per_frame": ("dose per frame", "e$^-$/Å$^2$"),
    "frame_time_s": ("frame time", "s"),
}


def named_power(values) -> tuple[float, str]:
    """A power of ten to divide ``values`` by, and its name for an axis label (1 and "" for values
    between 0.01 and 1000), so that no axis carries an offset text."""
    finite = np.abs([v for v in values if v is not None and np.isfinite(v) and v != 0])
    if not len(finite):
        return 1.0, ""
    power = int(np.floor(np.log10(finite.max())))
    return (1.0, "") if -2 <= power <= 2 else (10.0 ** power, f"10$^{{{power}}}$ ")


def _movie_colours(values) -> list:
    """A colour per movie along the comparison axis (viridis, by rank)."""
    import matplotlib

    ranks = np.argsort(np.argsort(values)) if len(values) > 1 else np.zeros(1)
    return [matplotlib.colormaps["viridis"](0.9 * r / max(len(values) - 1, 1)) for r in ranks]


def _x(axis: dict) -> np.ndarray:
    """The movies' positions on the comparison axis (in its named power of ten)."""
    values = np.asarray(axis["values"], float)
    return values if axis["name"] == "movie" else values / named_power(values)[0]


def _axis_scale(ax, axis: dict) -> None:
    """The x axis of a panel against the comparison axis: its label (with a named power of ten),
    log scale over a factor 4, the movies' names as ticks when compared by order."""
    x = _x(axis)
    if axis["name"] == "movie":
        ax.set_xlabel("movie")
        ax.set_xticks(x, axis.get("ticks", []), rotation=30, ha="right")
        return
    name, unit = AXES[axis["name"]]
    ax.set_xlabel(f"{name} ({named_power(axis['values'])[1]}{unit})")
    if x.min() > 0 and x.max() / x.min() >= 4:
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()


def _densities(ax, comparison: dict, latent: int, colours) -> None:
    edges = comparison["latent_edges"]
    if latent >= len(edges):
        no_data(ax, f"no z{latent + 1}")
        return
    centres = 0.5 * (np.asarray(edges[latent][1:]) + np.asarray(edges[latent][:-1]))
    for movie, colour in zip(comparison["per_movie"], colours):
        ax.plot(centres, movie["latent_density"][latent], color=colour, lw=1.2, label=movie["sample"])
    ax.set_xlabel(f"z{latent + 1}")
    ax.set_ylabel("density")
    ax.set_title(f"z{latent + 1} per movie")


def _against_axis(ax, axis, rows, colours, title, unit) -> None:
    """Points (estimate, low, high per movie; None: not known) against the comparison axis, the
    y axis in ``unit`` times a named power of ten."""
    x = _x(axis)
    known = [i for i, r in enumerate(rows) if r is not None and r.get("estimate") is not None]
    if not known:
        no_data(ax, "not known")
    scale, power = named_power([rows[i]["high"] for i in known])
    for i in known:
        est, low, high = (rows[i][key] / scale for key in ("estimate", "low", "high"))
        ax.errorbar([x[i]], [est], yerr=[[est - low], [high - est]], fmt="o", color=colours[i], capsize=3)
    ax.plot(x[known], [rows[i]["estimate"] / scale for i in known], color="0.6", lw=0.8, zorder=0)
    ax.set_title(title)
    ax.set_ylabel(f"{power}{unit}")
    _axis_scale(ax, axis)
    ax.set_ylim(bottom=0)


def _units(ax, comparison, axis, kind: str) -> None:
    """Each of the most populous units against the axis: its share, or its leaving probability."""
    names = comparison["units"]["names"]
    x = _x(axis)
    share = np.array([m["unit_fraction"] for m in comparison["per_movie"]])
    top = np.argsort(-share.mean(axis=0), kind="stable")[: MOST_UNITS if kind == "fraction" else 4]
    colours = discrete_colours(len(names))
    order = np.argsort(x, kind="stable")
    for u in top:
        if kind == "fraction":
            ax.plot(x[order], share[order, u], "o-", color=colours[u], label=names[u], ms=4)
            continue
        rows = [m["leave"]["leave"][u] for m in comparison["per_movie"]]
        est = np.array([np.nan if r["estimate"] is None else r["estimate"] for r in rows])
        low, high = np.array([r["low"] for r in rows]), np.array([r["high"] for r in rows])
        ax.errorbar(x[order], est[order], yerr=[np.maximum(est - low, 0)[order], np.maximum(high - est, 0)[order]],
                    fmt="o-", color=colours[u], ms=4, capsize=2, lw=1, elinewidth=0.6, alpha=0.85)
    ax.set_title("share of the atoms" if kind == "fraction" else "leaving probability per frame")
    ax.set_ylabel("fraction" if kind == "fraction" else "1/frame")
    _axis_scale(ax, axis)
    ax.set_ylim(bottom=0)


@styled
def group_comparison_figure(comparison: dict, title: str | None = None):
    """The figure :func:`plot_group_comparison` writes (see the module docstring)."""
    axis, movies = comparison["axis"], comparison["per_movie"]
    colours = _movie_colours(axis["values"])
    fig = new_figure(PAGE_WIDTH_IN, 5.6)
    axes = fig.subplots(2, 3)
    _densities(axes[0, 0], comparison, 0, colours)
    _densities(axes[0, 1], comparison, 1, colours)
    _units(axes[0, 2], comparison, axis, "fraction")
    events = [m["events"] for m in movies]
    _against_axis(axes[1, 0], axis, [e["per_frame"] for e in events], colours, "unit changes per frame",
                  "events/frame")
    if axis["name"] == "dose_e_per_A2_per_frame" or all(e["per_dose"] for e in events):
        _against_axis(axes[1, 1], axis, [e["per_dose"] for e in events], colours, "unit changes per dose",
                      "Å$^2$/e$^-$")
    else:
        _against_axis(axes[1, 1], axis, [e["per_second"] for e in events], colours, "unit changes per second",
                      "events/s")
    _units(axes[1, 2], comparison, axis, "leave")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if len(handles) <= 12:
        fig.legend(handles, labels, loc="outside lower left", ncols=min(len(handles), 6), title="movies",
                   fontsize=7)
    unit_handles, unit_labels = axes[0, 2].get_legend_handles_labels()
    fig.legend(unit_handles, unit_labels, loc="outside lower right", ncols=min(len(unit_handles), 3),
               title="units", fontsize=7)
    model = {"rvae": "rVAE", "vae": "VAE"}.get(comparison.get("model"), comparison.get("model", ""))
    fig.suptitle(title or f"group {comparison.get('group', '')}: {len(movies)} movies in one {model} latent space")
    return fig


def plot_group_comparison(comparison: dict, path, title: str | None = None) -> None:
    """Write the comparison figure of a group's movies to ``path`` (PNG)."""
    save_figure(group_comparison_figure(comparison, title), path)
