"""Square windows on a regular grid ("tiles"), for movies without atoms (PFM).

Each frame (y, x) is cut into ``window`` x ``window`` px windows whose top-left corners lie
``stride`` px apart, starting at pixel 0 on both axes. The grid is not padded: the last
window along an axis ends where the next one would no longer fit, and the few pixels left
uncovered at the far border (fewer than ``stride``) are reported. A window's centre, in frame
px, is its origin plus ``(window - 1) / 2``.

A window is kept pixel for pixel, or resampled to ``patch_px`` x ``patch_px`` samples set out
as in :func:`rvae_pathways.stem.patches.sample_grid` (``step = window / patch_px`` apart, symmetric
about the centre): each sample is the mean of its ``step`` x ``step`` block when ``step`` is a
whole number, else the frame blurred by :func:`rvae_pathways.stem.patches.antialias_sigma` and read
bilinearly at the sample.

:func:`tile_movie` writes the windows of a whole movie to ``patches.zarr`` in the layout the
rVAE rules read for STEM patches, frame by frame.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

from ..core.config import defaults
from ..core.errors import InputError
from ..core.geometry import antialias_sigma, sample_grid
from ..core.store import ZarrAppender

# per-patch variables written by tile_movie (besides "image"); the scores add true_* ones to a simulation's
TILE_COLUMNS = ("frame", "y", "x", "row", "col", "intensity", "true_domain", "true_wall_distance_px")


def _whole(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise InputError(f"{name} must be a whole number of pixels, got {value!r}")
    return int(value)


def tile_origins(length: int, window: int, stride: int) -> np.ndarray:
    """Start indices ``0, stride, 2 * stride, ...`` of the windows that fit along an axis of ``length`` px.

    The last window ends at most ``stride - 1`` px before the far border (see :func:`uncovered_px`).
    Raises :class:`InputError` when the window is under 2 px, the stride under 1 px, or the
    window longer than the axis.
    """
    length = _whole(length, "the frame size")
    window = _whole(window, "window_px")
    stride = _whole(stride, "stride_px")
    if window < 2:
        raise InputError(f"window of {window} px is too small; set window_px to at least 2")
    if stride < 1:
        raise InputError(f"stride of {stride} px must be at least 1; set stride_px to 1 or more")
    if window > length:
        raise InputError(
            f"window of {window} px does not fit in a frame {length} px across; set window_px to at most {length}"
        )
    return np.arange(0, length - window + 1, stride, dtype=np.int64)


def uncovered_px(length: int, window: int, stride: int) -> int:
    """Pixels at the far border of an axis that no window of :func:`tile_origins` covers (< stride)."""
    origins = tile_origins(length, window, stride)
    return int(length - (origins[-1] + int(window)))


def model_patch_px(window_px: int, patch_px: int | None) -> int | None:
    """The ``patch_px`` to tile a ``window_px`` window with under the config's rule: windows larger
    than ``patch_px`` are sampled on a ``patch_px`` grid, the others keep their pixels (None)."""
    return patch_px if patch_px is not None and patch_px < window_px else None


def _samples_per_side(window: int, patch_px: int | None) -> tuple[int, float]:
    """``(patch_px, step)``: samples per side and their spacing in frame px (``patch_px=None``: one per px)."""
    if patch_px is None or int(patch_px) == window:
        return window, 1.0
    patch_px = _whole(patch_px, "patch_px")
    if patch_px > window:
        raise InputError(
            f"patch_px = {patch_px} is more samples than the {window} px window has pixels; "
            f"set patch_px to at most {window} (or leave it empty to keep the pixels)"
        )
    _, step = sample_grid(window, patch_px)  # checks patch_px >= 3
    return patch_px, step


def _box_mean(image: np.ndarray, size: int) -> np.ndarray:
    """``out[r, c]`` = mean of ``image[r:r + size, c:c + size]`` (shape ``(ny - size + 1, nx - size + 1)``)."""
    total = np.zeros((image.shape[0] + 1, image.shape[1] + 1))
    total[1:, 1:] = image.cumsum(0).cumsum(1)
    return (total[size:, size:] - total[:-size, size:] - total[size:, :-size] + total[:-size, :-size]) / size**2


def _prepare(image: np.ndarray, window: int, patch_px: int) -> np.ndarray:
    """The frame the samples are read from: the pixels, their ``step``-block means, or the blurred frame."""
    if patch_px == window:
        return image
    step = window / patch_px
    if window % patch_px == 0:
        return _box_mean(image, window // patch_px)
    sigma = antialias_sigma(step)
    return gaussian_filter(image, sigma) if sigma > 0 else image


def _sample(prepared: np.ndarray, ys: np.ndarray, xs: np.ndarray, window: int, patch_px: int) -> np.ndarray:
    """Windows with top-left corners ``ys`` x ``xs`` (row-major), as ``(len(ys) * len(xs), patch_px, patch_px)`` float32."""
    n = len(ys) * len(xs)
    if patch_px == window:
        view = np.lib.stride_tricks.sliding_window_view(prepared, (window, window))
        return view[ys[:, None], xs[None, :]].reshape(n, window, window).astype(np.float32)
    if window % patch_px == 0:  # prepared holds the block means, indexed by the block's corner
        step = window // patch_px
        offsets = np.arange(patch_px) * step
        rows = (ys[:, None] + offsets)[:, None, :, None]
        cols = (xs[:, None] + offsets)[None, :, None, :]
        return prepared[rows, cols].reshape(n, patch_px, patch_px).astype(np.float32)
    offsets, _ = sample_grid(window, patch_px)
    centre = (window - 1) / 2
    rows = (ys[:, None] + centre + offsets)[:, None, :, None]
    cols = (xs[:, None] + centre + offsets)[None, :, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    values = map_coordinates(prepared, [rows.ravel(), cols.ravel()], order=1, mode="nearest")
    return values.reshape(n, patch_px, patch_px).astype(np.float32)


def _grid(ys: np.ndarray, xs: np.ndarray, first_row: int, window: int):
    """Row-major per-window ``rows, cols, y_centre, x_centre`` of the origins ``ys`` x ``xs``."""
    rows = np.repeat(np.arange(first_row, first_row + len(ys)), len(xs))
    cols = np.tile(np.arange(len(xs)), len(ys))
    half = (window - 1) / 2
    return rows, cols, np.repeat(ys, len(xs)) + half, np.tile(xs, len(ys)) + half


def tile_image(image: np.ndarray, window: int, stride: int, patch_px: int | None):
    """Cut one frame into windows on the regular grid of :func:`tile_origins`.

    Parameters
    ----------
    image : 2-D array (y, x)
    window : int
        Window side in frame px.
    stride : int
        Distance between neighbouring windows in frame px.
    patch_px : int, optional
        Samples per side; ``None`` (or ``window``) keeps the pixels, fewer resample (anti-aliased).

    Returns
    -------
    tiles : float32 array (n, patch_px, patch_px), row-major over the grid
    rows, cols : int arrays (n,), grid indices
    y_centre, x_centre : float arrays (n,), window centres in frame px
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise InputError(f"tile_image needs one 2-D frame, got an array of shape {image.shape}")
    window = _whole(window, "window_px")
    ys = tile_origins(image.shape[0], window, stride)
    xs = tile_origins(image.shape[1], window, stride)
    patch_px, _ = _samples_per_side(window, patch_px)
    tiles = _sample(_prepare(image, window, patch_px), ys, xs, window, patch_px)
    return (tiles, *_grid(ys, xs, 0, window))


