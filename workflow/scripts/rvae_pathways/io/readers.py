"""Microscope files in, a frames Dataset (see :mod:`rvae_pathways.core.frames`) out.

:func:`read_frames` picks a reader by the file's suffix (case-insensitive); each format family
has its module in this package (``npy``, ``tiff``, ``rsciio``, ``igor``, ``zarr_frames``; what
they return and how the pixel size is settled: ``raw``):

========================  ======================================================
suffix                    reader
========================  ======================================================
``.npy``                  :func:`numpy.load`, memory-mapped (plain numeric arrays only)
``.tif``, ``.tiff``       tifffile; pixel size from ImageJ or OME metadata
``.hspy``, ``.hdf5``,     HyperSpy HDF5 (``rsciio.hspy``)
``.h5``
``.dm3``, ``.dm4``        Gatan Digital Micrograph (``rsciio.digitalmicrograph``)
``.emd``                  Velox or NCEM EMD (``rsciio.emd``)
``.ibw``                  Igor binary wave, e.g. an Asylum Research AFM/PFM scan
                          (``igor2``); all channels kept, ``image`` = piezoresponse
``.zarr``                 a frames Dataset this project wrote (``xarray.open_zarr``)
========================  ======================================================

Every reader first produces a :class:`RawImage` (pixels, the file's spatial calibration as
written, the intensity unit); :func:`read_frames` then settles the pixel size, builds the
Dataset with :func:`~rvae_pathways.core.frames.make_frames` and checks it with
:func:`~rvae_pathways.core.frames.check_frames`. Whatever is wrong with the input is raised as an
:class:`~rvae_pathways.core.errors.InputError` that says what to change.

Memory: a ``.npy`` file and a ``.zarr`` store are read on demand. The Dataset's ``image`` is
then lazy: :func:`~rvae_pathways.core.frames.check_frames` and
:func:`~rvae_pathways.core.frames.write_frames` read one frame at a time, so loading a movie of any
length holds about one frame (see :class:`MappedFrames`). The other readers (TIFF through
tifffile, HyperSpy, Digital Micrograph and EMD through rosettasciio, Igor waves through igor2)
read the whole file into memory.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import xarray as xr
from xarray.core import indexing

from ..core.errors import InputError
from ..core.frames import check_frames, make_frames
from ..pfm.piezoresponse import add_piezoresponse, pick_pfm_channels
from .igor import read_ibw
from .npy import MappedFrames, read_npy
from .raw import RawImage, check_image_array, settle_pixel_size
from .rsciio import read_dm, read_emd, read_hspy
from .tiff import read_tiff
from .zarr_frames import read_zarr

SUPPORTED_SUFFIXES = (
    ".npy",
    ".tif",
    ".tiff",
    ".hspy",
    ".hdf5",
    ".h5",
    ".dm3",
    ".dm4",
    ".emd",
    ".ibw",
    ".zarr",
)





# ----------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------


def read_frames(
    path: str | Path, pixel_size_nm: float | None = None, modality: str = "stem"
) -> xr.Dataset:
    """Read a microscope image or image stack as a frames Dataset.

    Parameters
    ----------
    path : str or Path
        The file (or ``.zarr`` folder); its suffix, in any case, picks the reader (see
        :data:`SUPPORTED_SUFFIXES`).
    pixel_size_nm : float, optional
        Pixel size in nm from the samples table. When given it overrides the file's
        calibration; None (or NaN, as an empty table cell reads) means "use the file's".
    modality : {"stem", "pfm"}
        Recorded in ``attrs["modality"]``.

    Returns
    -------
    xarray.Dataset
        ``image`` (frame, y, x) float32, with attrs ``pixel_size_nm``, ``pixel_size_source``
        (``"file"`` or ``"samples table"``), ``intensity_units``, ``source`` (``path`` as
        given) and ``modality``; some readers add ``signal``, ``pixel_size_file`` or
        ``pixel_size_note``. A ``.zarr`` store keeps all its variables and attrs.
        The ``image`` of a ``.npy`` file or a ``.zarr`` store is read on demand (the file
        must stay in place while the Dataset is used); the other formats are read whole.

    Raises
    ------
    InputError
        If the file is missing, of an unsupported type, unreadable, not an image or image
        stack, of unknown pixel size, or has NaN, infinite or constant frames.

    Notes
    -----
    A ``.ibw`` scan keeps every channel in ``channel_image`` (frame, channel, y, x) with
    coordinates ``channel`` and ``channel_units``, and attrs ``scan_size_m`` ([y, x]),
    ``phase_offset_deg`` and ``piezoresponse``; its ``image`` is the piezoresponse of the
    vertical amplitude and phase channels (see :func:`read_ibw` and
    :func:`rvae_pathways.pfm.piezoresponse.add_piezoresponse`), in the amplitude's unit.
    """
    path_obj = Path(path)
    if not path_obj.exists():
        raise InputError(f"file not found: {path}")
    suffix = path_obj.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"unsupported file type {path_obj.suffix!r} for {path}; supported suffixes are "
            f"{', '.join(SUPPORTED_SUFFIXES)}"
        )
    pixel_size_nm = _table_pixel_size(pixel_size_nm)

    if suffix == ".zarr":
        frames = read_zarr(path_obj, str(path), pixel_size_nm, modality)
    else:
        reader, format_name = _READERS[suffix]
        raw = _call_reader(reader, path_obj, str(path), format_name)
        frames = _to_frames(raw, str(path), pixel_size_nm, modality)
    check_frames(frames)
    return frames


def _table_pixel_size(value: Any) -> float | None:
    """The ``pixel_size_nm`` argument as a float, or None where not given (None or NaN)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"pixel_size_nm must be a number of nm, got {value!r}; fix it in the samples table"
        ) from None
    return None if math.isnan(number) else number



