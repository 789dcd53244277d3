"""Scores of a PFM latent space against the simulator's truth (pure functions on arrays).

Every window of :mod:`rvae_pathways.pfm.tiles` is labelled up or down from its content latents
through the model's spatial decoder: the sign of the piezoresponse the decoder draws at the
window's centre for the window's ``z`` (:func:`rvae_pathways.rvae.manifold.decode_centre`,
:func:`domain_labels`). The centre is the one point a rotation leaves in place, so the label does
not depend on theta, and a weakly pinned spot of lower but same-signed response stays in its
domain. Walls are where neighbouring windows disagree: one point midway between the two window
centres (:func:`rvae_pathways.pfm.domains.wall_points`). :func:`score_pfm` compares both with the truth:

- sign accuracy: does the latent label give the polarisation of windows away from walls?
- walls: do the latent walls lie where the true walls are (precision, recall, F1)?
- switched fraction: does the share of windows in the switched state follow the truth over time?

Missing scores (no window away from walls, no wall, a flat curve) are None in the JSON with a
``note``; their ``passes`` is False.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.ndimage import distance_transform_edt

from ..core.errors import InputError
from ..core.frames import frame_slices
from ..core.store import add_columns
from ..pfm.domains import switched_fraction, wall_points
from ..pfm.tiles import tile_origins

TARGETS = {"sign_accuracy": 0.98, "wall_f1": 0.9, "switched_fraction_r": 0.95}


def _wall_distance(wall: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Distance (px) from each point ``(y, x)`` to the nearest True pixel of ``wall``.

    Exact for points on pixels; for a point between pixels, the nearest wall pixels of the (up
    to four) pixels around it are the candidates. The frame diagonal where there is no wall.
    """
    ny, nx = wall.shape
    if not wall.any():
        return np.full(len(y), np.hypot(ny, nx))
    _, (near_y, near_x) = distance_transform_edt(~wall, return_indices=True)
    best = np.full(len(y), np.inf)
    for py in (np.floor(y), np.ceil(y)):
        for px in (np.floor(x), np.ceil(x)):
            iy = np.clip(py.astype(np.int64), 0, ny - 1)
            ix = np.clip(px.astype(np.int64), 0, nx - 1)
            best = np.minimum(best, np.hypot(near_y[iy, ix] - y, near_x[iy, ix] - x))
    return best


