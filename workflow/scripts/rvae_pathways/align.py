"""Frame preparation: intensity normalisation and drift measurement by phase correlation.

Frames are not resampled: the measured drift is applied to coordinates instead (atom positions
get ``y_aligned = y - drift_y``), so no interpolation blurs the atoms or wraps the borders.
"""

from __future__ import annotations

import numpy as np
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

    The peak of the cross-correlation of the mean-subtracted images, refined to ``1 / upsample``
    px by an upsampled DFT. A feature at (y, x) in ``reference`` appears at (y + dy, x + dx) in
    ``moving``. Plain (not phase-normalised) correlation and no window: on noisy low-dose frames
    phase normalisation amplifies the noise, and a fixed window biases the answer towards zero
    (both measured on the simulator: 0.24 px mean error per step with them, 0.11 px without).
    For a periodic lattice the answer is only defined modulo the lattice vectors, so
    consecutive frames should move by less than half a lattice spacing.
    """
    reference = np.asarray(reference, dtype=np.float64)
    moving = np.asarray(moving, dtype=np.float64)
    shift, _, _ = phase_cross_correlation(
        reference - reference.mean(), moving - moving.mean(), upsample_factor=upsample, normalization=None
    )
    return -np.asarray(shift, dtype=float)


def prepare_movie(frames, path, percentiles=(0.5, 99.5), upsample: int = 20, log=None) -> np.ndarray:
    """Normalise every frame and measure its drift, writing the result to Zarr frame by frame.

    Parameters
    ----------
    frames : xarray.Dataset
        A frames Dataset (may be lazily opened from Zarr; one frame is read at a time).
    path : path-like
        The Zarr store written: ``image`` (normalised, float32, one chunk per frame),
        ``drift_y`` and ``drift_x`` (px, content displacement relative to frame 0), the
        frames' attributes, and any ``true_*`` variables unchanged.
    percentiles : (low, high)
        See :func:`normalise_intensity`.
    upsample : int
        See :func:`frame_shift`.
    log : logging.Logger, optional
        Progress, one line per frame.

    Returns
    -------
    drift : array (n_frames, 2)
        Cumulative drift: each frame is registered to the one before it (so slow structural
        change does not break the registration) and the steps are summed.
    """
    import xarray as xr

    from .frames import truth_variables

    n, ny, nx = (frames.sizes[d] for d in ("frame", "y", "x"))
    low, high = percentiles
    normalised = (normalise_intensity(frames["image"][i].values, low, high) for i in range(n))
    drifts = []
    previous = None
    for i, image in enumerate(normalised):
        drift = np.zeros(2) if previous is None else drifts[-1] + frame_shift(previous, image, upsample)
        previous = image
        drifts.append(drift)
        block = xr.Dataset(
            {
                "image": (("frame", "y", "x"), image[None]),
                "drift_y": (("frame",), [np.float32(drift[0])]),
                "drift_x": (("frame",), [np.float32(drift[1])]),
            },
            coords={"frame": [i]},
            attrs={**frames.attrs, "drift_units": "px", "normalised_percentiles": list(percentiles)},
        )
        if i == 0:
            block.to_zarr(path, mode="w", encoding={"image": {"chunks": (1, ny, nx)}}, consolidated=True)
        else:
            block.to_zarr(path, append_dim="frame", consolidated=True)
        if log:
            log.info("frame %d/%d: drift (y, x) = (%.2f, %.2f) px", i + 1, n, drift[0], drift[1])
    truth = truth_variables(frames)
    if truth:
        frames[truth].drop_vars(["frame", "y", "x"], errors="ignore").to_zarr(path, mode="a", consolidated=True)
    return np.asarray(drifts)
