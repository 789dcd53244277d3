"""The PFM domains of every window size as a store and a HyperSpy file.

Per frame: every window's up (+1) / down (-1) label, as the encode rule wrote it to the latents
(``domain``, :func:`rvae_pathways.pfm.domains.domain_labels`), on the window grid; the wall points
between disagreeing neighbours (:func:`rvae_pathways.pfm.domains.wall_points`, the function the
scores use) and the share of windows in the switched state
(:func:`rvae_pathways.pfm.domains.switched_fraction`). Positions in frame px and in nm.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..pfm.domains import switched_fraction, wall_points
from .hyperspy import frame_axis, image_axes, signal_dict, timing_metadata, write_hspy

DOMAIN_NOTE = ("+1 up, -1 down: the sign of the piezoresponse the model decodes at the window's centre "
               "(the sign of a latent space is arbitrary, so up may be the sample's down); 0: no window")


def window_grid(values, frame, row, col, shape: tuple[int, int, int], fill, dtype) -> np.ndarray:
    """Per-window values on the grid (frames, rows, cols); ``fill`` where a frame lacks a window."""
    grid = np.full(shape, fill, dtype=dtype)
    grid[np.asarray(frame, dtype=np.int64), np.asarray(row, dtype=np.int64), np.asarray(col, dtype=np.int64)] = values
    return grid


def grid_positions(values, index, n: int) -> np.ndarray:
    """The centre (px) of every grid row (or column) from its windows' centres; NaN for one without windows."""
    out = np.full(int(n), np.nan)
    out[np.asarray(index, dtype=np.int64)] = np.asarray(values, dtype=float)
    return out


def domains_dataset(latents, n_frames: int, pixel_size_nm: float | None, frame_time_s: float | None = None,
                    source_frame=None):
    """The domains store of one window size.

    Parameters
    ----------
    latents : xarray.Dataset
        A PFM window size's ``latents.zarr``: per window ``domain``, ``frame``, ``row``, ``col``,
        ``y``, ``x`` (centre, frame px); attrs ``grid_rows``, ``grid_cols``, ``window_px``, ``stride_px``.
    n_frames : int
    pixel_size_nm : float or None
        Frame pixel size (None: the nm variables are NaN).
    frame_time_s : float, optional
        Adds the coordinate ``time_s`` (frame): the recorded frame's index times the frame time.
    source_frame : (n_frames,) int array, optional
        Each frame's index in the recorded movie, where bad frames were dropped (the frames'
        coordinate ``source_frame``); kept as a coordinate.

    Returns
    -------
    xarray.Dataset
        ``domain`` int8 (frame, row, col) (:data:`DOMAIN_NOTE`) with coordinates ``y_px``,
        ``y_nm`` (row) and ``x_px``, ``x_nm`` (col); ``switched_fraction`` float32 and
        ``n_wall_points`` int32 (frame); the wall points ``wall_frame`` int32, ``wall_y_px``,
        ``wall_x_px``, ``wall_y_nm``, ``wall_x_nm`` (wall_point), midway between neighbouring
        windows of different labels.
    """
    frame, row, col = (np.asarray(latents[name].values, dtype=np.int64) for name in ("frame", "row", "col"))
    labels = np.asarray(latents["domain"].values, dtype=np.int8)
    shape = (int(n_frames), int(latents.attrs["grid_rows"]), int(latents.attrs["grid_cols"]))
    grid = window_grid(labels, frame, row, col, shape, 0, np.int8)
    centre_y = window_grid(latents["y"].values, frame, row, col, shape, np.nan, np.float64)
    centre_x = window_grid(latents["x"].values, frame, row, col, shape, np.nan, np.float64)
    points = wall_points(grid, centre_y, centre_x)
    fraction, state = switched_fraction(labels, frame, shape[0])
    nm = np.nan if pixel_size_nm is None else float(pixel_size_nm)
    y_px = grid_positions(latents["y"].values, row, shape[1])
    x_px = grid_positions(latents["x"].values, col, shape[2])
    walls = np.concatenate(points) if points else np.zeros((0, 2))
    wall_frame = np.repeat(np.arange(shape[0], dtype=np.int32), [len(p) for p in points])
    coords = {"frame": np.arange(shape[0]), "row": np.arange(shape[1]), "col": np.arange(shape[2]),
              "y_px": ("row", y_px), "x_px": ("col", x_px), "y_nm": ("row", y_px * nm), "x_nm": ("col", x_px * nm)}
    recorded = np.arange(shape[0]) if source_frame is None else np.asarray(source_frame, dtype=np.int64)
    if source_frame is not None:
        coords["source_frame"] = ("frame", recorded)
    if frame_time_s is not None:
        coords["time_s"] = ("frame", recorded * float(frame_time_s))
    return xr.Dataset(
        {
            "domain": (("frame", "row", "col"), grid),
            "switched_fraction": ("frame", fraction.astype(np.float32)),
            "n_wall_points": ("frame", np.array([len(p) for p in points], dtype=np.int32)),
            "wall_frame": ("wall_point", wall_frame),
            "wall_y_px": ("wall_point", walls[:, 0]),
            "wall_x_px": ("wall_point", walls[:, 1]),
            "wall_y_nm": ("wall_point", walls[:, 0] * nm),
            "wall_x_nm": ("wall_point", walls[:, 1] * nm),
        },
        coords=coords,
        attrs={
            "domain": DOMAIN_NOTE,
            "walls": "points midway between 4-neighbouring windows of different labels, per frame",
            "switched_state": int(state),
            "pixel_size_nm": None if pixel_size_nm is None else float(pixel_size_nm),
            "frame_time_s": None if frame_time_s is None else float(frame_time_s),
            "n_frames": shape[0],
            **{k: latents.attrs[k] for k in ("model", "window_px", "stride_px", "grid_rows", "grid_cols")
               if k in latents.attrs},
        },
    )


def write_domains_hspy(path, domains: xr.Dataset, title: str) -> None:
    """The domain labels as a HyperSpy file: int8 (frame, y, x) on the window grid.

    The frame navigates (in s where the frame time is known); y and x are the signal, one sample
    per window, at the window centres (in nm where the pixel size is known, else frame px).
    """
    n, rows, cols = domains["domain"].shape
    stride = float(domains.attrs["stride_px"])
    origin = (float(domains["y_px"].values[0]), float(domains["x_px"].values[0]))
    frame_time = domains.attrs.get("frame_time_s")
    source_frame = domains["source_frame"].values if "source_frame" in domains.coords else None
    axes = [frame_axis(n, frame_time, source_frame),
            *image_axes(rows, cols, domains.attrs.get("pixel_size_nm"), step_px=stride, origin_px=origin)]
    signal = signal_dict(axes, title, quantity="domain (+1 up, -1 down)", original_metadata={
        "domain": DOMAIN_NOTE, "window_px": domains.attrs.get("window_px"), "stride_px": stride,
        "switched_state": domains.attrs["switched_state"], **timing_metadata(frame_time, source_frame),
    })
    write_hspy(path, signal, (domains["domain"].values[i] for i in range(n)), dtype=np.int8)
