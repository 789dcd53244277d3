"""What every reader returns (the pixels, the spatial calibration as the file wrote it, the
intensity unit, the timing and beam of the acquisition), lengths and times in the units files use,
the electron dose, and how the pixel size, frame time and dose are settled between the file and
the samples table."""

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
class Exposure:
    """Timing and beam of an acquisition as the file states them; None where it does not.

    Attributes
    ----------
    frame_time_s : float or None
        Seconds per frame: a time axis of the stack, a frame time or a camera exposure.
    frame_time_from : str
        What in the file gave ``frame_time_s`` (for ``attrs["frame_time_note"]``).
    dwell_time_s : float or None
        Seconds the probe stays on one pixel of a scan.
    beam_current_nA : float or None
        Beam (probe) current in nA.
    parallel_beam : bool
        True when the file says conventional TEM (parallel illumination): the beam then spreads
        beyond the field of view, and its current gives no dose.
    """

    frame_time_s: float | None = None
    frame_time_from: str = ""
    dwell_time_s: float | None = None
    beam_current_nA: float | None = None
    parallel_beam: bool = False


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
    exposure : Exposure
        Frame time, dwell time and beam current where the file states them (see
        :func:`settle_exposure`).
    """

    data: np.ndarray
    calibration: Calibration | None = None
    intensity_units: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    channel_names: list[str] | None = None
    channel_units: list[str] | None = None
    exposure: Exposure = field(default_factory=Exposure)


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


# Seconds per unit of time, keyed by the lower-cased unit as files spell it.
_S_PER_UNIT = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), 1e-3),
    **dict.fromkeys(("us", "µs", "μs", "usec", "microsecond", "microseconds"), 1e-6),
    **dict.fromkeys(("ns", "nsec", "nanosecond", "nanoseconds"), 1e-9),
    **dict.fromkeys(("min", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600.0),
}

ELEMENTARY_CHARGE_C = 1.602176634e-19
"""The elementary charge in coulombs (exact in the SI)."""


def time_to_s(value: float, unit: str) -> float | None:
    """Convert a time to seconds.

    Parameters
    ----------
    value : float
    unit : str
        A time unit as files write it: s/sec, ms, µs/us, ns, min, h (any case).

    Returns
    -------
    float or None
        None when ``unit`` is not a known time unit.
    """
    factor = _S_PER_UNIT.get(str(unit).strip().lower())
    return None if factor is None else float(value) * factor


def dose_e_per_A2(beam_current_nA: float, time_s: float, area_nm2: float) -> float:
    """Electron dose in electrons per square ångström: ``I t / (e A)``.

    Parameters
    ----------
    beam_current_nA : float
        Beam current ``I`` in nA.
    time_s : float
        Time ``t`` the beam spends on the area, in seconds (a frame time, or a pixel's dwell
        time times the number of pixels).
    area_nm2 : float
        Area ``A`` the electrons spread over, in nm² (1 nm² = 100 Å²).

    Returns
    -------
    float
        Electrons per Å²; e.g. 1 nA for 1 s over 1 nm² gives about 6.24e7.
    """
    electrons = beam_current_nA * 1e-9 * time_s / ELEMENTARY_CHARGE_C
    return electrons / (area_nm2 * 100.0)


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


def settle_exposure(
    exposure: Exposure,
    pixel_size_nm: float,
    frame_shape: tuple[int, int],
    frame_time_s: float | None = None,
    dose_e_per_A2_per_frame: float | None = None,
) -> dict[str, Any]:
    """Choose the frame time and the dose per frame: the samples table's if given, else the file's.

    The file's frame time is its own (:attr:`Exposure.frame_time_s`), else the dwell time times
    the pixels of a frame (no flyback counted). The file's dose is derived (with
    :func:`dose_e_per_A2`) from its beam current, unless it says the beam was parallel (TEM):
    the current times the dwell time over one pixel's area, else times the frame time (the one
    chosen here) over the field of view. What is not known stays out of the attrs.

    Parameters
    ----------
    exposure : Exposure
        What the file states.
    pixel_size_nm : float
        The pixel size as settled (:func:`settle_pixel_size`).
    frame_shape : (int, int)
        Pixels of one frame, (y, x).
    frame_time_s, dose_e_per_A2_per_frame : float or None
        From the samples table (see :func:`~rvae_pathways.core.errors.table_number`); None where not given.

    Returns
    -------
    dict
        ``frame_time_s`` and ``frame_time_source`` (``"file"`` or ``"samples table"``),
        ``dose_e_per_A2_per_frame`` and ``dose_source`` where known; ``frame_time_note`` and
        ``dose_note`` saying what in the file they come from; the file's ``dwell_time_s`` and
        ``beam_current_nA`` where stated.
    """
    attrs: dict[str, Any] = {}
    n_pixels = int(frame_shape[0]) * int(frame_shape[1])
    dwell = exposure.dwell_time_s
    if dwell is not None:
        attrs["dwell_time_s"] = float(dwell)
    if exposure.beam_current_nA is not None:
        attrs["beam_current_nA"] = float(exposure.beam_current_nA)

    time, time_text = exposure.frame_time_s, exposure.frame_time_from
    if time is None and dwell is not None:
        time, time_text = dwell * n_pixels, f"dwell time {dwell:g} s x {n_pixels} pixels"
    if frame_time_s is not None:
        attrs.update(frame_time_s=float(frame_time_s), frame_time_source="samples table")
    elif time is not None:
        attrs.update(frame_time_s=float(time), frame_time_source="file")
        attrs["frame_time_note"] = f"from the file's {time_text}"

    if dose_e_per_A2_per_frame is not None:
        attrs.update(
            dose_e_per_A2_per_frame=float(dose_e_per_A2_per_frame), dose_source="samples table"
        )
        return attrs
    current = exposure.beam_current_nA
    if current is None or exposure.parallel_beam:
        return attrs
    if dwell is not None:
        dose = dose_e_per_A2(current, dwell, pixel_size_nm**2)
        how = f"dwell time {dwell:g} s over one pixel of {pixel_size_nm:g} nm"
    elif "frame_time_s" in attrs:
        dose = dose_e_per_A2(current, attrs["frame_time_s"], n_pixels * pixel_size_nm**2)
        how = (
            f"frame time {attrs['frame_time_s']:g} s ({attrs['frame_time_source']}) over the "
            f"field of view, {frame_shape[0]} x {frame_shape[1]} pixels of {pixel_size_nm:g} nm"
        )
    else:
        return attrs
    attrs.update(dose_e_per_A2_per_frame=dose, dose_source="file")
    attrs["dose_note"] = f"the file's beam current {current:g} nA x {how}"
    return attrs
