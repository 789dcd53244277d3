"""Figures of the rVAE latents of every patch: rotation and shift histograms, latent maps on the
frames, latents against frame number and the :math:`z_1`-:math:`z_2` scatter.

Every ``plot_*`` function takes xarray Datasets (the layouts of ``aligned.zarr`` and
``latents.zarr``) and an output path.

The ``plot_*`` functions here write one PNG at ``DPI`` dots per inch and return the
:class:`matplotlib.figure.Figure` (useful in tests; drop it when done). Nothing here imports
``pyplot``; the figure kit and its conventions (pixels, scale bars, latents, class colours, page
sizes) are in :mod:`rvae_pathways.figures.kit`.
"""

from __future__ import annotations

import numpy as np

from .kit import (
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
    shift_px,
    styled,
    typical_spacing_px,
    z_label,
)


# --------------------------------------------------------------------------------------------
# angle and shift histograms


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
# latent maps


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
# latents against frame number


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
# latent scatter


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
