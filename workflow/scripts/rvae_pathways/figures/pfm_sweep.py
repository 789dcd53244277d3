"""Figure of the PFM window-size sweep: latent maps on the piezoresponse frames, one row per window size.

:func:`plot_window_sweep` puts the latents of every window size side by side on the frames (small
windows see walls, a 1-D manifold; larger ones wall shapes and junctions, a 2-D one); each map
places every window's value on the window grid (:func:`latent_grid`, :func:`grid_extent`). The
inputs are laid out as in :mod:`rvae_pathways.figures.pfm_windows`.

Nothing here imports ``pyplot`` (figures are built by :mod:`rvae_pathways.figures.kit` on an Agg
canvas). Each ``plot_*`` function writes one PNG and returns None; the figure itself comes from the
matching ``*_figure`` function (used by the tests).
"""

from __future__ import annotations

import numpy as np

from .kit import (
    add_scale_bar,
    bare_image_axes,
    choose_frames,
    display_limits,
    new_figure,
    no_data,
    panel_size,
    pixel_size_of,
    robust_norm,
    save_figure,
    styled,
    z_label,
)
from .pfm_windows import (
    THETA_LABEL,
    VARIABLES,
    frame_pixel_nm,
    length_text,
    no_latent_text,
    sorted_windows,
    variable_values,
    window_label,
)

VARIABLE_CMAPS = {"z1": "viridis", "z2": "plasma", "theta": "twilight"}
WALL_COLOUR = "black"
MISSING_COLOUR = "0.85"  # background of a map where no window is centred


# --------------------------------------------------------------------------------------------
# windows on the grid


def _grid_shape(latents) -> tuple[int, int]:
    """``(grid_rows, grid_cols)`` from the attrs, else from the largest row and col present."""
    shape = []
    for attr, name in (("grid_rows", "row"), ("grid_cols", "col")):
        value = latents.attrs.get(attr)
        if value is None:
            index = np.asarray(latents[name].values)
            value = int(index.max()) + 1 if index.size else 1
        shape.append(int(value))
    return shape[0], shape[1]


def _axis_centres(latents, n: int, index_name: str, position_name: str) -> tuple[np.ndarray, float]:
    """Window centres (frame px) of grid rows or cols ``0..n-1``, and the grid step (px).

    From ``attrs["stride_px"]`` and ``attrs["window_px"]`` where given, else a straight-line
    fit of the patches' centres against their grid index.
    """
    stride = latents.attrs.get("stride_px")
    window = latents.attrs.get("window_px")
    if stride is not None and window is not None:
        stride = float(stride)
        return np.arange(n) * stride + (float(window) - 1) / 2, stride
    index = np.asarray(latents[index_name].values, dtype=float)
    position = np.asarray(latents[position_name].values, dtype=float)
    if np.unique(index).size >= 2:
        step, offset = np.polyfit(index, position, 1)
    else:
        step = float(stride) if stride is not None else 1.0
        offset = float(position[0] - index[0] * step) if position.size else 0.0
    return np.arange(n) * step + offset, float(step)


def grid_extent(latents) -> tuple[float, float, float, float]:
    """``imshow`` extent (left, right, bottom, top) in frame px of a map from :func:`latent_grid`.

    Each grid cell is one grid step wide, centred on its window's centre, so a map drawn with
    this extent lies on the frame it came from (frame drawn with pixel ``(i, j)`` centred at
    ``(i, j)``).
    """
    rows, cols = _grid_shape(latents)
    yc, dy = _axis_centres(latents, rows, "row", "y")
    xc, dx = _axis_centres(latents, cols, "col", "x")
    return (float(xc[0] - dx / 2), float(xc[-1] + dx / 2), float(yc[-1] + dy / 2), float(yc[0] - dy / 2))


