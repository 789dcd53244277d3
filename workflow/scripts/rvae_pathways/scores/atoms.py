"""Matching found points to true points, and detection scores."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..core.frames import frame_slices
from ..core.geometry import inside, match_points
from ..core.store import add_columns

TRUTH_LABELS = ("true_id", "true_class", "true_sublattice")


def label_atoms_with_truth(path, aligned, tolerance_px: float) -> int:
    """Give every atom of a found-atom table the labels of the simulator's atom it matches.

    Frame by frame, found and true atoms are paired one to one within ``tolerance_px``
    (:func:`~rvae_pathways.core.geometry.match_points`); the columns ``true_id``, ``true_class``,
    ``true_sublattice`` (-1 where no true atom matches) and ``true_distance_px`` (NaN there) are
    added to the table's Zarr store at ``path`` (``find_atoms_in_movie``'s), chunked like it.
    ``aligned`` carries the truth (``true_frame``, ``true_y``, ``true_x`` and the labels).
    Returns the number of matched atoms.
    """
    atoms = xr.open_zarr(path)
    n = aligned.sizes["frame"]
    frame, y, x = (atoms[name].values for name in ("frame", "y", "x"))
    found_rows = frame_slices(frame, n)
    truth_rows = frame_slices(aligned["true_frame"].values, n)
    true_pos = np.stack([aligned["true_y"].values, aligned["true_x"].values], axis=1)
    true_labels = {name: aligned[name].values for name in TRUTH_LABELS}
    columns = {name: np.full(len(frame), -1, np.int32) for name in TRUTH_LABELS}
    columns["true_distance_px"] = np.full(len(frame), np.nan, np.float32)
    for found, rows in zip(found_rows, truth_rows):
        positions = np.stack([y[found], x[found]], 1)
        i_found, i_true = match_points(positions, true_pos[rows], tolerance_px)
        for name in TRUTH_LABELS:
            columns[name][found][i_found] = true_labels[name][rows][i_true]
        columns["true_distance_px"][found][i_found] = np.hypot(*(positions[i_found] - true_pos[rows][i_true]).T)
    add_columns(path, "atom", columns)
    return int(np.sum(columns["true_id"] >= 0))




def detection_counts(
    found: np.ndarray, truth: np.ndarray, tolerance: float, shape: tuple[int, int], margin: float = 0.0
) -> dict:
    """True/false positives and negatives of one frame, plus squared position errors.

    Points are matched over the whole frame; a found point counts as a false positive, and a
    true point as a false negative, only if it lies at least ``margin`` px inside the frame, so
    that atoms cut by the border neither reward nor punish the finder.

    Returns
    -------
    dict with ``tp``, ``fp``, ``fn`` (ints) and ``sq_errors`` (array of squared distances of
    the matched pairs whose true point is inside the margin).
    """
    found = np.asarray(found, dtype=float).reshape(-1, 2)
    truth = np.asarray(truth, dtype=float).reshape(-1, 2)
    i_f, i_t = match_points(found, truth, tolerance)
    found_in = inside(found, shape, margin)
    truth_in = inside(truth, shape, margin)
    matched_f = np.zeros(len(found), bool)
    matched_f[i_f] = True
    matched_t = np.zeros(len(truth), bool)
    matched_t[i_t] = True
    pair_in = truth_in[i_t]
    d2 = np.sum((found[i_f] - truth[i_t]) ** 2, axis=1)[pair_in]
    return {
        "tp": int(pair_in.sum()),
        "fp": int((found_in & ~matched_f).sum()),
        "fn": int((truth_in & ~matched_t).sum()),
        "sq_errors": d2,
    }


def detection_scores(tp: int, fp: int, fn: int, sq_errors: np.ndarray) -> dict:
    """Precision, recall, F1 and position RMSE from summed counts."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    rmse = float(np.sqrt(np.mean(sq_errors))) if len(sq_errors) else float("nan")
    return {
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(fn),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "rmse_px": rmse,
    }


def score_movie(aligned, atoms, tolerance_px: float, margin_px: float) -> dict:
    """Detection scores of a found-atom table against the truth carried by the frames.

    Parameters
    ----------
    aligned : xarray.Dataset
        Frames with ``true_frame``, ``true_y``, ``true_x``, ``true_class`` (and the attribute
        ``true_class_names``).
    atoms : xarray.Dataset
        The table of :func:`rvae_pathways.stem.movie.find_atoms_in_movie`.
    tolerance_px, margin_px : float
        See :func:`detection_counts`.

    Returns
    -------
    dict: the overall scores (``f1``, ``precision``, ``recall``, ``rmse_px``, counts), recall per
    true class, the largest error of the measured drift (px, where the truth has it), and the
    scores of every frame under ``frames``.
    """

    n = aligned.sizes["frame"]
    shape = (aligned.sizes["y"], aligned.sizes["x"])
    true_rows = frame_slices(aligned["true_frame"].values, n)
    found_rows = frame_slices(atoms["frame"].values, n)
    truth = np.stack([aligned["true_y"].values, aligned["true_x"].values], 1)
    true_class = aligned["true_class"].values
    found = np.stack([atoms["y"].values, atoms["x"].values], 1)
    class_names = str(aligned.attrs.get("true_class_names", "")).split(",")
    totals = {"tp": 0, "fp": 0, "fn": 0}
    errors, per_frame = [], []
    class_hits = np.zeros(len(class_names)), np.zeros(len(class_names))
    for i in range(n):
        t, f = truth[true_rows[i]], found[found_rows[i]]
        counts = detection_counts(f, t, tolerance_px, shape, margin_px)
        for k in totals:
            totals[k] += counts[k]
        errors.append(counts["sq_errors"])
        per_frame.append({"frame": i, **detection_scores(**counts)})
        _, i_t = match_points(f, t, tolerance_px)
        hit = np.zeros(len(t), bool)
        hit[i_t] = True
        cls = true_class[true_rows[i]]
        scored = inside(t, shape, margin_px)
        for c in range(len(class_names)):
            sel = scored & (cls == c)
            class_hits[0][c] += hit[sel].sum()
            class_hits[1][c] += sel.sum()
    overall = detection_scores(**totals, sq_errors=np.concatenate(errors))
    recall_by_class = {
        name: (float(class_hits[0][c] / class_hits[1][c]) if class_hits[1][c] else None)
        for c, name in enumerate(class_names)
    }
    drift_error = None
    if "true_drift_y" in aligned and "drift_y" in aligned:
        measured = np.stack([aligned["drift_y"].values, aligned["drift_x"].values], 1)
        true = np.stack([aligned["true_drift_y"].values, aligned["true_drift_x"].values], 1)
        drift_error = float(np.max(np.hypot(*(measured - true).T)))
    return {
        **overall,
        "drift_max_error_px": drift_error,
        "tolerance_px": float(tolerance_px),
        "margin_px": float(margin_px),
        "recall_by_class": recall_by_class,
        "frames": per_frame,
    }
