"""Small hand-made test images: a noisy honeycomb of Gaussian spots with known positions."""

from __future__ import annotations

import numpy as np


def honeycomb_image(shape=(128, 128), bond_px=14.2, sigma_px=4.2, peak=40.0, background=3.0,
                    bright=(), offset=(3.3, 7.7), seed=0, noise=True):
    """A honeycomb lattice image and its atom positions (y, x) inside the frame.

    ``bright`` lists indices (into the returned positions) of atoms made (14/6)**1.7 times
    brighter, like Si among C.
    """
    rng = np.random.default_rng(seed)
    a1 = np.array([0.0, np.sqrt(3) * bond_px])
    a2 = np.array([1.5 * bond_px, np.sqrt(3) / 2 * bond_px])
    n = int(max(shape) / bond_px) + 4
    i, j = np.mgrid[-n:n, -n:n]
    base = i.ravel()[:, None] * a1 + j.ravel()[:, None] * a2
    points = np.concatenate([base, base + [bond_px, 0.0]]) + offset
    ny, nx = shape
    near = (points[:, 0] > -4 * sigma_px) & (points[:, 0] < ny + 4 * sigma_px)
    near &= (points[:, 1] > -4 * sigma_px) & (points[:, 1] < nx + 4 * sigma_px)
    points = points[near]
    inside = (points[:, 0] >= 0) & (points[:, 0] <= ny - 1) & (points[:, 1] >= 0) & (points[:, 1] <= nx - 1)
    order = np.concatenate([np.flatnonzero(inside), np.flatnonzero(~inside)])
    points = points[order]
    n_inside = int(inside.sum())
    amp = np.full(len(points), peak)
    amp[list(bright)] *= (14 / 6) ** 1.7
    yy, xx = np.mgrid[0:ny, 0:nx]
    image = np.full(shape, background, dtype=float)
    for (y, x), a in zip(points, amp):
        image += a * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma_px**2))
    if noise:
        image = rng.poisson(image).astype(float)
    return image, points[:n_inside]
