"""Readers: microscope files in, a frames Dataset (see :mod:`rvae_pathways.core.frames`) out.

:func:`read_frames` picks a reader by the file's suffix (case-insensitive):

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

import logging
import math
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, Callable

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from ..core.errors import InputError
from ..core.frames import MODALITIES, array_or_lazy, check_frames, make_frames
from ..pfm.piezoresponse import add_piezoresponse, pick_pfm_channels

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

# Nanometres per unit of length, keyed by the lower-cased unit as files spell it.
_NM_PER_UNIT = {
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometers": 1.0,
    "nanometre": 1.0,
    "nanometres": 1.0,
    "å": 0.1,
    "\u212b": 0.1,  # ANGSTROM SIGN, a different code point from Å
    "a": 0.1,
    "ang": 0.1,
    "angstrom": 0.1,
    "angstroms": 0.1,
    "pm": 1e-3,
    "picometer": 1e-3,
    "picometre": 1e-3,
    "µm": 1e3,  # MICRO SIGN
    "μm": 1e3,  # GREEK SMALL LETTER MU
    "um": 1e3,
    "micron": 1e3,
    "microns": 1e3,
    "micrometer": 1e3,
    "micrometre": 1e3,
    "mm": 1e6,
    "cm": 1e7,
    "m": 1e9,
    "meter": 1e9,
    "metre": 1e9,
}

# Units that mean "not calibrated": the scale counts pixels.
_NO_UNIT = {"", "<undefined>", "_none_", "none", "px", "pixel", "pixels", "pix"}

# First bytes of every .npy file.
_NPY_MAGIC = b"\x93NUMPY"

# Relative difference above which y and x pixel sizes count as different.
_SQUARE_TOLERANCE = 1e-3


@dataclass
class Calibration:
    """Spatial calibration of an image as the file writes it.

    Attributes
    ----------
    scale_y, scale_x : float
        Size of one pixel along y and x, in ``unit_y`` and ``unit_x``.
    unit_y, unit_x : str
        Units as written in the file (``""`` when the file gives none).
    """

    scale_y: float
    scale_x: float
    unit_y: str
    unit_x: str


@dataclass
class RawImage:
    """What a format reader found, before the pixel size is settled.

    Attributes
    ----------
    data : numpy.ndarray
        Pixels, shape (y, x) or (frame, y, x); a :class:`numpy.memmap` (``.npy``) is read
        on demand, a frame at a time (see :func:`_to_frames`).
    calibration : Calibration or None
        The file's spatial calibration, None when the format or file has none.
    intensity_units : str or None
        Unit of the pixel values where the file states one.
    attrs : dict
        Extra attributes for the Dataset (e.g. ``signal``, the signal chosen from several).
    channel_names : list of str or None
        For a multi-channel scan (PFM): one name per channel; ``data`` is then (channel, y,
        x), kept as ``channel_image``, and ``image`` is the piezoresponse.
    channel_units : list of str or None
        With ``channel_names``: each channel's unit (``""`` where unknown).
    """

    data: np.ndarray
    calibration: Calibration | None = None
    intensity_units: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    channel_names: list[str] | None = None
    channel_units: list[str] | None = None


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
    vertical amplitude and phase channels (see :func:`_read_ibw` and
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
        frames = _read_zarr(path_obj, str(path), pixel_size_nm, modality)
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


def _is_nan(value: Any) -> bool:
    """True for a float NaN; False for anything else (including non-numbers)."""
    try:
        return math.isnan(value)
    except TypeError:
        return False


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
    data = _check_image_array(raw.data, source)
    if isinstance(data, np.memmap):
        data = indexing.LazilyIndexedArray(MappedFrames(data))
    size, pixel_attrs = _settle_pixel_size(raw.calibration, pixel_size_nm, source)
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


def _check_image_array(data: np.ndarray, source: str) -> np.ndarray:
    """Return ``data`` if it is a real-valued 2-D image or 3-D stack, else raise.

    Only the array's dtype and shape are looked at: a memory-mapped or lazy array stays unread.
    """
    data = array_or_lazy(data)
    if data.dtype.names is not None:
        raise InputError(
            f"{source} holds a colour (RGB) or structured image of dtype {data.dtype}; "
            "expected one grey-scale value per pixel: convert it to grey scale first"
        )
    if data.dtype.kind not in "biuf":
        raise InputError(
            f"{source} holds an array of dtype {data.dtype}; expected real numbers "
            "(integer or floating point pixel values)"
        )
    if data.ndim not in (2, 3):
        raise InputError(
            f"{source} holds an array of shape {data.shape} ({data.ndim}-D); expected a 2-D "
            "image (y, x) or a 3-D stack of images (frame, y, x)"
        )
    return data


# ----------------------------------------------------------------------------------------
# Pixel size
# ----------------------------------------------------------------------------------------


def length_to_nm(value: float, unit: str) -> float | None:
    """Convert a length to nanometres.

    Parameters
    ----------
    value : float
    unit : str
        A length unit as files write it: nm, Å/A/angstrom, pm, µm/um/micron, mm, cm, m.

    Returns
    -------
    float or None
        None when ``unit`` is not a known length unit.
    """
    # ImageJ writes non-ASCII units as Java escapes, e.g. "\u00B5m" for µm
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), str(unit))
    key = text.strip().lower()
    factor = _NM_PER_UNIT.get(key)
    return None if factor is None else float(value) * factor


def _file_pixel_size(cal: Calibration | None) -> tuple[float | None, float | None, str]:
    """Pixel size in nm along y and x from a file's calibration, or why there is none.

    Returns
    -------
    y_nm, x_nm : float or None
        None when the calibration cannot be turned into nm.
    description : str
        What the file says, for messages (empty when it says nothing).
    """
    if cal is None:
        return None, None, ""
    if cal.unit_y == cal.unit_x:
        text = f"{cal.scale_y:g} x {cal.scale_x:g} {cal.unit_y}".strip()
    else:
        text = f"{cal.scale_y:g} {cal.unit_y} x {cal.scale_x:g} {cal.unit_x}"
    units = {str(u).strip().lower() for u in (cal.unit_y, cal.unit_x)}
    if units <= _NO_UNIT:
        if cal.scale_y == 1 and cal.scale_x == 1:
            return None, None, ""  # pixel units: uncalibrated
        return None, None, f"{cal.scale_y:g} x {cal.scale_x:g} with no unit"
    y_nm = length_to_nm(cal.scale_y, cal.unit_y)
    x_nm = length_to_nm(cal.scale_x, cal.unit_x)
    if y_nm is None or x_nm is None:
        return None, None, f"{text}, which is not a length unit"
    if not (y_nm > 0 and x_nm > 0):
        return None, None, f"{text}, which is not a positive length"
    return y_nm, x_nm, text


def _settle_pixel_size(
    cal: Calibration | None, pixel_size_nm: float | None, source: str
) -> tuple[float, dict[str, Any]]:
    """Choose the pixel size: the samples table's if given, else the file's.

    Returns
    -------
    pixel_size_nm : float
    attrs : dict
        ``pixel_size_source``; ``pixel_size_file`` (what the file says) when the table
        overrides a file calibration; ``pixel_size_note`` for non-square pixels.
    """
    y_nm, x_nm, described = _file_pixel_size(cal)
    attrs: dict[str, Any] = {}
    if y_nm is not None and abs(y_nm - x_nm) > _SQUARE_TOLERANCE * max(y_nm, x_nm):
        attrs["pixel_size_note"] = (
            f"non-square pixels in the file: y {y_nm:g} nm, x {x_nm:g} nm; "
            "pixel_size_nm is the y size"
        )
    if pixel_size_nm is not None:
        size = float(pixel_size_nm)
        attrs["pixel_size_source"] = "samples table"
        if described:
            attrs["pixel_size_file"] = described
        if y_nm is not None and abs(y_nm - size) > 0.01 * size:
            warnings.warn(
                f"{source}: the samples table's pixel size {size:g} nm overrides the file's "
                f"{y_nm:g} nm ({described})",
                stacklevel=3,
            )
        return size, attrs
    if y_nm is None:
        found = f"the file gives {described}" if described else "the file has no calibration"
        raise InputError(
            f"pixel size unknown for {source}: {found}; set pixel_size_nm for this sample in "
            "the samples table"
        )
    attrs["pixel_size_source"] = "file"
    return y_nm, attrs


# ----------------------------------------------------------------------------------------
# NumPy
# ----------------------------------------------------------------------------------------


def _read_npy(path: Path) -> RawImage:
    """Open a ``.npy`` array memory-mapped; pickled object arrays are refused, never loaded.

    Only the header is read here: the pixels are read later, a frame at a time (see
    :class:`MappedFrames`).

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        ``data`` a read-only :class:`numpy.memmap`. No calibration: a ``.npy`` file carries
        no pixel size.
    """
    with open(path, "rb") as f:
        if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            # np.load would take it for a pickle file and give a misleading message
            raise ValueError("the file does not start with the .npy signature")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        # numpy refuses to map an object array ("Python objects in dtype")
        if "allow_pickle" not in str(exc) and "Python objects" not in str(exc):
            raise
        raise InputError(
            f"{path} holds pickled Python objects, which are never loaded for safety; "
            "save a plain numeric array instead, with np.save(path, array)"
        ) from exc
    return RawImage(data)


class MappedFrames(BackendArray):
    """A memory-mapped image or stack as a (frame, y, x) float32 array read on demand.

    Each read maps the file again, copies the slice asked for (as float32) and unmaps the
    file, so the pages read do not stay in the process's memory: reading a movie frame by
    frame holds about one frame, whatever the movie's length. (A mapping kept open would keep
    every page read resident, the whole movie by the end.) Wrapped in xarray's
    ``LazilyIndexedArray``, it is the ``image`` of a Dataset that reads only what is used.

    Parameters
    ----------
    mapped : numpy.memmap
        A read-only mapping of the file, shape (y, x) (a one-frame movie) or (frame, y, x);
        only its file name, offset, dtype, shape and order are kept.
    """

    def __init__(self, mapped: np.memmap):
        if mapped.filename is None or mapped.ndim not in (2, 3):
            raise ValueError("expected a file-backed 2-D or 3-D numpy.memmap")
        self.filename = mapped.filename
        self.offset = int(mapped.offset)
        self.file_dtype = mapped.dtype
        self.file_shape = mapped.shape
        self.order = "F" if mapped.flags.f_contiguous and not mapped.flags.c_contiguous else "C"
        self.shape = mapped.shape if mapped.ndim == 3 else (1, *mapped.shape)
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        """The pixels at ``key`` (ints and slices over frame, y, x) as a float32 copy."""
        mapped = np.memmap(self.filename, dtype=self.file_dtype, mode="r", offset=self.offset,
                           shape=self.file_shape, order=self.order)
        stack = mapped if mapped.ndim == 3 else mapped[np.newaxis]
        return np.array(stack[key], dtype=np.float32)  # a copy: the mapping closes with ``mapped``


# ----------------------------------------------------------------------------------------
# TIFF
# ----------------------------------------------------------------------------------------


def _read_tiff(path: Path) -> RawImage:
    """Read the first image series of a TIFF file with tifffile.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        Calibration from ImageJ metadata (``unit`` and XResolution/YResolution) or from OME
        metadata (``PhysicalSizeX``/``Y``), else None.
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        if "S" in series.axes:
            raise InputError(
                f"{path} is a colour (RGB) TIFF of shape {series.shape}, axes "
                f"{series.axes!r}; expected one grey-scale value per pixel"
            )
        data = series.asarray()
        cal = _imagej_calibration(tif) or _ome_calibration(tif)
    return RawImage(data, cal)


