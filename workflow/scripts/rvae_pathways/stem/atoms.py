"""Atom finding without trained weights: matched-filter peaks and batched 2-D Gaussian fits.

The scale of everything follows from one number, the expected nearest-neighbour spacing of
atoms (or atomic columns) in pixels: ``spacing_px = spacing_nm / pixel_size_nm``.

0. Contrast: atoms are bright (HAADF) or dark (ABF, bright field); a dark-contrast image is
   negated, so that atoms are always peaks (:func:`detect_contrast` decides from the data when
   the user does not say).
1. Background: variations slower than about three spacings (thickness, a support, scan gain)
   are estimated as the lower envelope of the image (:func:`estimate_background`) and subtracted.
2. Smooth with a Gaussian of ``sigma = smooth * spacing_px`` (a matched filter for the probe).
3. Local maxima at least ``min_distance * spacing_px`` apart, taken from the highest down
   (:func:`spaced_peaks`).
4. Keep maxima that rise above the floor by more than ``significance`` times the white noise
   measured on the image (:func:`white_noise_sigma`) left after smoothing, and by more than
   ``threshold`` times a typical atom's rise.
5. Refine every atom at once by Levenberg-Marquardt fits of a 2-D Gaussian spot on a constant
   background to the background-free image, in a disc of radius ``fit_radius * spacing_px``,
   with the fitted spots of all other atoms subtracted (a few rounds), so bright neighbours do
   not pull the positions. The spot width is measured from the data (free-width fits), and the
   fits are weighted by the noise measured against the signal (:func:`noise_variance_model`).
6. Subtract the fitted atoms and look for peaks left in the residual (atoms hidden in the tail
   of a bright neighbour); refit with them.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..core.errors import InputError
from ..core.noise import noise_sigma

#: Precision of the per-pixel arithmetic of the Gaussian fits (spots, residuals, Jacobians).
#: float32 halves the memory traffic and vectorises ``exp``. With :data:`SETTLED_STEP`, positions
#: agree with float64 fits iterated to the end within 0.004 px (99 % within 0.0013 px) on a
#: 1024x1024 simulated frame, far below the shot-noise error (RMSE 0.17 px there). Parameters
#: and the normal equations stay float64.
PIXEL_DTYPE = np.float32
#: A Gaussian fit has converged when an accepted step is this small (see _levenberg_marquardt).
SETTLED_STEP = 1e-3
#: Atoms fitted (and rendered) at once: the working arrays (atoms x pixels x parameters) of a
#: block stay at a few MB, whatever the number of atoms in the frame.
FIT_BLOCK = 512



def find_peaks(
    image: np.ndarray,
    spacing_px: float,
    smooth: float = 0.25,
    min_distance: float = 0.5,
    threshold: float = 0.1,
    significance: float = 5.0,
    contrast: str = "bright",
    background: float = 3.0,
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
        Scale (in spacings) of the background removed (:func:`estimate_background`); 0: none.
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


def estimate_background(image: np.ndarray, spacing_px: float, scale: float = 3.0) -> np.ndarray:
    """The image's variations slower than about ``scale`` atom spacings (thickness, a support,
    scan gain), as its lower envelope; subtract it to leave the atoms on a flat floor.

    The image, lightly smoothed (a quarter spacing), is opened (a minimum then a maximum
    filter over a square of ``scale`` spacings: wide enough always to hold a gap between atoms,
    so the atoms are cut off and the floor between them stays; 3 spacings hold a hexagon centre
    of graphene wherever the square lies, 2 do not), then smoothed with a Gaussian of
    ``scale / 2`` spacings. The work is done on the smoothed image sampled every third of a spacing
    (it holds nothing finer) and interpolated back. For dark-contrast images negate the image
    first.
    """
    image = np.asarray(image, dtype=np.float64)
    step = max(1, int(round(spacing_px / 3)))
    smoothed = ndimage.gaussian_filter(image, 0.25 * spacing_px)[::step, ::step]
    size = max(3, int(round(scale * spacing_px / step)) | 1)
    floor = ndimage.grey_opening(smoothed, size=(size, size), mode="reflect")
    floor = ndimage.gaussian_filter(floor, 0.5 * scale * spacing_px / step)
    if step == 1:
        return floor
    # back to every pixel: sample k of the coarse grid sits at pixel k * step
    yy = np.arange(image.shape[0]) / step
    xx = np.arange(image.shape[1]) / step
    return ndimage.map_coordinates(floor, np.meshgrid(yy, xx, indexing="ij"), order=1, mode="nearest")


def white_noise_sigma(image: np.ndarray) -> float:
    """Per-pixel standard deviation of the image's white (shot or detector) noise.

    Two estimates, each an upper bound where the image holds structure, and the smaller is
    returned: :func:`noise_sigma` (neighbouring-pixel differences, inflated by steep atoms at
    high dose), and the floor of the power spectrum at the highest spatial frequencies (0.7 to
    1 times Nyquist, where a probe-limited image holds only noise when it is sampled finer than
    its resolution, as atom-resolved images are). For white noise of std s every Fourier
    coefficient has E|F|^2 = N s^2 and |F|^2 is exponential, so the median over the annulus
    divided by ln 2 estimates N s^2.
    """
    image = np.asarray(image, dtype=np.float64)
    by_differences = noise_sigma(image)
    ny, nx = image.shape
    if min(ny, nx) < 16:
        return by_differences
    power = np.abs(np.fft.rfft2(image - image.mean())) ** 2 / image.size
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    radius = np.hypot(ky, kx) / 0.5
    band = (radius >= 0.7) & (radius <= 1.0) & (ky != 0) & (kx != 0)
    by_spectrum = float(np.sqrt(np.median(power[band]) / np.log(2))) if band.any() else by_differences
    return min(by_differences, by_spectrum)


def smoothing_noise_gain(n: int, sigma: float) -> np.ndarray:
    """How much more white noise survives Gaussian smoothing near the ends of a line, shape (n,).

    ``scipy.ndimage.gaussian_filter`` mirrors the image at its border ("reflect"), so a pixel
    near the edge averages some pixels twice and keeps more noise: the noise standard deviation
    at index i, relative to the interior, is returned (1 inside, up to about sqrt(2) at the edge).
    The 2-D gain of a separable filter is the outer product of the two axes' gains.
    """
    radius = int(np.ceil(4 * sigma))
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-(taps**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    gain = np.ones(n)
    for i in range(min(n, radius + 1)):
        weights = np.zeros(n + 2 * radius + 2)
        for tap, w in zip(taps, kernel):
            m = i + tap  # source index, mirrored into the line
            while m < 0 or m >= n:
                m = -1 - m if m < 0 else 2 * n - 1 - m
            weights[m] += w
        gain[i] = np.sqrt(np.sum(weights**2) / np.sum(kernel**2))
    gain[n - min(n, radius + 1):] = np.maximum(gain[n - min(n, radius + 1):], gain[: min(n, radius + 1)][::-1])
    return gain


#: Peaks of the residual (the image minus the fitted atoms) count as hidden atoms only this many
#: spacings or more from every atom found: closer ones are what a Gaussian leaves of a real probe
#: or column (its tails, an ABF column's ring), not atoms (in a lattice they sit 1 spacing apart).
RESIDUAL_MIN_DISTANCE = 0.75
#: The floor of :func:`estimate_background` lies below the mean level between atoms by about
#: this many sigmas of the smoothed noise (it is an opening of a noisy image, a lower envelope).
FLOOR_BIAS_SIGMAS = 2.0


def _peaks_above(smoothed: np.ndarray, spacing_px: float, min_distance: float, threshold: float,
                 noise: float = 0.0, sigma_smooth: float = 1.0, significance: float = 5.0,
                 atom_rise: float | None = None):
    """Peaks of a smoothed, background-free image that clear the thresholds; also returns a
    typical atom's rise.

    A peak must rise above the floor (zero) by more than ``significance`` times the noise left
    after smoothing at that place (white noise of ``noise`` per pixel smoothed by a Gaussian of
    ``sigma_smooth`` px keeps ``noise / (2 sqrt(pi) sigma_smooth)``, more near the border: see
    :func:`smoothing_noise_gain`), plus the floor's bias (:data:`FLOOR_BIAS_SIGMAS`), so that an
    image holding few atoms is not read as one holding many atoms of noise; and by more than
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


