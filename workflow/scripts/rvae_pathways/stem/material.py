"""Where a frame holds material but no lattice, and the area a lattice of atoms covers.

Step 3 of the lattice check (:mod:`rvae_pathways.stem.qc`): an amorphous support has no lattice
spots, like vacuum, but holds speckle at atomic scales; :func:`material_map` marks where that
structure stands above the place's own noise, outside the lattice's own area
(:func:`lattice_area`). Defaults come from :data:`~rvae_pathways.stem.qc_verdicts.THRESHOLDS`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .qc_verdicts import THRESHOLDS

__all__ = ["material_map", "lattice_area"]


def _noise_gain(filter_, radius: int) -> float:
    """Variance a linear filter passes of unit white noise: the sum of its squared weights."""
    impulse = np.zeros((2 * radius + 1, 2 * radius + 1), np.float32)
    impulse[radius, radius] = 1.0
    return float(np.sum(filter_(impulse).astype(np.float64) ** 2))


def _block_means(values: np.ndarray, step: int) -> np.ndarray:
    """Means over ``step x step`` blocks (the image padded at its far edges to whole blocks)."""
    ny, nx = values.shape
    gy, gx = -(-ny // step), -(-nx // step)
    padded = np.pad(values, ((0, gy * step - ny), (0, gx * step - nx)), mode="edge")
    return padded.reshape(gy, step, gx, step).mean(axis=(1, 3))


def _to_pixels(grid: np.ndarray, step: int, shape: tuple[int, int]) -> np.ndarray:
    """A block grid back on the pixels (each block's value on its pixels)."""
    return np.repeat(np.repeat(grid, step, axis=0), step, axis=1)[: shape[0], : shape[1]]


def _grid_step(spacing_px: float) -> int:
    """Block side of the coarse grid of :func:`material_map`: a quarter of a spacing."""
    return max(1, int(spacing_px / 4.0))


def lattice_area(points: np.ndarray, shape: tuple[int, int], spacing_px: float,
                 reach: float = THRESHOLDS["lattice_reach"]) -> np.ndarray:
    """The area a lattice of atoms ``points`` ((n, 2) y, x in px) covers, as a bool array of
    ``shape``: within ``reach`` spacings of an atom, closed over one spacing (so that the gaps
    inside a cell with several columns, as SrTiO3 [110] in ABF, belong to it), on the grid of
    :func:`material_map` (to within a quarter spacing)."""
    step = _grid_step(spacing_px)
    gy, gx = -(-shape[0] // step), -(-shape[1] // step)
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    points = points[np.all(np.isfinite(points), axis=1)]
    if len(points) == 0:
        return np.zeros(shape, bool)
    seeds = np.ones((gy, gx), bool)
    cells = np.clip(np.floor(points / step).astype(int), 0, [gy - 1, gx - 1])
    seeds[cells[:, 0], cells[:, 1]] = False
    grown = ndimage.distance_transform_edt(seeds) * step <= (reach + 1.0) * spacing_px
    if grown.all():
        return np.ones(shape, bool)
    area = ndimage.distance_transform_edt(grown) * step > spacing_px
    return _to_pixels(area, step, shape)


def material_map(
    image: np.ndarray,
    spacing_px: float,
    lattice_area: np.ndarray | None = None,
    band: tuple[float, float] = THRESHOLDS["structure_band"],
    window: float = THRESHOLDS["structure_window"],
    ratio: float = THRESHOLDS["structure_ratio"],
    min_noise: float = THRESHOLDS["structure_min_noise"],
) -> np.ndarray:
    """Where an image holds material but no lattice: structure at atomic scales above its noise.

    An amorphous film (the carbon under a nanoparticle, contamination) scatters like a
    lattice but without its sharp spots, so the lattice map calls it unresolved, as it calls
    vacuum. The two differ in texture: vacuum holds only white noise (or nothing, where no
    electron is counted), a film holds speckle at atomic scales. Here the image's power in the
    band ``band`` (cycles per spacing; a difference of Gaussians) is compared with what white
    noise of the place's own strength puts there, measured from the image minus its 1-px
    Gaussian blur (above the band: a probe-limited image holds only noise there when, as
    atom-resolved images are, it is sampled finer than its resolution). Both powers are
    averaged over squares of ``window`` spacings on a grid of quarter-spacing blocks.

    Parameters
    ----------
    image : 2-D array
        One frame (any scale; bright or dark atoms).
    spacing_px : float
        Nearest-neighbour spacing of the lattice in px; at least 6 px (coarser sampling leaves
        no band above the atoms for the noise).
    lattice_area : bool array of the image's shape, optional
        The lattice's own area, left out: filled with the local level of its surroundings
        before filtering, so that its strong spectrum does not leak into its neighbourhood,
        and never marked.
    band, window, ratio, min_noise
        See :data:`~rvae_pathways.stem.qc_verdicts.THRESHOLDS` (``structure_*``): a place is
        marked when its band power is at least ``ratio`` times its noise's and its noise power
        at least ``min_noise`` times the frame's median (noise-free vacuum holds no material,
        whatever the ratio).

    Returns
    -------
    bool array of the image's shape.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.poisson(3.0, (160, 160)).astype(float)
    >>> bool(material_map(noise, 12.0).any())
    False
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    least = THRESHOLDS["structure_min_spacing_px"]
    if not spacing_px >= least:
        raise ValueError(f"spacing_px must be at least {least:g} px to tell structure from noise, got {spacing_px}")
    step = _grid_step(spacing_px)
    # a Gaussian of sigma passes half the amplitude at k = sqrt(ln 2 / 2) / (pi sigma): the band's edges
    half = np.sqrt(np.log(2.0) / 2.0) / np.pi
    sigma_fine, sigma_coarse = half * spacing_px / band[1], half * spacing_px / band[0]

    def band_pass(values):
        return ndimage.gaussian_filter(values, sigma_fine) - ndimage.gaussian_filter(values, sigma_coarse)

    def high_pass(values):
        return values - ndimage.gaussian_filter(values, 1.0)

    lattice = np.zeros(image.shape, bool) if lattice_area is None else np.asarray(lattice_area, bool)
    filled = image
    if lattice.any() and not lattice.all():
        # the local level of the surroundings: a normalised Gaussian average over the grid
        outside = 1.0 - _block_means(lattice.astype(np.float32), step)
        level = _block_means(image, step)
        sigma = spacing_px / step
        weight = ndimage.gaussian_filter(outside, sigma)
        level = ndimage.gaussian_filter(level * outside, sigma) / np.maximum(weight, 1e-6)
        level = np.where(weight > 1e-3, level, np.median(image[~lattice]))
        filled = np.where(lattice, _to_pixels(level, step, image.shape), image).astype(np.float32)
    radius = int(np.ceil(4.0 * sigma_coarse))
    size = max(1, int(round(window * spacing_px / step)))
    # Near the image's edges the filters see the image mirrored, whose noise is not white: the
    # blocks there take the powers of the nearest blocks two coarse widths inside.
    margin = int(np.ceil(2.0 * sigma_coarse / step))
    band_power = _block_means(band_pass(filled) ** 2, step) / _noise_gain(band_pass, radius)
    noise_power = _block_means(high_pass(filled) ** 2, step) / _noise_gain(high_pass, 4)
    if min(band_power.shape) <= 2 * margin:
        return np.zeros(image.shape, bool)
    inside = (slice(margin, band_power.shape[0] - margin), slice(margin, band_power.shape[1] - margin))
    band_power, noise_power = (np.pad(ndimage.uniform_filter(power[inside], size, mode="nearest"), margin, mode="edge")
                               for power in (band_power, noise_power))
    floor = min_noise * float(np.median(noise_power))
    marked = (band_power >= ratio * noise_power) & (noise_power >= floor) & (noise_power > 0)
    return _to_pixels(marked, step, image.shape) & ~lattice
