"""Square image windows ("patches") centred on atoms."""

from __future__ import annotations

import numpy as np

from .errors import InputError


def default_window_px(spacing_px: float, factor: float = 2.0) -> int:
    """Patch side in px: ``factor`` times the atom spacing (the paper used about 2x), made odd.

    An odd side puts the atom's nearest pixel exactly in the middle, so turning a patch by 90
    degrees (``np.rot90``) turns it about the atom rather than about a point half a pixel away.
    """
    return max(5, 2 * int(round(factor * spacing_px / 2)) + 1)


def check_window(window_px: int, shape: tuple[int, int]) -> None:
    """:class:`InputError` unless a ``window_px`` square fits inside a frame of ``shape``."""
    ny, nx = shape
    if window_px < 2:
        raise InputError(f"patch window must be at least 2 px, got {window_px}")
    if window_px > min(ny, nx):
        raise InputError(
            f"patch window of {window_px} px is larger than the {ny}x{nx} px frame; "
            "set patches.window_px smaller (or leave it empty to follow the atom spacing)"
        )


def extract_patches(image: np.ndarray, y: np.ndarray, x: np.ndarray, window_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a ``window_px`` square around each position, without resampling.

    The window around an atom at (y, x) covers rows ``round(y) - w // 2 ... round(y) - w // 2 + w - 1``
    (likewise columns), so the atom lies within half a pixel of index ``w // 2``. Atoms whose window
    would cross the frame border are dropped.

    Parameters
    ----------
    image : 2-D array
    y, x : 1-D arrays
        Atom positions in px.
    window_px : int

    Returns
    -------
    patches : float32 array (n_kept, window_px, window_px)
    kept : bool array (len(y),), True for atoms whose patch was cut
    """
    image = np.asarray(image)
    check_window(window_px, image.shape)
    half = window_px // 2
    top = np.rint(np.asarray(y)).astype(int) - half
    left = np.rint(np.asarray(x)).astype(int) - half
    ny, nx = image.shape
    kept = (top >= 0) & (left >= 0) & (top + window_px <= ny) & (left + window_px <= nx)
    offsets = np.arange(window_px)
    rows = top[kept, None, None] + offsets[None, :, None]
    cols = left[kept, None, None] + offsets[None, None, :]
    return image[rows, cols].astype(np.float32), kept


PATCH_COLUMNS = ("frame", "y", "x", "intensity", "neighbours", "true_id", "true_class", "true_sublattice")


def extract_movie_patches(aligned, atoms, path, window_px: int, chunk_rows: int = 4096, log=None) -> dict:
    """Cut the patches of every frame and append them to one Zarr store, frame by frame.

    Parameters
    ----------
    aligned : xarray.Dataset
        Prepared frames (read one at a time).
    atoms : xarray.Dataset
        The atom table of :func:`rvae_pathways.atoms.find_atoms_in_movie`, sorted by frame.
    path : path-like
        The Zarr store written: ``image`` (patch, py, px) float32 in chunks of ``chunk_rows``
        patches, and per patch ``atom`` (row in the atom table) and the atom's columns
        ``frame``, ``y``, ``x``, ``intensity``, ``neighbours`` and any ``true_*`` labels.
    window_px : int
    chunk_rows : int
    log : logging.Logger, optional

    Returns
    -------
    dict with ``n_patches`` and ``n_dropped_at_border``. Raises :class:`InputError` if no patch
    fits.
    """
    from .atoms import frame_slices
    from .store import ZarrAppender

    n = aligned.sizes["frame"]
    check_window(window_px, (aligned.sizes["y"], aligned.sizes["x"]))
    rows = frame_slices(atoms["frame"].values, n)
    columns = [c for c in PATCH_COLUMNS if c in atoms]
    attrs = {
        "pixel_size_nm": aligned.attrs.get("pixel_size_nm"),
        "window_px": int(window_px),
        "centre_index": int(window_px // 2),
    }
    for key in ("true_class_names",):
        if key in aligned.attrs:
            attrs[key] = aligned.attrs[key]
    store = ZarrAppender(path, "patch", chunk_rows, attrs=attrs, extra_dims={"image": ("py", "px")})
    dropped = 0
    for i in range(n):
        table = atoms.isel(atom=rows[i])
        image = aligned["image"][i].values
        cut, kept = extract_patches(image, table["y"].values, table["x"].values, window_px)
        dropped += int((~kept).sum())
        if kept.any():
            store.append(
                image=cut,
                atom=np.arange(rows[i].start, rows[i].stop)[kept].astype(np.int64),
                **{c: table[c].values[kept] for c in columns},
            )
        if log:
            log.info("frame %d/%d: %d patches, %d atoms too close to the border", i + 1, n, kept.sum(), (~kept).sum())
    total = store.close()
    if total == 0:
        raise InputError(
            f"every atom lies within {window_px // 2} px of the frame border, so no {window_px} px patch fits; "
            "set patches.window_px smaller"
        )
    import zarr

    zarr.open_group(path, mode="r+").attrs["n_dropped_at_border"] = dropped
    zarr.consolidate_metadata(path)
    return {"n_patches": total, "n_dropped_at_border": dropped}
