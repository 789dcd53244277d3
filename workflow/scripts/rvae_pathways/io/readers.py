"""Microscope files in, a frames Dataset (see :mod:`rvae_pathways.core.frames`) or a scan's channels out.

:func:`read_frames` picks a reader by the file's suffix (case-insensitive); each format family
has its module in this package (``npy``, ``tiff``, ``rsciio``, ``igor``, ``zarr_frames``; what
they return and how the pixel size is settled: ``raw``):

======================  ========================================================
suffix                  reader
======================  ========================================================
``.npy``                :func:`numpy.load`, memory-mapped (plain numeric arrays only)
``.tif``, ``.tiff``     ``rsciio.tiff`` (tifffile): pixel size from vendor tags (FEI/Thermo
                        Fisher, Zeiss, TVIPS, Olympus SIS, JEOL, Hamamatsu, DM), else ImageJ
                        or OME metadata
``.hspy``, ``.hdf5``,   HyperSpy HDF5 (``rsciio.hspy``)
``.h5``
``.dm3``, ``.dm4``      Gatan Digital Micrograph (``rsciio.digitalmicrograph``)
``.emd``                Velox or NCEM EMD (``rsciio.emd``)
``.ser``, ``.emi``      FEI/Thermo Fisher TIA (``rsciio.tia``); an ``.emi`` reads the
                        ``<name>_1.ser`` beside it, with the microscope's metadata
``.mrc``                MRC (``rsciio.mrc``), sections along z as frames
``.prz``                CEOS Panta Rhei (``rsciio.pantarhei``); metadata only as JSON
                        (Panta Rhei 24.03 on): pickled metadata are never loaded
``.ibw``                Igor binary wave, e.g. an Asylum Research AFM/PFM scan
                        (``igor2``); a multi-channel scan: :func:`read_scan`
``.zarr``               a frames Dataset this project wrote (``xarray.open_zarr``)
======================  ========================================================

Every reader first produces a :class:`RawImage` (pixels, the file's spatial calibration as
written, the intensity unit, the :class:`~.raw.Exposure`: frame time, dwell time and beam
current where the file states them); :func:`read_frames` then settles the pixel size, the frame
time and the dose per frame (:func:`~.raw.settle_exposure`), builds the Dataset with
:func:`~rvae_pathways.core.frames.make_frames` and checks it with
:func:`~rvae_pathways.core.frames.checked_frames` (which can drop unusable frames). Whatever is
wrong with the input is raised as an :class:`~rvae_pathways.core.errors.InputError` that says
what to change.

Multi-channel scans (:data:`SCAN_SUFFIXES`) have no one image: :func:`read_scan` returns every
channel as read, and turning them into frames is the modality's physics (for PFM,
:func:`rvae_pathways.pfm.piezoresponse.pfm_frames`; :func:`rvae_pathways.pfm.piezoresponse.read_pfm_frames`
reads any PFM file into frames).

Memory: a ``.npy`` file and a ``.zarr`` store are read on demand. The Dataset's ``image`` is
then lazy: :func:`~rvae_pathways.core.frames.check_frames` and
:func:`~rvae_pathways.core.frames.write_frames` read one frame at a time, so loading a movie of any
length holds about one frame (see :class:`MappedFrames`). The other readers (TIFF through
rosettasciio and tifffile, the other rosettasciio formats, Igor waves through igor2) read the
whole file into memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import xarray as xr
from xarray.core import indexing

from ..core.errors import InputError, table_number
from ..core.vocabulary import ACQUISITION_UNITS
from ..core.frames import MODALITIES, SKIP_BAD_FRAMES, checked_frames, make_frames, set_acquisition
from .igor import read_ibw
from .npy import MappedFrames, read_npy
from .raw import RawImage, check_image_array, settle_exposure, settle_pixel_size
from .rsciio import read_dm, read_emd, read_hspy, read_mrc, read_prz, read_tia
from .suffixes import SCAN_SUFFIXES, SUPPORTED_SUFFIXES
from .tiff import read_tiff
from .zarr_frames import read_zarr



# ----------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------


def read_frames(
    path: str | Path,
    pixel_size_nm: float | None = None,
    modality: str = "stem",
    frame_time_s: float | None = None,
    dose_e_per_A2_per_frame: float | None = None,
    skip_bad_frames: bool = SKIP_BAD_FRAMES,
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
    frame_time_s : float, optional
        Seconds per frame from the samples table; overrides the file's. None or NaN: the
        file's, where it states one.
    dose_e_per_A2_per_frame : float, optional
        Electron dose per frame (e/Å²) from the samples table; overrides the file's. None or
        NaN: derived from the file's beam current where it states one.
    skip_bad_frames : bool
        Drop unusable frames instead of refusing the file
        (:func:`rvae_pathways.core.frames.checked_frames`).

    Returns
    -------
    xarray.Dataset
        ``image`` (frame, y, x) float32, with attrs ``pixel_size_nm``, ``pixel_size_source``
        (``"file"`` or ``"samples table"``), ``intensity_units``, ``source`` (``path`` as
        given) and ``modality``; some readers add ``signal``, ``pixel_size_file``,
        ``pixel_size_note`` or ``metadata_note``. Where known (given, or in the file):
        ``frame_time_s`` and ``frame_time_source``, ``dose_e_per_A2_per_frame`` and
        ``dose_source`` (``"file"`` or ``"samples table"``), with ``frame_time_note`` and
        ``dose_note`` saying how the file's were found, and the file's ``dwell_time_s`` and
        ``beam_current_nA`` (see :func:`~.raw.settle_exposure`); what is unknown is absent.
        A ``.zarr`` store keeps all its variables and attrs.
        The ``image`` of a ``.npy`` file or a ``.zarr`` store is read on demand (the file
        must stay in place while the Dataset is used); the other formats are read whole.

    Raises
    ------
    InputError
        If the file is missing, of an unsupported type, a multi-channel scan (see
        :func:`read_scan`), unreadable, not an image or image stack, of unknown pixel size,
        or has NaN, infinite or constant frames; or a samples-table value is not a (positive)
        number.

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
    frame_time_s = table_number(frame_time_s, "frame_time_s", ACQUISITION_UNITS["frame_time_s"], positive=True)
    dose = table_number(dose_e_per_A2_per_frame, "dose_e_per_A2_per_frame", ACQUISITION_UNITS["dose_e_per_A2_per_frame"],
                        positive=True)

    if suffix == ".zarr":
        frames = read_zarr(path_obj, str(path), pixel_size_nm, modality)
        set_acquisition(frames, "samples table", frame_time_s, dose)
    else:
        reader, format_name = _READERS[suffix]
        raw = _call_reader(reader, path_obj, str(path), format_name)
        frames = _to_frames(raw, str(path), pixel_size_nm, modality)
        frames.attrs.update(
            settle_exposure(
                raw.exposure,
                frames.attrs["pixel_size_nm"],
                (frames.sizes["y"], frames.sizes["x"]),
                frame_time_s,
                dose,
            )
        )
    return checked_frames(frames, skip_bad_frames)


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
    return table_number(value, "pixel_size_nm", "nm")


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
    ".ser": (read_tia, "FEI TIA"),
    ".emi": (read_tia, "FEI TIA"),
    ".mrc": (read_mrc, "MRC"),
    ".prz": (read_prz, "Panta Rhei"),
    ".ibw": (read_ibw, ".ibw (Igor binary wave)"),
}