def latent_grid(latents, values, frame) -> np.ndarray:
    """A per-patch value placed on the window grid of one frame.

    Parameters
    ----------
    latents : xarray.Dataset
        Per patch ``frame``, ``row``, ``col``; attrs ``grid_rows``, ``grid_cols`` (else taken
        from the largest indices present).
    values : array (n_patches,) or str
        One value per patch, or the name of one: ``"z1"``, ``"z2"``, ``"theta"`` (deg, wrapped
        to [-180, 180)) or a per-patch variable of ``latents``.
    frame : int
        Frame index (as in ``latents["frame"]``).

    Returns
    -------
    float array (grid_rows, grid_cols)
        ``grid[row, col]`` is the value of the frame's window at ``(row, col)``; NaN where the
        frame has no such window.
    """
    if isinstance(values, str):
        values = variable_values(latents, values)
        if values is None:
            raise ValueError("these latents have no rotation angle")
    values = np.asarray(values, dtype=float).reshape(-1)
    n = latents.sizes["patch"]
    if values.size != n:
        raise ValueError(f"{values.size} values for {n} patches")
    rows, cols = _grid_shape(latents)
    grid = np.full((rows, cols), np.nan)
    here = np.asarray(latents["frame"].values) == int(frame)
    row = np.asarray(latents["row"].values)[here].astype(int)
    col = np.asarray(latents["col"].values)[here].astype(int)
    inside = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    grid[row[inside], col[inside]] = values[here][inside]
    return grid


def _variable_style(variable: str, values: np.ndarray | None):
    """``(title, cmap, norm, colour-bar label)`` of a latent variable."""
    from matplotlib.colors import Normalize

    if variable == "theta":
        return "rotation θ", VARIABLE_CMAPS["theta"], Normalize(-180.0, 180.0), THETA_LABEL
    k = int(variable[1]) - 1 if variable in ("z1", "z2") else 0
    norm = robust_norm(values[np.isfinite(values)]) if values is not None else Normalize()
    title = f"latent $z_{k + 1}$" if variable in ("z1", "z2") else variable
    label = z_label(k) if variable in ("z1", "z2") else variable
    return title, VARIABLE_CMAPS.get(variable, "viridis"), norm, label


# --------------------------------------------------------------------------------------------
# the piezoresponse image


def _scale_bar(ax, width_px: int, pixel_size_nm: float | None) -> str:
    """:func:`~rvae_pathways.figures.kit.add_scale_bar`, its label in µm from 1000 nm up."""
    label = add_scale_bar(ax, width_px, pixel_size_nm)
    value, _, unit = label.partition(" ")
    if unit == "nm" and float(value) >= 1000:
        new = length_text(float(value))
        for text in ax.texts:
            if text.get_gid() == "scale-bar" and text.get_text() == label:
                text.set_text(new)
        label = new
    return label


def _piezo_style(images) -> tuple[str, object]:
    """Colour map and limits for the piezoresponse: red-blue symmetric about 0 where it changes sign."""
    from matplotlib.colors import Normalize

    lo, hi = display_limits(images)
    if lo < 0 < hi:
        m = max(-lo, hi)
        return "RdBu_r", Normalize(-m, m)
    return "gray", Normalize(lo, hi)


# SI lengths too small to read as tick labels: the amplitude of a real scan is a few pm
_LENGTH_DISPLAY = {"m": (1e12, "pm"), "nm": (1e3, "pm")}


def _piezo_units(frames) -> tuple[float, str]:
    """Factor and unit in which the piezoresponse is shown (metres become picometres)."""
    units = str(frames.attrs.get("intensity_units", "") or "a.u.")
    return _LENGTH_DISPLAY.get(units, (1.0, units))


def _piezo_label(frames) -> str:
    return f"piezoresponse ({_piezo_units(frames)[1]})"


