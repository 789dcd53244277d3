"""Figures of the PFM branch: latents of a window-size sweep over piezoresponse movies.

Every frame of a PFM movie (``image (frame, y, x)``, the signed piezoresponse) is cut into
square windows on a regular grid, for several window sizes; one rVAE per window size encodes
every window. The figures here put those latents side by side:

- :func:`plot_window_sweep`: latent maps on the frames, one row per window size (small windows
  see walls, a 1-D manifold; larger ones wall shapes and junctions, a 2-D one);
- :func:`plot_switching_path`: the per-frame distribution of :math:`z_1` against frame number
  and the switched fraction found from domain labels (the switching pathway);
- :func:`plot_latent_histograms`: histograms of :math:`z_1`, :math:`z_2` and θ per window size.

Inputs
------
``frames``: the frames Dataset (``image``, ``attrs["pixel_size_nm"]``, optional ``true_domain``
(frame, y, x), ``true_wall`` (frame, y, x) and ``true_switched_fraction`` (frame)).
``latents_by_window``: ``{window_px: latents}``, each latents Dataset with dims ``patch`` and
``latent``: ``z_mean``, ``z_std``, optional ``theta_deg`` and per patch ``frame``, ``row``,
``col`` (grid indices), ``y``, ``x`` (window centre, frame px); attrs ``window_px``,
``stride_px``, ``grid_rows``, ``grid_cols``, ``frame_pixel_size_nm``. The centre of window
``(row, col)`` is at ``y = row * stride + (window - 1) / 2`` (x likewise).

Like :mod:`rvae_pathways.figures.stem` (whose style and helpers these figures share) nothing here
imports ``pyplot``. Each ``plot_*`` function writes one PNG and returns None; the figure itself
comes from the matching ``*_figure`` function (used by the tests).
"""

from __future__ import annotations

import numpy as np

from ..pfm.domains import switched_fraction
from .kit import (
    MAX_HEIGHT_IN,
    NO_ROTATION_TEXT,
    PAGE_WIDTH_IN,
    add_scale_bar,
    bare_image_axes,
    choose_frames,
    count_label,
    display_limits,
    histogram_bins,
    latent_columns,
    new_figure,
    no_data,
    panel_size,
    pixel_size_of,
    robust_norm,
    rotation_deg,
    save_figure,
    styled,
    z_label,
)

VARIABLES = ("z1", "z2", "theta")
VARIABLE_CMAPS = {"z1": "viridis", "z2": "plasma", "theta": "twilight"}
THETA_LABEL = "θ (deg)"
NO_LABELS_TEXT = "no domain labels"
WALL_COLOUR = "black"
MISSING_COLOUR = "0.85"  # background of a map where no window is centred
MEDIAN_COLOUR = "tab:orange"
WINDOW_COLOURS = ("tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan",
                  "tab:red")  # one per window size, smallest first (no orange: that is the median)


def _window_colour(k: int) -> str:
    return WINDOW_COLOURS[k % len(WINDOW_COLOURS)]


# --------------------------------------------------------------------------------------------
# lengths, windows and grids


def length_text(nm: float) -> str:
    """A length for a label: ``"320 nm"``, ``"1.28 µm"`` (µm from 1000 nm up)."""
    nm = float(nm)
    if abs(nm) >= 1000:
        return f"{nm / 1000:.3g} µm"
    return f"{nm:.3g} nm"


def _scale_bar(ax, width_px: int, pixel_size_nm: float | None) -> str:
    """:func:`~rvae_pathways.figures.stem.add_scale_bar`, its label in µm from 1000 nm up."""
    label = add_scale_bar(ax, width_px, pixel_size_nm)
    value, _, unit = label.partition(" ")
    if unit == "nm" and float(value) >= 1000:
        new = length_text(float(value))
        for text in ax.texts:
            if text.get_gid() == "scale-bar" and text.get_text() == label:
                text.set_text(new)
        label = new
    return label


def _frame_pixel_nm(latents, frames=None) -> float | None:
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


def _sorted_windows(latents_by_window) -> list[tuple[int, object]]:
    """``(window_px, latents)`` pairs, smallest window first."""
    if not latents_by_window:
        raise ValueError("latents_by_window is empty: no window size to plot")
    pairs = [(_window_px(k, ds), ds) for k, ds in latents_by_window.items()]
    return sorted(pairs, key=lambda p: p[0])


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
        values = _variable_values(latents, values)
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


