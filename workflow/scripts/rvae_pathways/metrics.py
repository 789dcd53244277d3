"""Matching found points to true points, and detection scores."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def match_points(found: np.ndarray, truth: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Pair found points with true points, one-to-one, closest pairs first.

    Parameters
    ----------
    found, truth : arrays of shape (n, 2) and (m, 2)
        Point positions (any units, the same for both).
    tolerance : float
        Largest distance at which two points may be paired.

    Returns
    -------
    i_found, i_truth : int arrays of equal length
        ``found[i_found[k]]`` is paired with ``truth[i_truth[k]]``.
    """
    found = np.asarray(found, dtype=float).reshape(-1, 2)
    truth = np.asarray(truth, dtype=float).reshape(-1, 2)
    if len(found) == 0 or len(truth) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    pairs = cKDTree(found).sparse_distance_matrix(cKDTree(truth), tolerance, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    pairs = pairs[np.argsort(pairs["v"], kind="stable")]
    used_f = np.zeros(len(found), bool)
    used_t = np.zeros(len(truth), bool)
    keep_f, keep_t = [], []
    for i, j in zip(pairs["i"], pairs["j"]):
        if not used_f[i] and not used_t[j]:
            used_f[i] = used_t[j] = True
            keep_f.append(i)
            keep_t.append(j)
    return np.asarray(keep_f, int), np.asarray(keep_t, int)


def inside(points: np.ndarray, shape: tuple[int, int], margin: float) -> np.ndarray:
    """Boolean mask of points at least ``margin`` px inside an image of ``shape`` (y, x)."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    ny, nx = shape
    return (
        (points[:, 0] >= margin)
        & (points[:, 0] <= ny - 1 - margin)
        & (points[:, 1] >= margin)
        & (points[:, 1] <= nx - 1 - margin)
    )


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