def _draw_walls(ax, frames, i: int) -> bool:
    """True domain walls of frame ``i`` as thin contours: the sign change of ``true_domain``,
    else the outline of ``true_wall``. Returns whether any were drawn."""
    if "true_domain" in frames:
        field, level = np.asarray(frames["true_domain"].isel(frame=i).values, dtype=float), 0.0
    elif "true_wall" in frames:
        field, level = np.asarray(frames["true_wall"].isel(frame=i).values, dtype=float), 0.5
    else:
        return False
    if not (field.min() < level < field.max()):
        return False
    ax.contour(field, levels=[level], colors=WALL_COLOUR, linewidths=0.6)
    return True


def _image_panel(ax, image, cmap, norm):
    ny, nx = image.shape
    im = ax.imshow(image, cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(ny - 0.5, -0.5)
    bare_image_axes(ax)
    return im


def _map_panel(ax, latents, values, frame: int, cmap, norm, shape):
    """A latent map of one frame drawn on the frame's pixel extent (grey where no window is centred)."""
    import matplotlib

    ny, nx = shape
    grid = latent_grid(latents, values, frame)
    cmap = matplotlib.colormaps[cmap].with_extremes(bad=MISSING_COLOUR)
    ax.set_facecolor(MISSING_COLOUR)
    im = ax.imshow(grid, cmap=cmap, norm=norm, extent=grid_extent(latents), interpolation="nearest")
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(ny - 0.5, -0.5)
    bare_image_axes(ax)
    return im


# --------------------------------------------------------------------------------------------
# the sweep


@styled
def _empty_map(ax, shape, text: str) -> None:
    """A map panel of the frame's extent with nothing to show but ``text``."""
    ny, nx = shape
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(ny - 0.5, -0.5)
    bare_image_axes(ax)
    no_data(ax, text)


def _variables_row(fig, axes_row, latents, variables, titled: bool, bar_place: dict, shape) -> None:
    """A single frame's row of one window size: a map of each variable with its colour bar."""
    from matplotlib.cm import ScalarMappable

    for ax, var in zip(axes_row, variables):
        values = variable_values(latents, var)
        title, vcmap, vnorm, bar_label = _variable_style(var, values)
        if titled:
            ax.set_title(title)
        if values is None:
            _empty_map(ax, shape, no_latent_text(var))
            bar = fig.colorbar(ScalarMappable(norm=vnorm, cmap=vcmap), ax=ax, **bar_place)
            bar.ax.set_visible(False)  # keeps the panels aligned
            continue
        m = _map_panel(ax, latents, values, 0, vcmap, vnorm, shape)
        bar = fig.colorbar(m, ax=ax, label=bar_label, **bar_place)
        if var == "theta":
            bar.set_ticks([-180, -90, 0, 90, 180])


def window_sweep_figure(frames, latents_by_window, frames_to_show=None, variable: str = "z1"):
    """The figure of :func:`plot_window_sweep` (see there)."""
    from matplotlib.cm import ScalarMappable

    if variable not in VARIABLES:
        raise ValueError(f"variable must be one of {VARIABLES}, got {variable!r}")
    windows = sorted_windows(latents_by_window)
    n_frames = frames.sizes["frame"]
    ny, nx = frames.sizes["y"], frames.sizes["x"]
    pixel = pixel_size_of(frames)
    single = n_frames == 1
    shown = [0] if single else choose_frames(n_frames, frames_to_show)
    columns = list(VARIABLES) if single else shown
    n_rows, n_cols = 1 + len(windows), len(columns)

    extra_w = 0.8 if single else 1.5  # row labels and colour bars
    extra_h = 1.1 + (0.75 * n_rows if single else 0.0)
    panel_w = panel_size(n_cols, n_rows, ny / nx, extra_w=extra_w, extra_h=extra_h)
    fig = new_figure(panel_w * n_cols + extra_w, panel_w * ny / nx * n_rows + extra_h)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)

    # the piezoresponse
    factor = _piezo_units(frames)[0]
    images = [frames["image"].isel(frame=i).values * factor for i in shown]
    cmap, norm = _piezo_style(images)
    walls = False
    for c, i in enumerate(shown):
        ax = axes[0, c]
        im = _image_panel(ax, images[c], cmap, norm)
        walls |= _draw_walls(ax, frames, i)
        ax.set_title(f"frame {i}" if not single else "frame 0")
    _scale_bar(axes[0, 0], nx, pixel)
    axes[0, 0].set_ylabel("piezoresponse")
    for ax in axes[0, len(shown):]:
        ax.set_visible(False)
    # a single frame has a colour bar under every panel (three maps a row); a movie one per row
    bar_place = {"location": "bottom", "shrink": 0.95, "aspect": 14} if single else {"shrink": 0.9}
    fig.colorbar(im, ax=list(axes[0, : len(shown)]), label=_piezo_label(frames), **bar_place)

    # one row per window size
    for r, (window, latents) in enumerate(windows, start=1):
        label = window_label(window, frame_pixel_nm(latents, frames) or pixel)
        if single:
            _variables_row(fig, axes[r], latents, columns, r == 1, bar_place, (ny, nx))
        else:
            values = variable_values(latents, variable)
            title, vcmap, vnorm, bar_label = _variable_style(variable, values)
            for c, i in enumerate(columns):
                ax = axes[r, c]
                if values is None:
                    _empty_map(ax, (ny, nx), no_latent_text(variable))
                    continue
                _map_panel(ax, latents, values, i, vcmap, vnorm, (ny, nx))
            bar = fig.colorbar(ScalarMappable(norm=vnorm, cmap=vcmap), ax=list(axes[r, :]), label=bar_label,
                               shrink=0.9)
            if values is None:
                bar.ax.set_visible(False)
            elif variable == "theta":
                bar.set_ticks([-180, -90, 0, 90, 180])
        axes[r, 0].set_ylabel(label.replace(" (", "\n("))

    stride = {int(ds.attrs["stride_px"]) for _, ds in windows if "stride_px" in ds.attrs}
    stride_text = f", stride {stride.pop()} px" if len(stride) == 1 else ""
    what = "latents of one frame" if single else f"{_variable_style(variable, None)[0]} per frame"
    pixel_text = f", {length_text(pixel)}/px" if pixel else ""
    notes = "grey: no window centred there" + ("; black lines: true domain walls" if walls else "")
    # a single frame makes a narrow figure: one short line per part of the title
    sep = "\n" if single else ""
    fig.suptitle(f"Window-size sweep: rVAE {what}{sep}{stride_text.lstrip(',') if single else stride_text}"
                 f"{pixel_text}\n({notes})")
    return fig


