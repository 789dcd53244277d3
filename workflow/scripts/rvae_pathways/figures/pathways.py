"""Figures of the transformation pathways: atom tracks in the latent plane, their patches, kinetics.

Atoms linked into tracks over the frames carry, in every frame they are seen, the rVAE content
latents :math:`z_1, z_2`, the rotation θ and a structural class from a Gaussian mixture on the
latents. The figures here show how atoms move through the latent plane and between classes:

- :func:`plot_latent_trajectories`: tracks as paths in the :math:`(z_1, z_2)` plane over the
  density of all patches, the tracks whose class changed highlighted;
- :func:`plot_track_patches`: the patch of a few tracks in every frame (rows tracks, columns
  frames), with each cell's class;
- :func:`plot_kinetics`: the fraction of atoms in each class against frame, against the truth
  where a simulator gives it;
- :func:`plot_pathway_graph`: classes as nodes and the transitions counted along tracks as
  arrows.

Inputs
------
``trajectories``: an xarray Dataset with dims ``(track, frame, latent)``: ``z`` (track, frame,
latent), NaN where the track is not seen; ``theta_deg`` (track, frame); ``label`` (track, frame)
int, the structural class, -1 where unseen; ``patch`` (track, frame) int, index into the patch
images, -1 where unseen; ``y``, ``x`` (track, frame) positions (frame px); coordinate
``frame``; attrs ``class_names`` (comma-separated), ``n_classes``, ``pixel_size_nm``.
``changed``: bool (track,), the tracks whose class changed. ``fractions``: (n_frames, n_classes).
``counts``: (n_classes, n_classes) transitions along tracks, ``counts[i, j]`` from class ``i``
to class ``j`` between consecutive observations of a track (the diagonal: stayed).

Like :mod:`rvae_pathways.figures.stem` (whose style and helpers these figures share) nothing here
imports ``pyplot``. Each ``plot_*`` function writes one PNG and returns None; the figure itself
comes from the matching ``*_figure`` function (used by the tests).
"""

from __future__ import annotations

import textwrap

import numpy as np

from .kit import (
    MAX_HEIGHT_IN,
    PAGE_WIDTH_IN,
    bare_image_axes,
    count_label,
    discrete_colours,
    display_limits,
    new_figure,
    no_data,
    save_figure,
    styled,
    z_label,
)

FRAME_CMAP = "viridis"
BACKGROUND_CMAP = "Greys"
UNCHANGED_COLOUR = "0.35"
CHANGED_COLOUR = "#d62728"
UNCHANGED_WIDTH = 0.5
CHANGED_WIDTH = 1.6
UNSEEN_COLOUR = "0.93"  # a track-patch cell where the track is not seen
NO_TRACKS_TEXT = "no tracks"
NO_TRANSITIONS_TEXT = "no transitions"
NO_MINORITY_TEXT = "only one class"
GRAPH_CAPTION = ("Arrows: transitions along tracks between consecutive observations of an atom "
                 "(count on each arrow, width ~ count); node area ~ {what}.")


# --------------------------------------------------------------------------------------------
# reading the inputs


def pathway_class_names(trajectories, n_classes: int | None = None) -> list[str]:
    """Class names from ``attrs["class_names"]`` (comma-separated or a list), padded to ``n_classes``.

    Missing names are ``"class <i>"``; ``n_classes`` defaults to ``attrs["n_classes"]`` or the
    number of names.
    """
    attrs = getattr(trajectories, "attrs", {})
    names = attrs.get("class_names", "")
    if isinstance(names, str):
        names = names.split(",") if names else []
    names = [str(n).strip() for n in names]
    if n_classes is None:
        n_classes = int(attrs.get("n_classes", len(names)))
    return _padded_names(names, n_classes)


def _padded_names(names, k: int) -> list[str]:
    names = [] if names is None else [str(n) for n in names]
    return [names[i] if i < len(names) else f"class {i}" for i in range(k)]


def _track_array(trajectories, name: str) -> np.ndarray:
    """A ``(track, frame[, latent])`` variable in that dim order."""
    da = trajectories[name]
    order = [d for d in ("track", "frame", "latent") if d in da.dims]
    return np.asarray(da.transpose(*order).values)


def _frame_values(trajectories) -> np.ndarray:
    if "frame" in trajectories.coords:
        return np.asarray(trajectories["frame"].values)
    return np.arange(trajectories.sizes["frame"])


