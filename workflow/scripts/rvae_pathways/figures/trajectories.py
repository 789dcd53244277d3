"""Figure of the atom tracks in the latent plane: paths through :math:`(z_1, z_2)`, changed tracks
highlighted.

Atoms linked into tracks over the frames carry, in every frame they are seen, the rVAE content
latents :math:`z_1, z_2`, the rotation θ and a structural class from a Gaussian mixture on the
latents. :func:`plot_latent_trajectories` draws the tracks as paths in the :math:`(z_1, z_2)`
plane over the density of all patches, the tracks whose class changed highlighted.

Inputs
------
``trajectories``: an xarray Dataset with dims ``(track, frame, latent)``: ``z`` (track, frame,
latent), NaN where the track is not seen; ``theta_deg`` (track, frame); ``label`` (track, frame)
int, the structural class, -1 where unseen; ``patch`` (track, frame) int, index into the patch
images, -1 where unseen; ``y``, ``x`` (track, frame) positions (frame px); coordinate
``frame``; attrs ``class_names`` (comma-separated), ``n_classes``, ``pixel_size_nm``. The same
Dataset feeds :mod:`rvae_pathways.figures.track_patches`.
``changed``: bool (track,), the tracks whose class changed.

Nothing here imports ``pyplot`` (figures are built by :mod:`rvae_pathways.figures.kit` on an Agg
canvas). Each ``plot_*`` function writes one PNG and returns None; the figure itself comes from the
matching ``*_figure`` function (used by the tests).
"""

from __future__ import annotations

import numpy as np

from .kit import (
    PAGE_WIDTH_IN,
    count_label,
    discrete_colours,
    fit_to_canvas,
    new_figure,
    no_data,
    padded_names,
    pathway_class_names,
    save_figure,
    styled,
    track_array,
    trajectory_frames,
    z_label,
)
from .labels import spread_labels

FRAME_CMAP = "viridis"
BACKGROUND_CMAP = "Greys"
UNCHANGED_COLOUR = "0.35"
CHANGED_COLOUR = "#d62728"
UNCHANGED_WIDTH = 0.5
CHANGED_WIDTH = 1.6
NO_TRACKS_TEXT = "no tracks"


# --------------------------------------------------------------------------------------------
# choosing the tracks and the colour scale


def select_tracks(changed, max_tracks: int = 300, seed: int = 0, usable=None) -> tuple[np.ndarray, np.ndarray]:
    """Tracks to draw: every changed track (a seeded subsample beyond ``max_tracks``), then a
    seeded subsample of the unchanged ones filling up to ``max_tracks``.

    Parameters
    ----------
    changed : bool array (n_tracks,)
    max_tracks : int
    seed : int
    usable : bool array (n_tracks,), optional
        Tracks that may be drawn (e.g. seen at least once); default all.

    Returns
    -------
    unchanged, changed : int arrays of track positions, each sorted
    """
    changed = np.asarray(changed, dtype=bool).ravel()
    usable = np.ones(changed.size, bool) if usable is None else np.asarray(usable, dtype=bool).ravel()
    if usable.size != changed.size:
        raise ValueError(f"{usable.size} usable flags for {changed.size} tracks")
    max_tracks = max(int(max_tracks), 0)
    rng = np.random.default_rng(seed)
    moved = np.flatnonzero(changed & usable)
    if moved.size > max_tracks:
        moved = np.sort(rng.choice(moved, max_tracks, replace=False))
    stayed = np.flatnonzero(~changed & usable)
    room = max_tracks - moved.size
    if stayed.size > room:
        stayed = np.sort(rng.choice(stayed, room, replace=False))
    return stayed, moved


def _frame_norm(frames: np.ndarray):
    from matplotlib.colors import Normalize

    lo, hi = (float(frames.min()), float(frames.max())) if frames.size else (0.0, 1.0)
    return Normalize(lo - 0.5, hi + 0.5) if hi == lo else Normalize(lo, hi)


def _integer_colour_bar(bar) -> None:
    from matplotlib.ticker import MaxNLocator

    bar.locator = MaxNLocator(integer=True, steps=[1, 2, 5, 10])
    bar.update_ticks()


