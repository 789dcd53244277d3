"""Figures of the rVAE analysis: data overview, clustering baseline, latent manifolds and maps.

Every ``plot_*`` function takes arrays or xarray Datasets (the layouts of ``aligned.zarr``,
``atoms.zarr``, ``patches.zarr`` and ``latents.zarr``) and an output path, writes one PNG at
``DPI`` dots per inch and returns the :class:`matplotlib.figure.Figure` (useful in tests; drop
it when done). Figures are built on :class:`~matplotlib.figure.Figure` with an Agg canvas, never
through ``pyplot``: nothing opens a window, nothing is left in pyplot's list of open figures,
and importing this module selects no backend.

Conventions
-----------
- Positions are ``(y, x)`` in pixels with the image drawn as stored (row 0 at the top); the
  pixel size comes from ``attrs["pixel_size_nm"]`` and sets a scale bar (in Angstrom below
  1 nm). Without a pixel size the scale bar is in px.
- Latent coordinates are ``z_mean[:, 0]`` (:math:`z_1`) and ``z_mean[:, 1]`` (:math:`z_2`),
  dimensionless ("a.u."). Angles are read from ``theta_deg`` (degrees) and wrapped to
  [-180, 180). A model without a rotation latent (``attrs["model"] == "vae"``, or
  ``theta_deg`` absent or all zero) gets a panel that says "no rotation latent".
- Structural classes (``true_class``; -1 unknown) keep one colour per class code in every
  figure, so a class missing from one sample does not shift the others' colours.
- Widths are at most ``PAGE_WIDTH_IN`` inches and heights at most ``MAX_HEIGHT_IN``.
"""

from __future__ import annotations

import math

import numpy as np

from .kit import (
    ATOM_COLOUR,
    MAX_HEIGHT_IN,
    NO_ROTATION_TEXT,
    NO_SHIFT_TEXT,
    PAGE_WIDTH_IN,
    add_scale_bar,
    bare_image_axes,
    choose_frames,
    class_colour,
    class_label,
    class_names,
    count_label,
    discrete_colours,
    display_limits,
    histogram_bins,
    latent_columns,
    marker_area,
    model_name,
    new_figure,
    no_data,
    panel_size,
    pixel_size_of,
    robust_norm,
    rotation_deg,
    save_figure,
    scale_bar_length,
    shift_px,
    styled,
    tick_every,
    typical_spacing_px,
    z_label,
)

# --------------------------------------------------------------------------------------------
# figure plumbing







# --------------------------------------------------------------------------------------------
# scale bars





# --------------------------------------------------------------------------------------------
# reading the Datasets

















# --------------------------------------------------------------------------------------------
# 1. data overview


@styled
def plot_data_overview(frames, atoms, path, frames_to_show=None):
    """First, middle and last frame with the found atoms circled.

    Parameters
    ----------
    frames : xarray.Dataset
        ``image (frame, y, x)``, ``attrs["pixel_size_nm"]`` (the aligned frames).
    atoms : xarray.Dataset
        Dim ``atom`` with ``frame`` (index), ``y`` and ``x`` (px).
    path : path-like
        The PNG written.
    frames_to_show : sequence of int, optional
        Frame indices; default first, middle and last (one panel for a one-frame movie).

    Returns
    -------
    matplotlib.figure.Figure
        One image axes per frame shown and one colour bar (intensity).
    """
    n_frames = frames.sizes["frame"]
    shown = choose_frames(n_frames, frames_to_show)
    ny, nx = frames.sizes["y"], frames.sizes["x"]
    pixel = pixel_size_of(frames)
    atom_frame = np.asarray(atoms["frame"].values)
    atom_y = np.asarray(atoms["y"].values, dtype=float)
    atom_x = np.asarray(atoms["x"].values, dtype=float)

    panel_w = panel_size(len(shown), 1, ny / nx, extra_w=0.9, extra_h=1.0)
    fig = new_figure(panel_w * len(shown) + 0.9, panel_w * ny / nx + 1.0)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    images = [frames["image"].isel(frame=i).values for i in shown]
    vmin, vmax = display_limits(images)
    for ax, i, image in zip(axes, shown, images):
        im = ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax)
        here = atom_frame == i
        spacing = typical_spacing_px(atom_y[here], atom_x[here]) or 0.05 * nx
        ax.scatter(atom_x[here], atom_y[here], s=marker_area(0.7 * spacing, nx, panel_w),
                   facecolors="none", edgecolors=ATOM_COLOUR, linewidths=0.7)
        ax.set_xlim(-0.5, nx - 0.5)
        ax.set_ylim(ny - 0.5, -0.5)
        ax.set_title(f"frame {i}: {count_label(int(here.sum()), 'atom')}")
        bare_image_axes(ax)
        add_scale_bar(ax, nx, pixel)
    fig.colorbar(im, ax=list(axes), label="intensity (normalised)", shrink=0.85)
    pixel_text = f", {pixel * 10:g} Å/px" if pixel else ""
    fig.suptitle(f"Aligned frames and found atoms ({count_label(atom_frame.size, 'atom')} in "
                 f"{count_label(n_frames, 'frame')}{pixel_text})")
    return save_figure(fig, path)