def _track_positions(trajectories, tracks) -> list[int]:
    """Positions along ``track`` of track ids: the ``track`` coordinate's values where it has one."""
    tracks = [int(t) for t in np.atleast_1d(np.asarray(tracks)).ravel()]
    n = trajectories.sizes["track"]
    if "track" in trajectories.coords:
        ids = np.asarray(trajectories["track"].values)
        where = {int(v): i for i, v in enumerate(ids)}
        missing = [t for t in tracks if t not in where]
        if missing:
            raise ValueError(f"track ids {missing} are not in the trajectories")
        return [where[t] for t in tracks]
    bad = [t for t in tracks if not 0 <= t < n]
    if bad:
        raise ValueError(f"track ids must be 0..{n - 1}, got {bad}")
    return tracks


def _track_ids(trajectories) -> np.ndarray:
    if "track" in trajectories.coords:
        return np.asarray(trajectories["track"].values)
    return np.arange(trajectories.sizes["track"])


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


def track_summary(labels, frames=None) -> str:
    """The class sequence of one track: ``"0 -> 1 at frame 6"``, ``"2 throughout"``.

    Unseen frames (label -1) are skipped; every change after the first starts a new line.

    Parameters
    ----------
    labels : int array (n_frames,)
    frames : array (n_frames,), optional
        Frame numbers; default 0, 1, ...
    """
    labels = np.asarray(labels).astype(int).ravel()
    frames = np.arange(labels.size) if frames is None else np.asarray(frames).ravel()
    seen = np.flatnonzero(labels >= 0)
    if not seen.size:
        return "never seen"
    current = labels[seen[0]]
    parts = [str(current)]
    for i in seen[1:]:
        if labels[i] != current:
            current = labels[i]
            parts.append(f"-> {current} at frame {frames[i]}")
    if len(parts) == 1:
        return f"{parts[0]} throughout"
    return " ".join(parts[:2]) + "".join("\n" + p for p in parts[2:])


def choose_columns(n_frames: int, max_frames: int) -> np.ndarray:
    """Frame positions shown: all of them, or ``max_frames`` evenly spaced (first and last included)."""
    if n_frames <= max_frames:
        return np.arange(n_frames)
    return np.unique(np.round(np.linspace(0, n_frames - 1, max(int(max_frames), 1))).astype(int))


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
# 1. trajectories in the latent plane


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


def _class_means(ax, class_means, class_names, trajectories):
    """The Gaussian classes' means as crosses with their names; returns the legend entry."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    means = np.asarray(class_means, dtype=float).reshape(-1, np.shape(class_means)[-1])[:, :2]
    k = len(means)
    names = _padded_names(class_names if class_names is not None else pathway_class_names(trajectories, k), k)
    colours = discrete_colours(k)
    outline = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for c, (m, name) in enumerate(zip(means, names)):
        ax.scatter(m[0], m[1], s=130, marker="X", color=colours[c], edgecolors="black", linewidths=0.8,
                   zorder=6, gid="class-mean")
        ax.annotate(name, m, xytext=(7, 7), textcoords="offset points", fontsize=8, fontweight="bold",
                    color=colours[c], path_effects=outline, zorder=7)
    return Line2D([], [], linestyle="none", marker="X", markersize=9, markerfacecolor="0.6",
                  markeredgecolor="black", label="class mean")


def _track_ends(ax, z, seen, moved, outline, n_changed: int) -> list:
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
               path_effects=outline, label=f"class changed ({moved.size} of {n_changed} shown)"),
        Line2D([], [], linestyle="none", marker="o", markersize=8, markerfacecolor="none",
               markeredgecolor="black", label="first point (changed track)"),
        Line2D([], [], linestyle="none", marker="s", markersize=8, markerfacecolor="none",
               markeredgecolor="black", label="last point (changed track)"),
    ]


def latent_trajectories_figure(trajectories, changed, background_z=None, max_tracks: int = 300, seed: int = 0,
                               class_means=None, class_names=None):
    """The figure of :func:`plot_latent_trajectories` (see there)."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    z = _track_array(trajectories, "z").astype(float)
    if z.ndim != 3 or z.shape[2] < 2:
        raise ValueError(f"trajectories['z'] must be (track, frame, latent) with 2 latents or more, got {z.shape}")
    z = z[..., :2]
    n_tracks = z.shape[0]
    changed = np.asarray(changed, dtype=bool).ravel()
    if changed.size != n_tracks:
        raise ValueError(f"{changed.size} changed flags for {n_tracks} tracks")
    frames = _frame_values(trajectories).astype(float)
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
        handles += _track_ends(ax, z, seen, moved, outline, int(changed.sum()))

    if class_means is not None:
        handles.append(_class_means(ax, class_means, class_names, trajectories))

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
    ax.set_title(f"{n_shown} of {count_label(n_tracks, 'track')} drawn, {int(changed.sum())} whose class changed "
                 f"highlighted;\npoints coloured by frame", pad=14)
    fig.suptitle("Atom tracks in the latent plane")
    return fig


