"""Files read through RosettaSciIO: HyperSpy, Digital Micrograph, EMD, FEI TIA, MRC and Panta Rhei,
and what their metadata say of the frame time and the beam (see :class:`~.raw.Exposure`).

Each reader returns rsciio's signal dictionaries (``data``, ``axes`` in array order,
``metadata``, ``original_metadata`` and a ``mapping`` from the original metadata to HyperSpy's
names); :func:`from_signals` picks the image among them and wraps it in a
:class:`~.raw.RawImage`. HyperSpy applies the mapping when it loads a file; rsciio alone does not,
so :func:`mapped_metadata` does.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..core.errors import InputError
from .raw import Calibration, Exposure, RawImage, time_to_s


def read_hspy(path: Path) -> RawImage:
    """Read a HyperSpy HDF5 file (``.hspy``, ``.hdf5``, ``.h5``) with ``rsciio.hspy``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        The first image signal; its unit of intensity from ``metadata.Signal.quantity``
        (HyperSpy writes e.g. ``"Intensity (counts)"``); the exposure from the stack's time
        axis and ``metadata.Acquisition_instrument`` (see :func:`signal_exposure`).
    """
    from rsciio.hspy import file_reader

    return from_signals(file_reader(str(path)), path, _quantity_units)


def read_dm(path: Path) -> RawImage:
    """Read a Gatan Digital Micrograph file (``.dm3``, ``.dm4``) with rsciio.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        The first image that is not a thumbnail; spectra and spectrum images are refused.
        The unit of intensity is the ``Brightness`` calibration's; the exposure from the tags
        rsciio maps (DigiScan ``Sample Time``, ``Microscope Info`` probe current and
        illumination mode, the camera exposure).
    """
    from rsciio.digitalmicrograph import file_reader

    signals = file_reader(str(path))
    for signal in signals:
        if _dm_is_spectral(signal):
            refused = "a spectrum image" if np.ndim(signal["data"]) > 1 else "a spectrum"
            signal["_refused_as"] = refused
    return from_signals(signals, path, _dm_brightness_units)


def read_emd(path: Path) -> RawImage:
    """Read an EMD file (Velox or NCEM) with ``rsciio.emd``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        Among the image signals, the first whose title names HAADF, else the first; its
        title goes to ``attrs["signal"]``. A Velox file's ``Scan`` metadata give the frame
        and dwell times.
    """
    from rsciio.emd import file_reader

    # rsciio 0.15 spells the Velox image selection "images" (its docstring says "image").
    # Selecting images also skips the EDS spectrum stream, which needs the `sparse` package.
    signals = file_reader(str(path), select_type="images")
    return from_signals(signals, path, lambda s: None, _velox_exposure)


def read_tia(path: Path) -> RawImage:
    """Read an FEI/Thermo Fisher TIA file (``.ser``, or the ``.emi`` beside its ``_1.ser``...) with
    ``rsciio.tia``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        The first image signal (of the first ``.ser`` for an ``.emi``). An ``.emi`` adds the
        microscope's metadata: its acquisition ``DwellTimePath`` is the pixel dwell time of a
        STEM scan, or else the camera exposure (the frame time). A ``.ser`` series calibrated
        in a time unit gives the frame time.
    """
    from rsciio.tia import file_reader

    if path.suffix.lower() == ".emi" and not sorted(path.parent.glob(f"{path.stem}_[0-9].ser")):
        raise InputError(
            f"{path}: no TIA series file {path.stem}_1.ser beside it; the .emi holds only the "
            "metadata, the pixels are in the .ser files: keep them in the same folder"
        )
    return from_signals(file_reader(str(path)), path, lambda s: None, _tia_exposure)


def read_mrc(path: Path) -> RawImage:
    """Read an MRC file (``.mrc``) with ``rsciio.mrc``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        The image or stack (sections along z are frames). The pixel size is the cell length
        over the sampling (``Xlen / MX``, in Å) of the standard header, or the ``pixel_size``
        of an FEI extended header, whose ``exp_time`` gives the frame time; a header with no
        cell length gives no calibration.
    """
    from rsciio.mrc import file_reader

    signals = file_reader(str(path))
    for signal in signals:
        if not _mrc_is_calibrated(signal):
            for axis in signal["axes"]:
                axis.update(scale=1.0, units=None)
    return from_signals(signals, path, lambda s: None)


def read_prz(path: Path) -> RawImage:
    """Read a CEOS Panta Rhei file (``.prz``) with ``rsciio.pantarhei``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        The image or stack with its calibration. Panta Rhei before 24.03 stored the metadata
        (the calibration with them) as pickled Python objects, which are never loaded here:
        such a file reads uncalibrated, with ``attrs["metadata_note"]`` saying why.

    Raises
    ------
    InputError
        If the suffix is not the lower-case ``.prz`` rsciio requires.
    """
    from rsciio.pantarhei import file_reader

    if path.suffix != ".prz":
        raise InputError(
            f"{path}: Panta Rhei files are read only with the suffix '.prz' in lower case; "
            "rename the file"
        )
    raw = from_signals(file_reader(str(path), allow_restricted_pickle=False), path, lambda s: None)
    if not _prz_has_json_metadata(path):
        raw.attrs["metadata_note"] = (
            "the file's metadata are pickled Python objects (Panta Rhei before 24.03) and were "
            "not read: set pixel_size_nm in the samples table, or export the data again from a "
            "newer Panta Rhei (or as .hspy)"
        )
    return raw


# ----------------------------------------------------------------------------------------
# Signal dictionaries to a RawImage
# ----------------------------------------------------------------------------------------


def from_signals(
    signals: list[dict],
    path: Path,
    intensity_units: Callable[[dict], str | None],
    exposure: Callable[[dict], Exposure] | None = None,
) -> RawImage:
    """Pick the image signal from rsciio's signal dictionaries and wrap it.

    Parameters
    ----------
    signals : list of dict
        rsciio's reader output: ``data``, ``axes`` (in array order), ``metadata``, ...
    path : Path
    intensity_units : callable
        Finds the unit of intensity in one signal dictionary.
    exposure : callable, optional
        Finds the exposure in one signal dictionary; :func:`signal_exposure` by default.

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
    attrs = {}
    if len(signals) > 1 or _title(signal):
        attrs["signal"] = _title(signal) or f"signal {index}"
    return RawImage(
        np.asarray(signal["data"]),
        axes_calibration(signal["axes"]),
        intensity_units(signal),
        attrs,
        exposure=(exposure or signal_exposure)(signal),
    )


