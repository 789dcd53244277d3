"""HyperSpy (``.hspy``) files written with RosettaSciIO, a frame at a time.

RosettaSciIO's :func:`rsciio.hspy.file_writer` writes the signal's axes and metadata
(``write_dataset=False``, its documented way to write everything but the data); the data set it
would write, ``Experiments/<title>/data``, is then filled one frame at a time with h5py, in HDF5
chunks of one image. So memory holds one frame, whatever the length of the movie, and
:func:`rsciio.hspy.file_reader` (or ``hyperspy.api.load``) reads the file as any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def axis(name: str, size: int, scale: float = 1.0, offset: float = 0.0, units: str = "",
         navigate: bool = True) -> dict:
    """One axis of a HyperSpy signal dict: index ``i`` lies at ``offset + i * scale`` ``units``."""
    return {"name": name, "size": int(size), "scale": float(scale), "offset": float(offset),
            "units": str(units), "navigate": bool(navigate)}


def frame_timing(frames, *others) -> tuple[float | None, np.ndarray | None]:
    """The frame time (s) and the recorded index of every frame of a movie.

    ``attrs["frame_time_s"]`` of ``frames`` (or of the first of ``others`` that has one; None
    where none has) and the coordinate ``source_frame`` of ``frames`` (None where no frame was
    dropped).
    """
    frame_time = None
    for ds in (frames, *others):
        value = ds.attrs.get("frame_time_s")
        if value is not None and np.isfinite(float(value)) and float(value) > 0:
            frame_time = float(value)
            break
    source = np.asarray(frames["source_frame"].values) if "source_frame" in frames.coords else None
    return frame_time, source


def frame_axis(n_frames: int, frame_time_s: float | None = None, source_frame=None) -> dict:
    """The frame (navigation) axis: in seconds (scale: the frame time) where the frame time is known
    and positive, else frame indices without a unit.

    ``source_frame`` (each frame's index in the recorded movie, where bad frames were dropped)
    sets the axis's offset and step when it is evenly spaced; where the gaps are uneven a uniform
    axis cannot hold it, and the axis counts the frames kept, without a unit.
    """
    n = int(n_frames)
    index = np.arange(n, dtype=float) if source_frame is None else np.asarray(source_frame, dtype=float)
    steps = np.diff(index)
    if len(index) != n or (len(steps) and not np.all(steps == steps[0])):
        return axis("frame", n)
    known = frame_time_s is not None and np.isfinite(float(frame_time_s)) and float(frame_time_s) > 0
    unit, units = (float(frame_time_s), "s") if known else (1.0, "")
    first = float(index[0]) if n else 0.0
    step = float(steps[0]) if len(steps) else 1.0
    return axis("frame", n, scale=step * unit, offset=first * unit, units=units)


def timing_metadata(frame_time_s: float | None, source_frame=None) -> dict:
    """What the file says of the frames' timing: the frame time (or "unknown") and, where frames
    were dropped, every kept frame's index in the recorded movie (as text)."""
    out = {"frame_time_s": "unknown" if frame_time_s is None else float(frame_time_s)}
    if source_frame is not None:
        out["source_frame"] = ", ".join(str(int(i)) for i in np.asarray(source_frame))
    return out


def image_axes(ny: int, nx: int, pixel_size_nm: float | None, step_px: float = 1.0,
               origin_px: tuple[float, float] = (0.0, 0.0)) -> list[dict]:
    """The y and x signal axes of images sampled every ``step_px`` frame px from ``origin_px`` (y, x).

    In nm where the pixel size is known, else in frame px; the value of an index is the centre of
    its sample, in the frame's pixel-centre convention (pixel ``i`` at ``i`` px).
    """
    scale, units = (1.0, "px") if pixel_size_nm is None else (float(pixel_size_nm), "nm")
    return [axis(name, size, scale=step_px * scale, offset=origin * scale, units=units, navigate=False)
            for name, size, origin in (("y", ny, origin_px[0]), ("x", nx, origin_px[1]))]


def signal_dict(axes: list[dict], title: str, quantity: str = "", original_metadata: dict | None = None) -> dict:
    """The signal dict RosettaSciIO writes, without its data (written after, frame by frame).

    Metadata values other than numbers and strings are written as text: with
    ``write_dataset=False``, RosettaSciIO 0.15 fails on an array anywhere in the dict.
    """
    original_metadata = {key: value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
                         for key, value in (original_metadata or {}).items()}
    return {
        "data": None,
        "axes": axes,
        "metadata": {"General": {"title": title}, "Signal": {"signal_type": "", "quantity": quantity}},
        "original_metadata": original_metadata,
        "attributes": {"_lazy": False},
        "tmp_parameters": {},
        "package_info": {},
        "learning_results": {},
        "models": {},
    }


def write_hspy(path, signal: dict, frames: Iterable[np.ndarray], dtype=np.float32) -> int:
    """Write a signal whose first axis is the frame axis, taking its data one frame at a time.

    Parameters
    ----------
    path : path-like
        The ``.hspy`` file (an existing one is replaced).
    signal : dict
        :func:`signal_dict`; its ``axes`` give the data's shape, the frame axis first.
    frames : iterable of arrays
        The data of each frame in turn, of shape ``shape[1:]``.
    dtype : numpy dtype

    Returns
    -------
    Number of frames written; raises ValueError when ``frames`` yields another number of frames
    or a frame of another shape.
    """
    import h5py
    from rsciio.hspy import file_writer

    path = Path(path)
    shape = tuple(a["size"] for a in signal["axes"])
    path.unlink(missing_ok=True)
    file_writer(str(path), signal, write_dataset=False, mode="a", show_progressbar=False)
    chunk = (1,) * (len(shape) - 2) + shape[-2:]  # one image per HDF5 chunk
    written = 0
    with h5py.File(path, "a") as f:
        (group,) = f["Experiments"].values()
        data = group.create_dataset("data", shape=shape, dtype=dtype, chunks=chunk if all(shape) else None,
                                    compression="gzip", shuffle=True)
        for values in frames:
            values = np.asarray(values, dtype=dtype)
            if written >= shape[0] or values.shape != shape[1:]:
                raise ValueError(f"frame {written} has shape {values.shape}; expected {shape[0]} frames of "
                                 f"shape {shape[1:]}")
            data[written] = values
            written += 1
    if written != shape[0]:
        raise ValueError(f"{written} frames written for a frame axis of {shape[0]}")
    return written