def _imagej_calibration(tif: Any) -> Calibration | None:
    """Pixel size of an ImageJ TIFF: 1 / (pixels per unit) in its ``unit``."""
    meta = tif.imagej_metadata
    if not meta or not meta.get("unit"):
        return None
    tags = tif.pages[0].tags
    if "XResolution" not in tags:
        return None
    scale_x = _per_pixel(tags["XResolution"].value)
    scale_y = _per_pixel(tags["YResolution"].value) if "YResolution" in tags else scale_x
    if scale_x is None or scale_y is None:
        return None
    unit = str(meta["unit"])
    return Calibration(scale_y, scale_x, unit, unit)


def _per_pixel(resolution: Any) -> float | None:
    """Size of one pixel from a TIFF resolution (pixels per unit, often a fraction)."""
    if isinstance(resolution, tuple):
        numerator, denominator = resolution
        return float(denominator) / numerator if numerator else None
    return 1.0 / float(resolution) if resolution else None


def _ome_calibration(tif: Any) -> Calibration | None:
    """Pixel size of an OME-TIFF from the first ``Pixels`` element."""
    if not tif.is_ome or not tif.ome_metadata:
        return None
    root = ET.fromstring(tif.ome_metadata)
    pixels = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None or "PhysicalSizeX" not in pixels.attrib:
        return None
    scale_x = float(pixels.attrib["PhysicalSizeX"])
    scale_y = float(pixels.attrib.get("PhysicalSizeY", scale_x))
    # The OME schema's default unit is the micrometre.
    unit_x = pixels.attrib.get("PhysicalSizeXUnit", "µm")
    unit_y = pixels.attrib.get("PhysicalSizeYUnit", "µm")
    return Calibration(scale_y, scale_x, unit_y, unit_x)


