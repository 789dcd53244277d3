"""A frame's slow background and white noise, as the atom finder measures them.

:func:`estimate_background` is the floor the finder subtracts (:mod:`rvae_pathways.stem.atoms`),
:func:`white_noise_sigma` the per-pixel noise its detection bar is set in, and
:func:`smoothing_noise_gain` how much more of that noise survives smoothing near the borders.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core.noise import noise_sigma


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