def axes_calibration(axes: list[dict]) -> Calibration:
    """The calibration of the last two (image) axes of rsciio's axes dictionaries."""
    y_axis, x_axis = axes[-2:]
    return Calibration(
        float(y_axis.get("scale", 1.0)),
        float(x_axis.get("scale", 1.0)),
        str(y_axis.get("units") or ""),
        str(x_axis.get("units") or ""),
    )


# ----------------------------------------------------------------------------------------
# Exposure: frame time, dwell time, beam current
# ----------------------------------------------------------------------------------------


def mapped_metadata(signal: dict) -> dict:
    """The signal's metadata with rsciio's ``mapping`` applied, as HyperSpy does on loading.

    Parameters
    ----------
    signal : dict
        One rsciio signal dictionary; its ``mapping`` (if any) has entries
        ``"dotted.key.in.original_metadata": ("Dotted.key.in.metadata", convert or None)``.

    Returns
    -------
    dict
        A new nested dict: ``metadata`` with each mapped value added (converted where the
        mapping says; a value whose conversion fails is left out).
    """
    out = _nested_copy(signal.get("metadata") or {})
    original = signal.get("original_metadata") or {}
    for source, target in (signal.get("mapping") or {}).items():
        value = dig(original, source)
        if value is None:
            continue
        key, convert = (target, None) if isinstance(target, str) else (target[0], target[1])
        if convert is not None:
            try:
                value = convert(value)
            except Exception:  # rsciio's converters raise many types for odd values
                continue
        _put(out, key, value)
    return out


def signal_exposure(signal: dict) -> Exposure:
    """What a signal's metadata (HyperSpy's names, after :func:`mapped_metadata`) say of the exposure.

    - frame time: the stack's first axis when it is calibrated in a time unit, else the
      camera exposure (``Acquisition_instrument.<TEM|SEM>.Detector.Camera.exposure`` or
      ``.Camera.exposure``, seconds);
    - ``dwell_time`` (seconds) and ``beam_current`` (nA) of ``Acquisition_instrument.TEM``
      (or ``.SEM``);
    - a parallel beam where ``acquisition_mode`` is ``"TEM"``, or where a camera exposure is
      stated and the mode is not ``"STEM"``.

    Parameters
    ----------
    signal : dict

    Returns
    -------
    Exposure
    """
    instrument = _instrument(mapped_metadata(signal))
    mode = str(instrument.get("acquisition_mode") or "").upper()
    camera = positive_number(dig(instrument, "Detector.Camera.exposure"))
    if camera is None:
        camera = positive_number(dig(instrument, "Camera.exposure"))
    frame_time, frame_from = time_axis_step(signal)
    if frame_time is None and camera is not None:
        frame_time, frame_from = camera, f"camera exposure ({camera:g} s)"
    return Exposure(
        frame_time_s=frame_time,
        frame_time_from=frame_from,
        dwell_time_s=positive_number(instrument.get("dwell_time")),
        beam_current_nA=positive_number(instrument.get("beam_current")),
        parallel_beam=mode == "TEM" or (camera is not None and mode != "STEM"),
    )


