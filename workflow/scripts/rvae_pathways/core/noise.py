"""Noise estimates of an image."""

from __future__ import annotations

import numpy as np


def noise_sigma(image: np.ndarray) -> float:
    """Estimate of the per-pixel noise standard deviation, from neighbouring-pixel differences.

    For white Gaussian noise of std s, the difference of two neighbours has std s * sqrt(2) and
    mean absolute value s * sqrt(2) * sqrt(2 / pi). The mean absolute difference is used (not the
    median, which is coarse on integer counts); smooth atoms barely change it.
    """
    diff = np.diff(np.asarray(image, dtype=np.float64), axis=1)
    return float(np.mean(np.abs(diff - np.mean(diff))) * np.sqrt(np.pi / 2) / np.sqrt(2))
