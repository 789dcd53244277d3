"""The frames Dataset: the one shape every reader, the simulator and later steps agree on.

A frames Dataset has

- ``image``: float32, dims ``(frame, y, x)``;
- coordinates ``frame`` (0..n-1), ``y`` and ``x`` (pixel indices);
- ``attrs``: ``pixel_size_nm`` (float), ``intensity_units`` (str), ``source`` (str, the file
  or ``"simulate_stem"``), ``modality`` (``"stem"`` or ``"pfm"``).

Ground truth, where a simulator made the data, travels in the same Dataset under names
prefixed ``true_`` (see :mod:`rvae_pathways.simulate_stem`).
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
        A single 2-D image becomes a one-frame movie.
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
    images = np.asarray(images)
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
        {"image": (("frame", "y", "x"), images.astype(np.float32, copy=False))},
        coords={"frame": np.arange(n), "y": np.arange(ny), "x": np.arange(nx)},
        attrs={
            "pixel_size_nm": float(pixel_size_nm),
            "intensity_units": intensity_units,
            "source": str(source),
            "modality": modality,
        },
    )


def check_frames(frames: xr.Dataset, min_size: int = 8) -> None:
    """Raise :class:`InputError` unless every frame is a finite, non-constant image.

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
    _, ny, nx = image.shape
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
    """Write a frames Dataset to Zarr with one chunk per frame (truth variables unchunked).

    A ``channel_image`` (frame, channel, y, x), as PFM scans carry, is chunked one frame
    (all channels) per chunk too.
    """
    ny, nx = frames.sizes["y"], frames.sizes["x"]
    encoding = {"image": {"chunks": (1, ny, nx)}}
    if "channel_image" in frames.data_vars:
        encoding["channel_image"] = {"chunks": (1,) + frames["channel_image"].shape[1:]}
    frames.to_zarr(path, mode="w", encoding=encoding, consolidated=True)
