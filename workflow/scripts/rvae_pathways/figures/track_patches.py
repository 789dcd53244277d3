"""Figure of the patches along a few atom tracks: rows tracks, columns frames, each cell in its class colour.

:func:`plot_track_patches` shows how an atom's surroundings change: the patch of each of a few
tracks in every frame, with each cell's structural class. The ``trajectories`` Dataset is laid
out as in :mod:`rvae_pathways.figures.trajectories` (``label``, ``patch`` and the ``frame``
coordinate are used).

Nothing here imports ``pyplot`` (figures are built by :mod:`rvae_pathways.figures.kit` on an Agg
canvas). Each ``plot_*`` function writes one PNG and returns None; the figure itself comes from the
matching ``*_figure`` function (used by the tests).
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
    pathway_class_names,
    save_figure,
    styled,
    track_array,
    trajectory_frames,
)

UNSEEN_COLOUR = "0.93"  # a track-patch cell where the track is not seen


# --------------------------------------------------------------------------------------------
# choosing the rows and columns


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


# --------------------------------------------------------------------------------------------
# the grid of patches


@styled
def track_patches_figure(images, trajectories, tracks, max_tracks: int = 8, max_frames: int = 10):
    """The figure of :func:`plot_track_patches` (see there)."""
    import matplotlib

    given = _track_positions(trajectories, tracks)
    if not given:
        raise ValueError("no tracks to show")
    rows = given[:max(int(max_tracks), 1)]
    ids = _track_ids(trajectories)
    frames = trajectory_frames(trajectories)
    columns = choose_columns(frames.size, max_frames)
    labels = track_array(trajectories, "label").astype(int)
    patch = track_array(trajectories, "patch").astype(int)
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
        See :mod:`rvae_pathways.figures.trajectories` (``label``, ``patch`` and the ``frame`` coordinate).
    tracks : sequence of int
        Track ids (values of the ``track`` coordinate where there is one, else positions).
    path : path-like
    max_tracks, max_frames : int
    """
    save_figure(track_patches_figure(images, trajectories, tracks, max_tracks, max_frames), path)