@styled
def plot_window_sweep(frames, latents_by_window, path, frames_to_show=None, variable: str = "z1") -> None:
    """Latent maps of every window size on the frames, side by side: the window-size sweep.

    Rows: the piezoresponse frames (with the true domain walls, where known, as thin black
    lines and a scale bar), then one row per window size, smallest first, labelled
    ``"window 16 px (320 nm)"``. Columns: the frames shown (default first, middle and last).
    Each map puts every window's value at its centre, one cell per grid step, drawn on the
    frame's pixel extent so maps of all window sizes line up with the image; grey where no
    window is centred (the margin of half a window). Each row has one colour scale (1st to
    99th percentile of all that window size's patches; θ on a cyclic map from -180 to 180
    deg) and a labelled colour bar.

    A one-frame movie (a single scan) gets columns :math:`z_1`, :math:`z_2` and θ of that
    frame instead, each map with its own colour bar.

    Parameters
    ----------
    frames : xarray.Dataset
        ``image (frame, y, x)``, ``attrs["pixel_size_nm"]``; optional ``true_domain`` or
        ``true_wall``.
    latents_by_window : dict of int to xarray.Dataset
        See :mod:`rvae_pathways.figures.pfm_windows`.
    path : path-like
        The PNG written.
    frames_to_show : sequence of int, optional
    variable : {"z1", "z2", "theta"}
        The latent mapped (multi-frame movies).
    """
    save_figure(window_sweep_figure(frames, latents_by_window, frames_to_show, variable), path)
