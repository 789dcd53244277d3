"""What every reader returns (the pixels, the spatial calibration as the file wrote it, the
intensity unit), lengths in the units files use, and how the pixel size is settled between the
file and the samples table."""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.frames import array_or_lazy

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
        on demand, a frame at a time (see :func:`~rvae_pathways.io.readers.read_frames`).
    calibration : Calibration or None
        The file's spatial calibration, None when the format or file has none.
    intensity_units : str or None
        Unit of the pixel values where the file states one.
    attrs : dict
        Extra attributes for the Dataset (e.g. ``signal``, the signal chosen from several).
    channel_names : list of str or None
        For a multi-channel scan (e.g. PFM): one name per channel; ``data`` is then (channel,
        y, x), read by :func:`~rvae_pathways.io.readers.read_scan` into ``channel_image``.
    channel_units : list of str or None
        With ``channel_names``: each channel's unit (``""`` where unknown).
    """

    data: np.ndarray
    calibration: Calibration | None = None
    intensity_units: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    channel_names: list[str] | None = None
    channel_units: list[str] | None = None


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


# Relative difference above which y and x pixel sizes count as different.
_SQUARE_TOLERANCE = 1e-3


def is_nan(value: Any) -> bool:
    """True for a float NaN; False for anything else (including non-numbers)."""
    try:
        return math.isnan(value)
    except TypeError:
        return False


def check_image_array(data: np.ndarray, source: str) -> np.ndarray:
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
    if data.ndim == 3 and data.shape[2] in (3, 4) and min(data.shape[:2]) >= 8:
        # frames 3 or 4 px wide do not exist; a colour image (y, x, channel) does
        raise InputError(
            f"{source} holds an array of shape {data.shape}: a colour ({'RGB' if data.shape[2] == 3 else 'RGBA'}) "
            f"image of {data.shape[0]} x {data.shape[1]} px, not {data.shape[0]} frames of "
            f"{data.shape[1]} x {data.shape[2]} px; expected grey scale: convert it to grey scale first "
            "(or give a stack of frames as (frame, y, x))"
        )
    return data


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


def settle_pixel_size(
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