@styled
def plot_latent_trajectories(trajectories, changed, path, background_z=None, max_tracks: int = 300, seed: int = 0,
                             class_means=None, class_names=None) -> None:
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
    their names. A legend above the panel names every kind of mark.

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
    """
    save_figure(latent_trajectories_figure(trajectories, changed, background_z, max_tracks, seed, class_means,
                                           class_names), path)


# --------------------------------------------------------------------------------------------
# 2. patches of a few tracks


@styled
def track_patches_figure(images, trajectories, tracks, max_tracks: int = 8, max_frames: int = 10):
    """The figure of :func:`plot_track_patches` (see there)."""
    import matplotlib

    given = _track_positions(trajectories, tracks)
    if not given:
        raise ValueError("no tracks to show")
    rows = given[:max(int(max_tracks), 1)]
    ids = _track_ids(trajectories)
    frames = _frame_values(trajectories)
    columns = choose_columns(frames.size, max_frames)
    labels = _track_array(trajectories, "label").astype(int)
    patch = _track_array(trajectories, "patch").astype(int)
    n_patches = len(images)
    k = int(trajectories.attrs.get("n_classes", max(int(labels.max()) + 1, 1)))
    colours = discrete_colours(max(k, int(labels.max()) + 1, 1))

    cells = {}
    for r, t in enumerate(rows):
        for c, f in enumerate(columns):
            i = patch[t, f]
            if 0 <= i < n_patches:
                cells[r, c] = np.asarray(images[int(i)], dtype=float)
    vmin, vmax = display_limits(list(cells.values())) if cells else (0.0, 1.0)

    n_rows, n_cols = len(rows), len(columns)
    label_w, bar_w = 1.45, 0.75
    cell = min((PAGE_WIDTH_IN - label_w - bar_w) / n_cols, (MAX_HEIGHT_IN - 1.3) / n_rows - 0.3, 1.1)
    fig = new_figure(cell * n_cols + label_w + bar_w, (cell + 0.3) * n_rows + 1.3)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    title_size = 8 if cell >= 0.6 else 7
    im = None
    for r, t in enumerate(rows):
        for c, f in enumerate(columns):
            ax = axes[r, c]
            bare_image_axes(ax)
            code = labels[t, f]
            if (r, c) in cells:
                im = ax.imshow(cells[r, c], cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
                colour = colours[code] if code >= 0 else "0.5"
                ax.set_title(f"class {code}" if code >= 0 else "no class", color=colour, fontsize=title_size,
                             fontweight="bold", pad=2)
                for side in ax.spines.values():
                    side.set_color(colour)
                    side.set_linewidth(2)
            else:
                ax.set_facecolor(UNSEEN_COLOUR)
                ax.set_aspect("equal")
                ax.set_title("not seen", color="0.5", fontsize=title_size, pad=2)
                for side in ax.spines.values():
                    side.set_color("0.8")
            if r == n_rows - 1:
                ax.set_xlabel(f"{frames[f]}", fontsize=8)
        axes[r, 0].set_ylabel(f"track {ids[t]}:\n{track_summary(labels[t], frames)}", rotation=0, ha="right",
                              va="center", fontsize=8, labelpad=6)
    if im is None:
        im = matplotlib.cm.ScalarMappable(cmap="gray")
    fig.colorbar(im, ax=list(axes.ravel()), label="patch intensity (normalised)", shrink=0.75 if n_rows > 2 else 0.9,
                 aspect=25)
    names = pathway_class_names(trajectories, k)
    fig.supxlabel("frame (index)\n" + "\n".join(textwrap.wrap("Classes: " + "; ".join(names), 115)),
                  fontsize=8, linespacing=1.5)
    shown = f"{len(rows)} of {len(given)} tracks" if len(rows) < len(given) else count_label(len(rows), "track")
    frames_text = (f"{n_cols} of {frames.size} frames, evenly spaced" if n_cols < frames.size
                   else count_label(n_cols, "frame"))
    fig.suptitle(f"Patches of {shown} over {frames_text}")
    return fig


@styled
def plot_track_patches(images, trajectories, tracks, path, max_tracks: int = 8, max_frames: int = 10) -> None:
    """The patch of each of a few tracks in every frame: how an atom's surroundings change.

    Layout: one row per track (the first ``max_tracks`` of ``tracks``, in the order given),
    one column per frame (all frames, or ``max_frames`` evenly spaced including the first and
    last; the frame numbers under the bottom row). Each cell is the track's patch in that
    frame on one grey scale shared by all cells (colour bar on the right), framed and titled
    in its class colour (``"class 1"``); a cell where the track is not seen is left blank
    (light grey, "not seen"). Each row is labelled with the track id and its class sequence,
    e.g. ``"track 17: 0 -> 1 at frame 6"`` (see :func:`track_summary`). The class names are
    listed under the grid.

    Parameters
    ----------
    images : array (n_patches, p, p)
        Patch images, indexed by ``trajectories["patch"]``.
    trajectories : xarray.Dataset
        See the module docstring (``label``, ``patch`` and the ``frame`` coordinate).
    tracks : sequence of int
        Track ids (values of the ``track`` coordinate where there is one, else positions).
    path : path-like
    max_tracks, max_frames : int
    """
    save_figure(track_patches_figure(images, trajectories, tracks, max_tracks, max_frames), path)


# --------------------------------------------------------------------------------------------
# 3. kinetics


def _truth_colours(class_names: list[str], true_names: list[str]) -> tuple[list, list]:
    """Colour of each true class (that of the found class whose name contains it, else a new one)
    and the found class each matches (-1: none)."""
    k = len(class_names)
    spare = discrete_colours(k + len(true_names))[k:]
    found = discrete_colours(k)
    colours, matches = [], []
    for j, name in enumerate(true_names):
        key = name.strip().lower()
        hits = [c for c, n in enumerate(class_names) if key and (n.lower() == key or f"({key})" in n.lower())]
        if len(hits) == 1:
            colours.append(found[hits[0]])
            matches.append(hits[0])
        else:
            colours.append(spare[j])
            matches.append(-1)
    return colours, matches


@styled
def _kinetics_legend(fig, ax_all, k: int, n_truth: int) -> None:
    """The legend below the panels: with few classes and a truth, the found classes in the first
    row and the truth in the second; else in up to four columns."""
    handles, labels = ax_all.get_legend_handles_labels()
    if handles and 0 < n_truth and max(k, n_truth) <= 4:
        from matplotlib.lines import Line2D

        blank = Line2D([], [], linestyle="none")
        cols = max(k, n_truth)
        found = list(zip(handles[:k], labels[:k])) + [(blank, "")] * (cols - k)
        true = list(zip(handles[k:], labels[k:])) + [(blank, "")] * (cols - n_truth)
        pairs = [p for c in range(cols) for p in (found[c], true[c])]
        fig.legend(*zip(*pairs), loc="outside lower center", ncols=cols, fontsize=7.5)
    elif handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 4), fontsize=7.5)


def kinetics_figure(fractions, class_names, true_fractions=None, true_names=None, frames=None):
    """The figure of :func:`plot_kinetics` (see there)."""
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 2:
        raise ValueError(f"fractions must be (n_frames, n_classes), got shape {fractions.shape}")
    n_frames, k = fractions.shape
    names = _padded_names(class_names, k)
    x = np.arange(n_frames) if frames is None else np.asarray(frames, dtype=float).ravel()
    if x.size != n_frames:
        raise ValueError(f"{x.size} frame numbers for {n_frames} frames of fractions")
    colours = discrete_colours(k)
    truth = None
    if true_fractions is not None:
        truth = np.asarray(true_fractions, dtype=float)
        truth = truth.reshape(truth.shape[0], -1)
        if truth.shape[0] != n_frames:
            raise ValueError(f"true_fractions has {truth.shape[0]} frames, fractions {n_frames}")
        t_names = _padded_names(true_names, truth.shape[1])
        t_colours, t_matches = _truth_colours(names, t_names)

    mean = np.nan_to_num(np.nanmean(np.where(np.isfinite(fractions), fractions, np.nan), axis=0)) \
        if np.isfinite(fractions).any() else np.zeros(k)
    major = int(np.argmax(mean)) if k else -1
    minority = [c for c in range(k) if c != major]
    style = {"marker": "o", "markersize": 3.5} if n_frames <= 40 else {}
    truth_style = {"marker": "x", "markersize": 4} if n_frames <= 40 else {}

    fig = new_figure(PAGE_WIDTH_IN, 3.8)
    ax_all, ax_min = fig.subplots(1, 2, sharex=True)
    for c in range(k):
        for ax in (ax_all, ax_min) if c in minority else (ax_all,):
            ax.plot(x, fractions[:, c], color=colours[c], linewidth=1.4, gid=f"class-{c}",
                    label=names[c] if ax is ax_all else None, clip_on=ax is ax_min, **style)
    zoom_values = [fractions[:, minority]] if minority else []
    if truth is not None:
        true_major = int(np.argmax(np.nanmean(truth, axis=0))) if truth.size else -1
        for j in range(truth.shape[1]):
            in_zoom = t_matches[j] in minority if t_matches[j] >= 0 else j != true_major
            for ax in (ax_all, ax_min) if in_zoom and minority else (ax_all,):
                ax.plot(x, truth[:, j], color=t_colours[j], linestyle="--", linewidth=1.0, gid=f"truth-{j}",
                        label=f"truth: {t_names[j]}" if ax is ax_all else None, **truth_style)
            if in_zoom:
                zoom_values.append(truth[:, j:j + 1])
    ax_all.set_ylim(0, 1)
    ax_all.set_title("All classes")
    if minority:
        values = np.concatenate(zoom_values, axis=1)
        top = np.nanmax(values) if np.isfinite(values).any() else 0.0
        ax_min.set_ylim(0, min(1.0, top * 1.12) if top > 0 else 0.05)
        ax_min.set_title(f"Zoom on the minority classes\n(all but {names[major]})")
    else:
        no_data(ax_min, NO_MINORITY_TEXT)
        ax_min.set_ylim(0, 1)
        ax_min.set_title("Zoom on the minority classes")
    for ax in (ax_all, ax_min):
        ax.set_xlabel("frame (index)")
        ax.set_ylabel("fraction of the frame's atoms")
        ax.grid(alpha=0.3, linewidth=0.5)
    if n_frames:
        ax_all.set_xlim(x.min() - 0.5, x.max() + 0.5)
        if n_frames <= 20 and np.allclose(x, np.round(x)):
            ax_all.set_xticks(x)
        else:
            from matplotlib.ticker import MaxNLocator

            ax_all.xaxis.set_major_locator(MaxNLocator(integer=True))
    _kinetics_legend(fig, ax_all, k, 0 if truth is None else truth.shape[1])
    note = ", dashed: truth" if truth is not None else ""
    fig.suptitle(f"Class fractions per frame ({count_label(k, 'class', 'classes')}, {count_label(n_frames, 'frame')}{note})")
    return fig


@styled
def plot_kinetics(fractions, class_names, path, true_fractions=None, true_names=None, frames=None) -> None:
    """Fraction of the atoms in each structural class against frame: the transformation kinetics.

    Layout: two panels side by side, frame across. Left: every class, lines with markers in
    the class colours (``discrete_colours``), y from 0 to 1. Right: the same lines for all
    classes but the most populous one (by mean fraction), y zoomed to them, so rare classes
    are readable. Truth lines, where given, are dashed in the colour of the found class whose
    name holds the true name (``"Si"`` matches ``"class 1 (Si)"``), else in a colour of their
    own; the zoom shows the truth of the minority classes. One legend under both panels.

    Parameters
    ----------
    fractions : array (n_frames, n_classes)
    class_names : list of str
        Missing names become ``"class <i>"``.
    path : path-like
    true_fractions : array (n_frames, n_true_classes), optional
    true_names : list of str, optional
    frames : array (n_frames,), optional
        Frame numbers; default 0, 1, ...
    """
    save_figure(kinetics_figure(fractions, class_names, true_fractions, true_names, frames), path)


# --------------------------------------------------------------------------------------------
# 4. pathway graph


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
    names = _padded_names(class_names, k)
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