# --------------------------------------------------------------------------------------------
# 2. Gaussian-mixture baseline




@styled
def plot_cluster_baseline(patches, labels, means, frame_image, frame_atoms_xy, frame_labels, path,
                          frame_number=None, pixel_size_nm=None):
    """The baseline: cluster-mean patches of a Gaussian mixture and the cluster map on one frame.

    Parameters
    ----------
    patches : xarray.Dataset or array
        The clustered patches (for their pixel size and number); see ``patches.zarr``.
    labels : int array (n_patches,)
        Cluster of every patch (from :func:`gmm_on_patches`).
    means : array (k, h, w)
        Mean patch of every cluster.
    frame_image : 2-D array
        The frame the map is drawn on.
    frame_atoms_xy : array (n, 2)
        Positions of that frame's atoms, columns **x then y** (px); see
        :func:`frame_cluster_positions`.
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


# --------------------------------------------------------------------------------------------
# 3. latent manifold



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


# --------------------------------------------------------------------------------------------
# 4. angle and shift histograms



@styled
def plot_angle_shift_histograms(latents, path):
    """Histograms of the rotation angle (also modulo 120 deg) and of the two shifts.

    For graphene the patches of the two sublattices differ by a 60 deg rotation of the three
    bonds, so the angle modulo 120 deg should show two peaks about 60 deg apart. Where the
    latents carry ``true_sublattice`` the modulo-120 histogram is split by sublattice.

    Parameters
    ----------
    latents : xarray.Dataset
        ``theta_deg``, ``dx_px``, ``dy_px`` per patch (absent or all zero for a plain VAE).
    path : path-like

    Returns
    -------
    matplotlib.figure.Figure
        Four axes: theta (deg), theta mod 120 (deg), dx (px), dy (px).
    """
    theta = rotation_deg(latents)
    n = latents.sizes["patch"]
    fig = new_figure(PAGE_WIDTH_IN, 5.6)
    (ax_t, ax_m), (ax_x, ax_y) = fig.subplots(2, 2)

    ax_t.set_title("Rotation angle θ")
    ax_t.set_xlabel("θ (deg)")
    ax_m.set_title("θ modulo 120°\n(two sublattices: two peaks 60° apart)")
    ax_m.set_xlabel("θ mod 120 (deg)")
    for ax in (ax_t, ax_m):
        ax.set_ylabel("patches")
    if theta is None:
        for ax in (ax_t, ax_m):
            no_data(ax, f"{NO_ROTATION_TEXT}\n(model: {model_name(latents)})")
            ax.set_yticks([])
    else:
        ax_t.hist(theta, bins=np.arange(-180, 181, 5), color="tab:blue")
        wrapped = theta % 120.0
        edges = np.arange(0, 121, 4)
        if "true_sublattice" in latents:
            sub = np.asarray(latents["true_sublattice"].values)
            groups = [(wrapped[sub == s], f"sublattice {s}") for s in np.unique(sub) if s >= 0]
            ax_m.hist([g for g, _ in groups], bins=edges, stacked=True, label=[lab for _, lab in groups])
            ax_m.legend(loc="upper right")
        else:
            ax_m.hist(wrapped, bins=edges, color="tab:purple")
    ax_t.set_xlim(-180, 180)
    ax_t.set_xticks(np.arange(-180, 181, 60))
    ax_m.set_xlim(0, 120)
    ax_m.set_xticks(np.arange(0, 121, 20))

    for ax, name, axis in ((ax_x, "dx_px", "x"), (ax_y, "dy_px", "y")):
        shift = shift_px(latents, name)
        ax.set_title(f"Shift along {axis}")
        ax.set_xlabel(f"d{axis} (px)")
        ax.set_ylabel("patches")
        if shift is None:
            no_data(ax, NO_SHIFT_TEXT)
            ax.set_yticks([])
            continue
        ax.hist(shift, bins=histogram_bins(shift), color="tab:green")
        ax.axvline(0, color="0.3", linewidth=0.8, linestyle="--")
        ax.text(0.98, 0.95, f"mean {shift.mean():.2f} px\nstd {shift.std():.2f} px", transform=ax.transAxes,
                ha="right", va="top", fontsize=8)
    fig.suptitle(f"{model_name(latents)}: rotation and shift latents of {count_label(n, 'patch', 'patches')}")
    return save_figure(fig, path)


# --------------------------------------------------------------------------------------------
# 5. latent maps



@styled
def plot_latent_maps(frames, latents, path, frames_to_show=None, theta_period_deg: float = 360.0):
    """Atoms of several frames coloured by :math:`z_1`, :math:`z_2` and the angle θ.

    Rows are frames, columns are variables; each variable has one colour scale shared by all
    frames (1st to 99th percentile of all patches, so two figures of one sample agree).

    Parameters
    ----------
    frames : xarray.Dataset
        ``image (frame, y, x)`` and ``attrs["pixel_size_nm"]``.
    latents : xarray.Dataset
        ``z_mean``, ``theta_deg`` and per patch ``frame``, ``y``, ``x``.
    path : path-like
    frames_to_show : sequence of int, optional
        Default first, middle and last frame.
    theta_period_deg : float
        Angles are shown modulo this period on a cyclic colour map: 360 (default) for the raw
        angle, 120 for graphene, where the two sublattices then take opposite colours.

    Returns
    -------
    matplotlib.figure.Figure
        ``n_frames x 3`` image axes and one visible colour bar per variable shown (two for a
        model without a rotation latent, whose angle panels say so; a hidden third keeps the
        columns aligned).
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    shown = choose_frames(frames.sizes["frame"], frames_to_show)
    ny, nx = frames.sizes["y"], frames.sizes["x"]
    pixel = pixel_size_of(frames)
    patch_frame = np.asarray(latents["frame"].values)
    py = np.asarray(latents["y"].values, dtype=float)
    px = np.asarray(latents["x"].values, dtype=float)

    variables = []
    for k, z in enumerate(latent_columns(latents)):
        cmap = ("viridis", "plasma")[k]
        variables.append((f"latent $z_{k + 1}$", z, cmap, robust_norm(z), z_label(k)))
    theta = rotation_deg(latents)
    period = float(theta_period_deg)
    if theta is not None:
        shown_theta = theta % period if period < 360 else theta
        lo = 0.0 if period < 360 else -180.0
        label = "θ (deg)" if period >= 360 else f"θ mod {period:g} (deg)"
        variables.append(("rotation θ", shown_theta, "twilight", Normalize(lo, lo + min(period, 360.0)), label))
    else:
        variables.append(("rotation θ", None, None, None, None))

    n_rows, n_cols = len(shown), len(variables)
    panel_w = panel_size(n_cols, n_rows, ny / nx, extra_w=0.5, extra_h=1.6)
    fig = new_figure(panel_w * n_cols + 0.5, panel_w * ny / nx * n_rows + 1.6)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, i in enumerate(shown):
        image = frames["image"].isel(frame=i).values
        lo, hi = display_limits([image])
        here = patch_frame == i
        spacing = typical_spacing_px(py[here], px[here]) or 0.05 * nx
        area = marker_area(0.45 * spacing, nx, panel_w)
        for c, (name, values, cmap, norm, label) in enumerate(variables):
            ax = axes[r, c]
            ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, alpha=0.55)
            ax.set_xlim(-0.5, nx - 0.5)
            ax.set_ylim(ny - 0.5, -0.5)
            bare_image_axes(ax)
            if values is None:
                no_data(ax, NO_ROTATION_TEXT)
            else:
                ax.scatter(px[here], py[here], c=values[here], cmap=cmap, norm=norm, s=area,
                           edgecolors="black", linewidths=0.2)
            if r == 0:
                ax.set_title(name)
            if c == 0:
                ax.set_ylabel(f"frame {i} ({count_label(int(here.sum()), 'atom')})")
                add_scale_bar(ax, nx, pixel)
    for c, (name, values, cmap, norm, label) in enumerate(variables):
        bar = fig.colorbar(ScalarMappable(norm=norm or Normalize(), cmap=cmap), ax=list(axes[:, c]),
                           location="bottom", label=label, shrink=0.9, aspect=18)
        if values is None:  # keeps the columns aligned; there is nothing to show
            bar.ax.set_visible(False)
    fig.suptitle(f"{model_name(latents)} latents on the atoms, colour scales shared by all frames")
    return save_figure(fig, path)


