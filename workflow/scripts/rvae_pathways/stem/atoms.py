"""Atom finding without trained weights: matched-filter peaks and batched 2-D Gaussian fits.

The scale of everything follows from one number, the expected nearest-neighbour spacing of
atoms (or atomic columns) in pixels: ``spacing_px = spacing_nm / pixel_size_nm``.

0. Contrast: atoms are bright (HAADF) or dark (ABF, bright field); a dark-contrast image is
   negated, so that atoms are always peaks (:func:`detect_contrast` decides from the data when
   the user does not say).
1. Background: variations slower than about three spacings (thickness, a support, scan gain)
   are estimated as the lower envelope of the image
   (:func:`~rvae_pathways.stem.background_noise.estimate_background`) and subtracted.
2. Smooth with a Gaussian of ``sigma = smooth * spacing_px`` (a matched filter for the probe).
3. Local maxima at least ``min_distance * spacing_px`` apart, taken from the highest down
   (:func:`spaced_peaks`).
4. Keep maxima that rise above the floor by more than ``significance`` times the white noise
   measured on the image (:func:`~rvae_pathways.stem.background_noise.white_noise_sigma`) left after
   smoothing, and by more than ``threshold`` times a typical atom's rise.
5. Refine every atom at once by Levenberg-Marquardt fits of a 2-D Gaussian spot on a constant
   background to the background-free image, in a disc of radius ``fit_radius * spacing_px``,
   with the fitted spots of all other atoms subtracted (a few rounds), so bright neighbours do
   not pull the positions. The spot width is measured from the data (free-width fits), and the
   fits are weighted by the noise measured against the signal
   (:func:`~rvae_pathways.stem.gaussian_fits.noise_variance_model`).
6. Subtract the fitted atoms and look for peaks left in the residual (atoms hidden in the tail
   of a bright neighbour); refit with them.

This module holds the contrast, the peaks and :func:`find_atoms`, which runs the steps; the
background and noise estimates live in :mod:`rvae_pathways.stem.background_noise`, the Gaussian
fits in :mod:`rvae_pathways.stem.gaussian_fits`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..core.config import defaults
from ..core.errors import InputError
from .background_noise import estimate_background, smoothing_noise_gain, white_noise_sigma
from .gaussian_fits import model_image, refine_positions

# keyword defaults: the config schema's (the one source of every default)
ATOMS = defaults("atoms")


def find_peaks(
    image: np.ndarray,
    spacing_px: float,
    smooth: float = ATOMS["smooth"],
    min_distance: float = ATOMS["min_distance"],
    threshold: float = ATOMS["threshold"],
    significance: float = ATOMS["significance"],
    contrast: str = "bright",
    background: float = ATOMS["background"],
) -> np.ndarray:
    """Integer (y, x) positions of candidate atoms, shape (n, 2).

    Parameters
    ----------
    image : 2-D array
    spacing_px : float
        Expected nearest-neighbour distance in px.
    smooth : float
        Gaussian smoothing sigma as a fraction of the spacing.
    min_distance : float
        Smallest distance between two peaks as a fraction of the spacing.
    threshold : float
        Peaks must rise above the background by this fraction of a typical atom's rise (the
        75th percentile of the significant peaks' rises).
    significance : float
        ... and by this many times the noise left after smoothing (see :func:`find_atoms`).
    contrast : {"bright", "dark"}
    background : float
        Scale (in spacings) of the background removed
        (:func:`~rvae_pathways.stem.background_noise.estimate_background`); 0: none.
    """
    signal, noise = _prepared(image, spacing_px, contrast, background)
    smoothed = ndimage.gaussian_filter(signal, smooth * spacing_px)
    return _peaks_above(smoothed, spacing_px, min_distance, threshold, noise, smooth * spacing_px, significance)[0]


def _prepared(image, spacing_px: float, contrast: str, background: float):
    """The image with atoms as peaks on a flat floor (negated for dark contrast, background
    removed), and its white-noise sigma per pixel."""
    image = np.asarray(image, dtype=np.float64)
    if contrast not in CONTRASTS:
        raise InputError(f"contrast must be one of {CONTRASTS}, got {contrast!r}")
    if contrast == "dark":
        image = -image
    noise = white_noise_sigma(image)
    if background:
        image = image - estimate_background(image, spacing_px, background)
    else:
        image = image - np.percentile(ndimage.gaussian_filter(image, 0.25 * spacing_px), 1.0)
    return image, noise


CONTRASTS = ("bright", "dark")
#: |skewness| of the band-passed image below which the contrast is called uncertain (logged).
CONTRAST_SKEW_MIN = 0.1


def detect_contrast(image: np.ndarray, spacing_px: float) -> tuple[str, float]:
    """Whether atoms are bright (HAADF) or dark (ABF, bright field) in ``image``.

    Atoms are small spots that cover a minority of the field; the gaps between them are broad.
    After a band-pass at the atom scale (Gaussian smoothing at a tenth of the spacing minus
    smoothing at half a spacing: slower structure, a hole or a thickness step, is left out) the
    spots form a long tail on their side of the distribution: the skewness is positive when
    atoms are bright and negative when they are dark. Measured: |skewness| >= 0.2 on the demo
    and tiny simulated frames, the physics corpus and the real SrTiO3 HAADF and ABF frames, with
    the right sign on every one (a band to one spacing got small frames wrong).

    Returns
    -------
    contrast : {"bright", "dark"}
    skewness : float
        Its magnitude says how clear the decision was (below :data:`CONTRAST_SKEW_MIN`: unclear).
    """
    image = np.asarray(image, dtype=np.float64)
    band = ndimage.gaussian_filter(image, 0.1 * spacing_px) - ndimage.gaussian_filter(image, 0.5 * spacing_px)
    margin = int(np.ceil(0.5 * spacing_px))  # the filters' mirrored borders
    if min(band.shape) > 4 * margin:
        band = band[margin:-margin, margin:-margin]
    band = band - band.mean()
    spread = np.sqrt(np.mean(band**2))
    skewness = float(np.mean(band**3) / spread**3) if spread > 0 else 0.0
    return ("bright" if skewness >= 0 else "dark"), skewness


def resolve_contrast(contrast: str | None, image: np.ndarray, spacing_px: float, log=None) -> str:
    """``contrast`` as given ("bright"/"dark"), or decided by :func:`detect_contrast` when empty
    or "auto"; the decision is logged (with a warning when it is unclear)."""
    if contrast in CONTRASTS:
        return contrast
    if contrast not in (None, "", "auto"):
        raise InputError(f"contrast must be one of {CONTRASTS} or empty (auto), got {contrast!r}")
    decided, skewness = detect_contrast(image, spacing_px)
    if log:
        unclear = abs(skewness) < CONTRAST_SKEW_MIN
        (log.warning if unclear else log.info)(
            "contrast detected: atoms are %s (skewness of the band-passed frame %+.2f%s)",
            decided, skewness,
            "; unclear: set the contrast column of the samples table" if unclear else "",
        )  # fmt: skip
    return decided


#: Peaks of the residual (the image minus the fitted atoms) count as hidden atoms only this many
#: spacings or more from every atom found: closer ones are what a Gaussian leaves of a real probe
#: or column (its tails, an ABF column's ring), not atoms (in a lattice they sit 1 spacing apart).
RESIDUAL_MIN_DISTANCE = 0.75
#: The floor of :func:`~rvae_pathways.stem.background_noise.estimate_background` lies below the mean level
#: between atoms by about this many sigmas of the smoothed noise (it is an opening of a noisy
#: image, a lower envelope).
FLOOR_BIAS_SIGMAS = 2.0


def _peaks_above(smoothed: np.ndarray, spacing_px: float, min_distance: float, threshold: float,
                 noise: float, sigma_smooth: float, significance: float,
                 atom_rise: float | None = None):
    """Peaks of a smoothed, background-free image that clear the thresholds; also returns a
    typical atom's rise.

    A peak must rise above the floor (zero) by more than ``significance`` times the noise left
    after smoothing at that place (white noise of ``noise`` per pixel smoothed by a Gaussian of
    ``sigma_smooth`` px keeps ``noise / (2 sqrt(pi) sigma_smooth)``, more near the border: see
    :func:`~rvae_pathways.stem.background_noise.smoothing_noise_gain`), plus the floor's bias
    (:data:`FLOOR_BIAS_SIGMAS`), so that an image holding few atoms is not read as one holding
    many atoms of noise; and by more than
    ``threshold`` times a typical atom's rise (the 75th percentile of the significant peaks'
    rises, or ``atom_rise`` when given).
    """
    peaks = local_maxima(smoothed)
    heights = smoothed[peaks[:, 0], peaks[:, 1]]
    ny, nx = smoothed.shape
    gain = smoothing_noise_gain(ny, sigma_smooth)[peaks[:, 0]] * smoothing_noise_gain(nx, sigma_smooth)[peaks[:, 1]]
    noise_level = (significance + FLOOR_BIAS_SIGMAS) * noise / (2 * np.sqrt(np.pi) * sigma_smooth) * gain
    significant = heights > noise_level
    peaks, heights = peaks[significant], heights[significant]
    peaks, heights = spaced_peaks(peaks, heights, min_distance * spacing_px)
    if len(peaks) == 0:
        return peaks.reshape(0, 2), atom_rise
    if atom_rise is None:
        atom_rise = float(np.percentile(heights, 75.0))
    keep = heights > threshold * atom_rise
    return peaks[keep], atom_rise


def local_maxima(image: np.ndarray) -> np.ndarray:
    """Integer (y, x) of every pixel not lower than its 8 neighbours, shape (n, 2)."""
    return np.argwhere(image >= ndimage.maximum_filter(image, size=3, mode="nearest"))


def spaced_peaks(peaks: np.ndarray, heights: np.ndarray, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The highest peaks at least ``distance`` px apart (Euclidean): peaks are taken from the
    highest down, and each one taken removes the lower ones within ``distance``.

    A square window (a maximum filter of side ``2 distance``) would let the bright halo of a
    neighbour in its corner, at up to 1.41 x ``distance``, hide a dim atom; a disc does not.
    """
    order = np.argsort(-heights, kind="stable")
    peaks, heights = peaks[order], heights[order]
    if len(peaks) < 2 or distance <= 1:
        return peaks, heights
    pairs = cKDTree(peaks).query_pairs(distance - 1e-9, output_type="ndarray")
    if len(pairs) == 0:
        return peaks, heights
    pairs.sort(axis=1)  # (higher, lower): indices follow the height order
    lower_of = [[] for _ in range(len(peaks))]
    for hi, lo in pairs:
        lower_of[hi].append(lo)
    removed = np.zeros(len(peaks), bool)
    for i in range(len(peaks)):
        if not removed[i]:
            removed[lower_of[i]] = True
    keep = ~removed
    return peaks[keep], heights[keep]



