"""The frames Dataset: the one shape every reader, the simulator and later steps agree on.

A frames Dataset has

- ``image``: float32, dims ``(frame, y, x)``;
- coordinates ``frame`` (0..n-1), ``y`` and ``x`` (pixel indices);
- ``attrs``: ``pixel_size_nm`` (float), ``intensity_units`` (str), ``source`` (str, the file
  or ``"simulate_stem"``), ``modality`` (``"stem"`` or ``"pfm"``); where known,
  ``frame_time_s`` (seconds per frame) and ``dose_e_per_A2_per_frame`` (electrons per square
  angstrom per frame), each with its ``*_source`` (``"file"``, ``"samples table"``, ``"simulator"``:
  :func:`set_acquisition`); after :func:`drop_bad_frames`, ``skipped_frames`` and a coordinate
  ``source_frame`` (each frame's index in the file).

Ground truth, where a simulator made the data, travels in the same Dataset under names
prefixed ``true_`` (see :mod:`rvae_pathways.sim.stem`).

``image`` may be read on demand (a movie opened from Zarr, or a ``.npy`` file, see
:mod:`rvae_pathways.io.readers`): :func:`check_frames` and :func:`write_frames` then hold one frame at a
time, never the whole movie.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .config import defaults
from .errors import InputError, table_number
from .vocabulary import ACQUISITION_UNITS

MODALITIES = ("stem", "pfm")
SKIP_BAD_FRAMES = defaults("prepare")["skip_bad_frames"]  # keyword default: the config schema's


def make_frames(
    images: np.ndarray,
    pixel_size_nm: float,
    source: str,
    modality: str = "stem",
    intensity_units: str = "counts",
) -> xr.Dataset:
    """Wrap an image stack as a frames Dataset.

    Parameters
    ----------
    images : array, shape (y, x) or (frame, y, x)
        A single 2-D image becomes a one-frame movie. An array read on demand (a dask array,
        or an xarray lazily indexed array, which must then be 3-D float32) stays unread.
    pixel_size_nm : float
        Size of one pixel in nanometres.
    source : str
        Where the images came from (a file path, or the simulator's name).
    modality : {"stem", "pfm"}
    intensity_units : str

    Returns
    -------
    xarray.Dataset
        See the module docstring.
    """
    images = array_or_lazy(images)
    if images.ndim == 2:
        images = images[np.newaxis]
    if images.ndim != 3:
        raise InputError(
            f"expected a 2-D image or a 3-D stack (frame, y, x), got an array of shape "
            f"{images.shape}; save one image or one stack of images per file"
        )
    if modality not in MODALITIES:
        raise InputError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if not (np.isfinite(pixel_size_nm) and pixel_size_nm > 0):
        raise InputError(
            f"pixel size must be a positive number of nm, got {pixel_size_nm!r}; "
            "set pixel_size_nm in the samples table"
        )
    n, ny, nx = images.shape
    return xr.Dataset(
        {"image": (("frame", "y", "x"), images if images.dtype == np.float32 else images.astype(np.float32))},
        coords={"frame": np.arange(n), "y": np.arange(ny), "x": np.arange(nx)},
        attrs={
            "pixel_size_nm": float(pixel_size_nm),
            "intensity_units": intensity_units,
            "source": str(source),
            "modality": modality,
        },
    )


def array_or_lazy(images):
    """``images`` as it is if it is an array (numpy's, or one read on demand), else as a numpy array.

    Only an array's ``shape``, ``dtype`` and ``ndim`` are looked at, so a lazy one stays unread.
    """
    if all(hasattr(images, name) for name in ("shape", "dtype", "ndim")):
        return images
    return np.asarray(images)


# A frame with at least this share of its pixels at its largest value is saturated (a detector
# or amplifier at its ceiling, or a flash): no atom can be found in it.
SATURATED_FRACTION = 0.5


def frame_problem(image: np.ndarray) -> str | None:
    """What makes one frame unusable, or None: NaN or infinite pixels, a constant (blank) frame, or a
    saturated one (at least :data:`SATURATED_FRACTION` of its pixels at its largest value)."""
    a = np.asarray(image)
    bad = ~np.isfinite(a)
    if bad.any():
        return f"{int(bad.sum())} NaN or infinite pixels"
    top, bottom = a.max(), a.min()
    if top == bottom:
        return f"constant (every pixel = {a.flat[0]:g}), a blank frame"
    at_top = np.count_nonzero(a == top) / a.size
    if at_top >= SATURATED_FRACTION:
        return f"saturated ({at_top:.0%} of its pixels at its largest value, {top:g})"
    return None


def bad_frames(frames: xr.Dataset) -> dict[int, str]:
    """Index -> problem (:func:`frame_problem`) of every unusable frame; reads one frame at a time."""
    image = frames["image"]
    found = {}
    for i in range(image.sizes["frame"]):
        problem = frame_problem(image[i])
        if problem is not None:
            found[i] = problem
    return found


def check_frames(frames: xr.Dataset, min_size: int = 8) -> None:
    """Raise :class:`InputError` unless there are frames and every one is usable (:func:`frame_problem`).

    Reads one frame at a time; the message names the first bad frame and the way to skip such frames
    (:func:`drop_bad_frames`, ``prepare.skip_bad_frames`` in the workflow's config).

    Parameters
    ----------
    frames : xarray.Dataset
        A frames Dataset (see :func:`make_frames`).
    min_size : int
        Smallest allowed height and width in pixels.
    """
    image = frames["image"]
    if image.dims != ("frame", "y", "x"):
        raise InputError(f"image must have dims (frame, y, x), got {image.dims}")
    n, ny, nx = image.shape
    if n == 0:
        raise InputError("the stack holds no frames; save at least one image")
    if ny < min_size or nx < min_size:
        raise InputError(f"frames are {ny}x{nx} px; at least {min_size}x{min_size} px needed")
    for i in range(n):
        problem = frame_problem(image[i])
        if problem is not None:
            raise InputError(
                f"frame {i} is unusable: {problem}; remove or repair it (e.g. replace bad pixels by their "
                "neighbours), or skip every such frame (config: prepare: skip_bad_frames: true)"
            )


def source_frames(frames: xr.Dataset) -> np.ndarray:
    """Each frame's index in the file it was read from: the ``source_frame`` coordinate where
    frames were skipped (``drop_bad_frames``), else 0, 1, 2, ..."""
    if "source_frame" in frames.coords:
        return np.asarray(frames["source_frame"].values)
    return np.arange(frames.sizes["frame"])


def drop_bad_frames(frames: xr.Dataset) -> xr.Dataset:
    """The frames without the unusable ones (:func:`bad_frames`), numbered honestly.

    The kept frames are numbered 0..n-1 along ``frame`` (every later step indexes them so); the
    coordinate ``source_frame`` keeps each one's index in the file, and ``attrs["skipped_frames"]``
    (indices in the file) and ``attrs["skipped_frame_problems"]`` say what was dropped and why.
    Reading it again keeps the file's numbering (a ``source_frame`` already there is carried on).

    Raises
    ------
    InputError
        If no frame is usable.
    """
    bad = bad_frames(frames)
    n = frames.sizes["frame"]
    source = source_frames(frames)
    kept = [i for i in range(n) if i not in bad]
    if not kept:
        first = next(iter(bad.items()))
        raise InputError(f"every one of the {n} frames is unusable (frame {first[0]}: {first[1]}); "
                         "nothing is left to analyse")
    out = frames.isel(frame=kept).assign_coords(frame=np.arange(len(kept)),
                                                source_frame=("frame", source[kept].astype(np.int64)))
    skipped = [int(i) for i in frames.attrs.get("skipped_frames", [])] + [int(source[i]) for i in bad]
    problems = list(frames.attrs.get("skipped_frame_problems", [])) + [bad[i] for i in bad]
    out.attrs.update(skipped_frames=skipped, skipped_frame_problems=problems)
    return out


def checked_frames(frames: xr.Dataset, skip_bad_frames: bool = SKIP_BAD_FRAMES) -> xr.Dataset:
    """``frames`` after :func:`check_frames`; with ``skip_bad_frames``, first without its unusable frames
    (:func:`drop_bad_frames`). What the readers return."""
    if skip_bad_frames:
        frames = drop_bad_frames(frames)
    check_frames(frames)
    return frames


ACQUISITION = ("frame_time_s", "dose_e_per_A2_per_frame")


def set_acquisition(frames: xr.Dataset, source: str, frame_time_s=None, dose_e_per_A2_per_frame=None) -> xr.Dataset:
    """Record the frame time (s) and the dose per frame (e-/A^2) in ``frames.attrs``, with their source.

    A value not given (None, NaN) leaves what the file said; a given one overrides it, and
    ``attrs["frame_time_source"]`` / ``attrs["dose_source"]`` say where each came from (``source``:
    ``"samples table"``, ``"simulator"``, ``"file"``), while the note on how the file's value was
    found (``frame_time_note``, ``dose_note``) goes with it. Returns ``frames`` (changed in place).
    """
    for name, value, where, note in (
            ("frame_time_s", frame_time_s, "frame_time_source", "frame_time_note"),
            ("dose_e_per_A2_per_frame", dose_e_per_A2_per_frame, "dose_source", "dose_note")):
        value = table_number(value, name, ACQUISITION_UNITS[name], positive=True)
        if value is not None:
            frames.attrs[name] = value
            frames.attrs[where] = source
            frames.attrs.pop(note, None)
    return frames


def acquisition(attrs: dict) -> dict[str, float | None]:
    """``{"frame_time_s": ..., "dose_e_per_A2_per_frame": ...}`` from a Dataset's attrs (None: unknown)."""
    return {name: table_number(attrs.get(name), name, ACQUISITION_UNITS[name], positive=True)
            for name in ACQUISITION}


def truth_variables(frames: xr.Dataset) -> list[str]:
    """Names of the ground-truth variables (prefixed ``true_``) a Dataset carries."""
    return [name for name in frames.data_vars if str(name).startswith("true_")]


def write_frames(frames: xr.Dataset, path) -> None:
    """Write a frames Dataset to Zarr, one frame at a time, with one chunk per frame.

    ``image`` and a ``channel_image`` (frame, channel, y, x), as PFM scans carry, are written
    frame by frame (appended along ``frame``; a chunk holds one frame, all channels), so a
    movie read on demand (see :mod:`rvae_pathways.io.readers`) is never whole in memory. The other
    variables (ground truth, small tables) are written whole afterwards, unchunked. Encodings
    the Dataset carries from a store it was read from are dropped.

    Parameters
    ----------
    frames : xarray.Dataset
        A frames Dataset (see :func:`make_frames`), with at least one frame.
    path : path-like
        The Zarr store written (an existing one is replaced).
    """
    frames = frames.drop_encoding()
    streamed = [name for name in ("image", "channel_image") if name in frames.data_vars]
    encoding = {name: {"chunks": (1,) + frames[name].shape[1:]} for name in streamed}
    per_frame = frames[streamed]
    written_once = [name for name, var in per_frame.coords.items() if "frame" not in var.dims]
    for i in range(frames.sizes["frame"]):
        block = per_frame.isel(frame=slice(i, i + 1))
        if i == 0:
            block.to_zarr(path, mode="w", encoding=encoding, consolidated=True)
        else:
            block.drop_vars(written_once).to_zarr(path, append_dim="frame", consolidated=True)
    rest = frames.drop_vars(streamed)
    if rest.data_vars:
        rest.to_zarr(path, mode="a", consolidated=True)


def frame_slices(frame_of_row: np.ndarray, n_frames: int) -> list[slice]:
    """Row ranges of each frame in a table sorted by frame: ``rows[slices[i]]`` belong to frame i."""
    frame_of_row = np.asarray(frame_of_row)
    edges = np.searchsorted(frame_of_row, np.arange(n_frames + 1), side="left")
    return [slice(int(edges[i]), int(edges[i + 1])) for i in range(n_frames)]
