"""Figures of the distributions of the PFM latents per window size: per frame (the switching pathway)
and over the whole movie (histograms).

- :func:`plot_switching_path`: the per-frame distribution of :math:`z_1` against frame number
  and the switched fraction found from domain labels (the switching pathway);
- :func:`plot_latent_histograms`: histograms of :math:`z_1`, :math:`z_2` and θ per window size.

The inputs are laid out as in :mod:`rvae_pathways.figures.pfm_windows`.

Nothing here imports ``pyplot`` (figures are built by :mod:`rvae_pathways.figures.kit` on an Agg
canvas). Each ``plot_*`` function writes one PNG and returns None; the figure itself comes from the
matching ``*_figure`` function (used by the tests).
"""

from __future__ import annotations

import numpy as np

from ..pfm.domains import switched_fraction
from .kit import (
    MAX_HEIGHT_IN,
    PAGE_WIDTH_IN,
    count_label,
    histogram_bins,
    latent_columns,
    new_figure,
    no_data,
    save_figure,
    styled,
    z_label,
)
from .pfm_windows import (
    THETA_LABEL,
    frame_pixel_nm,
    no_latent_text,
    sorted_windows,
    variable_values,
    window_colour,
    window_label,
)

NO_LABELS_TEXT = "no domain labels"
MEDIAN_COLOUR = "tab:orange"


# --------------------------------------------------------------------------------------------
# switching pathway


def _per_frame_histogram(ax, frame, z, n_bins: int):
    """2-D histogram of ``z`` per frame (each column normalised to the frame's windows) with its
    median on top. Returns the mesh."""
    all_frames = np.arange(frame.min(), frame.max() + 1)
    frame_edges = np.append(all_frames, all_frames[-1] + 1) - 0.5
    lo, hi = np.percentile(z, [0.5, 99.5])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    z_edges = np.linspace(lo, hi, n_bins + 1)
    clipped = np.clip(z, lo, hi)
    fraction = np.full((n_bins, all_frames.size), np.nan)
    median = np.full(all_frames.size, np.nan)
    for j, f in enumerate(all_frames):
        here = frame == f
        if here.any():
            fraction[:, j] = np.histogram(clipped[here], bins=z_edges)[0] / here.sum()
            median[j] = np.median(z[here])
    mesh = ax.pcolormesh(frame_edges, z_edges, np.ma.masked_invalid(fraction), cmap="Greys", vmin=0,
                         shading="flat")
    style = {"marker": "o", "markersize": 3} if all_frames.size <= 30 else {}
    ax.plot(all_frames, median, color=MEDIAN_COLOUR, linewidth=1.3, label="median", **style)
    ax.set_ylim(lo, hi)
    return mesh


@styled
def _switched_curves(windows, labelled) -> list:
    """Per window size with labels: (colour, label, frames present, their switched fractions)."""
    found = []
    for k, (window, latents) in enumerate(windows):
        labels = labelled.get(window)
        if labels is not None:
            frame = latents["frame"].values.astype(int)
            n_frames = int(frame.max()) + 1 if frame.size else 0
            fraction, _ = switched_fraction(labels, frame, n_frames)
            shown = np.isin(np.arange(n_frames), frame)
            found.append((window_colour(k), window_label(window, frame_pixel_nm(latents)),
                          np.arange(n_frames)[shown], fraction[shown]))
    return found