# --------------------------------------------------------------------------------------------
# 6. latents against frame number


@styled
def plot_latent_vs_frame(latents, path, n_bins: int = 40):
    """Distribution of :math:`z_1` and :math:`z_2` in every frame: how the material changes in time.

    Each frame is one column of a 2-D histogram normalised to the frame's number of atoms,
    with the median and the 10th and 90th percentiles on top. Values beyond the 0.5th and
    99.5th percentiles of all patches are counted in the outermost bins.

    Parameters
    ----------
    latents : xarray.Dataset
        ``z_mean`` and per patch ``frame``.
    path : path-like
    n_bins : int
        Bins along z.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per latent shown (at most two) and one colour bar each.
    """
    frame = np.asarray(latents["frame"].values).astype(int)
    columns = latent_columns(latents)
    if frame.size == 0:
        raise ValueError("no patches to plot")
    all_frames = np.arange(frame.min(), frame.max() + 1)
    frame_edges = np.append(all_frames, all_frames[-1] + 1) - 0.5
    fig = new_figure(PAGE_WIDTH_IN, 2.5 * len(columns) + 0.8)
    axes = fig.subplots(len(columns), 1, squeeze=False, sharex=True)[:, 0]
    for k, (ax, z) in enumerate(zip(axes, columns)):
        lo, hi = np.percentile(z, [0.5, 99.5])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        z_edges = np.linspace(lo, hi, n_bins + 1)
        fraction = np.full((n_bins, all_frames.size), np.nan)
        median, p10, p90 = (np.full(all_frames.size, np.nan) for _ in range(3))
        clipped = np.clip(z, lo, hi)
        for j, f in enumerate(all_frames):
            values = clipped[frame == f]
            if values.size:
                fraction[:, j] = np.histogram(values, bins=z_edges)[0] / values.size
                median[j], p10[j], p90[j] = np.percentile(z[frame == f], [50, 10, 90])
        mesh = ax.pcolormesh(frame_edges, z_edges, np.ma.masked_invalid(fraction), cmap="Greys",
                             vmin=0, shading="flat")
        style = {"marker": "o", "markersize": 3} if all_frames.size <= 30 else {}
        ax.plot(all_frames, median, color="tab:orange", linewidth=1.5, label="median", **style)
        band = {"marker": "_", "markersize": 8} if all_frames.size <= 30 else {}
        ax.plot(all_frames, p10, color="tab:orange", linewidth=0.8, linestyle="--", label="10th / 90th percentile",
                **band)
        ax.plot(all_frames, p90, color="tab:orange", linewidth=0.8, linestyle="--", **band)
        ax.set_ylabel(z_label(k))
        ax.set_ylim(lo, hi)
        fig.colorbar(mesh, ax=ax, label="fraction of the\nframe's atoms", shrink=0.9)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
    axes[-1].set_xlabel("frame (index)")
    axes[-1].set_xlim(frame_edges[0], frame_edges[-1])
    if all_frames.size <= 20:
        axes[-1].set_xticks(all_frames)
    fig.suptitle(f"{model_name(latents)} latents per frame ({count_label(frame.size, 'patch', 'patches')}, "
                 f"{count_label(np.unique(frame).size, 'frame')})")
    return save_figure(fig, path)


