"""Geometry shared by every stage: a sample's scale (nm -> px), point matching, points inside a frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .errors import InputError

#: Fewest pixels between atoms that the finder can resolve.
MIN_SPACING_PX = 2.0


@dataclass(frozen=True)
class SampleGeometry:
    """The scale of one sample: its pixel size and expected atom spacing, and every conversion the
    workflow makes between nm, Angstrom, atom spacings and pixels (this class is the only place).

    >>> g = SampleGeometry(pixel_size_nm=0.01, spacing_nm=0.142)
    >>> round(g.spacing_px, 6), round(g.px(0.03), 6), round(g.spacings_px(1.25), 6), round(g.px_from_angstrom(0.7), 6)
    (14.2, 3.0, 17.75, 7.0)
    """

    pixel_size_nm: float
    spacing_nm: float | None = None

    def __post_init__(self):
        if not self.pixel_size_nm > 0:
            raise InputError(f"the pixel size must be positive, got {self.pixel_size_nm} nm")
        if self.spacing_nm is not None and not self.spacing_nm > 0:
            raise InputError(f"the atom spacing must be positive, got {self.spacing_nm} nm")

    def px(self, length_nm: float) -> float:
        """A length in nm, in pixels."""
        return length_nm / self.pixel_size_nm

    def px_from_angstrom(self, length_a: float) -> float:
        """A length in Angstrom (e.g. the config's ``max_displacement_a``), in pixels."""
        if not length_a > 0:
            raise InputError(f"a length in Angstrom must be positive, got {length_a}")
        return length_a * 0.1 / self.pixel_size_nm

    @property
    def spacing_px(self) -> float:
        """The expected atom spacing in pixels; :class:`InputError` below ``MIN_SPACING_PX``."""
        if self.spacing_nm is None:
            raise InputError("the atom spacing (spacing_nm in the samples table) is needed here")
        spacing_px = self.spacing_nm / self.pixel_size_nm
        if spacing_px < MIN_SPACING_PX:
            raise InputError(
                f"an atom spacing of {self.spacing_nm} nm at {self.pixel_size_nm} nm/px is only {spacing_px:.2f} px; "
                f"atoms need at least {MIN_SPACING_PX:g} px between them. Check pixel_size_nm and spacing_nm "
                "in the samples table (a pixel size in A or um instead of nm is the usual cause)"
            )
        return spacing_px

    def spacings_px(self, n_spacings: float) -> float:
        """A length given in atom spacings (e.g. a margin), in pixels."""
        return n_spacings * self.spacing_px


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