def time_axis_step(signal: dict) -> tuple[float | None, str]:
    """Seconds per frame from a stack's first axis when its unit is a time, and how it was found.

    Returns
    -------
    seconds : float or None
        None for a 2-D image or a stack axis in no time unit.
    description : str
        E.g. ``"time axis (500 ms per frame)"``; empty when ``seconds`` is None.
    """
    axes = signal.get("axes") or []
    if np.ndim(signal.get("data")) != 3 or len(axes) != 3:
        return None, ""
    axis = axes[0]
    unit = str(axis.get("units") or "")
    scale = positive_number(axis.get("scale"))
    seconds = time_to_s(scale, unit) if scale is not None else None
    if seconds is None:
        return None, ""
    return seconds, f"time axis ({scale:g} {unit} per frame)"


def positive_number(value: Any) -> float | None:
    """``value`` as a positive finite float (the first element of an array), else None."""
    if isinstance(value, (list, tuple, np.ndarray)):
        flat = np.ravel(np.asarray(value, dtype=object))
        value = flat[0] if flat.size else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def dig(tree: Any, dotted: str) -> Any:
    """The value at a dotted key path in nested dicts (``"a.b.c"``), or None if absent."""
    node = tree
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _put(tree: dict, dotted: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``dotted`` ``"a.b.c"``, making the groups on the way."""
    *groups, last = dotted.split(".")
    node = tree
    for key in groups:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value


def _nested_copy(tree: dict) -> dict:
    """A copy of nested dicts (the leaves shared)."""
    return {k: _nested_copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


def _instrument(metadata: dict) -> dict:
    """``Acquisition_instrument.TEM`` (else ``.SEM``) of HyperSpy metadata; {} if neither."""
    group = metadata.get("Acquisition_instrument") or {}
    for name in ("TEM", "SEM"):
        if isinstance(group.get(name), dict):
            return group[name]
    return {}


def _velox_exposure(signal: dict) -> Exposure:
    """:func:`signal_exposure`, then a Velox file's ``Scan.FrameTime`` and ``Scan.DwellTime`` (s)."""
    exposure = signal_exposure(signal)
    scan = dig(signal.get("original_metadata") or {}, "Scan") or {}
    frame_time = positive_number(scan.get("FrameTime"))
    if exposure.frame_time_s is None and frame_time is not None:
        exposure.frame_time_s = frame_time
        exposure.frame_time_from = f"Velox Scan.FrameTime ({frame_time:g} s)"
        exposure.parallel_beam = False
    dwell = positive_number(scan.get("DwellTime"))
    if exposure.dwell_time_s is None and dwell is not None:
        exposure.dwell_time_s = dwell
    return exposure


def _tia_exposure(signal: dict) -> Exposure:
    """:func:`signal_exposure`, reading TIA's ``DwellTimePath`` as a pixel dwell time in STEM.

    rsciio maps ``ObjectInfo.AcquireInfo.DwellTimePath`` to the camera exposure; for a STEM
    image (``ExperimentalDescription.Mode`` names STEM) acquired with no camera
    (``AcquireInfo.CameraNamePath`` absent) it is the time on each pixel.
    """
    exposure = signal_exposure(signal)
    info = dig(signal.get("original_metadata") or {}, "ObjectInfo") or {}
    mode = str(dig(info, "ExperimentalDescription.Mode") or "")
    dwell = positive_number(dig(info, "AcquireInfo.DwellTimePath"))
    camera = dig(info, "AcquireInfo.CameraNamePath")
    if "STEM" in mode.upper() and not camera and dwell is not None:
        exposure.dwell_time_s = dwell
        exposure.parallel_beam = False
        if exposure.frame_time_from.startswith("camera exposure"):
            exposure.frame_time_s, exposure.frame_time_from = None, ""
    return exposure


# ----------------------------------------------------------------------------------------
# Choosing the image signal
# ----------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------
# Format details
# ----------------------------------------------------------------------------------------


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


def _mrc_is_calibrated(signal: dict) -> bool:
    """False when an MRC header gives no pixel size (cell length or sampling zero, no FEI header).

    rsciio then still labels the axes 1 nm per pixel.
    """
    original = signal.get("original_metadata") or {}
    if positive_number(dig(original, "fei_header.pixel_size")) is not None:
        return True
    header = original.get("std_header") or {}
    return all(positive_number(header.get(key)) for key in ("Xlen", "Ylen", "MX", "MY"))


def _prz_has_json_metadata(path: Path) -> bool:
    """True if a ``.prz`` (a NumPy ``.npz`` archive) stores its metadata as JSON."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return "meta_data_json.npy" in archive.namelist()