def label_windows_with_truth(path, truth) -> None:
    """Add the simulator's truth at every window of a tiled PFM movie (``tile_movie``'s store at ``path``).

    ``truth`` holds ``true_domain`` int8 (frame, y, x) in {+1, -1} and ``true_wall`` bool
    (frame, y, x), of the tiled movie's shape. Per window the store gains ``true_domain`` (at the
    window's centre pixel, rounded down-right for an even window) and ``true_wall_distance_px``
    (float32, from the window centre to the nearest wall pixel of its frame; the frame diagonal
    when the frame has no wall), chunked like the store.
    """
    windows = xr.open_zarr(path)
    n, window, stride = windows.attrs["n_frames"], windows.attrs["window_px"], windows.attrs["stride_px"]
    for name in ("true_domain", "true_wall"):
        if name not in truth:
            raise InputError(f"the truth has no {name!r} variable")
    shape = tuple(truth["true_domain"].transpose("frame", "y", "x").shape)
    for name in ("true_domain", "true_wall"):
        found = tuple(truth[name].transpose("frame", "y", "x").shape)
        if found[0] != n or found != shape or len(tile_origins(found[1], window, stride)) != windows.attrs["grid_rows"] \
                or len(tile_origins(found[2], window, stride)) != windows.attrs["grid_cols"]:
            raise InputError(f"truth {name!r} has shape {found}, which does not match the tiled movie")
    ys, xs = tile_origins(shape[1], window, stride), tile_origins(shape[2], window, stride)
    frame, row, col = (windows[name].values for name in ("frame", "row", "col"))
    y, x = windows["y"].values, windows["x"].values
    domain = np.zeros(len(frame), np.int8)
    distance = np.zeros(len(frame), np.float32)
    for i, rows in enumerate(frame_slices(frame, n)):
        field = np.asarray(truth["true_domain"].transpose("frame", "y", "x")[i].values)
        wall = np.asarray(truth["true_wall"].transpose("frame", "y", "x")[i].values, dtype=bool)
        domain[rows] = field[ys[row[rows]] + window // 2, xs[col[rows]] + window // 2].astype(np.int8)
        distance[rows] = _wall_distance(wall, y[rows].astype(np.float64), x[rows].astype(np.float64)).astype(np.float32)
    add_columns(path, "patch", {"true_domain": domain, "true_wall_distance_px": distance})


def _or_none(value: float) -> float | None:
    """A float for JSON; None where it is undefined (NaN)."""
    value = float(value)
    return value if np.isfinite(value) else None


def _score(value: float, target: float, **details) -> dict:
    """A score with its target and verdict; an undefined (NaN) value is written as None."""
    ok = bool(np.isfinite(float(value)) and float(value) >= target)
    return {"value": _or_none(value), "target": target, "passes": ok, **details}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _nearest_distance(points: np.ndarray, to: np.ndarray) -> np.ndarray:
    """Distance from each of ``points`` (n, 2) to the nearest of ``to`` (m, 2); inf when ``to`` is empty."""
    from scipy.spatial import cKDTree

    if len(points) == 0:
        return np.zeros(0)
    if len(to) == 0:
        return np.full(len(points), np.inf)
    distance, _ = cKDTree(to).query(points)
    return distance


def sign_accuracy(labels: np.ndarray, true_domain: np.ndarray, true_wall_distance_px: np.ndarray,
                  away_px: float) -> dict:
    """Share of windows farther than ``away_px`` from a true wall whose label is the true sign, up to a global flip.

    The latent sign is arbitrary, so the better of the two assignments is scored:
    ``max(acc, 1 - acc)``; ``sign_flipped`` says when it is the flipped one (label = -truth).
    """
    away = np.asarray(true_wall_distance_px, float) > away_px
    truth = np.asarray(true_domain)[away]
    n = int(away.sum())
    details = {"threshold_px": float(away_px), "n_windows": n}
    if n == 0:
        return _score(float("nan"), TARGETS["sign_accuracy"], sign_flipped=None, **details,
                      note=f"no window centre lies farther than {away_px:g} px from a true wall")
    acc = float(np.mean(np.asarray(labels)[away] == truth))
    note = "only one true state among these windows" if len(np.unique(truth)) < 2 else ""
    return _score(max(acc, 1 - acc), TARGETS["sign_accuracy"], sign_flipped=bool(acc < 0.5),
                  accuracy_unflipped=acc, **details, note=note)


def wall_scores(wall_points: list[np.ndarray], true_wall: np.ndarray, covered: tuple[float, float, float, float],
                tolerance_px: float) -> dict:
    """Precision, recall and F1 of predicted wall points against the true wall pixels, pooled over frames.

    ``wall_points[f]`` are the predicted points (n, 2) as (y, x) of frame ``f``; ``true_wall`` is
    (frames, y, x). Precision: share of predicted points within ``tolerance_px`` of a true wall
    pixel of their frame. Recall: share of true wall pixels inside ``covered`` = (y_min, y_max,
    x_min, x_max) (the area the window centres span) within ``tolerance_px`` of a predicted point.
    """
    y0, y1, x0, x1 = covered
    hits_pred = n_pred = hits_true = n_true = 0
    per_frame = {"n_predicted": [], "n_true": [], "precision": [], "recall": []}
    for f, points in enumerate(wall_points):
        truth = np.argwhere(np.asarray(true_wall[f], dtype=bool)).astype(float)
        inside = truth[(truth[:, 0] >= y0) & (truth[:, 0] <= y1) & (truth[:, 1] >= x0) & (truth[:, 1] <= x1)]
        good_pred = int(np.sum(_nearest_distance(points, truth) <= tolerance_px))
        good_true = int(np.sum(_nearest_distance(inside, points) <= tolerance_px))
        hits_pred, n_pred = hits_pred + good_pred, n_pred + len(points)
        hits_true, n_true = hits_true + good_true, n_true + len(inside)
        per_frame["n_predicted"].append(len(points))
        per_frame["n_true"].append(len(inside))
        per_frame["precision"].append(good_pred / len(points) if len(points) else None)
        per_frame["recall"].append(good_true / len(inside) if len(inside) else None)
    precision = hits_pred / n_pred if n_pred else float("nan")
    recall = hits_true / n_true if n_true else float("nan")
    notes = []
    if not n_pred:
        notes.append("the latent labels make no wall in any frame")
    if not n_true:
        notes.append("no true wall pixel inside the area the window centres cover")
    if np.isfinite(precision) and np.isfinite(recall):
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    else:
        f1 = float("nan")
    frames_without = [f for f, k in enumerate(per_frame["n_true"]) if k == 0]
    if frames_without and n_true:
        notes.append(f"{len(frames_without)} frame(s) without a true wall: their predicted points count against precision")
    return _score(f1, TARGETS["wall_f1"],
                  precision=_or_none(precision), recall=_or_none(recall),
                  tolerance_px=float(tolerance_px), n_predicted=int(n_pred), n_true=int(n_true),
                  covered_px={"y": [float(y0), float(y1)], "x": [float(x0), float(x1)]},
                  per_frame=per_frame, note="; ".join(notes))


def score_switched_fraction(labels: np.ndarray, frame: np.ndarray, n_frames: int,
                            true_switched_fraction: np.ndarray) -> dict:
    """Per frame, the share of windows in the switched state (:func:`rvae_pathways.pfm.domains.switched_fraction`),
    and its Pearson correlation with the truth. Frames without labelled windows are NaN and left
    out of the correlation.
    """
    labels, frame = np.asarray(labels), np.asarray(frame)
    truth = np.asarray(true_switched_fraction, dtype=float)
    notes = [] if np.any(frame == 0) else ["frame 0 has no windows; the switched state is taken as -1"]
    predicted, switched = switched_fraction(labels, frame, n_frames)
    ok = np.isfinite(predicted) & np.isfinite(truth)
    r = _pearson(predicted[ok], truth[ok])
    if not np.isfinite(r):
        notes.append("a curve is flat (or under 2 frames), so the correlation is undefined")
    mad = float(np.mean(np.abs(predicted[ok] - truth[ok]))) if ok.any() else float("nan")
    return _score(r, TARGETS["switched_fraction_r"], switched_state=int(switched),
                  predicted=[_or_none(v) for v in predicted], true=[_or_none(v) for v in truth],
                  mean_abs_difference=_or_none(mad), note="; ".join(notes))


def score_pfm(
    labels: np.ndarray, frame: np.ndarray, row: np.ndarray, col: np.ndarray, y: np.ndarray, x: np.ndarray,
    grid_shape: tuple[int, int], stride_px: float, window_px: float,
    true_domain: np.ndarray, true_wall_distance_px: np.ndarray,
    true_wall: np.ndarray, true_switched_fraction: np.ndarray,
) -> dict:
    """Every PFM score of a latent labelling, with a verdict per target (:data:`TARGETS`).

    Parameters
    ----------
    labels : (N,) int array of +1/-1
        The windows' labels from the latent space (:func:`domain_labels`).
    frame, row, col : (N,) int arrays
        Each window's frame and grid indices (``tiles.tile_movie``'s ``frame``, ``row``, ``col``).
    y, x : (N,) arrays
        Window centres in frame px.
    grid_shape : (rows, cols)
        The grid of windows per frame (attrs ``grid_rows``, ``grid_cols``).
    stride_px, window_px : float
        Grid spacing and window side in frame px.
    true_domain, true_wall_distance_px : (N,) arrays
        Per window: the true sign at its centre and its distance to the nearest true wall pixel.
    true_wall : (frames, y, x) bool array
        The true wall pixels.
    true_switched_fraction : (frames,) array
        The true share of the frame in the switched state.

    Returns
    -------
    dict (JSON-ready; an undefined score is None with a ``note``):
    ``n_windows``, ``n_frames``, ``grid_rows``, ``grid_cols``, ``window_px``, ``stride_px``,
    ``targets``, ``n_up``, ``n_down``, ``n_wall_points``;
    ``sign_accuracy`` (value, target, passes, threshold_px = max(stride, window / 2),
    n_windows, sign_flipped, accuracy_unflipped, note);
    ``walls`` (value = F1, target, passes, precision, recall, tolerance_px = stride,
    n_predicted, n_true, covered_px, per_frame, note);
    ``switched_fraction`` (value = Pearson r, target, passes, switched_state, predicted, true,
    mean_abs_difference, note);
    ``passes`` (name -> bool) and ``all_pass``.
    """
    labels = np.asarray(labels).astype(np.int8)
    frame = np.asarray(frame).astype(np.int64)
    row, col = np.asarray(row).astype(np.int64), np.asarray(col).astype(np.int64)
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    true_wall = np.asarray(true_wall, dtype=bool)
    true_switched_fraction = np.asarray(true_switched_fraction, dtype=float)
    n_frames = true_wall.shape[0]
    n_rows, n_cols = (int(v) for v in grid_shape)
    if len(true_switched_fraction) != n_frames:
        raise ValueError(f"true_switched_fraction has {len(true_switched_fraction)} frames, true_wall {n_frames}")
    if len(frame) and (frame.min() < 0 or frame.max() >= n_frames):
        raise ValueError(f"window frames run {frame.min()}..{frame.max()}, outside the truth's {n_frames} frames")

    grid = np.zeros((n_frames, n_rows, n_cols), dtype=np.int8)
    grid[frame, row, col] = labels
    centre_y = np.full(grid.shape, np.nan)
    centre_x = np.full(grid.shape, np.nan)
    centre_y[frame, row, col] = y
    centre_x[frame, row, col] = x
    points = wall_points(grid, centre_y, centre_x)
    covered = (float(y.min()), float(y.max()), float(x.min()), float(x.max())) if len(y) else (0.0, -1.0, 0.0, -1.0)

    away_px = max(float(stride_px), float(window_px) / 2)
    scores = {
        "n_windows": int(len(labels)),
        "n_frames": int(n_frames),
        "grid_rows": n_rows,
        "grid_cols": n_cols,
        "window_px": float(window_px),
        "stride_px": float(stride_px),
        "targets": dict(TARGETS),
        "n_up": int(np.sum(labels == 1)),
        "n_down": int(np.sum(labels == -1)),
        "n_wall_points": int(sum(len(p) for p in points)),
        "sign_accuracy": sign_accuracy(labels, true_domain, true_wall_distance_px, away_px),
        "walls": wall_scores(points, true_wall, covered, float(stride_px)),
        "switched_fraction": score_switched_fraction(labels, frame, n_frames, true_switched_fraction),
    }
    scores["passes"] = {name: scores[name]["passes"] for name in ("sign_accuracy", "walls", "switched_fraction")}
    scores["all_pass"] = all(scores["passes"].values())
    return scores