def _variable_values(latents, variable: str) -> np.ndarray | None:
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


def _no_latent_text(variable: str) -> str:
    return NO_ROTATION_TEXT if variable == "theta" else f"no latent {variable}"


# --------------------------------------------------------------------------------------------
# the piezoresponse image


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
# 1. window-size sweep


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
        values = _variable_values(latents, var)
        title, vcmap, vnorm, bar_label = _variable_style(var, values)
        if titled:
            ax.set_title(title)
        if values is None:
            _empty_map(ax, shape, _no_latent_text(var))
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
    windows = _sorted_windows(latents_by_window)
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
        label = window_label(window, _frame_pixel_nm(latents, frames) or pixel)
        if single:
            _variables_row(fig, axes[r], latents, columns, r == 1, bar_place, (ny, nx))
        else:
            values = _variable_values(latents, variable)
            title, vcmap, vnorm, bar_label = _variable_style(variable, values)
            for c, i in enumerate(columns):
                ax = axes[r, c]
                if values is None:
                    _empty_map(ax, (ny, nx), _no_latent_text(variable))
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
        See the module docstring.
    path : path-like
        The PNG written.
    frames_to_show : sequence of int, optional
    variable : {"z1", "z2", "theta"}
        The latent mapped (multi-frame movies).
    """
    save_figure(window_sweep_figure(frames, latents_by_window, frames_to_show, variable), path)


# --------------------------------------------------------------------------------------------
# 2. switching pathway


def _per_frame_histogram(ax, frame, z, n_bins: int):
    """2-D histogram of ``z`` per frame (each column normalised to the frame's windows) with its
    median on top. Returns the mesh."""
    all_frames = np.arange(frame.min(), frame.max() + 1)
    frame_edges = np.append(all_frames, all_frames[-1] + 1) - 0.5
    lo, hi = np.percentile(z, [0.5, 99.5])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    z_edges = np.linspace(lo, hi, n_bins + 1)
    clipped = np.clip(z, lo, hi)
    fraction = np.full((n_bins, all_frames.size), np.nan)
    median = np.full(all_frames.size, np.nan)
    for j, f in enumerate(all_frames):
        here = frame == f
        if here.any():
            fraction[:, j] = np.histogram(clipped[here], bins=z_edges)[0] / here.sum()
            median[j] = np.median(z[here])
    mesh = ax.pcolormesh(frame_edges, z_edges, np.ma.masked_invalid(fraction), cmap="Greys", vmin=0,
                         shading="flat")
    style = {"marker": "o", "markersize": 3} if all_frames.size <= 30 else {}
    ax.plot(all_frames, median, color=MEDIAN_COLOUR, linewidth=1.3, label="median", **style)
    ax.set_ylim(lo, hi)
    return mesh


@styled
def _switched_curves(windows, labelled) -> list:
    """Per window size with labels: (colour, label, frames present, their switched fractions)."""
    found = []
    for k, (window, latents) in enumerate(windows):
        labels = labelled.get(window)
        if labels is not None:
            frame = latents["frame"].values.astype(int)
            n_frames = int(frame.max()) + 1 if frame.size else 0
            fraction, _ = switched_fraction(labels, frame, n_frames)
            shown = np.isin(np.arange(n_frames), frame)
            found.append((_window_colour(k), window_label(window, _frame_pixel_nm(latents)),
                          np.arange(n_frames)[shown], fraction[shown]))
    return found


def _minority_bars(ax, found, truth, first: int) -> None:
    """One frame: a bar per window size (and the truth), the fraction in the minority state."""
    names, heights, colours = [], [], []
    for colour, label, _, fraction in found:
        names.append(label.replace(" (", "\n("))
        heights.append(fraction[0])
        colours.append(colour)
    if truth is not None and first < truth.size:
        names.append("truth\n(area fraction)")
        heights.append(truth[first])
        colours.append("0.3")
    ax.bar(np.arange(len(names)), heights, color=colours, width=0.6)
    for x, h in enumerate(heights):
        ax.text(x, h + 0.02, f"{h:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_xlim(-0.6, max(len(names), 3) - 0.4)


def switching_path_figure(latents_by_window, labels_by_window=None, true_switched_fraction=None,
                          n_bins: int = 40):
    """The figure of :func:`plot_switching_path` (see there)."""
    windows = _sorted_windows(latents_by_window)
    frames_all = np.concatenate([np.asarray(ds["frame"].values).astype(int) for _, ds in windows])
    if frames_all.size == 0:
        raise ValueError("no patches to plot")
    first, last = int(frames_all.min()), int(frames_all.max())
    single = first == last
    truth = None if true_switched_fraction is None else np.asarray(true_switched_fraction, dtype=float).ravel()
    labels_by_window = labels_by_window or {}
    labelled = {w: labels_by_window.get(w) for w, _ in windows if labels_by_window.get(w) is not None}
    with_fraction = bool(labelled) or truth is not None

    n_rows = len(windows) + int(with_fraction)
    height = min(MAX_HEIGHT_IN, (2.0 if not single else 1.8) * n_rows + 0.9)
    fig = new_figure(PAGE_WIDTH_IN, height)
    axes = fig.subplots(n_rows, 1, squeeze=False, sharex=not single)[:, 0]

    for ax, (window, latents) in zip(axes, windows):
        frame = np.asarray(latents["frame"].values).astype(int)
        columns = latent_columns(latents)
        label = window_label(window, _frame_pixel_nm(latents))
        z = columns[0]
        if single:
            ax.hist(z, bins=histogram_bins(z), weights=np.full(z.size, 1.0 / max(z.size, 1)),
                    color="0.45")
            ax.axvline(np.median(z), color=MEDIAN_COLOUR, linewidth=1.3, label="median")
            ax.legend(loc="upper left", framealpha=0.85)
            ax.set_xlabel(z_label(0))
            ax.set_ylabel("fraction of\nwindows")
            ax.set_title(f"{label}: $z_1$ of frame {first} ({count_label(z.size, 'window')})")
        else:
            mesh = _per_frame_histogram(ax, frame, z, n_bins)
            fig.colorbar(mesh, ax=ax, label="fraction of the\nframe's windows", shrink=0.9)
            ax.set_ylabel(z_label(0))
            ax.set_title(f"{label}: distribution of $z_1$ per frame ({count_label(z.size, 'window')})")
            ax.legend(loc="upper right", framealpha=0.85)

    if with_fraction:
        ax = axes[-1]
        found = _switched_curves(windows, labelled)
        truth_label = "truth (area fraction)"
        if single:
            _minority_bars(ax, found, truth, first)
            ax.set_title(f"Fraction of frame {first} in its minority state"
                         + ("" if labelled else f" ({NO_LABELS_TEXT}, truth only)"))
        else:
            for colour, label, f, fraction in found:
                ax.plot(f, fraction, color=colour, marker="o", markersize=4, linewidth=1.3, clip_on=False,
                        label=label)
            if truth is not None:
                ax.plot(np.arange(truth.size), truth, color="black", linestyle="--", marker="s",
                        markersize=3.5, linewidth=1.0, clip_on=False, label=truth_label)
            title = "Switched fraction per frame (the state in the minority in the first frame)"
            if not labelled:
                title += f": {NO_LABELS_TEXT}, truth only"
            ax.set_title(title)
            ax.legend(loc="best", framealpha=0.85)
            # same width as the histograms above, whose colour bars take room on the right
            bar = fig.colorbar(mesh, ax=ax, shrink=0.9)
            bar.ax.set_visible(False)
        ax.set_ylim(0, 1)
        ax.set_ylabel("minority fraction" if single else "switched fraction")
    if not single:
        axes[-1].set_xlabel("frame (index)")
        axes[-1].set_xlim(first - 0.5, last + 0.5)
        if last - first < 20:
            axes[-1].set_xticks(np.arange(first, last + 1))
        else:
            from matplotlib.ticker import MaxNLocator

            axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    n_frames = np.unique(frames_all).size
    note = "" if with_fraction else f" ({NO_LABELS_TEXT})"
    fig.suptitle(f"Switching pathway: latent $z_1$ per frame for {count_label(len(windows), 'window size')} "
                 f"({count_label(n_frames, 'frame')}){note}")
    return fig


@styled
def plot_switching_path(latents_by_window, path, labels_by_window=None, true_switched_fraction=None) -> None:
    """Per-frame distribution of :math:`z_1` for each window size, and the switched fraction.

    One panel per window size (smallest first): a 2-D histogram with the frame across and
    :math:`z_1` up, each frame's column normalised to its number of windows (colour bar), and
    the median in orange. A last panel shows the switched fraction per frame from the domain
    labels of each window size (the state that is the minority in the first frame counts as
    switched; see :func:`switched_fraction`), markers and lines, against the true switched
    area fraction (black, dashed) where given; y from 0 to 1.

    A one-frame movie gets a 1-D histogram of :math:`z_1` per window size instead. Without
    labels the fraction panel shows the truth alone (when given) or is left out, and the title
    says there are no labels.

    Parameters
    ----------
    latents_by_window : dict of int to xarray.Dataset
    path : path-like
    labels_by_window : dict of int to array (n_patches,), optional
        +1 / -1 domain label of every window; windows missing or None are skipped.
    true_switched_fraction : array (n_frames,), optional
        Indexed by frame.
    """
    save_figure(switching_path_figure(latents_by_window, labels_by_window, true_switched_fraction), path)


# --------------------------------------------------------------------------------------------
# 3. histograms


@styled
def latent_histograms_figure(latents_by_window):
    """The figure of :func:`plot_latent_histograms` (see there)."""
    windows = _sorted_windows(latents_by_window)
    columns = [("z1", z_label(0), "latent $z_1$"), ("z2", z_label(1), "latent $z_2$"),
               ("theta", THETA_LABEL, "rotation θ")]
    values = {(w, var): _variable_values(ds, var) for w, ds in windows for var, _, _ in columns}
    bins = {}
    for var, _, _ in columns:
        if var == "theta":
            bins[var] = np.arange(-180, 181, 10)
            continue
        present = [v for (w, name), v in values.items() if name == var and v is not None and v.size]
        if present:
            every = np.concatenate(present)
            lo, hi = np.percentile(every, [0.5, 99.5])
            bins[var] = histogram_bins(np.clip(every, lo, hi), most=50)

    n_rows = len(windows)
    fig = new_figure(PAGE_WIDTH_IN, min(MAX_HEIGHT_IN, 2.3 * n_rows + 0.5))
    rows = fig.subfigures(n_rows, 1, squeeze=False)[:, 0]  # one titled row per window size
    axes = np.array([row.subplots(1, 3) for row in rows])
    for r, (window, latents) in enumerate(windows):
        label = window_label(window, _frame_pixel_nm(latents))
        rows[r].suptitle(f"{label}: {count_label(latents.sizes['patch'], 'window')}", fontsize=9.5,
                         color=_window_colour(r), fontweight="bold")
        for c, (var, xlabel, title) in enumerate(columns):
            ax = axes[r, c]
            v = values[(window, var)]
            ax.set_xlabel(xlabel)
            if var == "theta":
                ax.set_xlim(-180, 180)
                ax.set_xticks(np.arange(-180, 181, 90))
            elif var in bins:
                ax.set_xlim(bins[var][0], bins[var][-1])
            if v is None or not v.size:
                no_data(ax, _no_latent_text(var))
                ax.set_yticks([])
                continue
            edges = bins[var]
            shown = np.clip(v, edges[0], edges[-1])  # outliers in the outermost bins
            ax.hist(shown, bins=edges, weights=np.full(v.size, 1.0 / v.size), color=_window_colour(r))
        axes[r, 0].set_ylabel("fraction of windows")
    fig.suptitle("Latents of every window size (bins shared by each column)", fontsize=11)
    return fig


@styled
def plot_latent_histograms(latents_by_window, path) -> None:
    """Histograms of :math:`z_1`, :math:`z_2` and θ (deg), one row per window size.

    Columns :math:`z_1`, :math:`z_2`, θ share their bins over all window sizes (z: the 0.5th to
    99.5th percentile of all windows, outliers counted in the outermost bins; θ: 10 deg from
    -180 to 180). Heights are fractions of the window size's windows. A model without a
    rotation latent gets a θ panel that says so.

    Parameters
    ----------
    latents_by_window : dict of int to xarray.Dataset
    path : path-like
    """
    save_figure(latent_histograms_figure(latents_by_window), path)
