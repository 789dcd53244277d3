"""How the demo STEM simulator (:mod:`rvae_pathways.sim.stem`) turns atoms into counts.

Gaussian probe spots (and an optional wider tail) per atom, an amorphous support drifting with
the sheet, a constant background, a per-scan-line gain and x jitter, then Poisson shot noise.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .stem_sheet import Z_CARBON

__all__ = ["frame_counts", "render_spots", "support_field"]


# --------------------------------------------------------------------------------------------
# rendering


def render_spots(y, x, amp, shape, sigma_px, jitter=None):
    """Sum of Gaussian spots (peak ``amp``, width ``sigma_px``) on an ``shape`` image.

    Each spot is evaluated on its own (2h+1)^2 window, h = ceil(4 sigma), and the windows are
    accumulated with one ``bincount`` into a padded canvas. ``jitter`` (ny,) shifts every spot's
    x centre by the value of the row being drawn (scan-line jitter).
    """
    ny, nx = shape
    h = int(math.ceil(4.0 * sigma_px))
    w = 2 * h + 1
    keep = (y > -h - 1) & (y < ny + h) & (x > -h - 1) & (x < nx + h)
    y, x, amp = y[keep], x[keep], amp[keep]
    pad = 2 * h + 2
    cy, cx = ny + 2 * pad, nx + 2 * pad
    if len(y) == 0:
        return np.zeros(shape)
    offs = np.arange(w)
    rows = np.floor(y).astype(np.intp)[:, None] - h + offs  # (N, w)
    cols = np.floor(x).astype(np.intp)[:, None] - h + offs  # (N, w)
    gy = np.exp(-0.5 * ((rows - y[:, None]) / sigma_px) ** 2) * amp[:, None]
    if jitter is None:
        gx = np.exp(-0.5 * ((cols - x[:, None]) / sigma_px) ** 2)
        vals = gy[:, :, None] * gx[:, None, :]  # (N, w, w)
    else:
        shift = jitter[np.clip(rows, 0, ny - 1)]  # (N, w): the shift of each drawn row
        dx = cols[:, None, :] - x[:, None, None] - shift[:, :, None]
        vals = gy[:, :, None] * np.exp(-0.5 * (dx / sigma_px) ** 2)
    flat = (rows + pad)[:, :, None] * cx + (cols + pad)[:, None, :]
    canvas = np.bincount(flat.ravel(), weights=vals.ravel(), minlength=cy * cx)
    return canvas.reshape(cy, cx)[pad : pad + ny, pad : pad + nx]


def support_field(p, drift):
    """The amorphous support's counts, (field, edge): a smooth random field larger than the frame
    by ``edge`` px on each side (it drifts with the sheet), from its own random stream so that the
    sheet and the noise stay as without it; None without a support."""
    if p.support_counts <= 0:
        return None
    edge = int(np.ceil(np.abs(drift).max())) + 2
    rng_support = np.random.default_rng([p.seed, 1])
    field = ndimage.gaussian_filter(rng_support.standard_normal((p.ny + 2 * edge, p.nx + 2 * edge)),
                                    p.support_scale_nm / p.px)
    field *= p.support_counts / max(field.std(), 1e-12)
    return field - field.min(), edge


def frame_counts(rng_noise, p, yx, z, support, shift):
    """One frame's counts from the atoms at ``yx`` (px) of atomic numbers ``z``."""
    amp = p.dose * (z / Z_CARBON) ** p.z_exponent
    jitter = rng_noise.normal(0, p.line_jitter_px, p.ny) if p.line_jitter_px > 0 else None
    expected = render_spots(yx[:, 0], yx[:, 1], amp * (1 - p.probe_tail_fraction), (p.ny, p.nx), p.sigma_px, jitter)
    if p.probe_tail_fraction > 0:
        tail_amp = amp * p.probe_tail_fraction * (p.sigma_px / p.tail_sigma_px) ** 2  # same total counts
        expected += render_spots(yx[:, 0], yx[:, 1], tail_amp, (p.ny, p.nx), p.tail_sigma_px, jitter)
    if support is not None:
        field, edge = support
        expected += ndimage.shift(field, shift, order=1, mode="nearest")[edge:-edge, edge:-edge]
    expected += p.background
    gain = np.clip(1.0 + p.scan_noise * rng_noise.standard_normal(p.ny), 0.0, None)
    expected *= gain[:, None]
    return rng_noise.poisson(expected) if p.shot_noise else expected