def _plain_log_ticks(bar) -> None:
    """Log colour-bar ticks as plain numbers (1, 2, 5, 10, ...)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    bar.ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    bar.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    bar.ax.xaxis.set_minor_locator(NullLocator())
    bar.ax.xaxis.set_minor_formatter(NullFormatter())


# --------------------------------------------------------------------------------------------
# the latent plane


@styled
def _background_density(fig, ax, background_z, shown_z) -> None:
    """Every patch's (z1, z2) as a log-scaled 2-D histogram under the tracks, its range widened to
    the tracks drawn (``shown_z``), with its colour bar below the plane."""
    from matplotlib.colors import LogNorm

    bz = np.asarray(background_z, dtype=float)
    bz = bz.reshape(len(bz), -1)[:, :2] if bz.size else np.empty((0, 2))
    bz = bz[np.isfinite(bz).all(axis=1)]
    if len(bz):
        lo = np.percentile(bz, 0.5, axis=0)
        hi = np.percentile(bz, 99.5, axis=0)
        shown = shown_z[..., :2].reshape(-1, 2)
        shown = shown[np.isfinite(shown).all(axis=1)]
        if len(shown):
            lo, hi = np.minimum(lo, shown.min(axis=0)), np.maximum(hi, shown.max(axis=0))
        hi = np.where(hi > lo, hi, lo + 1.0)
        bins = int(np.clip(np.sqrt(len(bz)) / 1.5, 20, 80))
        counts, xe, ye = np.histogram2d(bz[:, 0], bz[:, 1], bins=bins, range=[(lo[0], hi[0]), (lo[1], hi[1])])
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_equal(counts.T, 0), cmap=BACKGROUND_CMAP,
                             norm=LogNorm(vmin=1, vmax=max(2.0, counts.max())), alpha=0.75, zorder=0,
                             rasterized=True)
        bar = fig.colorbar(mesh, ax=ax, location="bottom", shrink=0.55, aspect=30, pad=0.02,
                           label=f"all patches per bin ({count_label(len(bz), 'patch', 'patches')}, log scale)")
        bar.ax.tick_params(labelsize=7)
        _plain_log_ticks(bar)


def _class_means(ax, class_means, class_names, trajectories, what="class"):
    """The means of the classes (or units) as crosses with their names (gid ``"mean-label"``, spread
    apart once the figure is laid out); returns the legend entry."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    means = np.asarray(class_means, dtype=float).reshape(-1, np.shape(class_means)[-1])[:, :2]
    k = len(means)
    names = padded_names(class_names if class_names is not None else pathway_class_names(trajectories, k), k)
    colours = discrete_colours(k)
    outline = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for c, (m, name) in enumerate(zip(means, names)):
        ax.scatter(m[0], m[1], s=130, marker="X", color=colours[c], edgecolors="black", linewidths=0.8,
                   zorder=6, gid="class-mean")
        ax.annotate(name, m, xytext=(7, 7), textcoords="offset points", fontsize=8, fontweight="bold",
                    color=colours[c], path_effects=outline, zorder=7, gid="mean-label")
    return Line2D([], [], linestyle="none", marker="X", markersize=9, markerfacecolor="0.6",
                  markeredgecolor="black", label=f"{what} mean")


def _track_ends(ax, z, seen, moved, outline, n_changed: int, what: str = "class") -> list:
    """Circles on the first and squares on the last point of each changed track drawn; returns
    the legend entries of the changed tracks and of their ends."""
    from matplotlib.lines import Line2D

    first = np.array([z[t, np.flatnonzero(seen[t])[0]] for t in moved])
    last = np.array([z[t, np.flatnonzero(seen[t])[-1]] for t in moved])
    ax.scatter(first[:, 0], first[:, 1], s=90, marker="o", facecolors="none", edgecolors="black",
               linewidths=1.2, zorder=5, gid="first-point")
    ax.scatter(last[:, 0], last[:, 1], s=90, marker="s", facecolors="none", edgecolors="black",
               linewidths=1.2, zorder=5, gid="last-point")
    return [
        Line2D([], [], color=CHANGED_COLOUR, linewidth=CHANGED_WIDTH, marker="o", markersize=4,
               markerfacecolor="tab:green", markeredgecolor="black", markeredgewidth=0.5,
               path_effects=outline, label=f"{what} changed ({moved.size} of {n_changed} shown)"),
        Line2D([], [], linestyle="none", marker="o", markersize=8, markerfacecolor="none",
               markeredgecolor="black", label="first point (changed track)"),
        Line2D([], [], linestyle="none", marker="s", markersize=8, markerfacecolor="none",
               markeredgecolor="black", label="last point (changed track)"),
    ]


