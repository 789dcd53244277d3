"""Atoms of every frame of a movie, with the lattice check of each frame, written to Zarr."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..core.config import defaults
from ..core.errors import InputError, check_number
from ..core.store import ZarrAppender
from .atoms import find_atoms, resolve_contrast
from .qc import check_frame


def find_atoms_in_movie(
    aligned,
    path,
    spacing_px: float,
    finder: dict | None = None,
    chunk_rows: int = 65536,
    log=None,
    workers: int = 1,
    contrast: str | None = None,
    qc_frames: list | None = None,
) -> int:
    """Find the atoms of every frame and write one table (dimension ``atom``) to Zarr.

    Parameters
    ----------
    aligned : xarray.Dataset
        Prepared frames (``image``, ``drift_y``, ``drift_x``; see :func:`align.prepare_movie`),
        read one frame at a time.
    path : path-like
        The Zarr store written, with columns ``frame``, ``y``, ``x`` (px in the frame),
        ``y_aligned``, ``x_aligned`` (drift-corrected), ``intensity``, ``refined``,
        ``neighbours``, ``in_lattice`` (the atom sits where the lattice check finds a lattice of
        the given spacing resolved: :func:`rvae_pathways.stem.qc.check_frame`). A simulator's
        truth is matched to it by the scores
        (:func:`rvae_pathways.scores.atoms.label_atoms_with_truth`), not here.
    spacing_px : float
    finder : dict
        Keyword arguments of :func:`find_atoms`.
    chunk_rows : int
        Rows per Zarr chunk.
    log : logging.Logger, optional
    workers : int
        Frames processed at once (threads); the table does not depend on it.
    contrast : {"bright", "dark"} or None
        Atom contrast; None (or "auto"): decided from the first frame (:func:`resolve_contrast`,
        logged) and stored in the table's ``attrs["contrast"]``.
    qc_frames : list, optional
        Receives the lattice check's metrics of every frame (dicts with ``frame`` and
        ``verdict``; see :func:`rvae_pathways.stem.qc.check_frame`), in frame order.

    Returns
    -------
    Number of atoms written. Raises :class:`InputError` when no frame holds any atom.
    """

    finder = dict(finder or {})
    workers = check_number("workers", workers, low=1, integer=True)
    n = aligned.sizes["frame"]
    given = contrast if contrast else "auto"
    contrast = resolve_contrast(contrast, aligned["image"][0].values, spacing_px, log)
    finder["contrast"] = contrast
    attrs = {
        "pixel_size_nm": aligned.attrs.get("pixel_size_nm"),
        "spacing_px": float(spacing_px),
        "n_frames": int(n),
        "position_units": "px",
        "contrast": contrast,
        "contrast_given": given,
        **{f"finder_{k}": v for k, v in finder.items() if k != "contrast"},
    }
    table = ZarrAppender(path, "atom", chunk_rows, attrs=attrs)
    drift_y, drift_x = aligned["drift_y"].values, aligned["drift_x"].values

    def find_in_frame(i):
        image = aligned["image"][i].values
        found = find_atoms(image, spacing_px, **finder)
        radius = finder.get("neighbour_radius", defaults("atoms")["neighbour_radius"])
        metrics, in_lattice = check_frame(image, found["y"], found["x"], spacing_px, radius, contrast)
        return found, {"frame": int(i), **metrics}, in_lattice

    # Frames are independent: ``workers`` threads find them at once (numpy and scipy release
    # the GIL in the heavy loops), each reading its own frame; results are written in frame
    # order, so the table is the same for any number of workers.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, (found, metrics, in_lattice) in enumerate(pool.map(find_in_frame, range(n))):
            if qc_frames is not None:
                qc_frames.append(metrics)
            m = len(found["y"])
            columns = {
                "frame": np.full(m, i, np.int32),
                "y": found["y"],
                "x": found["x"],
                "y_aligned": (found["y"] - drift_y[i]).astype(np.float32),
                "x_aligned": (found["x"] - drift_x[i]).astype(np.float32),
                "intensity": found["intensity"],
                "refined": found["refined"],
                "neighbours": found["neighbours"],
                "in_lattice": in_lattice,
            }
            if m:
                table.append(**columns)
            if log:
                log.info("frame %d/%d: %d atoms (fit width %.2f px), %d outside the resolved lattice; lattice check: %s",
                         i + 1, n, m, found["sigma_px"], m - int(np.sum(in_lattice)), metrics["verdict"])
    total = table.close()
    if total == 0:
        raise InputError(
            f"no atoms found in any of the {n} frames at a spacing of {spacing_px:.1f} px; check "
            "spacing_nm and pixel_size_nm in the samples table, or lower atoms.threshold in the config"
        )
    return total
