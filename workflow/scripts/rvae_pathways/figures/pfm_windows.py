"""The latents of the PFM window-size sweep, as the PFM figures read them: window sizes in order,
their labels and colours, and the per-patch value of a latent.

Every frame of a PFM movie (``image (frame, y, x)``, the signed piezoresponse) is cut into
square windows on a regular grid, for several window sizes; one rVAE per window size encodes
every window. :mod:`rvae_pathways.figures.pfm_sweep` maps the latents on the frames and
:mod:`rvae_pathways.figures.pfm_distributions` shows their distributions.

Inputs
------
``frames``: the frames Dataset (``image``, ``attrs["pixel_size_nm"]``, optional ``true_domain``
(frame, y, x), ``true_wall`` (frame, y, x) and ``true_switched_fraction`` (frame)).
``latents_by_window``: ``{window_px: latents}``, each latents Dataset with dims ``patch`` and
``latent``: ``z_mean``, ``z_std``, optional ``theta_deg`` and per patch ``frame``, ``row``,
``col`` (grid indices), ``y``, ``x`` (window centre, frame px); attrs ``window_px``,
``stride_px``, ``grid_rows``, ``grid_cols``, ``frame_pixel_size_nm``. The centre of window
``(row, col)`` is at ``y = row * stride + (window - 1) / 2`` (x likewise).
"""

from __future__ import annotations

import numpy as np

from .kit import (
    NO_ROTATION_TEXT,
    latent_columns,
    pixel_size_of,
    rotation_deg,
)

VARIABLES = ("z1", "z2", "theta")
THETA_LABEL = "θ (deg)"
WINDOW_COLOURS = ("tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan",
                  "tab:red")  # one per window size, smallest first (no orange: that is the median)


def window_colour(k: int) -> str:
    return WINDOW_COLOURS[k % len(WINDOW_COLOURS)]


def length_text(nm: float) -> str:
    """A length for a label: ``"320 nm"``, ``"1.28 µm"`` (µm from 1000 nm up)."""
    nm = float(nm)
    if abs(nm) >= 1000:
        return f"{nm / 1000:.3g} µm"
    return f"{nm:.3g} nm"


def frame_pixel_nm(latents, frames=None) -> float | None:
    """Pixel size of the frames (nm): the latents' ``frame_pixel_size_nm``, else the frames'."""
    value = latents.attrs.get("frame_pixel_size_nm")
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = None
    if value is not None and np.isfinite(value) and value > 0:
        return value
    return pixel_size_of(frames) if frames is not None else None


def window_label(window_px: int, pixel_size_nm: float | None) -> str:
    """``"window 16 px (320 nm)"``, or ``"window 16 px"`` without a pixel size."""
    text = f"window {int(window_px)} px"
    if pixel_size_nm:
        text += f" ({length_text(window_px * pixel_size_nm)})"
    return text


def _window_px(key, latents) -> int:
    return int(latents.attrs.get("window_px", key))


def sorted_windows(latents_by_window) -> list[tuple[int, object]]:
    """``(window_px, latents)`` pairs, smallest window first."""
    if not latents_by_window:
        raise ValueError("latents_by_window is empty: no window size to plot")
    pairs = [(_window_px(k, ds), ds) for k, ds in latents_by_window.items()]
    return sorted(pairs, key=lambda p: p[0])


def variable_values(latents, variable: str) -> np.ndarray | None:
    """Per-patch values of ``"z1"``, ``"z2"``, ``"theta"`` (None: no such latent) or a variable."""
    if variable == "theta":
        return rotation_deg(latents)
    if variable in ("z1", "z2"):
        columns = latent_columns(latents)
        k = int(variable[1]) - 1
        return columns[k] if k < len(columns) else None
    if variable in latents:
        return np.asarray(latents[variable].values, dtype=float)
    raise ValueError(f"unknown variable {variable!r}; use one of {VARIABLES} or a per-patch variable")


def no_latent_text(variable: str) -> str:
    return NO_ROTATION_TEXT if variable == "theta" else f"no latent {variable}"
