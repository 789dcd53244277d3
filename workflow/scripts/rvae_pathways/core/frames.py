"""The frames Dataset: the one shape every reader, the simulator and later steps agree on.

A frames Dataset has

- ``image``: float32, dims ``(frame, y, x)``;
- coordinates ``frame`` (0..n-1), ``y`` and ``x`` (pixel indices);
- ``attrs``: ``pixel_size_nm`` (float), ``intensity_units`` (str), ``source`` (str, the file
  or ``"simulate_stem"``), ``modality`` (``"stem"`` or ``"pfm"``).

Ground truth, where a simulator made the data, travels in the same Dataset under names
prefixed ``true_`` (see :mod:`rvae_pathways.sim.stem`).

``image`` may be read on demand (a movie opened from Zarr, or a ``.npy`` file, see
:mod:`rvae_pathways.io.readers`): :func:`check_frames` and :func:`write_frames` then hold one frame at a
time, never the whole movie.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .errors import InputError

MODALITIES = ("stem", "pfm")


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


def check_frames(frames: xr.Dataset, min_size: int = 8) -> None:
    """Raise :class:`InputError` unless there are frames and every one is a finite, non-constant image.

    Reads one frame at a time.

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
    for i in range(image.sizes["frame"]):
        a = np.asarray(image[i])
        bad = ~np.isfinite(a)
        if bad.any():
            raise InputError(
                f"frame {i} has {int(bad.sum())} NaN or infinite pixels; "
                "remove or repair that frame (e.g. replace the bad pixels by their neighbours)"
            )
        if a.max() == a.min():
            raise InputError(
                f"frame {i} is constant (every pixel = {a.flat[0]:g}); "
                "remove blank frames from the stack"
            )


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
