"""Microscope files in, a frames Dataset (see :mod:`rvae_pathways.core.frames`) or a scan's channels out.

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
                          (``igor2``); a multi-channel scan: :func:`read_scan`
``.zarr``                 a frames Dataset this project wrote (``xarray.open_zarr``)
========================  ======================================================

Every reader first produces a :class:`RawImage` (pixels, the file's spatial calibration as
written, the intensity unit); :func:`read_frames` then settles the pixel size, builds the
Dataset with :func:`~rvae_pathways.core.frames.make_frames` and checks it with
:func:`~rvae_pathways.core.frames.check_frames`. Whatever is wrong with the input is raised as an
:class:`~rvae_pathways.core.errors.InputError` that says what to change.

Multi-channel scans (:data:`SCAN_SUFFIXES`) have no one image: :func:`read_scan` returns every
channel as read, and turning them into frames is the modality's physics (for PFM,
:func:`rvae_pathways.pfm.piezoresponse.pfm_frames`; :func:`rvae_pathways.pfm.piezoresponse.read_pfm_frames`
reads any PFM file into frames).

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
from ..core.frames import MODALITIES, check_frames, make_frames
from .igor import read_ibw
from .npy import MappedFrames, read_npy
from .raw import RawImage, check_image_array, settle_pixel_size
from .rsciio import read_dm, read_emd, read_hspy
from .suffixes import SCAN_SUFFIXES, SUPPORTED_SUFFIXES
from .tiff import read_tiff
from .zarr_frames import read_zarr



# ----------------------------------------------------------------------------------------
# Entry points
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
        If the file is missing, of an unsupported type, a multi-channel scan (see
        :func:`read_scan`), unreadable, not an image or image stack, of unknown pixel size,
        or has NaN, infinite or constant frames.

    Notes
    -----
    A multi-channel scan (``.ibw``, :data:`SCAN_SUFFIXES`) has no one image to return: read
    it with :func:`read_scan`; for PFM, :func:`rvae_pathways.pfm.piezoresponse.pfm_frames`
    turns it into frames whose ``image`` is the piezoresponse, and
    :func:`rvae_pathways.pfm.piezoresponse.read_pfm_frames` reads any PFM file into frames.
    """
    path_obj, suffix = _checked_path(path)
    if suffix in SCAN_SUFFIXES:
        raise InputError(
            f"{path} is a multi-channel scan ({path_obj.suffix}), not an image or image stack: "
            "read it with rvae_pathways.io.readers.read_scan; for PFM, "
            "rvae_pathways.pfm.piezoresponse.read_pfm_frames reads it into frames of the "
            "piezoresponse (the load_frames rule does so for samples of modality pfm)"
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


def read_scan(
    path: str | Path, pixel_size_nm: float | None = None, modality: str = "pfm"
) -> xr.Dataset:
    """Read a multi-channel scan (e.g. an Asylum Research ``.ibw``) with every channel as read.

    Parameters
    ----------
    path : str or Path
        The file; its suffix, in any case, must be one of :data:`SCAN_SUFFIXES`.
    pixel_size_nm : float, optional
        Pixel size in nm from the samples table, as for :func:`read_frames`.
    modality : {"stem", "pfm"}
        Recorded in ``attrs["modality"]``.

    Returns
    -------
    xarray.Dataset
        ``channel_image`` (frame, channel, y, x) float32 with coordinates ``frame``,
        ``channel`` (the names), ``channel_units`` (along ``channel``), ``y`` and ``x``; no
        ``image``. Attrs: ``pixel_size_nm``, ``source`` (``path`` as given), ``modality``,
        ``pixel_size_source`` (and ``pixel_size_file`` or ``pixel_size_note`` where they
        apply), ``intensity_units`` where the file states one unit for all channels, and the
        file's own, e.g. ``scan_size_m`` ([y, x]), ``wave_name`` and ``channel_units_note``
        (see :func:`read_ibw`).

    Raises
    ------
    InputError
        If the file is missing, not a multi-channel scan, unreadable, of unknown pixel size,
        or its channels are not real-valued images of one shape.
    """
    path_obj, suffix = _checked_path(path)
    if suffix not in SCAN_SUFFIXES:
        raise InputError(
            f"{path} is not a multi-channel scan: read_scan reads {', '.join(SCAN_SUFFIXES)} "
            "files; read this one with rvae_pathways.io.readers.read_frames"
        )
    pixel_size_nm = _table_pixel_size(pixel_size_nm)
    reader, format_name = _READERS[suffix]
    raw = _call_reader(reader, path_obj, str(path), format_name)
    if raw.channel_names is None:
        raise InputError(
            f"{path} holds one image, not named channels; read it with "
            "rvae_pathways.io.readers.read_frames"
        )
    return _scan_dataset(raw, str(path), pixel_size_nm, modality)


def _checked_path(path: str | Path) -> tuple[Path, str]:
    """``path`` as a Path and its lower-case suffix, once it exists and the suffix is supported."""
    path_obj = Path(path)
    if not path_obj.exists():
        raise InputError(f"file not found: {path}")
    suffix = path_obj.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"unsupported file type {path_obj.suffix!r} for {path}; supported suffixes are "
            f"{', '.join(SUPPORTED_SUFFIXES)}"
        )
    return path_obj, suffix


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


def _scan_dataset(
    raw: RawImage, source: str, pixel_size_nm: float | None, modality: str
) -> xr.Dataset:
    """Build the Dataset of a multi-channel scan: every channel, no ``image``.

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
        See :func:`read_scan`.
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
    if modality not in MODALITIES:
        raise InputError(f"modality must be one of {MODALITIES}, got {modality!r}")
    size, pixel_attrs = settle_pixel_size(raw.calibration, pixel_size_nm, source)
    if not (np.isfinite(size) and size > 0):
        raise InputError(
            f"pixel size must be a positive number of nm, got {size!r}; "
            "set pixel_size_nm in the samples table"
        )
    n, _, ny, nx = data.shape
    attrs: dict[str, Any] = {"pixel_size_nm": float(size)}
    if raw.intensity_units:
        attrs["intensity_units"] = raw.intensity_units
    attrs.update(source=source, modality=modality, **pixel_attrs)
    attrs.update(raw.attrs)
    return xr.Dataset(
        {"channel_image": (("frame", "channel", "y", "x"), data.astype(np.float32, copy=False))},
        coords={
            "frame": np.arange(n),
            "channel": np.array(names, dtype=object),
            "channel_units": ("channel", np.array(units, dtype=object)),
            "y": np.arange(ny),
            "x": np.arange(nx),
        },
        attrs=attrs,
    )


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