def _disc_offsets(radius: float) -> np.ndarray:
    """Integer (dy, dx) offsets of the pixels within ``radius`` of the origin, shape (P, 2)."""
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    inside = dy**2 + dx**2 <= radius**2
    return np.stack([dy[inside], dx[inside]], axis=1)


class _Windows:
    """Pixels of a disc around each atom, as flat indices into a NaN-padded copy of the image.

    ``flat(rows)`` gives the (n, P) indices of some atoms' discs, made when asked (an index per
    pixel per atom is the largest array of a fit); ``dy``, ``dx`` are the (1, P) offsets.
    """

    def __init__(self, shape, centres: np.ndarray, radius: float, pad: int | None = None):
        centres = np.clip(centres, 0, np.asarray(shape) - 1)
        self.offsets = _disc_offsets(radius)
        self.pad = int(np.ceil(radius)) + 1 if pad is None else pad
        self.padded_shape = (shape[0] + 2 * self.pad, shape[1] + 2 * self.pad)
        width = self.padded_shape[1]
        self.origin = ((centres[:, 0] + self.pad) * width + centres[:, 1] + self.pad).astype(np.intp)  # (n,)
        self.offset_flat = (self.offsets[:, 0] * width + self.offsets[:, 1]).astype(np.intp)  # (P,)
        self.dy = self.offsets[None, :, 0].astype(PIXEL_DTYPE)
        self.dx = self.offsets[None, :, 1].astype(PIXEL_DTYPE)

    def flat(self, rows=slice(None)) -> np.ndarray:
        return self.origin[rows, None] + self.offset_flat[None, :]

    def pad_image(self, image: np.ndarray) -> np.ndarray:
        return np.pad(image, self.pad, mode="constant", constant_values=np.nan).ravel()


