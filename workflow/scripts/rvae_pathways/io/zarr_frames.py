"""Frames Datasets this project wrote to Zarr."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..core.errors import InputError
from ..core.frames import MODALITIES
from .raw import Calibration, check_image_array, is_nan, settle_pixel_size


def read_zarr(
    path: Path, source: str, pixel_size_nm: float | None, modality: str
) -> xr.Dataset:
    """Open a frames Dataset that this project wrote with ``to_zarr``; its frames are read on demand.

    All variables (``true_*`` ground truth included) and attrs are kept; ``source`` becomes
    ``path`` (the stored one moves to ``upstream_source``), ``modality`` the argument's,
    and ``pixel_size_nm`` the argument's when given.

    Parameters
    ----------
    path : Path
    source : str
        The path as the caller gave it.
    pixel_size_nm : float or None
    modality : str

    Returns
    -------
    xarray.Dataset
    """
    try:
        ds = xr.open_zarr(path)
    except Exception as exc:
        raise InputError(
            f"could not read {source} as a zarr store ({type(exc).__name__}: {exc}); "
            "a .zarr input must be a frames Dataset written by this workflow"
        ) from exc
    if "image" not in ds.data_vars or ds["image"].dims != ("frame", "y", "x"):
        found = {name: var.dims for name, var in ds.data_vars.items()}
        raise InputError(
            f"{source} is not a frames store: expected a variable 'image' with dims "
            f"(frame, y, x), found {found or 'no variables'}"
        )
    check_image_array(ds["image"], source)  # its dtype and shape; the pixels stay unread
    if ds["image"].dtype != np.float32:
        ds["image"] = ds["image"].astype(np.float32)

    stored = ds.attrs.get("pixel_size_nm")
    cal = None
    if stored is not None and not is_nan(stored):
        cal = Calibration(float(stored), float(stored), "nm", "nm")
    size, pixel_attrs = settle_pixel_size(cal, pixel_size_nm, source)
    if modality not in MODALITIES:
        raise InputError(f"modality must be one of {MODALITIES}, got {modality!r}")
    for stale in ("pixel_size_source", "pixel_size_file", "pixel_size_note"):
        ds.attrs.pop(stale, None)  # from an earlier read; settled again below
    if "source" in ds.attrs and ds.attrs["source"] != source:
        ds.attrs["upstream_source"] = ds.attrs["source"]
    ds.attrs.update(
        pixel_size_nm=size,
        source=source,
        modality=modality,
        intensity_units=ds.attrs.get("intensity_units") or "counts",
        **pixel_attrs,
    )
    return ds