# ----------------------------------------------------------------------------------------
# RosettaSciIO formats (HyperSpy, Digital Micrograph, EMD)
# ----------------------------------------------------------------------------------------


def _read_hspy(path: Path) -> RawImage:
    """Read a HyperSpy HDF5 file (``.hspy``, ``.hdf5``, ``.h5``) with ``rsciio.hspy``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        The first image signal; its unit of intensity from ``metadata.Signal.quantity``
        (HyperSpy writes e.g. ``"Intensity (counts)"``).
    """
    from rsciio.hspy import file_reader

    return _from_signals(file_reader(str(path)), path, _quantity_units)


def _read_dm(path: Path) -> RawImage:
    """Read a Gatan Digital Micrograph file (``.dm3``, ``.dm4``) with rsciio.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        The first image that is not a thumbnail; spectra and spectrum images are refused.
        The unit of intensity is the ``Brightness`` calibration's.
    """
    from rsciio.digitalmicrograph import file_reader

    signals = file_reader(str(path))
    for signal in signals:
        if _dm_is_spectral(signal):
            refused = "a spectrum image" if np.ndim(signal["data"]) > 1 else "a spectrum"
            signal["_refused_as"] = refused
    return _from_signals(signals, path, _dm_brightness_units)


def _read_emd(path: Path) -> RawImage:
    """Read an EMD file (Velox or NCEM) with ``rsciio.emd``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        Among the image signals, the first whose title names HAADF, else the first; its
        title goes to ``attrs["signal"]``.
    """
    from rsciio.emd import file_reader

    # rsciio 0.15 spells the Velox image selection "images" (its docstring says "image").
    # Selecting images also skips the EDS spectrum stream, which needs the `sparse` package.
    return _from_signals(file_reader(str(path), select_type="images"), path, lambda s: None)


