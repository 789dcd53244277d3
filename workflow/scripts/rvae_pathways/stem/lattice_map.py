"""Where a frame resolves a lattice: local Fourier analysis at the given spacing.

Step 1 of the lattice check (:mod:`rvae_pathways.stem.qc`). The frame's lattice spots are sharp
peaks of its power spectrum (:func:`lattice_spots`); at every place the local power near the
spots is compared with that near featureless control frequencies of the same ``|k|``
(:func:`lattice_analysis`), giving the map of where a lattice is resolved
(:func:`resolved_lattice_map`). Defaults come from
:data:`~rvae_pathways.stem.qc_verdicts.THRESHOLDS`.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage
from scipy.spatial import cKDTree

from .qc_verdicts import THRESHOLDS

__all__ = ["lattice_analysis", "resolved_lattice_map"]


def periodic_component(image: np.ndarray) -> np.ndarray:
    """The periodic part of an image (Moisan's periodic plus smooth decomposition).

    A discrete Fourier transform treats the image as periodic; the jumps between opposite edges
    then put power along the axes of its spectrum. Subtracting the smooth image whose Laplacian
    cancels those jumps removes it and leaves the lattice's spots as sharp as the field allows.
    """
    image = np.asarray(image)
    ny, nx = image.shape
    jumps = np.zeros_like(image)
    jumps[0, :] += image[-1, :] - image[0, :]
    jumps[-1, :] += image[0, :] - image[-1, :]
    jumps[:, 0] += image[:, -1] - image[:, 0]
    jumps[:, -1] += image[:, 0] - image[:, -1]
    denominator = (2.0 * np.cos(2.0 * np.pi * np.arange(ny) / ny)[:, None]
                   + 2.0 * np.cos(2.0 * np.pi * np.arange(nx // 2 + 1) / nx)[None, :] - 4.0)
    denominator[0, 0] = 1.0
    smooth = sp_fft.rfft2(jumps) / denominator.astype(image.dtype)
    smooth[0, 0] = 0.0
    return image - sp_fft.irfft2(smooth, s=(ny, nx))


def edge_taper(shape: tuple[int, int], width: float) -> np.ndarray:
    """A window that is 1 inside and falls to 0 at the image border over ``width`` px (sin^2).

    A discrete Fourier transform treats the image as periodic; the lattice does not continue
    across opposite edges, and that seam would spread power over the whole spectrum. The taper
    removes the seam; local power ratios do not depend on it (spots and controls scale alike).
    """
    ramps = []
    for n in shape:
        distance = np.minimum(np.arange(n), np.arange(n)[::-1]) + 0.5
        ramps.append(np.sin(0.5 * np.pi * np.clip(distance / max(width, 1.0), 0.0, 1.0)) ** 2)
    return ramps[0][:, None] * ramps[1][None, :]


def _frame_ratio(spectrum: np.ndarray, shape: tuple[int, int], spacing_px: float,
                 band: tuple[float, float]) -> np.ndarray:
    """A frame's power over the median power on its ring of ``|k|`` (rings 1.5 bins wide), on
    the band's bins away from the scan-noise line (``kx < 2`` bins); 0 elsewhere.
    ``spectrum`` is the ``rfft2`` of an image of ``shape``."""
    ny, nx = shape
    radius = np.hypot(sp_fft.fftfreq(ny)[:, None], sp_fft.rfftfreq(nx)[None, :]) * spacing_px  # cycles/spacing
    low = max(band[0], 3.0 * spacing_px / min(ny, nx))
    usable = (radius >= low) & (radius <= band[1]) & (np.arange(nx // 2 + 1) >= 2)[None, :]
    ratio = np.zeros(radius.shape)
    if not usable.any():
        return ratio
    values = np.abs(spectrum[usable]).astype(float) ** 2
    ring = np.floor(radius[usable] * min(ny, nx) / (1.5 * spacing_px)).astype(int)
    order = np.lexsort((values, ring))
    sorted_ring = ring[order]
    starts = np.searchsorted(sorted_ring, np.unique(sorted_ring))
    ends = np.append(starts[1:], len(order))
    median = np.zeros(ring.max() + 1)
    median[sorted_ring[starts]] = values[order][(starts + ends) // 2]
    ratio[usable] = values / np.maximum(median[ring], np.finfo(float).tiny)
    return ratio


def lattice_spots(
    ratio: np.ndarray,
    sigma_bins: tuple[float, float],
    spot_ratio: float = THRESHOLDS["spot_ratio"],
    max_spots: int = 12,
) -> np.ndarray:
    """The lattice spots of a frame: sharp peaks of its power spectrum.

    Parameters
    ----------
    ratio : 2-D array
        The frame's power spectrum (``rfft2`` layout) over the median on each ring of ``|k|``,
        0 outside the band searched (see :func:`lattice_analysis`).
    sigma_bins : (float, float)
        Width of a local frequency filter (bins along ky, kx): peaks closer than 2.4 widths to a
        stronger one are its shoulders, not spots of their own.
    spot_ratio : float
        Least ratio of a spot.
    max_spots : int
        At most this many spots, strongest first.

    Returns
    -------
    (n, 2) float array of spot frequencies (ky, kx) in FFT bins, one of each +-k pair (kx > 0).
    """
    ny = ratio.shape[0]
    peak = ndimage.maximum_filter(ratio, size=3, mode=("wrap", "nearest"))
    iy, ix = np.nonzero((ratio == peak) & (ratio >= spot_ratio))
    order = np.argsort(-ratio[iy, ix])
    candidates = np.stack([sp_fft.fftfreq(ny, 1.0 / ny)[iy[order]], ix[order].astype(float)], axis=1)
    scale = np.asarray(sigma_bins)
    spots = []
    for candidate in candidates:
        others = np.asarray(spots).reshape(-1, 2)
        others = np.concatenate([others, -others]) / scale
        if len(others) == 0 or np.min(np.hypot(*(others - candidate / scale).T)) >= 2.4:
            spots.append(candidate)
            if len(spots) == max_spots:
                break
    return np.asarray(spots).reshape(-1, 2)


def _local_power(spectrum: np.ndarray, shape: tuple[int, int], centres: np.ndarray,
                 sigma_bins: tuple[float, float], half: tuple[int, int]) -> np.ndarray:
    """Local power of an image near frequencies ``centres`` ((m, 2) bins), on a coarse grid.

    ``spectrum`` is the ``rfft2`` of an image of ``shape``. Each frequency is shifted to zero
    and low-passed by a Gaussian of ``sigma_bins`` (the Fourier pair of the spatial envelope),
    then transformed back on a ``(2 half[0] + 1) x (2 half[1] + 1)`` grid that covers the
    image: |amplitude|^2, (m, gy, gx).
    """
    ny, nx = shape
    offsets_y = np.arange(-half[0], half[0] + 1)
    offsets_x = np.arange(-half[1], half[1] + 1)
    cy = np.rint(centres[:, 0]).astype(int)
    cx = np.rint(centres[:, 1]).astype(int)
    rows = (cy[:, None] + offsets_y)[:, :, None]  # (m, gy, 1), signed bins
    cols = (cx[:, None] + offsets_x)[:, None, :]  # (m, 1, gx)
    cols = (cols + nx // 2) % nx - nx // 2  # wrapped to [-nx/2, nx/2)
    negative = cols < 0  # kx < 0: the conjugate of (-ky, -kx)
    cut = spectrum[np.where(negative, -rows, rows) % ny, np.abs(cols)]
    cut = np.where(negative, np.conj(cut), cut)
    wy = np.exp(-0.5 * ((cy[:, None] + offsets_y - centres[:, :1]) / sigma_bins[0]) ** 2)
    wx = np.exp(-0.5 * ((cx[:, None] + offsets_x - centres[:, 1:]) / sigma_bins[1]) ** 2)
    field = sp_fft.ifft2(cut * (wy[:, :, None] * wx[:, None, :]).astype(np.float32), axes=(1, 2))
    return np.abs(field) ** 2


def _controls(spots: np.ndarray, ratio: np.ndarray, shape: tuple[int, int],
              sigma_bins: tuple[float, float]) -> list[np.ndarray]:
    """For each spot, frequencies (bins) near its ring where the frame's spectrum is featureless.

    ``ratio`` is the frame's ring-normalised power (``rfft2`` layout) of an image of ``shape``.

    Candidates lie on the spot's ring every 10 degrees from the spot's direction (and, where
    that ring has fewer than three free places, on rings 15 % inside and outside it). Kept are
    those at least 2.4 Gaussian widths (``sigma_bins``) from every spot of either sign and from
    the scan-noise line kx = 0, where the frame's ratio smoothed over the Gaussian stays below 3:
    no spot of any strength, only speckle or noise.
    """
    if len(spots) == 0:
        return []
    ny, nx = shape
    scale = np.asarray(sigma_bins)
    smooth = ndimage.gaussian_filter(ratio, sigma_bins, mode=("wrap", "nearest"))
    every = cKDTree(np.concatenate([spots, -spots]) / scale)
    turns = np.deg2rad(np.arange(10.0, 180.0, 10.0))
    factors = np.repeat([1.0, 0.85, 1.15], len(turns))
    controls = []
    for ky, kx in spots:
        radius, angle = np.hypot(ky / ny, kx / nx), np.arctan2(ky / ny, kx / nx)
        theta = angle + np.tile(turns, 3)
        candidates = np.stack([factors * radius * np.sin(theta) * ny, factors * radius * np.cos(theta) * nx], axis=1)
        candidates *= np.where(candidates[:, 1:] < 0, -1.0, 1.0)  # one of each +-k pair
        keep = every.query(candidates / scale)[0] >= 2.4
        keep &= np.abs(candidates[:, 1]) >= 2.4 * sigma_bins[1]
        column = np.clip(np.rint(candidates[:, 1]).astype(int), 0, smooth.shape[1] - 1)
        keep &= smooth[np.rint(candidates[:, 0]).astype(int) % ny, column] < 3.0
        if np.sum(keep & (factors == 1.0)) >= 3:  # the spot's own ring when it has room
            keep &= factors == 1.0
        controls.append(candidates[keep])
    return controls


def lattice_analysis(
    image: np.ndarray,
    spacing_px: float,
    window_spacings: float = THRESHOLDS["window_spacings"],
    band: tuple[float, float] = THRESHOLDS["band"],
    spot_ratio: float = THRESHOLDS["spot_ratio"],
    resolved_score: float = THRESHOLDS["resolved_score"],
) -> dict:
    """Local lattice analysis of one image.

    Parameters
    ----------
    image : 2-D array
        One frame (any intensity scale; bright or dark atoms).
    spacing_px : float
        Expected nearest-neighbour spacing of atoms in px.
    window_spacings : float
        Size of the local area, in spacings: a Gaussian envelope (standard deviation 0.19 of
        it) as wide as a Hann window of this side.
    band : (float, float)
        Range of ``|k| * spacing_px`` (cycles per spacing) searched for lattice spots.
    spot_ratio : float
        Least power of a frame's spot over the median power on its ring of ``|k|``.
    resolved_score : float
        Least local score of a resolved lattice.

    Returns
    -------
    dict
        ``score`` (float32 array, shape of ``image``): the local lattice score (see Notes);
        ``resolved`` (bool array): ``score >= resolved_score``; ``spots`` ((n, 2) frequencies
        (ky, kx) in cycles/px of the frame's lattice spots, one of each +-k pair) and
        ``controls`` (per spot, the featureless frequencies compared with it). Without spots
        (no lattice anywhere) the score is 0.

    Notes
    -----
    Steps: white top-hat over squares of 1.5 spacings (flattens steps at holes and particle
    edges, keeps bright atoms or the bright gaps between dark ones), clipped to
    ``THRESHOLDS["clip_percentiles"]``; spots and controls from the frame's spectrum (its
    periodic component, so the edges add no streaks); local power at each of them from the
    frame tapered at its edges and padded with zeros, shifted to zero frequency, low-passed by
    the envelope's Gaussian and sampled on a coarse grid; score = sum over spots of their local
    power over the sum of the median local power of their controls, interpolated to the pixels.
    It is about 1 on a support, noise or vacuum (speckle has no preferred direction), tens to
    thousands on a lattice. A 1024 x 1024 frame takes about 0.3 s. The field must span about
    seven spacings or more (at 14 px per spacing, 96 px resolve a whole graphene frame, 64 px do
    not): the frame's spots need that many cells to stand out.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    if not spacing_px > 0:
        raise ValueError(f"spacing_px must be positive, got {spacing_px}")
    ny, nx = image.shape
    # White top-hat over squares 1.5 spacings wide: what rises above the floor between atoms.
    # It keeps the lattice (bright atoms, or the bright gaps between dark ones) and flattens the
    # step at the edge of a hole or particle, whose broad spectrum would drown the spots there.
    size = max(3, int(round(1.5 * spacing_px)) | 1)
    flat = image - ndimage.maximum_filter(ndimage.minimum_filter(image, size), size)
    low, high = np.percentile(flat, THRESHOLDS["clip_percentiles"])
    flat = np.clip(flat, low, high)
    flat -= flat.mean()
    sigma_px = 0.19 * window_spacings * spacing_px

    # The frame's spots and featureless places, from its own spectrum.
    ratio = _frame_ratio(sp_fft.rfft2(periodic_component(flat)), (ny, nx), spacing_px, band)
    sigma_bins = (ny / (2 * np.pi * sigma_px), nx / (2 * np.pi * sigma_px))
    spots = lattice_spots(ratio, sigma_bins, spot_ratio)
    controls = _controls(spots, ratio, (ny, nx), sigma_bins)
    kept = [i for i, c in enumerate(controls) if len(c)]
    spots, controls = spots[kept], [controls[i] for i in kept]
    per_px = np.array([ny, nx], float)
    result = {"score": np.zeros(image.shape, np.float32), "resolved": np.zeros(image.shape, bool),
              "spots": spots / per_px, "controls": [c / per_px for c in controls]}
    if len(spots) == 0:
        return result

    # Local power there: on the frame tapered at its edges and padded with zeros, so that no
    # local area wraps around to the far side.
    pad = int(np.ceil(3.0 * sigma_px))
    shape = (sp_fft.next_fast_len(ny + 2 * pad, real=True), sp_fft.next_fast_len(nx + 2 * pad, real=True))
    canvas = np.zeros(shape, np.float32)
    canvas[pad:pad + ny, pad:pad + nx] = flat * edge_taper(image.shape, 2.0 * sigma_px)
    to_canvas = np.array(shape, float) / per_px
    sigma_bins = (shape[0] / (2 * np.pi * sigma_px), shape[1] / (2 * np.pi * sigma_px))
    half = tuple(min(int(np.ceil(3 * s)), (n - 1) // 2) for s, n in zip(sigma_bins, shape))
    power = _local_power(sp_fft.rfft2(canvas), shape, np.concatenate([spots] + controls) * to_canvas,
                         sigma_bins, half)
    ends = len(spots) + np.cumsum([len(c) for c in controls])
    expected = sum(np.median(power[end - len(c):end], axis=0) for c, end in zip(controls, ends))
    coarse = power[: len(spots)].sum(axis=0) / np.maximum(expected, np.finfo(np.float32).tiny)
    # The coarse grid samples the canvas every shape / (gy, gx) px: back to the pixels.
    log_score = np.log(np.maximum(coarse, 1e-6))
    rows = _interpolation_matrix((np.arange(ny) + pad) * coarse.shape[0] / shape[0], coarse.shape[0])
    cols = _interpolation_matrix((np.arange(nx) + pad) * coarse.shape[1] / shape[1], coarse.shape[1])
    score = np.exp(rows @ log_score @ cols.T).astype(np.float32)
    result.update(score=score, resolved=score >= resolved_score)
    return result


def _interpolation_matrix(position: np.ndarray, n: int) -> np.ndarray:
    """Weights (len(position), n) of linear interpolation at fractional indices ``position``
    into n samples, held constant beyond the ends."""
    position = np.clip(position, 0, n - 1)
    low = np.minimum(np.floor(position).astype(int), max(n - 2, 0))
    frac = position - low
    weights = np.zeros((len(position), n))
    weights[np.arange(len(position)), low] = 1.0 - frac
    if n > 1:
        weights[np.arange(len(position)), low + 1] += frac
    return weights


def resolved_lattice_map(
    image: np.ndarray,
    spacing_px: float,
    window_spacings: float = THRESHOLDS["window_spacings"],
    band: tuple[float, float] = THRESHOLDS["band"],
    spot_ratio: float = THRESHOLDS["spot_ratio"],
    resolved_score: float = THRESHOLDS["resolved_score"],
) -> np.ndarray:
    """Where a lattice with periodicities near ``spacing_px`` is resolved, per pixel.

    Parameters
    ----------
    image : 2-D array
    spacing_px : float
        Expected nearest-neighbour spacing of atoms in px.
    window_spacings, band, spot_ratio, resolved_score
        See :func:`lattice_analysis` (defaults from :data:`~rvae_pathways.stem.qc_verdicts.THRESHOLDS`).

    Returns
    -------
    bool array of the image's shape: True where a lattice is resolved locally; False on
    vacuum, amorphous material and noise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> bool(resolved_lattice_map(rng.normal(size=(128, 128)), 8.0).any())
    False
    """
    return lattice_analysis(image, spacing_px, window_spacings, band, spot_ratio, resolved_score)["resolved"]
