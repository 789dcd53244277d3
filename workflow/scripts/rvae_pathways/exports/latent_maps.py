"""Latent maps of a STEM movie: per frame, an image of every latent, each pixel the value of the
atom whose cell it lies in (the nearest atom of the frame, within a cell radius), NaN elsewhere.

The maps go to a HyperSpy file (:func:`write_latent_maps`): navigation axes frame and latent,
signal axes y and x in nm, so HyperSpy shows one latent's image of one frame and the sliders move
through frames and latents.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..core.frames import frame_slices
from .hyperspy import axis, frame_axis, frame_timing, image_axes, signal_dict, timing_metadata, write_hspy

# A cell: the pixels nearer to an atom than to any other atom of its frame and within this many
# atom spacings of it (half a spacing: the pixels of the atom's own site).
CELL_RADIUS_SPACINGS = 0.5
# Pixels looked up at once (memory: about 40 bytes each)
QUERY_PIXELS = 1 << 16


def atom_cells(shape: tuple[int, int], y: np.ndarray, x: np.ndarray, radius_px: float) -> np.ndarray:
    """Index of the atom whose cell every pixel lies in, or -1.

    Parameters
    ----------
    shape : (ny, nx)
    y, x : (n,) arrays
        Atom positions in px (pixel ``i`` has its centre at ``i``).
    radius_px : float
        Pixels farther than this from every atom belong to no cell.

    Returns
    -------
    int64 array (ny, nx): the index into ``y``, ``x`` of the nearest atom closer than
    ``radius_px``, -1 where there is none.
    """
    from scipy.spatial import cKDTree

    ny, nx = (int(v) for v in shape)
    cells = np.full((ny, nx), -1, dtype=np.int64)
    y, x = np.asarray(y, dtype=float).ravel(), np.asarray(x, dtype=float).ravel()
    if y.size == 0 or ny * nx == 0 or not radius_px > 0:
        return cells
    tree = cKDTree(np.column_stack([y, x]))
    block = max(1, QUERY_PIXELS // nx)
    for start in range(0, ny, block):  # a block of rows at a time: the query's arrays stay small
        rows, columns = np.mgrid[start:min(start + block, ny), 0:nx]
        _, nearest = tree.query(np.column_stack([rows.ravel(), columns.ravel()]).astype(float),
                                distance_upper_bound=float(radius_px))
        cells[start:start + block] = np.where(nearest < y.size, nearest, -1).reshape(rows.shape)
    return cells


def paint_cells(cells: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Images of per-atom values on their cells.

    Parameters
    ----------
    cells : int array (ny, nx)
        :func:`atom_cells`: an atom index per pixel, -1 for none.
    values : (n, k) array
        ``k`` values per atom (NaN for an atom without them).

    Returns
    -------
    float32 array (k, ny, nx), NaN where a pixel has no atom.
    """
    values = np.asarray(values, dtype=np.float32)
    values = values.reshape(len(values), -1)
    padded = np.vstack([values, np.full((1, values.shape[1]), np.nan, np.float32)])  # row -1: no atom
    return np.moveaxis(padded[cells], -1, 0)


def values_per_atom(n_atoms: int, atom: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-patch values (rows of ``values``) moved to their atoms' rows; NaN for atoms without a patch."""
    values = np.asarray(values, dtype=np.float32)
    values = values.reshape(len(values), -1)
    out = np.full((int(n_atoms), values.shape[1]), np.nan, dtype=np.float32)
    out[np.asarray(atom, dtype=np.int64)] = values
    return out


def latent_map_frames(atom_frame, atom_y, atom_x, z_of_atom, n_frames: int, shape: tuple[int, int],
                      radius_px: float) -> Iterator[np.ndarray]:
    """The latent images of every frame in turn, (k, ny, nx) float32 each (:func:`paint_cells`).

    ``atom_frame``, ``atom_y``, ``atom_x`` are the atom table's columns (sorted by frame) and
    ``z_of_atom`` its latents (:func:`values_per_atom`).
    """
    rows = frame_slices(np.asarray(atom_frame), n_frames)
    for i in range(n_frames):
        here = rows[i]
        cells = atom_cells(shape, np.asarray(atom_y[here]), np.asarray(atom_x[here]), radius_px)
        yield paint_cells(cells, z_of_atom[here])


def write_latent_maps(path, frames, atoms, latents, title: str,
                      radius_spacings: float = CELL_RADIUS_SPACINGS) -> dict:
    """Write the latent maps of a movie to a HyperSpy file, a frame at a time.

    Parameters
    ----------
    path : path-like
        The ``.hspy`` file.
    frames : xarray.Dataset
        The movie (``frames.zarr``): its sizes ``frame``, ``y``, ``x`` and attrs
        ``pixel_size_nm`` and, where known, ``frame_time_s`` and the coordinate ``source_frame``;
        no image is read.
    atoms : xarray.Dataset
        The atom table (``atoms.zarr``): ``frame``, ``y``, ``x`` (px) sorted by frame, and
        ``attrs["spacing_px"]``.
    latents : xarray.Dataset
        ``latents.zarr``: ``z_mean`` (patch, latent) and per patch ``atom`` (row of the atom table).
        ``attrs["frame_time_s"]`` stands in where ``frames`` has none (:func:`frame_timing`).
    title : str

    Returns
    -------
    dict: ``n_frames``, ``n_latents``, ``shape``, ``radius_px``, ``frame_unit``.

    The data is float32 (frame, latent, y, x); the frame and the latent index navigate, y and x
    are the signal: every map is an image HyperSpy shows, and one latent of one frame is one
    HDF5 chunk.
    """
    n, ny, nx = frames.sizes["frame"], frames.sizes["y"], frames.sizes["x"]
    z = np.asarray(latents["z_mean"].values, dtype=np.float32)
    k = z.shape[1]
    z_of_atom = values_per_atom(atoms.sizes["atom"], latents["atom"].values, z)
    radius = float(radius_spacings) * float(atoms.attrs["spacing_px"])
    frame_time, source_frame = frame_timing(frames, latents)
    pixel = frames.attrs.get("pixel_size_nm")
    axes = [frame_axis(n, frame_time, source_frame), axis("latent", k, offset=1.0),
            *image_axes(ny, nx, None if pixel is None else float(pixel))]
    names = [f"z_{i}" for i in np.asarray(latents["latent"].values)] if "latent" in latents.coords else []
    signal = signal_dict(axes, title, quantity="latent z (posterior mean)", original_metadata={
        "latents": ", ".join(names), "model": str(latents.attrs.get("model", "")),
        "cell": f"pixels nearer to an atom than to any other atom of its frame and within "
                f"{radius_spacings:g} atom spacings ({radius:.3g} px) of it; NaN elsewhere",
        **timing_metadata(frame_time, source_frame),
    })
    maps = latent_map_frames(atoms["frame"].values, atoms["y"].values, atoms["x"].values, z_of_atom, n,
                             (ny, nx), radius)
    write_hspy(path, signal, maps)
    return {"n_frames": n, "n_latents": k, "shape": (ny, nx), "radius_px": radius, "frame_unit": axes[0]["units"]}