def _from_signals(
    signals: list[dict], path: Path, intensity_units: Callable[[dict], str | None]
) -> RawImage:
    """Pick the image signal from rsciio's signal dictionaries and wrap it.

    Parameters
    ----------
    signals : list of dict
        rsciio's reader output: ``data``, ``axes`` (in array order), ``metadata``, ...
    path : Path
    intensity_units : callable
        Finds the unit of intensity in one signal dictionary.

    Returns
    -------
    RawImage
    """
    images = [(i, s) for i, s in enumerate(signals) if _is_image_signal(s)]
    if not images:
        found = "; ".join(_describe_signal(s) for s in signals) or "no signals"
        raise InputError(
            f"{path} holds no image: found {found}; expected a 2-D image (y, x) or a "
            "3-D stack of images (frame, y, x)"
        )
    haadf = [(i, s) for i, s in images if "haadf" in _title(s).lower()]
    index, signal = (haadf or images)[0]
    y_axis, x_axis = signal["axes"][-2:]
    cal = Calibration(
        float(y_axis.get("scale", 1.0)),
        float(x_axis.get("scale", 1.0)),
        str(y_axis.get("units") or ""),
        str(x_axis.get("units") or ""),
    )
    attrs = {}
    if len(signals) > 1 or _title(signal):
        attrs["signal"] = _title(signal) or f"signal {index}"
    return RawImage(np.asarray(signal["data"]), cal, intensity_units(signal), attrs)