def _call_reader(
    reader: Callable[[Path], RawImage], path: Path, source: str, format_name: str
) -> RawImage:
    """Run one format reader, turning its parse errors into an :class:`InputError`."""
    try:
        return reader(path)
    except InputError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # the readers raise many types for a damaged file
        raise InputError(
            f"could not read {source} as a {format_name} file ({type(exc).__name__}: {exc}); "
            "check that the file is complete and of the type its suffix says"
        ) from exc


def _to_frames(
    raw: RawImage, source: str, pixel_size_nm: float | None, modality: str
) -> xr.Dataset:
    """Build the frames Dataset from a reader's result."""
    if raw.channel_names is not None:
        return _channel_frames(raw, source, pixel_size_nm, modality)
    data = check_image_array(raw.data, source)
    if isinstance(data, np.memmap):
        data = indexing.LazilyIndexedArray(MappedFrames(data))
    size, pixel_attrs = settle_pixel_size(raw.calibration, pixel_size_nm, source)
    frames = make_frames(
        data,
        pixel_size_nm=size,
        source=source,
        modality=modality,
        intensity_units=raw.intensity_units or "counts",
    )
    frames.attrs.update(pixel_attrs)
    frames.attrs.update(raw.attrs)
    return frames



# ----------------------------------------------------------------------------------------
# Pixel size
# ----------------------------------------------------------------------------------------





# ----------------------------------------------------------------------------------------
# NumPy
# ----------------------------------------------------------------------------------------




# ----------------------------------------------------------------------------------------
# TIFF
# ----------------------------------------------------------------------------------------






# ----------------------------------------------------------------------------------------
# RosettaSciIO formats (HyperSpy, Digital Micrograph, EMD)
# ----------------------------------------------------------------------------------------














# ----------------------------------------------------------------------------------------
# Multi-channel scans (PFM)
# ----------------------------------------------------------------------------------------


def _channel_frames(
    raw: RawImage, source: str, pixel_size_nm: float | None, modality: str
) -> xr.Dataset:
    """Build the frames Dataset of a multi-channel scan: all channels plus the piezoresponse.

    Parameters
    ----------
    raw : RawImage
        ``data`` (channel, y, x) or (frame, channel, y, x); ``channel_names`` and
        ``channel_units`` set.
    source : str
    pixel_size_nm : float or None
    modality : str

    Returns
    -------
    xarray.Dataset
        ``image`` (frame, y, x), the piezoresponse; ``channel_image`` (frame, channel, y, x)
        float32 with coordinates ``channel`` and ``channel_units``.
    """
    data = np.asarray(raw.data)
    if data.ndim == 3:
        data = data[np.newaxis]
    if data.ndim != 4 or data.dtype.kind not in "biuf":
        raise InputError(
            f"{source} holds channels of shape {data.shape}, dtype {data.dtype}; expected real "
            "numbers of shape (channel, y, x) or (frame, channel, y, x)"
        )
    names = list(raw.channel_names or [])
    units = list(raw.channel_units or [""] * len(names))
    if len(names) != data.shape[1] or len(units) != len(names):
        raise InputError(
            f"{source}: {data.shape[1]} channels but {len(names)} names and {len(units)} units"
        )
    size, pixel_attrs = settle_pixel_size(raw.calibration, pixel_size_nm, source)
    n, _, ny, nx = data.shape
    channels = xr.Dataset(
        {"channel_image": (("frame", "channel", "y", "x"), data.astype(np.float32, copy=False))},
        coords={
            "frame": np.arange(n),
            "channel": np.array(names, dtype=object),
            "channel_units": ("channel", np.array(units, dtype=object)),
            "y": np.arange(ny),
            "x": np.arange(nx),
        },
    )
    try:
        amplitude, phase = pick_pfm_channels(names)
        channels = add_piezoresponse(channels, amplitude, phase)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    frames = make_frames(
        channels["image"].values,
        pixel_size_nm=size,
        source=source,
        modality=modality,
        intensity_units=channels.attrs.get("intensity_units") or raw.intensity_units or "counts",
    )
    frames["channel_image"] = channels["channel_image"]
    frames.attrs.update(pixel_attrs)
    frames.attrs.update(raw.attrs)
    for key in ("phase_offset_deg", "piezoresponse", "amplitude_channel", "phase_channel"):
        frames.attrs[key] = channels.attrs[key]
    return frames


# ----------------------------------------------------------------------------------------
# Igor binary wave (Asylum Research AFM/PFM)
# ----------------------------------------------------------------------------------------














# ----------------------------------------------------------------------------------------
# Zarr (this project's own frames stores)
# ----------------------------------------------------------------------------------------



_READERS: dict[str, tuple[Callable[[Path], RawImage], str]] = {
    ".npy": (read_npy, "NumPy .npy"),
    ".tif": (read_tiff, "TIFF"),
    ".tiff": (read_tiff, "TIFF"),
    ".hspy": (read_hspy, "HyperSpy HDF5"),
    ".hdf5": (read_hspy, "HyperSpy HDF5"),
    ".h5": (read_hspy, "HyperSpy HDF5"),
    ".dm3": (read_dm, "Digital Micrograph"),
    ".dm4": (read_dm, "Digital Micrograph"),
    ".emd": (read_emd, "EMD"),
    ".ibw": (read_ibw, ".ibw (Igor binary wave)"),
}