def tile_movie(
    images, path, window_px: int, stride_px: int, patch_px: int | None, *,
    pixel_size_nm: float | None = None, chunk_rows: int = defaults("patches")["chunk_patches"], log=None,
) -> dict:
    """Cut every frame into windows (:func:`tile_image`) and append them to one Zarr store, frame by frame.

    Parameters
    ----------
    images : xarray.DataArray (frame, y, x)
        The movie (read one frame at a time).
    path : path-like
        The Zarr store written, in the layout of STEM patches: ``image`` (patch, py, px) float32
        in chunks of ``chunk_rows`` patches, and per patch ``frame``, ``y``, ``x`` (window
        centre, frame px), ``row``, ``col`` (grid indices) and ``intensity`` (mean of the
        window's frame pixels, e.g. the mean piezoresponse). Its attrs: ``pixel_size_nm`` (one
        patch sample: frame pixel times ``window_px / patch_px``), ``frame_pixel_size_nm``,
        ``window_px``, ``patch_px``, ``stride_px``, ``sample_step_px``, ``grid_rows``,
        ``grid_cols``, ``n_frames``, and ``uncovered_y_px``, ``uncovered_x_px`` (the strips at
        the bottom and right border that no window covers).
    window_px, stride_px : int
        Window side and grid spacing in frame px.
    patch_px : int, optional
        Samples per side (``None``: the window's pixels).
    pixel_size_nm : float, optional
        Frame pixel size; by default ``images.attrs["pixel_size_nm"]``.
    chunk_rows : int
        Patches per Zarr chunk; a frame is cut a block of grid rows at a time, so memory holds
        about this many patches.
    log : logging.Logger, optional
        One line per frame.

    Returns
    -------
    dict: ``n_patches``, ``n_frames``, ``grid_rows``, ``grid_cols``, ``patches_per_frame``,
    ``uncovered_y_px``, ``uncovered_x_px``, ``window_px``, ``stride_px``, ``patch_px``.
    """

    if set(images.dims) != {"frame", "y", "x"}:
        raise InputError(f"the movie must have dims (frame, y, x), got {images.dims}")
    images = images.transpose("frame", "y", "x")
    n, ny, nx = images.sizes["frame"], images.sizes["y"], images.sizes["x"]
    window = _whole(window_px, "window_px")
    stride = _whole(stride_px, "stride_px")
    ys, xs = tile_origins(ny, window, stride), tile_origins(nx, window, stride)
    patch_px, step = _samples_per_side(window, patch_px)
    if pixel_size_nm is None:
        pixel_size_nm = images.attrs.get("pixel_size_nm")
    pixel = None if pixel_size_nm is None else float(pixel_size_nm)
    attrs = {
        "pixel_size_nm": None if pixel is None else pixel * step,
        "frame_pixel_size_nm": pixel,
        "window_px": window,
        "patch_px": patch_px,
        "stride_px": stride,
        "sample_step_px": step,
        "grid_rows": len(ys),
        "grid_cols": len(xs),
        "n_frames": n,
        "uncovered_y_px": uncovered_px(ny, window, stride),
        "uncovered_x_px": uncovered_px(nx, window, stride),
    }
    store = ZarrAppender(path, "patch", chunk_rows, attrs=attrs, extra_dims={"image": ("py", "px")})
    block_rows = max(1, int(chunk_rows) // len(xs))
    for i in range(n):
        image = np.asarray(images[i].values, dtype=np.float64)
        prepared = _prepare(image, window, patch_px)
        means = _box_mean(image, window)
        for start in range(0, len(ys), block_rows):
            block = ys[start:start + block_rows]
            rows, cols, yc, xc = _grid(block, xs, start, window)
            columns = {
                "image": _sample(prepared, block, xs, window, patch_px),
                "frame": np.full(len(rows), i, dtype=np.int32),
                "y": yc.astype(np.float32),
                "x": xc.astype(np.float32),
                "row": rows.astype(np.int32),
                "col": cols.astype(np.int32),
                "intensity": means[block[:, None], xs[None, :]].ravel().astype(np.float32),
            }
            store.append(**columns)
        if log:
            log.info("frame %d/%d: %d windows (%d x %d)", i + 1, n, len(ys) * len(xs), len(ys), len(xs))
    total = store.close()
    return {
        "n_patches": total,
        "n_frames": n,
        "grid_rows": len(ys),
        "grid_cols": len(xs),
        "patches_per_frame": len(ys) * len(xs),
        "uncovered_y_px": attrs["uncovered_y_px"],
        "uncovered_x_px": attrs["uncovered_x_px"],
        "window_px": window,
        "stride_px": stride,
        "patch_px": patch_px,
    }