# --------------------------------------------------------------------------------------------
# 7. latent scatter


@styled
def plot_latent_scatter(latents, path):
    """:math:`z_1` against :math:`z_2`, coloured by frame and by true class (or shown as density).

    Parameters
    ----------
    latents : xarray.Dataset
        ``z_mean`` (at least two latents) and per patch ``frame``; optional ``true_class`` with
        names in ``attrs["true_class_names"]``.
    path : path-like

    Returns
    -------
    matplotlib.figure.Figure
        Two axes; a colour bar for the frame, and either a legend of the classes present
        (with counts; colours fixed by class code) or a colour bar of the density.
    """
    from matplotlib.colors import LogNorm, Normalize

    columns = latent_columns(latents)
    if len(columns) < 2:
        raise ValueError("a z_1 vs z_2 scatter needs at least two latents")
    z1, z2 = columns
    n = z1.size
    frame = np.asarray(latents["frame"].values)
    order = np.random.default_rng(0).permutation(n)  # no frame painted systematically on top
    area = float(np.clip(3000.0 / max(n, 1), 1.0, 25.0))

    fig = new_figure(PAGE_WIDTH_IN, 3.6)
    ax_f, ax_c = fig.subplots(1, 2)
    f_lo, f_hi = (frame.min(), frame.max()) if n else (0, 1)
    norm = Normalize(f_lo - 0.5, f_hi + 0.5) if f_hi == f_lo else Normalize(f_lo, f_hi)
    points = ax_f.scatter(z1[order], z2[order], c=frame[order], cmap="viridis", norm=norm, s=area,
                          linewidths=0)
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(points, ax=ax_f, label="frame (index)")
    bar.locator = MaxNLocator(integer=True, steps=[1, 2, 5, 10])
    bar.update_ticks()
    ax_f.set_title("Coloured by frame")

    truth = np.asarray(latents["true_class"].values).astype(int) if "true_class" in latents else None
    if truth is not None and np.any(truth >= 0):
        names = class_names(latents)
        codes, counts = np.unique(truth, return_counts=True)
        for code in codes[np.argsort(-counts, kind="stable")]:  # largest class first, rare ones on top
            here = truth == code
            ax_c.scatter(z1[here], z2[here], s=area, color=class_colour(code), linewidths=0,
                         label=f"{class_label(code, names)} (n={int(here.sum())})")
        missing = [names[c] for c in range(len(names)) if c not in codes]
        title = "Coloured by true class"
        if missing:
            title += f"\n(absent: {', '.join(missing)})"
        ax_c.set_title(title)
        ax_c.legend(loc="best", markerscale=max(1.0, 16.0 / area) ** 0.5, framealpha=0.85)
    else:
        bins = min(60, max(5, int(np.sqrt(n))))
        counts, x_edges, y_edges = np.histogram2d(z1, z2, bins=bins)
        mesh = ax_c.pcolormesh(x_edges, y_edges, np.ma.masked_equal(counts.T, 0), cmap="magma_r",
                               norm=LogNorm(vmin=1, vmax=max(2.0, counts.max())))
        fig.colorbar(mesh, ax=ax_c, label="patches per bin")
        ax_c.set_title("Density (no true classes)")
    for ax in (ax_f, ax_c):
        ax.set_xlabel(z_label(0))
        ax.set_ylabel(z_label(1))
    fig.suptitle(f"{model_name(latents)} latent space ({count_label(n, 'patch', 'patches')})")
    return save_figure(fig, path)


