"""Square image windows ("patches") centred on atoms."""

from __future__ import annotations

import numpy as np

from .errors import InputError


def default_window_px(spacing_px: float, factor: float = 2.0) -> int:
    """Patch side in px: ``factor`` times the atom spacing (the paper used about 2x), made even."""
    return max(4, 2 * int(round(factor * spacing_px / 2)))


def check_window(window_px: int, shape: tuple[int, int]) -> None:
    """:class:`InputError` unless a ``window_px`` square fits inside a frame of ``shape``."""
    ny, nx = shape
    if window_px < 2:
        raise InputError(f"patch window must be at least 2 px, got {window_px}")
    if window_px > min(ny, nx):
        raise InputError(
            f"patch window of {window_px} px is larger than the {ny}x{nx} px frame; "
            "set patches.window_px smaller (or leave it empty to follow the atom spacing)"
        )


def extract_patches(image: np.ndarray, y: np.ndarray, x: np.ndarray, window_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a ``window_px`` square around each position, without resampling.

    The window around an atom at (y, x) covers rows ``round(y) - w // 2 ... round(y) - w // 2 + w - 1``
    (likewise columns), so the atom lies within half a pixel of index ``w // 2``. Atoms whose window
    would cross the frame border are dropped.

    Parameters
    ----------
    image : 2-D array
    y, x : 1-D arrays
        Atom positions in px.
    window_px : int

    Returns
    -------
    patches : float32 array (n_kept, window_px, window_px)
    kept : bool array (len(y),), True for atoms whose patch was cut
    """
    image = np.asarray(image)
    check_window(window_px, image.shape)
    half = window_px // 2
    top = np.rint(np.asarray(y)).astype(int) - half
    left = np.rint(np.asarray(x)).astype(int) - half
    ny, nx = image.shape
    kept = (top >= 0) & (left >= 0) & (top + window_px <= ny) & (left + window_px <= nx)
    offsets = np.arange(window_px)
    rows = top[kept, None, None] + offsets[None, :, None]
    cols = left[kept, None, None] + offsets[None, None, :]
    return image[rows, cols].astype(np.float32), kept