def _column(values):
    """Per-atom parameters as a (n, 1) column in the pixel arithmetic's precision."""
    return np.asarray(values, dtype=PIXEL_DTYPE)[:, None]


def _gaussian(amp, y0, x0, sigma, dy, dx):
    """A 2-D Gaussian spot of peak ``amp`` at (y0, x0), sampled at offsets (dy, dx); (n, P)."""
    r2 = (dy - _column(y0)) ** 2 + (dx - _column(x0)) ** 2
    return _column(amp) * np.exp(r2 * _column(-0.5 / np.asarray(sigma, dtype=float) ** 2))


def _render(windows: "_Windows", amp, y0, x0, sigma, block: int = FIT_BLOCK) -> np.ndarray:
    """Sum of all atoms' Gaussian spots on the padded canvas (flat), ``block`` atoms at a time
    (so the memory it takes does not grow with the number of atoms)."""
    size = windows.padded_shape[0] * windows.padded_shape[1]
    canvas = np.zeros(size)
    for start in range(0, len(windows.origin), block):
        rows = slice(start, start + block)
        spots = _gaussian(amp[rows], y0[rows], x0[rows], sigma[rows], windows.dy, windows.dx)
        canvas += np.bincount(windows.flat(rows).ravel(), weights=spots.ravel(), minlength=size)
    return canvas


def _levenberg_marquardt(values, weight, dy, dx, params, free_sigma: bool, iterations: int, radius: float):
    """Least-squares fits of ``amp * G(y0, x0, sigma) + c`` to each row of ``values``, all rows at once.

    params: (n, 5) = (amp, y0, x0, log_sigma, c), updated in place; log_sigma is held fixed unless
    ``free_sigma``. Steps that leave the box |y0|, |x0| <= radius, 0.3 <= sigma <= radius are
    refused. A row stops iterating once an accepted step moves it by less than
    :data:`SETTLED_STEP` (px for the position, relative to the amplitude for amplitude and
    background, absolute for log sigma). ``dy``, ``dx``: the pixel offsets, (1, P) or (n, P)
    with equal rows. Returns the final sum of squared residuals per row.
    """
    free = [0, 1, 2, 3, 4] if free_sigma else [0, 1, 2, 4]
    dy, dx = dy[:1], dx[:1]

    def predict(p):
        return _gaussian(p[:, 0], p[:, 1], p[:, 2], np.exp(p[:, 3]), dy, dx) + _column(p[:, 4])

    def model_and_jacobian(p):
        # the Jacobian is laid out (n, parameter, pixel) so that J^T W J and J^T W r are
        # batched matrix products (BLAS), not element-wise sums
        amp, y0, x0, inv_s2, c = (_column(v) for v in (p[:, 0], p[:, 1], p[:, 2], np.exp(-2 * p[:, 3]), p[:, 4]))
        ry, rx = dy - y0, dx - x0
        r2 = ry**2 + rx**2
        g = np.exp(-0.5 * r2 * inv_s2)
        ag = amp * g
        jac = np.empty((len(p), len(free), g.shape[1]), dtype=PIXEL_DTYPE)
        jac[:, 0] = g
        jac[:, 1] = ag * ry * inv_s2
        jac[:, 2] = ag * rx * inv_s2
        if free_sigma:
            jac[:, 3] = ag * r2 * inv_s2
        jac[:, -1] = 1.0
        return ag + c, jac

    def cost(p, v, w):
        return np.sum(w * (v - predict(p)) ** 2, axis=1)

    damping = np.full(len(params), 1e-3)
    current = cost(params, values, weight)
    eye = np.eye(len(free))[None]
    active = np.arange(len(params))  # rows still iterating
    for _ in range(iterations):
        if len(active) == 0:
            break
        p, v, w = params[active], values[active], weight[active]
        model, jac = model_and_jacobian(p)
        weighted = jac * w[:, None, :]
        jtj = np.matmul(weighted, jac.transpose(0, 2, 1)).astype(float)
        jtr = np.matmul(weighted, (v - model)[:, :, None])[..., 0].astype(float)
        diag = np.einsum("nii->ni", jtj)[:, :, None] + 1e-9
        d = damping[active]
        step = np.linalg.solve(jtj + d[:, None, None] * eye * diag, jtr[..., None])[..., 0]
        trial = p.copy()
        trial[:, free] += step
        in_box = (
            (np.abs(trial[:, 1]) <= radius) & (np.abs(trial[:, 2]) <= radius)
            & (trial[:, 3] >= np.log(0.3)) & (trial[:, 3] <= np.log(radius))
        )
        trial[~in_box] = p[~in_box]
        new = cost(trial, v, w)
        better = in_box & (new <= current[active])
        params[active[better]] = trial[better]
        current[active[better]] = new[better]
        damping[active] = np.clip(np.where(better, d * 0.2, d * 10.0), 1e-9, 1e9)
        scale = np.ones((len(p), len(free)))
        scale[:, [0, -1]] = np.maximum(np.abs(p[:, :1]), 1e-12)
        settled = better & (np.max(np.abs(step) / scale, axis=1) < SETTLED_STEP)
        active = active[~settled]
    return current