# --------------------------------------------------------------------------------------------
# 8. training history

TERM_LABELS = {
    "loss": "total",
    "total": "total",
    "reconstruction": "reconstruction",
    "kl_z": "KL of z",
    "kl_theta": "KL of θ",
    "kl_shift": "KL of shift",
}


def _history_columns(history) -> dict[str, np.ndarray]:
    """A dict of lists or a DataFrame as a dict of float arrays."""
    if hasattr(history, "columns"):
        return {str(c): np.asarray(history[c], dtype=float) for c in history.columns}
    return {str(k): np.asarray(v, dtype=float) for k, v in dict(history).items()}


def _term_label(name: str) -> str:
    if name.startswith("val_"):
        return f"{TERM_LABELS.get(name[4:], name[4:])} (validation)"
    return TERM_LABELS.get(name, name)


def _use_log_scale(series: list[np.ndarray]) -> bool:
    """Log y when every value is positive and they span at least a factor of ten."""
    values = np.concatenate(series) if series else np.array([])
    values = values[np.isfinite(values)]
    return bool(values.size and values.min() > 0 and values.max() / values.min() >= 10)


def _log_y_axis(ax, series: list[np.ndarray]) -> None:
    """Log y axis labelled with plain numbers (1, 2 and 5 per decade when it spans few decades)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = np.concatenate(series)
    values = values[np.isfinite(values) & (values > 0)]
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    if np.log10(values.max() / values.min()) < 3:
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())


@styled
def plot_training_history(history, path, loss_units: str = "a.u.", title: str = "Training history"):
    """Loss terms against epoch: total and reconstruction on the left, KL terms on the right.

    Parameters
    ----------
    history : dict of lists or pandas.DataFrame
        ``epoch`` (default 1, 2, ...), ``loss`` or ``total``, ``reconstruction``, ``kl_z``,
        ``kl_theta``, ``kl_shift``; any may be missing, other columns (timings) are ignored.
        ``val_<term>`` columns are drawn dashed beside their term. A KL term that is zero throughout (no such latent) is named in the legend, not drawn.
        Epochs whose ``kl_z_weight`` is not 1 (the orientation warm-up) are shaded.
    path : path-like
    loss_units : str
        Units of the losses for the y labels, e.g. ``"nats per patch"``.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Two axes; the y axis of each is logarithmic when all its values are positive and span a
        factor of ten or more.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    columns = _history_columns(history)
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"history columns differ in length: { {k: len(v) for k, v in columns.items()} }")
    n = lengths.pop() if lengths else 0
    epoch = columns.pop("epoch", np.arange(1, n + 1, dtype=float))
    weight = columns.pop("kl_z_weight", np.ones(n))
    left = [k for k in columns if k.removeprefix("val_") in ("loss", "total", "reconstruction")]
    right = [k for k in columns if k.removeprefix("val_").startswith("kl")]

    fig = new_figure(PAGE_WIDTH_IN, 3.4)
    ax_l, ax_r = fig.subplots(1, 2, sharex=True)
    marker = "o" if n <= 30 else None
    colours = {}
    for ax, names, empty_text in ((ax_l, left, "no loss recorded"), (ax_r, right, "no KL terms recorded")):
        drawn, handles = [], []
        for name in names:
            values = columns[name]
            if name in right and not np.any(np.abs(values) > 0):
                handles.append(Line2D([], [], linestyle="none", label=f"{_term_label(name)}: zero throughout"))
                continue
            base = name.removeprefix("val_")
            colour = colours.setdefault(base, f"C{len(colours)}")
            (line,) = ax.plot(epoch, values, color=colour, marker=marker, markersize=3,
                              linestyle="--" if name.startswith("val_") else "-", label=_term_label(name))
            drawn.append(values)
            handles.insert(len(drawn) - 1, line)
        warm = np.flatnonzero(np.asarray(weight) != 1)
        if len(warm):
            span = ax.axvspan(epoch[warm[0]] - 0.5, epoch[warm[-1]] + 0.5, color="0.9", zorder=0,
                              label=f"warm-up: kl_z x{float(weight[warm[0]]):g}")
            handles.append(span)
        if handles:
            ax.legend(handles=handles, loc="best", framealpha=0.85)
        if drawn and _use_log_scale(drawn):
            _log_y_axis(ax, drawn)
        if not drawn:
            no_data(ax, empty_text)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        ax.set_ylabel(f"loss ({loss_units})")
    ax_l.set_title("Total and reconstruction loss")
    ax_r.set_title("KL divergence terms")
    fig.suptitle(f"{title} ({count_label(n, 'epoch')})")
    return save_figure(fig, path)
