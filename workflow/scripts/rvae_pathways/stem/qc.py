"""Lattice quality check of found atoms: do they look like the lattice the given spacing implies?

The atom finder (:func:`rvae_pathways.stem.atoms.find_atoms`) always returns *something*: points
between columns when the spacing is wrong, points scattered over an amorphous support, peaks of
noise. This module compares, frame by frame, the found atoms with what the user's
nearest-neighbour spacing (``spacing_px``, ``d`` below) implies and with what the image shows.

1. **Where is a lattice resolved?** (:func:`resolved_lattice_map`) A crystal gives *sharp
   spots* in the power spectrum, in the band of spatial frequencies ``1/(3 d) <= |k| <=
   1/(0.6 d)``; an amorphous support gives a diffuse ring there, white noise a flat floor.
   The frame's spots are the peaks of its spectrum that stand far above the median power on
   their ring of ``|k|``. Then, at every place, the local power near each spot (the image
   shifted by the spot's frequency and low-passed: a Gaussian local area of about
   ``window_spacings`` spacings) is compared with the local power near *control* frequencies
   of the same ``|k|`` where the frame's spectrum is featureless. On a lattice the ratio is tens
   to thousands; on a support, noise or vacuum it is about 1 (speckle and noise have no
   preferred direction), whatever their strength.
2. **Which atoms belong to the lattice?** (:func:`lattice_members`) Those where it is
   resolved, and those bonded to them with the lattice's own bond vectors (the map blurs over a
   few spacings: rims of holes, narrow strips, image borders).
3. **Is there material without a lattice?** (:func:`material_map`) An amorphous support has no
   spots, like vacuum, so the map above cannot tell them apart (and, blurred over several
   spacings, it spreads a particle's lattice over the support beside it). Texture can: a film
   holds speckle at atomic scales, vacuum only white noise or nothing. Where the band power
   stands well above the place's own noise, farther than a spacing from every atom of the
   lattice (:func:`lattice_area`), the field holds material but no lattice: it counts as
   unresolved, and warns.
4. **Were atoms missed?** (:func:`missed_peak_share`) A spacing 2x too large makes the finder
   smooth the lattice away and keep a sparse subset whose density and neighbour distances look
   right *in units of the wrong spacing*. Peaks found at half the spacing, in the lattice, that
   no found atom accounts for show it.
5. **What did the finder return?** (:func:`check_frame`) Density of atoms in the resolved
   area, median nearest-neighbour distance, share of atoms with a neighbour at about one
   spacing, share of atoms outside the lattice.

Each metric has an ``ok`` band and a wider ``warn`` band in :data:`THRESHOLDS` (outside both:
``fail``); a frame's verdict is its worst metric's. Vacuum (a hole, the edge of a particle)
holds neither lattice nor atoms, so it lowers no metric but ``resolved_fraction``, which only
fails when atoms were found but almost nothing is resolved (a noise image).

All functions are small and pure, on arrays; metrics are plain floats, ints, strings and lists
(JSON-ready: an undefined value is None, never NaN).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage
from scipy.spatial import cKDTree

from .atoms import find_peaks

__all__ = [
    "VERDICTS",
    "THRESHOLDS",
    "METRIC_BANDS",
    "lattice_analysis",
    "resolved_lattice_map",
    "lattice_members",
    "material_map",
    "lattice_area",
    "missed_peak_share",
    "check_frame",
    "verdict_of",
    "summarise",
    "qc_messages",
]

#: Verdicts from best to worst.
VERDICTS = ("ok", "warn", "fail")

#: Every default of the check, in one place. Lengths and frequencies are in units of the given
#: nearest-neighbour spacing ``d``; verdict bands are ``{"ok": (low, high), "warn": (low, high)}``
#: (None: open) and a value outside the warn band fails. Values were tuned on simulated graphene
#: (bond 14.2 px, doses 5-50 counts, with and without a hole), a support of random spots at least
#: ``d`` apart, noise, and the real SrTiO3 [110] HAADF and ABF frames (tests/test_atom_qc.py).
THRESHOLDS = {
    # -- resolved-lattice map ------------------------------------------------------------------
    # Size of the local area in spacings (a Gaussian of 0.19 x this, as wide as a Hann window of
    # this side). The local spectrum resolves k to ~ 1 / (this * d): graphene's six first spots,
    # 60 degrees apart at 0.67 / d, need 8 to leave clean control frequencies between them; the
    # map then blurs a lattice/support border over about one spacing.
    "window_spacings": 8.0,
    # Band of |k| * d searched for spots: 1/3 (a cell of three spacings; the SrTiO3 [110] cell's
    # lowest spot, 1 / (2 sqrt(2) d), lies above it) to 1/0.6 (above the first spots of every
    # simple lattice: 0.67 honeycomb, 1 square, 1.15 triangular).
    "band": (1.0 / 3.0, 1.0 / 0.6),
    # The image's white top-hat (what rises above the floor between atoms) is clipped to these
    # percentiles, so a few very bright atoms (Si in graphene: 4x a carbon) or hot pixels do not
    # swamp the spectrum with their broad halo.
    "clip_percentiles": (2.0, 98.0),
    # A peak of the frame's spectrum is a lattice spot when its power is this many times the
    # median power on its ring of |k|. Measured: noise and supports reach 14 (the largest of
    # tens of thousands of exponentials), graphene 40-100 on half a 192 x 384 field and > 1000
    # on a whole one, SrTiO3 > 5000.
    "spot_ratio": 25.0,
    # A place is resolved when the local power at the spots is this many times that at the
    # controls. Measured (score percentiles): support and noise median 1.0-1.3, 99 % below 4.3;
    # graphene at dose 5-50 counts 5 % below 10-34, median 50-250; SrTiO3 5 % below 90-145.
    "resolved_score": 6.0,
    # -- material without a lattice ----------------------------------------------------------
    # Band of |k| * d where "structure at atomic scales" is measured (where the two Gaussians of
    # a difference of Gaussians pass half the amplitude): from a third of the lowest lattice
    # frequency searched to twice a spacing's frequency, wide enough to hold an amorphous film's
    # speckle (a-C under a particle shows it from 0.3 to 1.5 cycles per Au spacing).
    "structure_band": (1.0 / 3.0, 2.0),
    # Side of the square over which band and noise power are averaged, in spacings: 3 keeps pure
    # noise below a ratio of 2.2 everywhere (measured: Poisson means 0.2-50, spacings 8-20 px,
    # 512^2 fields) and an a-C support (the corpus' Au case, 0.6 counts/px) above 2.5 on 98 %.
    "structure_window": 3.0,
    # A place holds material (amorphous or crystalline) when the band power there is this many
    # times what the place's own white noise puts in the band ...
    "structure_ratio": 2.5,
    # ... and its noise power is at least this share of the frame's median: noise-free vacuum
    # (simulations, or counting detectors at low dose) carries no structure whatever the ratio.
    "structure_min_noise": 0.01,
    # The lattice's own area, left out of the search: within this many spacings of an atom of
    # the lattice, closed over one spacing (it is filled with the local level of its
    # surroundings first, so that its strong spectrum does not leak into the places next to it).
    "lattice_reach": 1.0,
    # Below this spacing (px) the band reaches the noise's: no search, the metric is undefined.
    "structure_min_spacing_px": 6.0,
    # -- atoms -------------------------------------------------------------------------------
    # A neighbour "at about one spacing" lies in this shell; wide enough for lattices whose
    # columns have different coordination (SrTiO3 [110]: 0.5 a and 0.71 a = 1 and 1.41 d).
    "neighbour_shell": (0.75, 1.5),
    # A bond of an atom outside the map matches the lattice's bond vectors within this distance
    # (found positions are good to a few hundredths of a spacing; a random bond matches one of
    # six directions with a chance of about 8 %).
    "bond_tolerance": 0.15,
    # An atom off the lattice's bond vectors still belongs to it when at least this share of the
    # atoms within ``enclosure_radius`` spacings do (a defect enclosed by crystal).
    "enclosure_radius": 2.5,
    "enclosure_share": 0.6,
    # A peak found at half the spacing is accounted for by a found atom this close: more than a
    # fitted position's error, less than the half spacing between peaks.
    "missed_radius": 0.35,
    # The density is measured over the resolved area when it holds at least this many d^2
    # (about 20 atoms of a honeycomb), else over the area within ``neighbour_radius`` of atoms.
    "density_min_area": 25.0,
    # A frame narrower than this many spacings is too small for the local spectra of the map
    # (below about 7 the lattice is not detected even where it is perfect): the map is not
    # made, every atom counts as in the lattice, and the frame warns (a tiny test movie).
    "min_field_spacings": 8.0,
    # -- verdict bands -----------------------------------------------------------------------
    # Found atoms per d^2 in the resolved area: ~0.77 honeycomb (d the bond), 1.0 square, 1.15
    # triangular, ~0.75 SrTiO3 [110] HAADF. A spacing 2x too small gives a quarter (0.1-0.2:
    # fails); 2x too large stays in band (the finder keeps a sparse subset; missed_peak_share
    # catches it).
    "density_ratio": {"ok": (0.4, 1.6), "warn": (0.25, 2.5)},
    # Median nearest-neighbour distance over d: 1 on any lattice whose atoms are found; 2 for a
    # spacing 2x too small, 0.7-0.9 for 2x too large (the finder's subset keeps second
    # neighbours).
    "nn_ratio_median": {"ok": (0.8, 1.25), "warn": (0.6, 1.6)},
    # Share of the lattice's peaks (found at half the spacing) with no found atom near: 0-0.1 when
    # the finder got them all; 0.45 (SrTiO3: the dim columns) to 0.8 (graphene) for a spacing 2x
    # too large.
    "missed_peak_share": {"ok": (None, 0.15), "warn": (None, 0.4)},
    # Share of atoms with a neighbour in the shell above: ~1 on a lattice (rim atoms too), low
    # for a wrong scale (0.0-0.2 at 2x too small a spacing).
    "lattice_atom_share": {"ok": (0.8, None), "warn": (0.5, None)},
    # Share of atoms outside the lattice: a support or contamination holding a sixth of the
    # atoms warns, over half fails (the frame is then mostly not crystal, or noise).
    "outside_lattice_share": {"ok": (None, 0.15), "warn": (None, 0.5)},
    # Share of the field that holds material but no lattice (see material_map): an amorphous
    # support beside a particle, contamination, or a lattice the finder missed. A fact of the
    # sample more than a fault of the finder, so it warns and never fails on its own.
    "amorphous_fraction": {"ok": (None, 0.05), "warn": (None, None)},
    # Share of the field where a lattice is resolved. Vacuum is not a fault, so this only fails
    # when atoms were found but (almost) no lattice is resolved: a noise or amorphous image.
    "resolved_fraction": {"ok": (0.02, None), "warn": (0.02, None)},
}

#: The metrics with verdict bands, in the order their reasons are reported.
METRIC_BANDS = (
    "density_ratio",
    "nn_ratio_median",
    "missed_peak_share",
    "lattice_atom_share",
    "outside_lattice_share",
    "resolved_fraction",
    "amorphous_fraction",
)

_CHECK = "check spacing_nm and pixel_size_nm in the samples table"


# --------------------------------------------------------------------------------------------
# the lattice map


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
        See :func:`lattice_analysis` (defaults from :data:`THRESHOLDS`).

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


# --------------------------------------------------------------------------------------------
# material without a lattice


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
        See :data:`THRESHOLDS` (``structure_*``): a place is marked when its band power is at
        least ``ratio`` times its noise's and its noise power at least ``min_noise`` times the
        frame's median (noise-free vacuum holds no material, whatever the ratio).

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


# --------------------------------------------------------------------------------------------
# one frame


def _band_level(value, bands: dict) -> int:
    """0 (ok), 1 (warn) or 2 (fail) for ``value`` in ``{"ok": (lo, hi), "warn": (lo, hi)}``."""
    def inside(limits):
        lo, hi = limits
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    if inside(bands["ok"]):
        return 0
    return 1 if inside(bands["warn"]) else 2


def _reason(name: str, value: float, metrics: dict, spacing_px: float) -> str:
    """A short sentence on what is off and what to check."""
    if name == "density_ratio":
        side = ("too few atoms for the spacing: atoms missed, or the spacing is too small" if value < 1 else
                "too many atoms for the spacing: the spacing is too large, or noise was taken for atoms")
        return f"{value:.2f} atoms per spacing^2 in the lattice ({side}); {_CHECK}"
    if name == "nn_ratio_median":
        return (f"nearest neighbours are {value:.2f}x the given spacing apart ({value * spacing_px:.1f} px vs "
                f"{spacing_px:.1f} px); {_CHECK}")
    if name == "missed_peak_share":
        return (f"{value:.0%} of the lattice's peaks have no atom (found at half the spacing, they lie "
                f"between the atoms: the spacing is too large, or atoms were dropped); {_CHECK}")
    if name == "lattice_atom_share":
        shell = THRESHOLDS["neighbour_shell"]
        return (f"only {value:.0%} of the atoms have a neighbour at {shell[0]:g}-{shell[1]:g}x the spacing; "
                f"{_CHECK}, and the contrast (bright or dark atoms)")
    if name == "outside_lattice_share":
        return (f"{value:.0%} of the atoms lie where no lattice is resolved and are not bonded like it "
                f"(amorphous support, contamination or noise); check the contrast and spacing_nm")
    if name == "amorphous_fraction":
        return (f"{value:.0%} of the field holds material but no lattice (structure at atomic scales above the "
                f"noise, no lattice atom near: an amorphous support, contamination, or a lattice at another "
                f"spacing); its atoms are left out of the patches; if it should be crystal, {_CHECK}")
    if name == "resolved_fraction":
        return (f"no lattice at the given spacing is resolved ({value:.1%} of the field) yet "
                f"{metrics['n_atoms']} atoms were found; {_CHECK}, and the contrast")
    return f"{name} = {value}"


def verdict_of(metrics: dict, spacing_px: float | None = None) -> tuple[str, list[str]]:
    """Verdict and reasons of one frame's metrics (as :func:`check_frame` makes them).

    Every metric of :data:`METRIC_BANDS` that is defined is placed in its bands of
    :data:`THRESHOLDS`; ``resolved_fraction`` counts only when atoms were found. The verdict
    is the worst; reasons name each metric not ok, worst first.
    """
    spacing_px = metrics.get("spacing_px", spacing_px) or float("nan")
    if not metrics.get("n_atoms"):
        return "fail", ["no atoms found; " + _CHECK + ", and the contrast (bright atoms as in HAADF, "
                        "dark as in ABF)"]
    found = []
    for name in METRIC_BANDS:
        value = metrics.get(name)
        if value is None:
            continue
        level = _band_level(value, THRESHOLDS[name])
        if level:
            found.append((level, name, value))
    found.sort(key=lambda item: -item[0])
    verdict = VERDICTS[max((level for level, _, _ in found), default=0)]
    return verdict, [_reason(name, value, metrics, spacing_px) for _, name, value in found]


def missed_peak_share(image: np.ndarray, y: np.ndarray, x: np.ndarray, spacing_px: float, resolved: np.ndarray,
                      radius: float = THRESHOLDS["missed_radius"], contrast: str = "bright") -> float | None:
    """Share of the image's peaks, in the resolved lattice, that no found atom accounts for.

    Peaks are found as :func:`rvae_pathways.stem.atoms.find_peaks` finds them for half the spacing
    (finer smoothing, half the distance between peaks, the same significance tests); a peak is
    accounted for when a found atom lies within ``radius * spacing_px``. With the right spacing
    every peak is an atom the finder found too; with a spacing 2x too large the finder smooths
    the lattice away and keeps a sparse subset, and most peaks go unclaimed. ``contrast``
    "dark" (atoms darker than their surroundings, as in ABF) looks for peaks of the negated
    image, as the finder does.

    Returns None where no peak lies in the resolved lattice.
    """
    image = np.asarray(image, dtype=float)
    peaks = find_peaks(-image if contrast == "dark" else image, 0.5 * spacing_px).reshape(-1, 2)
    peaks = peaks[resolved[peaks[:, 0], peaks[:, 1]]] if len(peaks) else peaks
    if len(peaks) == 0:
        return None
    if len(y) == 0:
        return 1.0
    distance = cKDTree(np.stack([y, x], axis=1)).query(peaks)[0]
    return float(np.mean(distance > radius * spacing_px))


def lattice_members(positions: np.ndarray, resolved: np.ndarray, spacing_px: float,
                    shell: tuple[float, float] = THRESHOLDS["neighbour_shell"],
                    tolerance: float = THRESHOLDS["bond_tolerance"]) -> np.ndarray:
    """Atoms that belong to the resolved lattice: inside it, or bonded to it like it.

    The lattice map blurs over a local area of several spacings, so it misses lattice atoms
    in narrow strips, at the rim of a hole and at the image border. Bonds (pairs at
    ``shell`` spacings) of atoms in the map show the lattice's bond vectors; an atom outside
    it joins when it has as many such bonds as it has neighbours (two at most) and is linked
    to the map through atoms that do. On an amorphous support or noise, bond directions are
    random and rarely match.

    Parameters
    ----------
    positions : (n, 2) array
        Atom positions (y, x) in px.
    resolved : (n,) bool array
        Whether each atom sits where the lattice map is resolved.
    spacing_px : float
    shell : (float, float)
        Neighbour distances in spacings.
    tolerance : float
        Largest difference between a bond vector and one of the lattice's, in spacings.

    Returns
    -------
    (n,) bool array.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    positions = np.asarray(positions, dtype=float).reshape(-1, 2)
    members = np.asarray(resolved, bool).copy()
    if members.sum() < 3 or members.all():
        return members
    pairs = cKDTree(positions).query_pairs(shell[1] * spacing_px, output_type="ndarray")
    vectors = (positions[pairs[:, 1]] - positions[pairs[:, 0]]) / spacing_px
    keep = np.hypot(*vectors.T) >= shell[0]
    pairs, vectors = pairs[keep], vectors[keep]
    if len(pairs) == 0:
        return members
    inside = members[pairs[:, 0]] & members[pairs[:, 1]]
    template = np.concatenate([vectors[inside], -vectors[inside]])
    if len(template) < 6:
        return members
    # a bond vector of the lattice recurs: at least 5 % of the atoms in the map have it
    support = cKDTree(template).query_ball_point(vectors, tolerance, return_length=True)
    lattice_bond = support >= max(3, 0.05 * members.sum())
    n = len(positions)
    neighbours = np.bincount(pairs.ravel(), minlength=n)
    matching = np.bincount(pairs[lattice_bond].ravel(), minlength=n)
    consistent = members | ((matching >= np.minimum(neighbours, 2)) & (neighbours > 0))
    link = lattice_bond & consistent[pairs[:, 0]] & consistent[pairs[:, 1]]
    graph = coo_matrix((np.ones(link.sum()), (pairs[link, 0], pairs[link, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    members = consistent & np.isin(component, component[members])
    return _enclosed(positions, members, spacing_px)


def _enclosed(positions: np.ndarray, members: np.ndarray, spacing_px: float,
              radius: float = THRESHOLDS["enclosure_radius"], share: float = THRESHOLDS["enclosure_share"],
              rounds: int = 3) -> np.ndarray:
    """Members plus the atoms mostly surrounded by members: a point defect or a Stone-Wales
    defect inside a lattice breaks its bond directions and blurs its local spectrum, but it is
    part of the crystal. An atom joins when at least ``share`` of the atoms within ``radius``
    spacings are members; a few rounds fill a defect from its rim inwards. The first row of a
    support beside a lattice has lattice on one side only (under half) and stays out.
    """
    members = members.copy()
    if members.all() or not members.any():
        return members
    tree = cKDTree(positions)
    near = tree.query_ball_point(positions, radius * spacing_px)
    for _ in range(rounds):
        joined = [i for i in np.flatnonzero(~members)
                  if len(near[i]) > 1 and members[[j for j in near[i] if j != i]].mean() >= share]
        if not joined:
            break
        members[joined] = True
    return members


def _none_or_float(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def check_frame(
    image: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    spacing_px: float,
    neighbour_radius: float = 1.25,
    contrast: str = "bright",
) -> tuple[dict, np.ndarray]:
    """Compare the atoms found in one frame with the lattice the spacing implies.

    Parameters
    ----------
    image : 2-D array
        The frame the atoms were found in.
    y, x : 1-D arrays
        Atom positions in px (``find_atoms(...)["y"]``, ``["x"]``).
    spacing_px : float
        The nearest-neighbour spacing given to the finder, px.
    neighbour_radius : float
        Where too little of the field is resolved to measure a density (a noise image), the
        density is taken over the field within this many spacings of a found atom.
    contrast : {"bright", "dark"}
        The contrast the atoms were found with (only the missed-peak search needs it; the
        lattice map works on either).

    Returns
    -------
    metrics : dict
        ``n_atoms``; ``spacing_px``; ``density_ratio`` (atoms per px^2 times ``spacing_px**2``
        over the resolved area, or over the occupied area where less than
        ``THRESHOLDS["density_min_area"]`` spacings^2 are resolved; ``density_area`` says
        which); ``nn_ratio_median`` (median nearest-neighbour distance / ``spacing_px``);
        ``missed_peak_share`` (see :func:`missed_peak_share`); ``amorphous_fraction`` (share
        of the field where :func:`material_map` finds material farther than
        ``THRESHOLDS["lattice_reach"]`` spacings from every atom of the lattice; None below
        ``THRESHOLDS["structure_min_spacing_px"]``); ``resolved_fraction`` (share of the field
        where :func:`resolved_lattice_map` is True and no such material lies);
        ``lattice_atom_share`` (share of atoms with a neighbour at
        ``THRESHOLDS["neighbour_shell"]`` spacings); ``outside_lattice_share`` (share of
        atoms not ``in_lattice``); ``verdict`` (one of
        :data:`VERDICTS`, see :func:`verdict_of`) and ``reasons`` (list of str). Undefined
        values (no atoms, nothing resolved) are None.
    in_lattice : bool array, one per atom
        True where the atom belongs to the lattice: it sits where the lattice is resolved, or
        is bonded to such atoms with the lattice's bond vectors (see :func:`lattice_members`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.poisson(5.0, (96, 96)).astype(float)
    >>> metrics, in_lattice = check_frame(noise, rng.uniform(0, 95, 40), rng.uniform(0, 95, 40), 8.0)
    >>> metrics["verdict"], metrics["outside_lattice_share"], bool(in_lattice.any())
    ('fail', 1.0, False)
    """
    image = np.asarray(image)
    y = np.asarray(y, dtype=float).ravel()
    x = np.asarray(x, dtype=float).ravel()
    if y.shape != x.shape:
        raise ValueError(f"y and x differ in length: {y.size} and {x.size}")
    spacing_px = float(spacing_px)
    too_small = min(image.shape) < THRESHOLDS["min_field_spacings"] * spacing_px
    resolved = np.ones(image.shape, bool) if too_small else lattice_analysis(image, spacing_px)["resolved"]
    ny, nx = resolved.shape
    n = int(y.size)
    finite = np.isfinite(y) & np.isfinite(x)
    iy = np.clip(np.rint(np.where(finite, y, 0)), 0, ny - 1).astype(int)
    ix = np.clip(np.rint(np.where(finite, x, 0)), 0, nx - 1).astype(int)
    in_lattice = np.zeros(len(y), bool)
    in_lattice[finite] = lattice_members(np.stack([y[finite], x[finite]], axis=1), resolved[iy, ix][finite], spacing_px)
    # Material without a lattice (an amorphous support, contamination) is not resolved either,
    # however close to a lattice the blurred map spreads.
    amorphous = None
    if not too_small and spacing_px >= THRESHOLDS["structure_min_spacing_px"]:
        covered = lattice_area(np.stack([y, x], axis=1)[in_lattice], image.shape, spacing_px)
        amorphous = material_map(image, spacing_px, covered)
        resolved = resolved & ~amorphous

    resolved_area = float(resolved.sum())
    metrics = {
        "n_atoms": n,
        "spacing_px": spacing_px,
        "density_ratio": None,
        "density_area": None,
        "nn_ratio_median": None,
        "missed_peak_share": missed_peak_share(image, y[finite], x[finite], spacing_px, resolved,
                                               contrast=contrast),
        "resolved_fraction": resolved_area / resolved.size,
        "lattice_atom_share": None,
        "outside_lattice_share": None,
        "amorphous_fraction": None if amorphous is None else float(amorphous.mean()),
    }
    positions = np.stack([y[finite], x[finite]], axis=1)
    if n:
        metrics["outside_lattice_share"] = 1.0 - float(in_lattice.mean())
        if resolved_area >= THRESHOLDS["density_min_area"] * spacing_px**2:
            in_map = resolved[iy, ix] & finite
            metrics["density_ratio"] = float(in_map.sum()) * spacing_px**2 / resolved_area
            metrics["density_area"] = "resolved"
        elif len(positions):
            occupied = np.ones(resolved.shape, bool)
            occupied[iy[finite], ix[finite]] = False
            near = ndimage.distance_transform_edt(occupied) <= neighbour_radius * spacing_px
            metrics["density_ratio"] = len(positions) * spacing_px**2 / float(near.sum())
            metrics["density_area"] = "occupied"
    if len(positions) >= 2:
        tree = cKDTree(positions)
        k = min(len(positions), 13)
        shell = THRESHOLDS["neighbour_shell"]
        dist, _ = tree.query(positions, k=k, distance_upper_bound=shell[1] * spacing_px)
        dist = dist[:, 1:]
        nearest = tree.query(positions, k=2)[0][:, 1]
        metrics["nn_ratio_median"] = float(np.median(nearest)) / spacing_px
        in_shell = (dist >= shell[0] * spacing_px) & (dist <= shell[1] * spacing_px)
        metrics["lattice_atom_share"] = float(np.any(in_shell, axis=1).sum()) / n
    elif n:
        metrics["lattice_atom_share"] = 0.0
    if too_small:
        in_lattice[:] = True
        metrics["resolved_fraction"] = None
        metrics["outside_lattice_share"] = None
    metrics = {key: (_none_or_float(v) if isinstance(v, (float, np.floating)) else v) for key, v in metrics.items()}
    metrics["verdict"], metrics["reasons"] = verdict_of(metrics)
    if too_small:
        metrics["reasons"].append(
            f"the frame is only {min(image.shape) / spacing_px:.1f} spacings across (fewer than "
            f"{THRESHOLDS['min_field_spacings']:g}): too small to map where the lattice is resolved; in_lattice not checked")
        if metrics["verdict"] == "ok":
            metrics["verdict"] = "warn"
    return metrics, in_lattice


# --------------------------------------------------------------------------------------------
# many frames


_SUMMARY_METRICS = (
    "n_atoms",
    "density_ratio",
    "nn_ratio_median",
    "missed_peak_share",
    "resolved_fraction",
    "lattice_atom_share",
    "outside_lattice_share",
    "amorphous_fraction",
)


def _severity(metrics: dict) -> tuple[int, int]:
    """Sort key of a frame, worst first: verdict, then the number of reasons."""
    return (VERDICTS.index(metrics.get("verdict", "ok")), len(metrics.get("reasons", ())))


def summarise(frames: list[dict], n_worst: int = 5) -> dict:
    """Summary of the per-frame metrics of one sample.

    Parameters
    ----------
    frames : list of dict
        :func:`check_frame` metrics, one per frame, optionally with ``frame`` (the frame
        number; the list index otherwise).
    n_worst : int
        Frames listed in ``worst_frames``.

    Returns
    -------
    dict
        ``verdict`` (the worst frame's), ``n_frames``, ``counts`` (frames per verdict),
        ``worst_frames`` (up to ``n_worst`` frame numbers that are not ok, worst first) and
        ``median_<metric>`` over frames for each metric (None where undefined everywhere).
    """
    counts = {v: 0 for v in VERDICTS}
    for metrics in frames:
        counts[metrics.get("verdict", "ok")] += 1
    numbers = [metrics.get("frame", i) for i, metrics in enumerate(frames)]
    order = sorted(range(len(frames)), key=lambda i: tuple(-s for s in _severity(frames[i])))
    worst = [int(numbers[i]) for i in order if frames[i].get("verdict", "ok") != "ok"][:n_worst]
    summary = {
        "verdict": max((m.get("verdict", "ok") for m in frames), key=VERDICTS.index, default="ok"),
        "n_frames": len(frames),
        "counts": counts,
        "worst_frames": worst,
    }
    for name in _SUMMARY_METRICS:
        values = [m[name] for m in frames if m.get(name) is not None]
        summary[f"median_{name}"] = float(np.median(values)) if values else None
    return summary


def qc_messages(sample: str, frames: list[dict]) -> list[str]:
    """One warning line per frame that is not ok: sample, frame, verdict and reasons.

    >>> qc_messages("s1", [{"frame": 3, "verdict": "warn", "reasons": ["a", "b"]}])
    ['atom QC s1 frame 3: warn: a; b']
    """
    lines = []
    for i, metrics in enumerate(frames):
        verdict = metrics.get("verdict", "ok")
        if verdict == "ok":
            continue
        reasons = "; ".join(metrics.get("reasons") or ["no reason recorded"])
        lines.append(f"atom QC {sample} frame {metrics.get('frame', i)}: {verdict}: {reasons}")
    return lines