def _minority_bars(ax, found, truth, first: int) -> None:
    """One frame: a bar per window size (and the truth), the fraction in the minority state."""
    names, heights, colours = [], [], []
    for colour, label, _, fraction in found:
        names.append(label.replace(" (", "\n("))
        heights.append(fraction[0])
        colours.append(colour)
    if truth is not None and first < truth.size:
        names.append("truth\n(area fraction)")
        heights.append(truth[first])
        colours.append("0.3")
    ax.bar(np.arange(len(names)), heights, color=colours, width=0.6)
    for x, h in enumerate(heights):
        ax.text(x, h + 0.02, f"{h:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_xlim(-0.6, max(len(names), 3) - 0.4)


def switching_path_figure(latents_by_window, labels_by_window=None, true_switched_fraction=None,
                          n_bins: int = 40):
    """The figure of :func:`plot_switching_path` (see there)."""
    windows = sorted_windows(latents_by_window)
    frames_all = np.concatenate([np.asarray(ds["frame"].values).astype(int) for _, ds in windows])
    if frames_all.size == 0:
        raise ValueError("no patches to plot")
    first, last = int(frames_all.min()), int(frames_all.max())
    single = first == last
    truth = None if true_switched_fraction is None else np.asarray(true_switched_fraction, dtype=float).ravel()
    labels_by_window = labels_by_window or {}
    labelled = {w: labels_by_window.get(w) for w, _ in windows if labels_by_window.get(w) is not None}
    with_fraction = bool(labelled) or truth is not None

    n_rows = len(windows) + int(with_fraction)
    height = min(MAX_HEIGHT_IN, (2.0 if not single else 1.8) * n_rows + 0.9)
    fig = new_figure(PAGE_WIDTH_IN, height)
    axes = fig.subplots(n_rows, 1, squeeze=False, sharex=not single)[:, 0]

    for ax, (window, latents) in zip(axes, windows):
        frame = np.asarray(latents["frame"].values).astype(int)
        columns = latent_columns(latents)
        label = window_label(window, frame_pixel_nm(latents))
        z = columns[0]
        if single:
            ax.hist(z, bins=histogram_bins(z), weights=np.full(z.size, 1.0 / max(z.size, 1)),
                    color="0.45")
            ax.axvline(np.median(z), color=MEDIAN_COLOUR, linewidth=1.3, label="median")
            ax.legend(loc="upper left", framealpha=0.85)
            ax.set_xlabel(z_label(0))
            ax.set_ylabel("fraction of\nwindows")
            ax.set_title(f"{label}: $z_1$ of frame {first} ({count_label(z.size, 'window')})")
        else:
            mesh = _per_frame_histogram(ax, frame, z, n_bins)
            fig.colorbar(mesh, ax=ax, label="fraction of the\nframe's windows", shrink=0.9)
            ax.set_ylabel(z_label(0))
            ax.set_title(f"{label}: distribution of $z_1$ per frame ({count_label(z.size, 'window')})")
            ax.legend(loc="upper right", framealpha=0.85)

    if with_fraction:
        ax = axes[-1]
        found = _switched_curves(windows, labelled)
        truth_label = "truth (area fraction)"
        if single:
            _minority_bars(ax, found, truth, first)
            ax.set_title(f"Fraction of frame {first} in its minority state"
                         + ("" if labelled else f" ({NO_LABELS_TEXT}, truth only)"))
        else:
            for colour, label, f, fraction in found:
                ax.plot(f, fraction, color=colour, marker="o", markersize=4, linewidth=1.3, clip_on=False,
                        label=label)
            if truth is not None:
                ax.plot(np.arange(truth.size), truth, color="black", linestyle="--", marker="s",
                        markersize=3.5, linewidth=1.0, clip_on=False, label=truth_label)
            title = "Switched fraction per frame (the state in the minority in the first frame)"
            if not labelled:
                title += f": {NO_LABELS_TEXT}, truth only"
            ax.set_title(title)
            ax.legend(loc="best", framealpha=0.85)
            # same width as the histograms above, whose colour bars take room on the right
            bar = fig.colorbar(mesh, ax=ax, shrink=0.9)
            bar.ax.set_visible(False)
        ax.set_ylim(0, 1)
        ax.set_ylabel("minority fraction" if single else "switched fraction")
    if not single:
        axes[-1].set_xlabel("frame (index)")
        axes[-1].set_xlim(first - 0.5, last + 0.5)
        if last - first < 20:
            axes[-1].set_xticks(np.arange(first, last + 1))
        else:
            from matplotlib.ticker import MaxNLocator

            axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    n_frames = np.unique(frames_all).size
    note = "" if with_fraction else f" ({NO_LABELS_TEXT})"
    fig.suptitle(f"Switching pathway: latent $z_1$ per frame for {count_label(len(windows), 'window size')} "
                 f"({count_label(n_frames, 'frame')}){note}")
    return fig


@styled
def plot_switching_path(latents_by_window, path, labels_by_window=None, true_switched_fraction=None) -> None:
    """Per-frame distribution of :math:`z_1` for each window size, and the switched fraction.

    One panel per window size (smallest first): a 2-D histogram with the frame across and
    :math:`z_1` up, each frame's column normalised to its number of windows (colour bar), and
    the median in orange. A last panel shows the switched fraction per frame from the domain
    labels of each window size (the state that is the minority in the first frame counts as
    switched; see :func:`~rvae_pathways.pfm.domains.switched_fraction`), markers and lines, against the true switched
    area fraction (black, dashed) where given; y from 0 to 1.

    A one-frame movie gets a 1-D histogram of :math:`z_1` per window size instead. Without
    labels the fraction panel shows the truth alone (when given) or is left out, and the title
    says there are no labels.

    Parameters
    ----------
    latents_by_window : dict of int to xarray.Dataset
    path : path-like
    labels_by_window : dict of int to array (n_patches,), optional
        +1 / -1 domain label of every window; windows missing or None are skipped.
    true_switched_fraction : array (n_frames,), optional
        Indexed by frame.
    """
    save_figure(switching_path_figure(latents_by_window, labels_by_window, true_switched_fraction), path)


# --------------------------------------------------------------------------------------------
# histograms


@styled
def latent_histograms_figure(latents_by_window):
    """The figure of :func:`plot_latent_histograms` (see there)."""
    windows = sorted_windows(latents_by_window)
    columns = [("z1", z_label(0), "latent $z_1$"), ("z2", z_label(1), "latent $z_2$"),
               ("theta", THETA_LABEL, "rotation θ")]
    values = {(w, var): variable_values(ds, var) for w, ds in windows for var, _, _ in columns}
    bins = {}
    for var, _, _ in columns:
        if var == "theta":
            bins[var] = np.arange(-180, 181, 10)
            continue
        present = [v for (w, name), v in values.items() if name == var and v is not None and v.size]
        if present:
            every = np.concatenate(present)
            lo, hi = np.percentile(every, [0.5, 99.5])
            bins[var] = histogram_bins(np.clip(every, lo, hi), most=50)

    n_rows = len(windows)
    fig = new_figure(PAGE_WIDTH_IN, min(MAX_HEIGHT_IN, 2.3 * n_rows + 0.5))
    rows = fig.subfigures(n_rows, 1, squeeze=False)[:, 0]  # one titled row per window size
    axes = np.array([row.subplots(1, 3) for row in rows])
    for r, (window, latents) in enumerate(windows):
        label = window_label(window, frame_pixel_nm(latents))
        rows[r].suptitle(f"{label}: {count_label(latents.sizes['patch'], 'window')}", fontsize=9.5,
                         color=window_colour(r), fontweight="bold")
        for c, (var, xlabel, title) in enumerate(columns):
            ax = axes[r, c]
            v = values[(window, var)]
            ax.set_xlabel(xlabel)
            if var == "theta":
                ax.set_xlim(-180, 180)
                ax.set_xticks(np.arange(-180, 181, 90))
            elif var in bins:
                ax.set_xlim(bins[var][0], bins[var][-1])
            if v is None or not v.size:
                no_data(ax, no_latent_text(var))
                ax.set_yticks([])
                continue
            edges = bins[var]
            shown = np.clip(v, edges[0], edges[-1])  # outliers in the outermost bins
            ax.hist(shown, bins=edges, weights=np.full(v.size, 1.0 / v.size), color=window_colour(r))
        axes[r, 0].set_ylabel("fraction of windows")
    fig.suptitle("Latents of every window size (bins shared by each column)", fontsize=11)
    return fig


@styled
def plot_latent_histograms(latents_by_window, path) -> None:
    """Histograms of :math:`z_1`, :math:`z_2` and θ (deg), one row per window size.

    Columns :math:`z_1`, :math:`z_2`, θ share their bins over all window sizes (z: the 0.5th to
    99.5th percentile of all windows, outliers counted in the outermost bins; θ: 10 deg from
    -180 to 180). Heights are fractions of the window size's windows. A model without a
    rotation latent gets a θ panel that says so.

    Parameters
    ----------
    latents_by_window : dict of int to xarray.Dataset
    path : path-like
    """
    save_figure(latent_histograms_figure(latents_by_window), path)