def refine_positions(
    image: np.ndarray,
    peaks: np.ndarray,
    spacing_px: float,
    fit_radius: float = 0.6,
    sigma_px: float | None = None,
    rounds: int = 3,
    iterations: int = 6,
    weighted: bool = True,
    variance: tuple[float, float] | None = None,
) -> dict[str, np.ndarray]:
    """Sub-pixel positions by 2-D Gaussian fits, all atoms at once, neighbours subtracted.

    Every atom is a Gaussian spot ``amp * exp(-r^2 / 2 sigma^2)`` on a locally constant
    background. Each round fits every atom to the image minus the current model of all *other*
    atoms, within a disc of radius ``fit_radius * spacing_px``, so bright neighbours (a Si next
    to a C) do not pull the fit. The spot width is one number per image: ``sigma_px`` if given,
    else the median of two rounds of free-width fits.

    Parameters
    ----------
    image : 2-D array
    peaks : (n, 2) array
        Starting positions (y, x) in px.
    spacing_px : float
    fit_radius : float
        Radius of the fitted disc as a fraction of the spacing.
    sigma_px : float, optional
        Spot width; estimated from the image when None.
    rounds, iterations : int
        Rounds of neighbour subtraction, and Levenberg-Marquardt steps per round.
    weighted : bool
        After one round, measure how the noise variance grows with the signal
        (:func:`noise_variance_model`; shot noise) and fit the other ``rounds - 1`` rounds with
        inverse-variance weights (closer to the maximum-likelihood positions at low dose).
    variance : (float, float), optional
        The noise model ``(a, b)`` to weight with, instead of measuring it (a refit of a few
        atoms has too few pixels to measure it).

    Returns
    -------
    dict of arrays, one value per peak: ``y``, ``x`` (px), ``amplitude`` (peak height above the
    local background, image units), ``amplitude_error`` (its standard error from the fit
    residuals), ``background``, and ``refined`` (False where the fit failed
    or wandered to the edge of its disc (0.9 of the fit radius; a start on a border pixel
    may be half the radius off), and the starting position was kept); plus the
    scalar ``sigma_px`` used and ``noise_variance`` (the weights' ``(a, b)``, or None).
    """
    image = np.asarray(image, dtype=PIXEL_DTYPE)
    peaks = np.asarray(peaks, dtype=float).reshape(-1, 2)
    n = len(peaks)
    if n == 0:
        empty = np.zeros(0)
        return {"y": empty, "x": empty, "amplitude": empty, "amplitude_error": empty, "background": empty,
                "refined": np.zeros(0, bool), "sigma_px": float("nan"), "noise_variance": None}
    start = np.rint(peaks).astype(int)
    radius = max(1.5, fit_radius * spacing_px)
    pad = int(np.ceil(3.5 * radius)) + 1  # room for rendering spots up to sigma = radius
    fit = _Windows(image.shape, start, radius, pad)
    flat_image = fit.pad_image(image)
    fit_flat = fit.flat()
    values_raw = flat_image[fit_flat]
    weight = np.isfinite(values_raw).astype(PIXEL_DTYPE)
    values_raw = np.where(weight > 0, values_raw, 0.0)

    # Starting background: mean of the valid pixels in the outer ring of the disc.
    ring = (np.sum(fit.offsets**2, axis=1) >= (0.7 * radius) ** 2)[None, :] * weight
    background = np.sum(ring * values_raw, axis=1) / np.maximum(ring.sum(axis=1), 1)
    # Starting amplitude: the mean of the pixels within a third of the disc's radius (one pixel
    # alone is too noisy at low dose: a start at zero amplitude leaves the fit nothing to follow).
    core = (np.sum(fit.offsets**2, axis=1) <= max(1.0, radius / 3) ** 2)[None, :] * weight
    centre = np.sum(core * values_raw, axis=1) / np.maximum(core.sum(axis=1), 1)
    params = np.zeros((n, 5))
    params[:, 0] = np.maximum(centre - background, 0.1 * np.maximum(np.abs(centre - background).max(initial=0), 1e-6))
    params[:, 1:3] = peaks - start
    params[:, 3] = np.log(sigma_px if sigma_px else max(1.0, 0.25 * spacing_px))
    params[:, 4] = background

    def others_removed():
        """The disc values with every other atom's fitted spot subtracted, and the whole model
        (all spots plus the local background) on the discs."""
        sigma = np.exp(params[:, 3])
        render = _Windows(image.shape, start, max(radius, 3.5 * float(np.median(sigma))), pad)
        canvas = _render(render, params[:, 0], params[:, 1], params[:, 2], sigma)[fit_flat].astype(PIXEL_DTYPE)
        own = _gaussian(params[:, 0], params[:, 1], params[:, 2], sigma, fit.dy, fit.dx)
        return values_raw - canvas + own, canvas + _column(params[:, 4])

    def fit_round(free_sigma: bool, w=weight):
        values, _ = others_removed()
        for first in range(0, n, FIT_BLOCK):  # the fits are independent; blocks bound the memory
            rows = slice(first, first + FIT_BLOCK)
            _levenberg_marquardt(values[rows], w[rows], fit.dy, fit.dx, params[rows], free_sigma, iterations, radius)

    if sigma_px is None:
        # The width is shared by all atoms: two rounds of free fits (the second with neighbours
        # rendered at the first round's width), then their median.
        for _ in range(2):
            fit_round(free_sigma=True)
            params[:, 3] = np.log(np.median(np.exp(params[:, 3])))
        sigma_px = float(np.exp(params[0, 3]))
    params[:, 3] = np.log(sigma_px)
    for _ in range(1 if weighted else rounds):
        fit_round(free_sigma=False)
    if weighted:
        # Shot noise grows with the signal: measure how (variance = a + b * model, from the
        # residuals of the fits so far) and refit with inverse-variance weights.
        _, model = others_removed()
        if variance is None:
            variance = noise_variance_model(values_raw - model, model, weight)
        if variance is not None:
            inverse = weight / np.maximum(variance[0] + variance[1] * model, 0.1 * variance[0])
            inverse *= weight.sum() / np.maximum(inverse.sum(), 1e-12)
            for _ in range(max(1, rounds - 1)):
                fit_round(free_sigma=False, w=inverse.astype(PIXEL_DTYPE))
    _, model = others_removed()
    residual_ss = np.sum(weight * (values_raw - model) ** 2, axis=1)
    # Standard error of each amplitude: residual RMS over the Gaussian's weight in the disc.
    n_pixels = weight.sum(axis=1)
    rms = np.sqrt(residual_ss / np.maximum(n_pixels - 4, 1))
    spot = _gaussian(np.ones(n), params[:, 1], params[:, 2], np.full(n, sigma_px), fit.dy, fit.dx)
    amplitude_error = rms / np.sqrt(np.maximum(np.sum(weight * spot**2, axis=1), 1e-12))

    y = start[:, 0] + params[:, 1]
    x = start[:, 1] + params[:, 2]
    moved = np.hypot(y - peaks[:, 0], x - peaks[:, 1])
    ok = np.isfinite(y) & np.isfinite(x) & (params[:, 0] > 0) & (moved < 0.9 * radius)
    return {
        "y": np.where(ok, y, peaks[:, 0]),
        "x": np.where(ok, x, peaks[:, 1]),
        "amplitude": params[:, 0],
        "amplitude_error": amplitude_error,
        "background": params[:, 4],
        "refined": ok,
        "sigma_px": sigma_px,
        "noise_variance": variance if weighted else None,
    }


