"""HyperSpy, Digital Micrograph and EMD files through RosettaSciIO."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import InputError
from .raw import Calibration, RawImage


def read_hspy(path: Path) -> RawImage:
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


def read_dm(path: Path) -> RawImage:
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


def read_emd(path: Path) -> RawImage:
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