def _signal_axes(signal: dict) -> list[bool]:
    """For each array axis, True if it is a signal axis (HyperSpy's ``navigate=False``)."""
    axes = signal.get("axes") or []
    ndim = np.ndim(signal["data"])
    if len(axes) != ndim:
        return [i >= ndim - 2 for i in range(ndim)]
    return [not bool(axis.get("navigate", i < ndim - 2)) for i, axis in enumerate(axes)]


def _is_image_signal(signal: dict) -> bool:
    """True for a 2-D image, or a 3-D stack whose two last axes are the image."""
    if signal.get("_refused_as"):
        return False
    is_signal = _signal_axes(signal)
    return len(is_signal) in (2, 3) and is_signal[-2:] == [True, True] and sum(is_signal) == 2


def _describe_signal(signal: dict) -> str:
    """One phrase per signal for error messages, e.g. ``"shape (100,), a spectrum"``."""
    shape = tuple(np.shape(signal["data"]))
    kind = signal.get("_refused_as")
    if not kind:
        n_signal = sum(_signal_axes(signal))
        kind = {1: "a spectrum" if len(shape) == 1 else "spectra"}.get(
            n_signal, f"{n_signal} signal axes"
        )
    title = _title(signal)
    return f"{title + ': ' if title else ''}shape {shape}, {kind}"


def _title(signal: dict) -> str:
    """The signal's ``metadata.General.title`` (``""`` if none)."""
    return str(signal.get("metadata", {}).get("General", {}).get("title") or "")


def _quantity_units(signal: dict) -> str | None:
    """Unit in parentheses at the end of HyperSpy's ``Signal.quantity``, if any."""
    quantity = str(signal.get("metadata", {}).get("Signal", {}).get("quantity") or "")
    if quantity.endswith(")") and "(" in quantity:
        return quantity[quantity.rindex("(") + 1 : -1].strip() or None
    return None


def _dm_image_tags(signal: dict) -> dict:
    """The DM tag group of the signal's image (rsciio puts it at ``ImageList.TagGroup0``)."""
    image_list = signal.get("original_metadata", {}).get("ImageList", {})
    return image_list.get("TagGroup0", {})


def _dm_is_spectral(signal: dict) -> bool:
    """True if DM tags mark the image as a spectrum, spectrum image or spectral data."""
    if signal.get("metadata", {}).get("Signal", {}).get("signal_type"):
        return True  # rsciio sets EELS, EDS_TEM or CL
    tags = _dm_image_tags(signal).get("ImageTags", {})
    meta_format = str(tags.get("Meta Data", {}).get("Format", ""))
    return meta_format.lower().startswith("spectrum") or "spim" in tags


def _dm_brightness_units(signal: dict) -> str | None:
    """Unit of DM's intensity (``Brightness``) calibration, if set."""
    calibrations = _dm_image_tags(signal).get("ImageData", {}).get("Calibrations", {})
    units = calibrations.get("Brightness", {}).get("Units")
    return str(units) if units else None


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
    size, pixel_attrs = _settle_pixel_size(raw.calibration, pixel_size_nm, source)
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

