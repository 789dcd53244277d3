"""Geometry shared by every stage: nm -> px, point matching, points inside a frame."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .errors import InputError

#: Fewest pixels between atoms that the finder can resolve.
MIN_SPACING_PX = 2.0


def spacing_in_pixels(spacing_nm: float, pixel_size_nm: float) -> float:
    """Expected atom spacing in pixels; :class:`InputError` below ``MIN_SPACING_PX``."""
    if not (spacing_nm > 0 and pixel_size_nm > 0):
        raise InputError(
            f"atom spacing ({spacing_nm} nm) and pixel size ({pixel_size_nm} nm) must be positive"
        )
    spacing_px = spacing_nm / pixel_size_nm
    if spacing_px < MIN_SPACING_PX:
        raise InputError(
            f"an atom spacing of {spacing_nm} nm at {pixel_size_nm} nm/px is only {spacing_px:.2f} px; "
            f"atoms need at least {MIN_SPACING_PX:g} px between them. Check pixel_size_nm and spacing_nm "
            "in the samples table (a pixel size in A or um instead of nm is the usual cause)"
        )
    return spacing_px


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


def sample_grid(window_px: float, patch_px: int) -> tuple[np.ndarray, float]:
    """Offsets (px, from the atom) of the ``patch_px`` samples across a ``window_px`` window, and their step.

    The samples are ``step = window_px / patch_px`` apart and symmetric about 0, so the atom sits
    at the patch's centre ``(patch_px - 1) / 2`` whatever the parity of ``patch_px``, and turning
    a patch by 90 degrees (``np.rot90``) turns it about the atom.
    """
    if int(patch_px) != patch_px or patch_px < 3:
        raise InputError(f"patch_px must be an integer of at least 3, got {patch_px}")
    step = float(window_px) / int(patch_px)
    return (np.arange(patch_px) - (patch_px - 1) / 2) * step, step


def antialias_sigma(step: float) -> float:
    """Gaussian blur (px) applied before sampling every ``step`` px: ``step / 2`` when ``step > 1``, else 0.

    Averaging over about one sample spacing keeps the finer pixel noise from aliasing into the
    coarser patch (and lowers it); an atom a few px wide is hardly widened.
    """
    return 0.5 * step if step > 1 else 0.0
