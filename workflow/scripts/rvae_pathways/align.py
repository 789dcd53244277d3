"""Frame preparation: intensity normalisation and drift measurement by phase correlation.

Frames are not resampled: the measured drift is applied to coordinates instead (atom positions
get ``y_aligned = y - drift_y``), so no interpolation blurs the atoms or wraps the borders.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
from skimage.filters import window
from skimage.registration import phase_cross_correlation


def normalise_intensity(image: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Scale an image so that its ``low`` and ``high`` percentiles map to 0 and 1.

    Parameters
    ----------
    image : 2-D array
    low, high : float
        Percentiles (0-100) mapped to 0 and 1; values beyond them are kept, not clipped.

    Returns
    -------
    float32 array of the same shape.
    """
    image = np.asarray(image, dtype=np.float32)
    lo, hi = np.percentile(image, [low, high])
    if hi <= lo:
        lo, hi = float(image.min()), float(image.max())
    if hi <= lo:
        raise ValueError("cannot normalise a constant image")
    return (image - lo) / (hi - lo)


def frame_shift(reference: np.ndarray, moving: np.ndarray, upsample: int = 20) -> np.ndarray:
    """Displacement (dy, dx) in px of the content of ``moving`` relative to ``reference``.

    Phase correlation of Hann-windowed images, refined to ``1 / upsample`` px. A feature at
    (y, x) in ``reference`` appears at (y + dy, x + dx) in ``moving``. For a periodic lattice
    the answer is only defined modulo the lattice vectors, so consecutive frames should move
    by less than half a lattice spacing.
    """
    taper = window("hann", reference.shape)
    shift, _, _ = phase_cross_correlation(
        reference * taper, moving * taper, upsample_factor=upsample, normalization="phase"
    )
    return -np.asarray(shift, dtype=float)


def measure_drift(frames: Iterable[np.ndarray], upsample: int = 20) -> Iterator[np.ndarray]:
    """Yield the cumulative drift (dy, dx) of each frame relative to the first, in px.

    Each frame is registered to the one before it (so slow structural change does not break
    the registration) and the steps are summed. Frames are consumed one at a time.
    """
    previous = None
    drift = np.zeros(2)
    for image in frames:
        image = np.asarray(image, dtype=np.float32)
        if previous is not None:
            drift = drift + frame_shift(previous, image, upsample)
        previous = image
        yield drift.copy()