#: ``neighbours`` of an atom whose neighbourhood reaches beyond the frame: not known.
UNKNOWN_NEIGHBOURS = -1


def count_neighbours(positions: np.ndarray, radius: float, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Number of other points within ``radius`` of each point.

    With the frame's ``shape`` given, points closer than ``radius`` to the frame's border get
    :data:`UNKNOWN_NEIGHBOURS`: part of their neighbourhood lies outside the field of view, so
    a low count there says nothing about the atom (it is not an edge or a vacancy).
    """
    positions = np.asarray(positions, dtype=float).reshape(-1, 2)
    if len(positions) == 0:
        return np.zeros(0, int)
    tree = cKDTree(positions)
    count = np.asarray([len(n) - 1 for n in tree.query_ball_point(positions, radius)], dtype=int)
    if shape is not None:
        to_border = np.minimum.reduce([positions[:, 0], positions[:, 1], shape[0] - 1 - positions[:, 0],
                                       shape[1] - 1 - positions[:, 1]])
        count[to_border < radius] = UNKNOWN_NEIGHBOURS
    return count


def find_atoms(
    image: np.ndarray,
    spacing_px: float,
    smooth: float = ATOMS["smooth"],
    min_distance: float = ATOMS["min_distance"],
    threshold: float = ATOMS["threshold"],
    fit_radius: float = ATOMS["fit_radius"],
    sigma_px: float | None = None,
    neighbour_radius: float = ATOMS["neighbour_radius"],
    significance: float = ATOMS["significance"],
    contrast: str = "bright",
    background: float = ATOMS["background"],
) -> dict[str, np.ndarray]:
    """Find atoms in one image.

    Peaks of the smoothed, background-free image are fitted
    (:func:`~rvae_pathways.stem.gaussian_fits.refine_positions`); then the fitted atoms are subtracted
    and peaks of the residual that clear the same thresholds (atoms hidden in the tails of bright
    neighbours) are added, and everything is fitted again.

    Parameters
    ----------
    image : 2-D array
        One frame (any intensity scale; normalised frames are usual).
    spacing_px : float
        Expected nearest-neighbour spacing in px (see :class:`~rvae_pathways.core.geometry.SampleGeometry`).
    smooth, min_distance, threshold : float
        See :func:`find_peaks`.
    fit_radius, sigma_px : float
        See :func:`~rvae_pathways.stem.gaussian_fits.refine_positions`.
    neighbour_radius : float
        Atoms closer than this multiple of the spacing count as neighbours.
    significance : float
        The detection bar in noise sigmas (the noise measured on the image by
        :func:`~rvae_pathways.stem.background_noise.white_noise_sigma`): peaks of the smoothed image must
        clear it, and atoms whose fitted amplitude is below this many standard errors are dropped.
    contrast : {"bright", "dark"}
        Atoms brighter (HAADF) or darker (ABF) than their surroundings (see
        :func:`detect_contrast`).
    background : float
        Variations slower than this many spacings are removed first
        (:func:`~rvae_pathways.stem.background_noise.estimate_background`); 0 keeps the image as it is (the
        floor is then its 1st percentile).

    Returns
    -------
    dict of 1-D arrays, one entry per atom: ``y``, ``x`` (px, sub-pixel), ``intensity``
    (fitted peak height above the local background, image units, positive for either contrast),
    ``refined`` (bool) and ``neighbours`` (count within ``neighbour_radius * spacing_px``;
    :data:`UNKNOWN_NEIGHBOURS` for atoms closer than that to the frame's border); plus
    the scalars ``sigma_px`` (fitted spot width) and ``noise`` (per-pixel noise sigma). Empty
    arrays when the image holds no atoms.
    """
    signal, noise = _prepared(image, spacing_px, contrast, background)
    sigma_smooth = smooth * spacing_px
    smoothed = ndimage.gaussian_filter(signal, sigma_smooth)
    peaks, atom_rise = _peaks_above(smoothed, spacing_px, min_distance, threshold, noise, sigma_smooth, significance)
    fit = refine_positions(signal, peaks, spacing_px, fit_radius, sigma_px)
    if len(peaks):
        # Atoms hidden in a bright neighbour's tail: peaks of (image - model) clearing the same bars.
        residual = ndimage.gaussian_filter(signal - model_image(signal.shape, fit), sigma_smooth)
        extra, _ = _peaks_above(residual, spacing_px, min_distance, threshold, noise, sigma_smooth, significance,
                                atom_rise)
        if len(extra):
            found = np.stack([fit["y"], fit["x"]], axis=1)
            far = cKDTree(found).query(extra)[0] >= RESIDUAL_MIN_DISTANCE * spacing_px
            if far.any():
                # everything is fitted again: the new atoms change their neighbours' fits, and a
                # fit of only the atoms near them would weight their pixels without the rest
                fit = refine_positions(signal, np.concatenate([found, extra[far]]), spacing_px, fit_radius,
                                       fit["sigma_px"], variance=fit["noise_variance"])
    significant = fit["amplitude"] > significance * fit["amplitude_error"]
    fit = {k: (v[significant] if isinstance(v, np.ndarray) else v) for k, v in fit.items()}
    positions = np.stack([fit["y"], fit["x"]], axis=1)
    return {
        "y": fit["y"].astype(np.float32),
        "x": fit["x"].astype(np.float32),
        "intensity": fit["amplitude"].astype(np.float32),
        "refined": fit["refined"],
        "neighbours": count_neighbours(positions, neighbour_radius * spacing_px, signal.shape).astype(np.int16),
        "sigma_px": fit["sigma_px"],
        "noise": noise,
    }