def latent_trajectories_figure(trajectories, changed, background_z=None, max_tracks: int = 300, seed: int = 0,
                               class_means=None, class_names=None, what: str = "class"):
    """The figure of :func:`plot_latent_trajectories` (see there)."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    z = track_array(trajectories, "z").astype(float)
    if z.ndim != 3 or z.shape[2] < 2:
        raise ValueError(f"trajectories['z'] must be (track, frame, latent) with 2 latents or more, got {z.shape}")
    z = z[..., :2]
    n_tracks = z.shape[0]
    changed = np.asarray(changed, dtype=bool).ravel()
    if changed.size != n_tracks:
        raise ValueError(f"{changed.size} changed flags for {n_tracks} tracks")
    frames = trajectory_frames(trajectories).astype(float)
    seen = np.isfinite(z).all(axis=2)
    stayed, moved = select_tracks(changed, max_tracks, seed, usable=seen.any(axis=1))
    norm = _frame_norm(frames)

    fig = new_figure(PAGE_WIDTH_IN * 0.85, 6.0)
    ax = fig.subplots()
    handles = []

    if background_z is not None:
        _background_density(fig, ax, background_z, np.concatenate([z[stayed], z[moved]]))

    def draw(ids, colour, width, alpha, zorder, effects=None):
        for t in ids:
            keep = seen[t]
            ax.plot(z[t, keep, 0], z[t, keep, 1], color=colour, linewidth=width, alpha=alpha, zorder=zorder,
                    gid="track-changed" if colour == CHANGED_COLOUR else "track-unchanged",
                    path_effects=effects, solid_capstyle="round")

    draw(stayed, UNCHANGED_COLOUR, UNCHANGED_WIDTH, 0.45, 1)
    points = None
    if stayed.size:
        keep = seen[stayed]
        points = ax.scatter(z[stayed][keep][:, 0], z[stayed][keep][:, 1],
                            c=np.broadcast_to(frames, keep.shape)[keep], cmap=FRAME_CMAP, norm=norm, s=5,
                            alpha=0.55, linewidths=0, zorder=2, gid="points-unchanged")
        handles.append(Line2D([], [], color=UNCHANGED_COLOUR, linewidth=UNCHANGED_WIDTH * 1.5, marker="o",
                              markersize=2.5, markerfacecolor="tab:green", markeredgewidth=0, alpha=0.7,
                              label=f"unchanged track ({stayed.size} of {int((~changed).sum())} shown)"))
    if moved.size:
        outline = [patheffects.withStroke(linewidth=CHANGED_WIDTH + 1.6, foreground="white")]
        draw(moved, CHANGED_COLOUR, CHANGED_WIDTH, 0.95, 3, outline)
        keep = seen[moved]
        points = ax.scatter(z[moved][keep][:, 0], z[moved][keep][:, 1],
                            c=np.broadcast_to(frames, keep.shape)[keep], cmap=FRAME_CMAP, norm=norm, s=22,
                            edgecolors="black", linewidths=0.5, zorder=4, gid="points-changed")
        handles += _track_ends(ax, z, seen, moved, outline, int(changed.sum()), what)

    if class_means is not None:
        handles.append(_class_means(ax, class_means, class_names, trajectories, what))

    if points is not None:
        bar = fig.colorbar(points, ax=ax, label="frame (index)", shrink=0.85)
        bar.solids.set_alpha(1)
        _integer_colour_bar(bar)
    else:
        no_data(ax, NO_TRACKS_TEXT)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=2, framealpha=0.9, fontsize=7.5)
    ax.set_xlabel(z_label(0))
    ax.set_ylabel(z_label(1))
    # room for the markers and class names at the edges of the data (the background mesh's sticky
    # edges would make ax.margins a no-op)
    for get, set_ in ((ax.get_xlim, ax.set_xlim), (ax.get_ylim, ax.set_ylim)):
        low, high = get()
        set_(low - 0.08 * (high - low), high + 0.08 * (high - low))
    n_shown = stayed.size + moved.size
    ax.set_title(f"{n_shown} of {count_label(n_tracks, 'track')} drawn, {int(changed.sum())} whose {what} changed "
                 f"highlighted;\npoints coloured by frame", pad=14)
    fig.suptitle("Atom tracks in the latent plane")
    fit_to_canvas(fig)  # the final layout first: labels are spread in display pixels
    spread_labels(fig, [t for t in ax.texts if t.get_gid() == "mean-label"])
    return fig


@styled
def plot_latent_trajectories(trajectories, changed, path, background_z=None, max_tracks: int = 300, seed: int = 0,
                             class_means=None, class_names=None, what: str = "class") -> None:
    """Tracks as paths through the latent plane :math:`(z_1, z_2)`.

    Layout: one panel, :math:`z_1` across and :math:`z_2` up (a.u.). Behind the tracks, where
    ``background_z`` is given, a grey 2-D histogram of every patch's latents (log counts,
    colour bar below). Up to ``max_tracks`` tracks are drawn: every track whose class changed
    (a seeded subsample beyond the limit), then a seeded subsample of the unchanged ones (see
    :func:`select_tracks`). Each track is a line through its observations in frame order
    (unseen frames skipped) with points coloured by frame (``viridis``; colour bar
    "frame (index)"). Unchanged tracks are thin and faint grey; changed tracks thick red lines
    outlined in white, their points edged in black, their first point ringed (circle) and
    last point boxed (square). Class means, where given, are crosses in the class colours with
    their names, moved apart where they would overlap (tied to their cross by a leader line when
    moved far: :func:`rvae_pathways.figures.labels.spread_labels`). A legend below the panel names
    every kind of mark. ``what`` names the groups: "class" (the Gaussian classes) or "unit"
    (structural units: a track counts as changed only when its unit changed).

    Parameters
    ----------
    trajectories : xarray.Dataset
        See the module docstring (``z`` and the ``frame`` coordinate are used).
    changed : bool array (n_tracks,)
    path : path-like
        The PNG written.
    background_z : array (n_patches, >= 2), optional
        Latents of all patches.
    max_tracks : int
    seed : int
        Seed of the subsample.
    class_means : array (k, >= 2), optional
        Mixture means in the latent plane.
    class_names : list of str, optional
        Default from ``trajectories.attrs["class_names"]``.
    what : str
        "class" or "unit": the word of the legend and title.
    """
    save_figure(latent_trajectories_figure(trajectories, changed, background_z, max_tracks, seed, class_means,
                                           class_names, what), path)
