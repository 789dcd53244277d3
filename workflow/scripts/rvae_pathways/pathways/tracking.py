"""Linking atoms between frames into tracks, and scoring the tracks against a simulator's ids.

Linking works frame by frame on drift-corrected positions (px):

1. **Frame-to-frame links.** The tracks seen in the previous frame are paired with the atoms of
   the current frame by optimal assignment (:func:`scipy.optimize.linear_sum_assignment`) on
   squared distances. A pair farther apart than ``max_displacement_px`` is never linked.
2. **Gap closing.** A track missed in a frame stays open for up to ``max_gap_frames`` missed
   frames. The atoms left over after step 1 are paired, again by optimal assignment, with the
   open tracks that missed at least one frame (all gaps at once). After ``gap`` missed frames the
   allowed distance grows like a random walk, ``max_displacement_px * sqrt(gap + 1)``, and the
   cost of a pair is its squared distance divided by ``gap + 1`` (the squared distance in units of
   the expected spread). The track's last seen position is used (no velocity prediction).
3. Every atom still unmatched starts a new track.

Step 1 runs before step 2, so a track seen in the previous frame is never displaced by a track
coming back from a gap. Within each step the assignment first links as many pairs as possible
and then, among those choices, minimises the summed cost (forbidden pairs carry a large finite
cost and are dropped afterwards).

Candidate pairs come from a :class:`scipy.spatial.cKDTree`; the bipartite graph of candidate
pairs is split into connected components and each component is solved on its own, so no dense
``n x n`` matrix is ever built (a lattice with small displacements gives mostly one-track,
one-atom components, which are linked without any solver call).

Track ids are 0, 1, 2, ... in order of first appearance (frame, then the atom's row within the
frame); the result depends only on the input.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..core.config import defaults
from ..core.errors import InputError, check_number

__all__ = ["link_frames", "track_atoms", "latent_trajectories"]

PATHWAYS = defaults("pathways")  # keyword defaults: the config schema's


def _assign(cost_rows: np.ndarray, cost_cols: np.ndarray, cost: np.ndarray, n_rows: int, n_cols: int):
    """Optimal one-to-one links among candidate pairs, solved per connected component.

    Parameters
    ----------
    cost_rows, cost_cols, cost : 1-D arrays of equal length
        Candidate pairs (row index, column index) and their costs (>= 0); pairs not listed are
        forbidden. Each (row, column) appears at most once.
    n_rows, n_cols : int

    Returns
    -------
    rows, cols : int arrays, the linked pairs (each row and column at most once; only candidate
    pairs), sorted by row. The number of links is maximal, and their summed cost minimal among
    maximal choices, within each component.
    """
    if len(cost) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    # Bipartite graph: rows are nodes 0..n_rows-1, columns n_rows..n_rows+n_cols-1.
    graph = coo_matrix(
        (np.ones(len(cost)), (cost_rows, cost_cols + n_rows)), shape=(n_rows + n_cols, n_rows + n_cols)
    )
    _, label = connected_components(graph, directed=False)
    pair_label = label[cost_rows]
    edges_per_label = np.bincount(pair_label, minlength=label.max() + 1)
    nodes_per_label = np.bincount(label)

    # A component of one edge and two nodes is a lone pair: link it directly.
    lone = (edges_per_label[pair_label] == 1) & (nodes_per_label[pair_label] == 2)
    out_rows, out_cols = [cost_rows[lone]], [cost_cols[lone]]

    rest = np.flatnonzero(~lone)
    if len(rest):
        order = rest[np.argsort(pair_label[rest], kind="stable")]
        bounds = np.flatnonzero(np.diff(pair_label[order])) + 1
        for group in np.split(order, bounds):
            r_ids, r_local = np.unique(cost_rows[group], return_inverse=True)
            c_ids, c_local = np.unique(cost_cols[group], return_inverse=True)
            c = cost[group]
            # A forbidden pair costs more than any set of allowed pairs, so the solver first
            # maximises the number of allowed links, then minimises their summed cost.
            forbidden = (float(c.max()) + 1.0) * (min(len(r_ids), len(c_ids)) + 1)
            matrix = np.full((len(r_ids), len(c_ids)), forbidden)
            matrix[r_local, c_local] = c
            allowed = np.zeros(matrix.shape, bool)
            allowed[r_local, c_local] = True
            i, j = linear_sum_assignment(matrix)
            ok = allowed[i, j]
            out_rows.append(r_ids[i[ok]])
            out_cols.append(c_ids[j[ok]])
    rows = np.concatenate(out_rows).astype(np.intp)
    cols = np.concatenate(out_cols).astype(np.intp)
    order = np.argsort(rows, kind="stable")
    return rows[order], cols[order]


def _pairs_within(track_pos: np.ndarray, det_pos: np.ndarray, radius: np.ndarray):
    """Candidate pairs with ``|track - detection| <= radius[track]``: (i, j, squared distance)."""
    if len(track_pos) == 0 or len(det_pos) == 0:
        empty = np.zeros(0, np.intp)
        return empty, empty, np.zeros(0)
    hits = cKDTree(det_pos).query_ball_point(track_pos, radius, return_sorted=True)
    counts = np.fromiter((len(h) for h in hits), np.intp, len(hits))
    i = np.repeat(np.arange(len(track_pos), dtype=np.intp), counts)
    j = np.fromiter((k for h in hits for k in h), np.intp, int(counts.sum()))
    d2 = np.sum((track_pos[i] - det_pos[j]) ** 2, axis=1)
    keep = d2 <= radius[i] ** 2
    return i[keep], j[keep], d2[keep]


def link_frames(positions: list[np.ndarray], max_displacement_px: float,
                max_gap_frames: int = PATHWAYS["max_gap_frames"]) -> list[np.ndarray]:
    """Link the atoms of successive frames into tracks.

    Parameters
    ----------
    positions : list of (n_f, 2) arrays
        Drift-corrected (y, x) positions (px) of the atoms of each frame; a frame may be empty.
    max_displacement_px : float
        Largest distance an atom may move between two successive frames (px). After ``gap``
        missed frames a track may be picked up again within ``max_displacement_px * sqrt(gap + 1)``.
    max_gap_frames : int
        How many frames in a row a track may miss and still be continued (0: no gap closing).

    Returns
    -------
    list of int64 arrays, one per frame, the track id of each atom of that frame. Ids are 0, 1,
    2, ... in order of first appearance, the same id across the whole movie.
    """
    max_d = check_number("max_displacement_px", max_displacement_px, low=0, low_open=True)
    max_gap = check_number("max_gap_frames", max_gap_frames, low=0, integer=True)
    frames = []
    for f, p in enumerate(positions):
        p = np.asarray(p, dtype=np.float64)
        if p.size == 0:
            p = p.reshape(0, 2)
        if p.ndim != 2 or p.shape[1] != 2:
            raise InputError(f"positions of frame {f} must have shape (n, 2), got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise InputError(f"positions of frame {f} hold NaN or infinite values")
        frames.append(p)

    # Open tracks: id, last seen position and frame.
    open_id = np.zeros(0, np.int64)
    open_pos = np.zeros((0, 2))
    open_frame = np.zeros(0, np.int64)
    n_tracks = 0
    result = []
    for f, det in enumerate(frames):
        n = len(det)
        ids = np.full(n, -1, np.int64)
        slot = np.full(n, -1, np.intp)  # index into the open tracks of each atom's track
        missed = f - open_frame - 1  # frames each open track has missed so far
        if n:
            # 1. tracks seen in the previous frame
            recent = np.flatnonzero(missed == 0)
            i, j, d2 = _pairs_within(open_pos[recent], det, np.full(len(recent), max_d))
            rows, cols = _assign(i, j, d2, len(recent), n)
            slot[cols] = recent[rows]
            # 2. tracks coming back from a gap, against the atoms left over
            older = np.flatnonzero(missed > 0)
            free = np.flatnonzero(slot < 0)
            if len(older) and len(free):
                scale = missed[older] + 1.0
                i, j, d2 = _pairs_within(open_pos[older], det[free], max_d * np.sqrt(scale))
                rows, cols = _assign(i, j, d2 / scale[i], len(older), len(free))
                slot[free[cols]] = older[rows]
            cont = slot >= 0
            ids[cont] = open_id[slot[cont]]
            # 3. new tracks, in row order
            new = ~cont
            ids[new] = np.arange(n_tracks, n_tracks + int(new.sum()), dtype=np.int64)
            n_tracks += int(new.sum())
        result.append(ids)

        # Update the open tracks: matched ones move, new ones join, stale ones close.
        cont = slot >= 0
        open_pos[slot[cont]] = det[cont]
        open_frame[slot[cont]] = f
        open_id = np.concatenate([open_id, ids[~cont]])
        open_pos = np.concatenate([open_pos, det[~cont]])
        open_frame = np.concatenate([open_frame, np.full(int((~cont).sum()), f, np.int64)])
        keep = (f - open_frame) <= max_gap  # may still be matched in frame f + 1
        open_id, open_pos, open_frame = open_id[keep], open_pos[keep], open_frame[keep]
    return result


def track_atoms(atoms, max_displacement_px: float, max_gap_frames: int = PATHWAYS["max_gap_frames"]) -> np.ndarray:
    """Track id of every row of an atom table (see :func:`rvae_pathways.stem.movie.find_atoms_in_movie`).

    Links the drift-corrected positions ``y_aligned``, ``x_aligned`` frame by frame
    (:func:`link_frames`); frames without atoms (up to ``attrs["n_frames"]``) count as missed.
    Returns an int64 array in the row order of ``atoms``.
    """
    frame = np.asarray(atoms["frame"].values).astype(np.int64)
    pos = np.stack([np.asarray(atoms["y_aligned"].values, np.float64),
                    np.asarray(atoms["x_aligned"].values, np.float64)], axis=1)
    if len(frame) == 0:
        return np.zeros(0, np.int64)
    if frame.min() < 0:
        raise InputError("the atom table holds negative frame numbers")
    n_frames = max(int(frame.max()) + 1, int(atoms.attrs.get("n_frames", 0) or 0))
    order = np.argsort(frame, kind="stable")
    edges = np.searchsorted(frame[order], np.arange(n_frames + 1), side="left")
    per_frame = [pos[order[edges[f]:edges[f + 1]]] for f in range(n_frames)]
    ids = link_frames(per_frame, max_displacement_px, max_gap_frames)
    track = np.empty(len(frame), np.int64)
    track[order] = np.concatenate(ids)
    return track


def latent_trajectories(track: np.ndarray, frame: np.ndarray, n_frames: int, z: np.ndarray,
                        label: np.ndarray, theta_deg: np.ndarray | None = None,
                        y: np.ndarray | None = None, x: np.ndarray | None = None) -> xr.Dataset:
    """Every track's path through the latent space, one row per track and one column per frame.

    Parameters
    ----------
    track, frame : (N,) int arrays
        The track and frame of each of N patches (a track is seen at most once per frame).
    n_frames : int
    z : (N, k) array
        Content latents of the patches.
    label : (N,) int array
        Structural class of each patch.
    theta_deg, y, x : (N,) arrays, optional
        Rotation and position (frame px) of each patch.

    Returns
    -------
    xarray.Dataset
        dims (track, frame, latent), one row per track in order of the ids (coordinate ``track``
        holds them): ``z`` float32 and ``theta_deg``, ``y``, ``x`` float32 (NaN where
        the track is unseen), ``label`` int16 and ``patch`` int64 (-1 where unseen).
    """
    track, frame = np.asarray(track, dtype=np.int64), np.asarray(frame, dtype=np.int64)
    z = np.asarray(z, dtype=np.float32).reshape(len(track), -1)
    ids, row = np.unique(track, return_inverse=True)
    if len(track) and np.unique(row * n_frames + frame).size != len(track):
        raise ValueError("a track is seen twice in one frame")
    n_tracks, k = len(ids), z.shape[1]

    def grid(values, fill, dtype):
        out = np.full((n_tracks, n_frames), fill, dtype=dtype)
        out[row, frame] = values
        return out

    latent = np.full((n_tracks, n_frames, k), np.nan, dtype=np.float32)
    latent[row, frame] = z
    data = {
        "z": (("track", "frame", "latent"), latent),
        "label": (("track", "frame"), grid(label, -1, np.int16)),
        "patch": (("track", "frame"), grid(np.arange(len(track)), -1, np.int64)),
    }
    for name, values in (("theta_deg", theta_deg), ("y", y), ("x", x)):
        if values is not None:
            data[name] = (("track", "frame"), grid(values, np.nan, np.float32))
    return xr.Dataset(data, coords={"track": ids.astype(np.int64), "frame": np.arange(n_frames),
                                    "latent": np.arange(1, k + 1)})
