"""Figure of the clustering baseline: cluster-mean patches of a Gaussian mixture and the cluster map
on one frame.

:func:`plot_cluster_baseline` draws clusters found by
:func:`rvae_pathways.stem.gmm_baseline.gmm_on_patches` on the patches of ``patches.zarr``.

The ``plot_*`` function here writes one PNG at ``DPI`` dots per inch and returns the
:class:`matplotlib.figure.Figure` (useful in tests; drop it when done). Nothing here imports
``pyplot``; the figure kit and its conventions (pixels, scale bars, latents, class colours, page
sizes) are in :mod:`rvae_pathways.figures.kit`.
"""

from __future__ import annotations

import math

import numpy as np

from .kit import (
    MAX_HEIGHT_IN,
    PAGE_WIDTH_IN,
    add_scale_bar,
    bare_image_axes,
    count_label,
    discrete_colours,
    display_limits,
    marker_area,
    new_figure,
    no_data,
    pixel_size_of,
    save_figure,
    styled,
    typical_spacing_px,
)


@styled
def plot_cluster_baseline(patches, labels, means, frame_image, frame_atoms_xy, frame_labels, path,
                          frame_number=None, pixel_size_nm=None):
    """The baseline: cluster-mean patches of a Gaussian mixture and the cluster map on one frame.

    Parameters
    ----------
    patches : xarray.Dataset or array
        The clustered patches (for their pixel size and number); see ``patches.zarr``.
    labels : int array (n_patches,)
        Cluster of every patch (from :func:`~rvae_pathways.stem.gmm_baseline.gmm_on_patches`).
    means : array (k, h, w)
        Mean patch of every cluster.
    frame_image : 2-D array
        The frame the map is drawn on.
    frame_atoms_xy : array (n, 2)
        Positions of that frame's atoms, columns **x then y** (px); see
        :func:`~rvae_pathways.stem.gmm_baseline.frame_cluster_positions`.
    frame_labels : int array (n,)
        Their clusters.
    path : path-like
    frame_number : int, optional
        Shown in the map's title.
    pixel_size_nm : float, optional
        Default ``patches.attrs["pixel_size_nm"]``.

    Returns
    -------
    matplotlib.figure.Figure
        ``k`` gallery axes, one map axes and two colour bars (mean intensity; cluster).
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    means = np.asarray(means, dtype=float)
    labels = np.asarray(labels)
    k = means.shape[0]
    counts = np.bincount(labels[labels >= 0], minlength=k)[:k] if labels.size else np.zeros(k, int)
    pixel = pixel_size_nm if pixel_size_nm is not None else pixel_size_of(patches)
    frame_image = np.asarray(frame_image, dtype=float)
    xy = np.asarray(frame_atoms_xy, dtype=float).reshape(-1, 2)
    frame_labels = np.asarray(frame_labels).reshape(-1)
    if len(frame_labels) != len(xy):
        raise ValueError(f"{len(xy)} positions but {len(frame_labels)} labels for the frame")

    n_gallery_cols = min(k, 8)
    n_gallery_rows = math.ceil(k / n_gallery_cols)
    gallery_h = 1.25 * n_gallery_rows + 0.45
    map_h = min(4.6, MAX_HEIGHT_IN - gallery_h - 0.4)
    fig = new_figure(PAGE_WIDTH_IN, gallery_h + map_h + 0.4)
    top, bottom = fig.subfigures(2, 1, height_ratios=[gallery_h, map_h])

    gallery = top.subplots(n_gallery_rows, n_gallery_cols, squeeze=False).ravel()
    vmin, vmax = display_limits(list(means), 0, 98)
    for c, ax in enumerate(gallery):
        if c >= k:
            ax.set_visible(False)
            continue
        im = ax.imshow(means[c], cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(f"cluster {c}\nn = {counts[c]}", fontsize=8.5)
        bare_image_axes(ax)
        for side in ax.spines.values():
            side.set_color(discrete_colours(k)[c])
            side.set_linewidth(2)
    add_scale_bar(gallery[0], means.shape[2], pixel)
    top.colorbar(im, ax=list(gallery[:k]), label="mean intensity\n(normalised)", shrink=0.9,
                 extend="max" if means.max() > vmax else "neither")
    n_text = count_label(labels.size, "raw patch", "raw patches")
    top.suptitle(f"Cluster means of {n_text} (Gaussian mixture on PCA, k = {k})", fontsize=10)

    ax = bottom.subplots()
    ny, nx = frame_image.shape
    lo, hi = display_limits([frame_image])
    ax.imshow(frame_image, cmap="gray", vmin=lo, vmax=hi)
    cmap = ListedColormap(discrete_colours(k))
    norm = BoundaryNorm(np.arange(k + 1) - 0.5, k)
    spacing = typical_spacing_px(xy[:, 1], xy[:, 0]) if len(xy) else None
    panel_w = map_h * nx / ny
    points = ax.scatter(xy[:, 0], xy[:, 1], c=frame_labels, cmap=cmap, norm=norm,
                        s=marker_area(0.45 * (spacing or 0.05 * nx), nx, panel_w),
                        edgecolors="black", linewidths=0.3)
    if not len(xy):
        no_data(ax, "no atoms in this frame")
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(ny - 0.5, -0.5)
    bare_image_axes(ax)
    add_scale_bar(ax, nx, pixel)
    where = f"frame {frame_number}" if frame_number is not None else "one frame"
    ax.set_title(f"Cluster of every atom on {where} ({count_label(len(xy), 'atom')})")
    bar = bottom.colorbar(points, ax=ax, ticks=np.arange(k), shrink=0.9)
    bar.set_label("Gaussian-mixture cluster")
    bar.ax.set_yticklabels([f"{c} (n={counts[c]})" for c in range(k)])
    return save_figure(fig, path)