#: ``neighbours`` of an atom whose neighbourhood reaches beyond the frame: not known.
UNKNOWN_NEIGHBOURS = -1


def noise_variance_model(residual: np.ndarray, model: np.ndarray, mask: np.ndarray, bins: int = 12):
    """Noise variance as ``a + b * model`` from fit residuals, or None where it cannot be told.

    The pixels are binned by their model value (quantiles, ``mask`` > 0 only), the mean squared
    residual of each bin is taken, and a straight line is fitted to them. Shot (Poisson) noise
    gives b > 0; a detector's Gaussian noise b ~ 0. Returns ``(a, b)`` with ``a > 0`` and
    ``b >= 0``, or None when fewer than 1,000 pixels or no growth is measured.
    """
    valid = mask > 0
    m = model[valid].astype(float)
    r2 = residual[valid].astype(float) ** 2
    if m.size < 1000:
        return None
    edges = np.unique(np.quantile(m, np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:
        return None
    which = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, len(edges) - 2)
    count = np.bincount(which, minlength=len(edges) - 1)
    ok = count > 0
    centre = np.bincount(which, weights=m, minlength=len(edges) - 1)[ok] / count[ok]
    mean_r2 = np.bincount(which, weights=r2, minlength=len(edges) - 1)[ok] / count[ok]
    b, a = np.polyfit(centre, mean_r2, 1)
    if not (np.isfinite(a) and np.isfinite(b)) or b <= 0:
        return None
    floor = float(mean_r2.min())
    a = max(a, 0.5 * floor) if floor > 0 else a
    return (float(a), float(b)) if a > 0 else None


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
    smooth: float = 0.25,
    min_distance: float = 0.5,
    threshold: float = 0.1,
    fit_radius: float = 0.6,
    sigma_px: float | None = None,
    neighbour_radius: float = 1.25,
    significance: float = 5.0,
    contrast: str = "bright",
    background: float = 3.0,
) -> dict[str, np.ndarray]:
    """Find atoms in one image.

    Peaks of the smoothed, background-free image are fitted (:func:`refine_positions`); then
    the fitted atoms are subtracted and peaks of the residual that clear the same thresholds
    (atoms hidden in the tails of bright neighbours) are added, and everything is fitted again.

    Parameters
    ----------
    image : 2-D array
        One frame (any intensity scale; normalised frames are usual).
    spacing_px : float
        Expected nearest-neighbour spacing in px (see :func:`spacing_in_pixels`).
    smooth, min_distance, threshold : float
        See :func:`find_peaks`.
    fit_radius, sigma_px : float
        See :func:`refine_positions`.
    neighbour_radius : float
        Atoms closer than this multiple of the spacing count as neighbours.
    significance : float
        The detection bar in noise sigmas (the noise measured on the image by
        :func:`white_noise_sigma`): peaks of the smoothed image must clear it, and atoms whose
        fitted amplitude is below this many standard errors are dropped.
    contrast : {"bright", "dark"}
        Atoms brighter (HAADF) or darker (ABF) than their surroundings (see
        :func:`detect_contrast`).
    background : float
        Variations slower than this many spacings are removed first (:func:`estimate_background`);
        0 keeps the image as it is (the floor is then its 1st percentile).

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
        residual = ndimage.gaussian_filter(signal - _model_image(signal.shape, fit, spacing_px), sigma_smooth)
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


def _model_image(shape, fit: dict, spacing_px: float) -> np.ndarray:
    """The fitted atoms (without background) rendered on an image of ``shape``."""
    centres = np.rint(np.stack([fit["y"], fit["x"]], axis=1)).astype(int)
    sigma = np.full(len(centres), fit["sigma_px"])
    windows = _Windows(shape, centres, max(1.5, 3.5 * fit["sigma_px"]))
    canvas = _render(windows, fit["amplitude"], fit["y"] - centres[:, 0], fit["x"] - centres[:, 1], sigma)
    p = windows.pad
    return canvas.reshape(windows.padded_shape)[p:-p, p:-p]



