"""Figure of a decoded latent manifold: a grid of decoded images over the :math:`(z_1, z_2)` plane.

:func:`plot_latent_manifold` draws images decoded by the caller (the other latents, angle and
shift held at zero).

The ``plot_*`` function here writes one PNG at ``DPI`` dots per inch and returns the
:class:`matplotlib.figure.Figure` (useful in tests; drop it when done). Nothing here imports
``pyplot``; the figure kit and its conventions (pixels, scale bars, latents, class colours, page
sizes) are in :mod:`rvae_pathways.figures.kit`.
"""

from __future__ import annotations

import numpy as np

from .kit import (
    MAX_HEIGHT_IN,
    PAGE_WIDTH_IN,
    new_figure,
    save_figure,
    scale_bar_length,
    styled,
    tick_every,
    z_label,
)


@styled
def plot_latent_manifold(images, z1_values, z2_values, path, title, pixel_size_nm=None):
    """Grid of decoded images over the latent plane (:math:`z_1` across, :math:`z_2` up).

    Parameters
    ----------
    images : array (n_rows, n_cols, h, w)
        ``images[i, j]`` is the decoding of ``z_1 = z1_values[j]``, ``z_2 = z2_values[i]``
        (the other latents, angle and shift held at zero by the caller).
    z1_values : array (n_cols,)
    z2_values : array (n_rows,)
    path : path-like
    title : str
        E.g. ``"rVAE latent manifold"``.
    pixel_size_nm : float, optional
        Pixel size of the decoded images; adds a scale bar to the lower-left tile.

    Returns
    -------
    matplotlib.figure.Figure
        One axes (the mosaic, ticks labelled by the z values) and one colour bar. Columns are
        drawn with :math:`z_1` increasing to the right and rows with :math:`z_2` increasing
        upwards, whatever the order of the values given.
    """
    images = np.asarray(images, dtype=float)
    z1 = np.asarray(z1_values, dtype=float).ravel()
    z2 = np.asarray(z2_values, dtype=float).ravel()
    if images.ndim != 4:
        raise ValueError(f"images must be (n_rows, n_cols, h, w), got shape {images.shape}")
    n_rows, n_cols, h, w = images.shape
    if len(z1) != n_cols or len(z2) != n_rows:
        raise ValueError(
            f"{n_cols} columns and {n_rows} rows of images but {len(z1)} z_1 and {len(z2)} z_2 values "
            "(columns follow z_1, rows follow z_2)"
        )
    col_order = np.argsort(z1, kind="stable")
    row_order = np.argsort(-z2, kind="stable")  # top row = largest z_2
    gap = max(1, round(0.08 * max(h, w)))
    mosaic = np.full((n_rows * (h + gap) - gap, n_cols * (w + gap) - gap), np.nan)
    for r, i in enumerate(row_order):
        for c, j in enumerate(col_order):
            mosaic[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = images[i, j]

    import matplotlib
    from matplotlib import patheffects

    size = min(PAGE_WIDTH_IN - 1.3, 6.0)
    aspect = mosaic.shape[0] / mosaic.shape[1]
    fig = new_figure(size + 1.3, min(size * aspect, MAX_HEIGHT_IN - 1.0) + 1.0)
    ax = fig.subplots()
    cmap = matplotlib.colormaps["gray"].with_extremes(bad="white")
    finite = mosaic[np.isfinite(mosaic)]
    im = ax.imshow(mosaic, cmap=cmap, vmin=finite.min(), vmax=max(finite.max(), finite.min() + 1e-12),
                   interpolation="nearest")
    col_centres = np.arange(n_cols) * (w + gap) + (w - 1) / 2
    row_centres = np.arange(n_rows) * (h + gap) + (h - 1) / 2
    step_c, step_r = tick_every(n_cols), tick_every(n_rows)
    ax.set_xticks(col_centres[::step_c], [f"{v:.3g}" for v in z1[col_order][::step_c]])
    ax.set_yticks(row_centres[::step_r], [f"{v:.3g}" for v in z2[row_order][::step_r]])
    ax.tick_params(length=2)
    ax.set_xlabel(z_label(0))
    ax.set_ylabel(z_label(1))
    ax.set_title(title)
    for side in ax.spines.values():
        side.set_visible(False)
    if pixel_size_nm:
        # scale bar inside the lower-left tile, sized for one tile
        from matplotlib.patches import Rectangle

        length_nm, label = scale_bar_length(w * pixel_size_nm, fraction=0.5)
        length_px = length_nm / pixel_size_nm
        y0 = mosaic.shape[0] - 0.15 * h
        ax.add_patch(Rectangle((0.1 * w, y0), length_px, 0.06 * h, facecolor="white", edgecolor="black",
                               linewidth=0.5, gid="scale-bar"))
        ax.text(0.1 * w + length_px / 2, y0 - 0.04 * h, label, ha="center", va="bottom", color="white",
                fontsize=7, fontweight="bold", gid="scale-bar",
                path_effects=[patheffects.withStroke(linewidth=2, foreground="black")])
    fig.colorbar(im, ax=ax, label="decoded intensity (normalised)", shrink=0.8)
    return save_figure(fig, path)