# Igor binary wave versions (the file's first two bytes, in either byte order).
_IBW_VERSIONS = (1, 2, 3, 5)

# Size in bytes of the version-5 binary header, before the wave header (TN003).
_IBW5_BIN_HEADER_BYTES = 64

# Units of Asylum Research channels by channel type (the name without "Trace"/"Retrace",
# lower case). Asylum saves heights and the (InvOLS-calibrated) amplitude in metres and
# phases in degrees; the .ibw itself carries a single data unit for all channels.
_ASYLUM_UNITS = {
    "height": "m",
    "zsensor": "m",
    "z": "m",
    "deflection": "m",
    "amplitude": "m",
    "amplitude1": "m",
    "current": "A",
    "frequency": "Hz",
    "potential": "V",
    "surfacepotential": "V",
    "bias": "V",
}


def _read_ibw(path: Path) -> RawImage:
    """Read an Igor binary wave, e.g. an Asylum Research AFM/PFM scan, with ``igor2``.

    Only the binary structure is parsed (``igor2.binarywave.load``); nothing is unpickled or
    executed.

    Orientation: Igor stores an image with x (the fast-scan axis) as its first dimension and
    y as its second, and shows it with y growing upward, as Asylum's software does. Here row
    0 is the top of the picture (y grows downward), so the stored wave ``w[x, y, channel]``
    becomes ``data[channel, ny - 1 - y, x]``: transposed and flipped up-down, it looks as it
    does in the instrument's software.

    Pixel size: the scan size over the pixel count along each axis, from the wave note's
    ``FastScanSize`` (x) and ``SlowScanSize`` (y) (else ``ScanSize``), which Asylum writes in
    metres. Without them, the wave's own x and y scaling (``sfA``, in its dimension units)
    is used. (Asylum's wave scaling spaces the points by scan size / (pixels - 1), 0.4 %
    larger for 256 pixels.)

    Channels: the layer labels of the third dimension name them (e.g. ``AmplitudeRetrace``);
    a 2-D wave is one channel named after the wave. Units: the .ibw carries one data unit for
    the whole wave, so each channel's unit follows Asylum's convention for its type (heights
    and amplitude in m, phases in deg, lateral channels in the note's ``LateralUnit``),
    falling back to the wave's data unit.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        ``data`` (channel, y, x) float32 with ``channel_names`` and ``channel_units``;
        ``attrs``: ``scan_size_m`` ([y, x] in metres, where known), ``channel_units_note``
        and ``wave_name``.
    """
    from igor2 import binarywave

    content = path.read_bytes()
    if len(content) < _IBW5_BIN_HEADER_BYTES:
        raise ValueError(f"the file is only {len(content)} bytes long, too short for a wave")
    versions = {int.from_bytes(content[:2], "little"), int.from_bytes(content[:2], "big")}
    if not versions & set(_IBW_VERSIONS):
        raise ValueError(
            f"the version field {content[:2].hex()} is not that of an Igor binary wave "
            f"(versions {', '.join(map(str, _IBW_VERSIONS))})"
        )
    # igor2 logs a damaged file's whole byte buffer before raising; the error is enough
    igor_logger = logging.getLogger("igor2")
    level = igor_logger.level
    igor_logger.setLevel(logging.CRITICAL)
    try:
        loaded = binarywave.load(BytesIO(content))
    finally:
        igor_logger.setLevel(level)
    version = int(loaded["version"])
    wave = loaded["wave"]
    header = wave["wave_header"]
    values = np.asarray(wave["wData"])
    if values.dtype.kind not in "biuf":
        kind = "text" if values.dtype.kind in "SUO" else f"dtype {values.dtype}"
        raise InputError(
            f"{path} holds a {kind} wave; expected real numbers (an image or image channels)"
        )
    if values.ndim not in (2, 3) or min(values.shape) < 1:
        raise InputError(
            f"{path} holds a wave of shape {values.shape}; expected an image (x, y) or image "
            "channels (x, y, channel)"
        )
    note = _parse_ibw_note(wave.get("note", b""))
    data_unit = _ibw_data_unit(wave, header)
    wave_name = _decode(header.get("bname", b""))

    if values.ndim == 2:
        values = values[:, :, np.newaxis]
        names = [wave_name or "channel0"]
    else:
        labels = []
        if version == 5:
            labels = _ibw_labels(content, wave["bin_header"], 2, values.shape[2])
        names = _unique_names(labels, values.shape[2])
    units = [_asylum_channel_unit(name, note, data_unit) for name in names]

    # (x, y, channel) -> (channel, y, x), then y flipped so that row 0 is the top
    data = np.ascontiguousarray(values.transpose(2, 1, 0)[:, ::-1, :], dtype=np.float32)
    nx, ny = values.shape[0], values.shape[1]
    cal, scan_size = _ibw_calibration(note, wave, version, ny, nx)
    attrs: dict[str, Any] = {
        "channel_units_note": (
            f"the file gives one data unit for all channels ({data_unit or 'none'}); each "
            "channel's unit follows Asylum Research's convention for its type"
        ),
    }
    if wave_name:
        attrs["wave_name"] = wave_name
    if scan_size is not None:
        attrs["scan_size_m"] = scan_size
    return RawImage(data, cal, None, attrs, channel_names=names, channel_units=units)


