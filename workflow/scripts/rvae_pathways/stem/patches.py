"""Square image windows ("patches") centred on atoms, sampled on a grid of fixed size."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

from ..core.config import defaults
from ..core.errors import InputError
from ..core.frames import frame_slices
from ..core.geometry import antialias_sigma, sample_grid
from ..core.store import ZarrAppender

PATCHES = defaults("patches")  # keyword defaults: the config schema's


def default_window_px(spacing_px: float, factor: float = 2.0) -> float:
    """Patch window side in frame px: ``factor`` times the atom spacing (the paper used about 2x)."""
    return float(factor * spacing_px)


def check_window(window_px: float, shape: tuple[int, int]) -> None:
    """:class:`InputError` unless a ``window_px`` square fits inside a frame of ``shape``."""
    ny, nx = shape
    if not window_px >= 2:
        raise InputError(f"patch window must be at least 2 px, got {window_px}")
    if window_px > min(ny, nx) - 1:
        raise InputError(
            f"patch window of {window_px:g} px does not fit inside the {ny}x{nx} px frame; "
            "set patches.window_px smaller (or leave it empty to follow the atom spacing)"
        )




def sample_patches(image: np.ndarray, y: np.ndarray, x: np.ndarray, window_px: float, patch_px: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Sample a ``patch_px`` x ``patch_px`` grid over a ``window_px`` square centred on each position.

    The grid is centred on the sub-pixel position itself (bilinear interpolation), after the
    image is blurred by :func:`antialias_sigma` of the sample step when the grid is coarser than
    the pixels. Atoms whose window would reach outside the frame are dropped.

    Parameters
    ----------
    image : 2-D array
    y, x : 1-D arrays
        Atom positions in px.
    window_px : float
        Side of the square covered, in frame px.
    patch_px : int
        Samples per side.

    Returns
    -------
    patches : float32 array (n_kept, patch_px, patch_px)
    kept : bool array (len(y),), True for atoms whose patch was sampled
    """
    image = np.asarray(image, dtype=np.float64)
    check_window(window_px, image.shape)
    offsets, step = sample_grid(window_px, patch_px)
    sigma = antialias_sigma(step)
    if sigma > 0:
        image = gaussian_filter(image, sigma)
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    reach = offsets[-1]
    ny, nx = image.shape
    kept = (y - reach >= 0) & (x - reach >= 0) & (y + reach <= ny - 1) & (x + reach <= nx - 1)
    rows = y[kept, None, None] + offsets[None, :, None]
    cols = x[kept, None, None] + offsets[None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    values = map_coordinates(image, [rows.ravel(), cols.ravel()], order=1, mode="nearest")
    return values.reshape(rows.shape).astype(np.float32), kept


PATCH_COLUMNS = ("frame", "y", "x", "intensity", "neighbours", "true_id", "true_class", "true_sublattice")


def extract_movie_patches(aligned, atoms, path, window_px: float, patch_px: int,
                          chunk_rows: int = PATCHES["chunk_patches"], log=None,
                          lattice_only: bool = PATCHES["lattice_only"]) -> dict:
    """Sample the patches of every frame (:func:`sample_patches`) and append them to one Zarr store, frame by frame.

    Parameters
    ----------
    aligned : xarray.Dataset
        Prepared frames (read one at a time).
    atoms : xarray.Dataset
        The atom table of :func:`rvae_pathways.stem.movie.find_atoms_in_movie`, sorted by frame.
    path : path-like
        The Zarr store written: ``image`` (patch, py, px) float32 in chunks of ``chunk_rows``
        patches, and per patch ``atom`` (row in the atom table) and the atom's columns
        ``frame``, ``y``, ``x``, ``intensity``, ``neighbours`` and any ``true_*`` labels. Its
        attrs: ``pixel_size_nm`` of a patch sample (the frame's pixel times the step),
        ``frame_pixel_size_nm``, ``window_px`` (frame px), ``patch_px`` and ``sample_step_px``.
    window_px : float
        Side of the window in frame px.
    patch_px : int
        Samples per side.
    chunk_rows : int
    log : logging.Logger, optional
    lattice_only : bool
        Leave out atoms the lattice check placed outside the resolved lattice (the table's
        ``in_lattice`` column, where it has one): peaks on an amorphous support or in noise.

    Returns
    -------
    dict with ``n_patches``, ``n_dropped_at_border`` and ``n_dropped_outside_lattice``. Raises
    :class:`InputError` if no patch fits.
    """

    n = aligned.sizes["frame"]
    check_window(window_px, (aligned.sizes["y"], aligned.sizes["x"]))
    rows = frame_slices(atoms["frame"].values, n)
    columns = [c for c in PATCH_COLUMNS if c in atoms]
    _, step = sample_grid(window_px, patch_px)
    pixel = aligned.attrs.get("pixel_size_nm")
    attrs = {
        "pixel_size_nm": None if pixel is None else float(pixel) * step,
        "frame_pixel_size_nm": pixel,
        "window_px": float(window_px),
        "patch_px": int(patch_px),
        "sample_step_px": step,
    }
    for key in ("true_class_names",):
        if key in aligned.attrs:
            attrs[key] = aligned.attrs[key]
    store = ZarrAppender(path, "patch", chunk_rows, attrs=attrs, extra_dims={"image": ("py", "px")})
    dropped = outside = 0
    for i in range(n):
        table = atoms.isel(atom=rows[i])
        image = aligned["image"][i].values
        cut, kept = sample_patches(image, table["y"].values, table["x"].values, window_px, patch_px)
        dropped += int((~kept).sum())
        if lattice_only and "in_lattice" in table:
            in_lattice = table["in_lattice"].values.astype(bool)
            outside += int((kept & ~in_lattice).sum())
            cut, kept = cut[in_lattice[kept]], kept & in_lattice
        if kept.any():
            store.append(
                image=cut,
                atom=np.arange(rows[i].start, rows[i].stop)[kept].astype(np.int64),
                **{c: table[c].values[kept] for c in columns},
            )
        if log:
            log.info("frame %d/%d: %d patches, %d atoms too close to the border", i + 1, n, kept.sum(),
                     len(kept) - int(kept.sum()))
    total = store.close()
    if total == 0:
        raise InputError(
            f"every atom lies within {window_px / 2:g} px of the frame border, so no {window_px:g} px patch fits; "
            "set patches.window_px smaller"
        )
    import zarr

    group = zarr.open_group(path, mode="r+")
    group.attrs["n_dropped_at_border"] = dropped
    group.attrs["n_dropped_outside_lattice"] = outside
    zarr.consolidate_metadata(path)
    return {"n_patches": total, "n_dropped_at_border": dropped, "n_dropped_outside_lattice": outside}