def _decode(raw: Any) -> str:
    """Bytes (or an array of single bytes, as igor2 gives) as text, NULs removed."""
    if isinstance(raw, np.ndarray):
        raw = b"".join(bytes(item) for item in raw.ravel())
    if isinstance(raw, str):
        return raw.split("\0", 1)[0].strip()
    raw = bytes(raw).split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace").strip()


def _parse_ibw_note(raw: Any) -> dict[str, str]:
    """The wave note's ``key: value`` lines as a dict (the first of a repeated key wins)."""
    if isinstance(raw, np.ndarray):
        raw = b"".join(bytes(item) for item in raw.ravel())
    raw = bytes(raw or b"")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    note: dict[str, str] = {}
    for line in re.split(r"\r\n|\r|\n", text):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            note.setdefault(key.strip(), value.strip())
    return note


def _note_float(note: dict[str, str], *keys: str) -> float | None:
    """The first of ``keys`` in the note that holds a positive finite number, else None."""
    for key in keys:
        try:
            value = float(note[key])
        except (KeyError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            return value
    return None


def _ibw_data_unit(wave: dict, header: dict) -> str:
    """The wave's data unit: the extended one where present, else the 4-byte field."""
    extended = _decode(wave.get("data_units", b""))
    return extended or _decode(header.get("dataUnits", b""))


def _ibw_dim_unit(wave: dict, dim: int) -> str:
    """The unit of dimension ``dim``: the extended one where present, else the short one."""
    header = wave["wave_header"]
    extended = wave.get("dimension_units", b"")
    sizes = [int(s) for s in wave["bin_header"].get("dimEUnitsSize", [])]
    if len(sizes) > dim and sizes[dim] > 0:  # igor2 gives all dimensions' units as one run
        start = sum(sizes[:dim])
        return _decode(bytes(extended)[start : start + sizes[dim]])
    short = header.get("dimUnits")
    if short is None:
        return ""
    short = np.asarray(short)
    return _decode(short[dim] if short.ndim == 2 else short)


def _ibw_labels(content: bytes, bin_header: dict, dim: int, count: int) -> list[str]:
    """Labels of the entries of dimension ``dim`` of a version-5 wave, read from the bytes.

    The labels follow the data, formula, note and extended units; each dimension's block
    holds ``count + 1`` fixed-width, NUL-terminated labels (the first names the dimension).
    They are read here because a label field may hold stale bytes after its NUL, which
    igor2 0.5 keeps.
    """
    sizes = [int(s) for s in bin_header.get("dimLabelsSize", [])]
    if len(sizes) <= dim or sizes[dim] <= 0:
        return []
    start = (
        _IBW5_BIN_HEADER_BYTES
        + int(bin_header["wfmSize"])
        + int(bin_header.get("formulaSize", 0))
        + int(bin_header.get("noteSize", 0))
        + int(bin_header.get("dataEUnitsSize", 0))
        + int(sum(bin_header.get("dimEUnitsSize", [])))
        + sum(sizes[:dim])
    )
    block = content[start : start + sizes[dim]]
    if len(block) != sizes[dim] or sizes[dim] % (count + 1):
        return []
    width = sizes[dim] // (count + 1)
    return [_decode(block[i * width : (i + 1) * width]) for i in range(1, count + 1)]


def _unique_names(labels: list[str], count: int) -> list[str]:
    """One distinct name per channel: the label, else ``channel<i>``; repeats get ``_<i>``."""
    names: list[str] = []
    for i in range(count):
        name = labels[i] if i < len(labels) and labels[i] else f"channel{i}"
        if name in names:
            name = f"{name}_{i}"
        names.append(name)
    return names


def _asylum_channel_unit(name: str, note: dict[str, str], data_unit: str) -> str:
    """Unit of an Asylum channel from its type (see :data:`_ASYLUM_UNITS`)."""
    base = re.sub(r"(retrace|trace)$", "", name.strip(), flags=re.IGNORECASE).lower()
    if "phase" in base:
        return "deg"
    if base.startswith("lat"):
        return note.get("LateralUnit") or data_unit
    return _ASYLUM_UNITS.get(base, data_unit)


def _ibw_calibration(
    note: dict[str, str], wave: dict, version: int, ny: int, nx: int
) -> tuple[Calibration | None, list[float] | None]:
    """Pixel size and scan size ([y, x] in metres) of an Igor image wave.

    From the note's scan sizes (metres) where given, else from the wave scaling.
    """
    fast = _note_float(note, "FastScanSize", "ScanSize")
    slow = _note_float(note, "SlowScanSize", "ScanSize")
    if fast is not None and slow is not None:
        return Calibration(slow / ny, fast / nx, "m", "m"), [slow, fast]
    if version != 5:
        return None, None
    scale = np.asarray(wave["wave_header"].get("sfA", [1.0, 1.0]), dtype=np.float64)
    unit_x = _ibw_dim_unit(wave, 0)
    unit_y = _ibw_dim_unit(wave, 1)
    cal = Calibration(float(abs(scale[1])), float(abs(scale[0])), unit_y, unit_x)
    size_y = length_to_nm(cal.scale_y * ny, unit_y)
    size_x = length_to_nm(cal.scale_x * nx, unit_x)
    scan = None if size_y is None or size_x is None else [size_y * 1e-9, size_x * 1e-9]
    return cal, scan


# ----------------------------------------------------------------------------------------
# Zarr (this project's own frames stores)
# ----------------------------------------------------------------------------------------


def _read_zarr(
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
    _check_image_array(ds["image"], source)  # its dtype and shape; the pixels stay unread
    if ds["image"].dtype != np.float32:
        ds["image"] = ds["image"].astype(np.float32)

    stored = ds.attrs.get("pixel_size_nm")
    cal = None
    if stored is not None and not _is_nan(stored):
        cal = Calibration(float(stored), float(stored), "nm", "nm")
    size, pixel_attrs = _settle_pixel_size(cal, pixel_size_nm, source)
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


_READERS: dict[str, tuple[Callable[[Path], RawImage], str]] = {
    ".npy": (_read_npy, "NumPy .npy"),
    ".tif": (_read_tiff, "TIFF"),
    ".tiff": (_read_tiff, "TIFF"),
    ".hspy": (_read_hspy, "HyperSpy HDF5"),
    ".hdf5": (_read_hspy, "HyperSpy HDF5"),
    ".h5": (_read_hspy, "HyperSpy HDF5"),
    ".dm3": (_read_dm, "Digital Micrograph"),
    ".dm4": (_read_dm, "Digital Micrograph"),
    ".emd": (_read_emd, "EMD"),
    ".ibw": (_read_ibw, ".ibw (Igor binary wave)"),
}
