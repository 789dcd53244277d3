"""TIFF images and stacks through RosettaSciIO's TIFF reader (``rsciio.tiff``, built on tifffile),
with the pixel size from the microscope vendor's tags, ImageJ or OME metadata.

rsciio knows the vendors' calibrations (FEI/Thermo Fisher ``FEI_HELIOS``/``FEI_SFEG``, Zeiss
``CZ_SEM``, TVIPS, Olympus SIS, JEOL SightX, Hamamatsu, Digital Micrograph's TIFF tags) but
drops the unit of an ImageJ file unless it is ``micron``, and reads no OME metadata: its axes
count where their unit is a length, and tifffile's ImageJ or OME metadata otherwise.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from .raw import Calibration, Exposure, RawImage, length_to_nm, time_to_s
from .rsciio import axes_calibration, dig, positive_number, signal_exposure


def read_tiff(path: Path) -> RawImage:
    """Read the first image series of a TIFF file.

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        Calibration from the vendor tags rsciio reads when they give a length unit, else
        from ImageJ metadata (``unit`` and XResolution/YResolution) or OME metadata
        (``PhysicalSizeX``/``Y``), else None. Frame time from ImageJ's ``finterval`` (in
        ``tunit``), OME's ``TimeIncrement``, or an FEI ``Scan.FrameTime``; the dwell time and
        beam current from FEI tags.

    Raises
    ------
    InputError
        For a colour (RGB) TIFF.
    """
    import tifffile
    from rsciio.tiff import file_reader

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        if "S" in series.axes:
            raise InputError(
                f"{path} is a colour (RGB) TIFF of shape {series.shape}, axes "
                f"{series.axes!r}; expected one grey-scale value per pixel"
            )
        tifffile_cal = _imagej_calibration(tif) or _ome_calibration(tif)
        tifffile_time = _imagej_frame_time(tif) or _ome_frame_time(tif)
    signal = file_reader(str(path))[0]
    cal = _vendor_calibration(signal) or tifffile_cal
    exposure = _tiff_exposure(signal, tifffile_time)
    return RawImage(np.asarray(signal["data"]), cal, exposure=exposure)


def _vendor_calibration(signal: dict) -> Calibration | None:
    """The calibration of rsciio's image axes where both units are lengths, else None."""
    if len(signal.get("axes") or []) < 2:
        return None
    cal = axes_calibration(signal["axes"])
    if length_to_nm(1.0, cal.unit_y) is None or length_to_nm(1.0, cal.unit_x) is None:
        return None
    return cal


def _tiff_exposure(signal: dict, tifffile_time: tuple[float, str] | None) -> Exposure:
    """The exposure rsciio's mapped metadata give, the frame time from tifffile's or FEI's."""
    exposure = signal_exposure(signal)
    original = signal.get("original_metadata") or {}
    fei_frame = positive_number(dig(original, "fei_metadata.Scan.FrameTime"))
    if exposure.frame_time_s is None and tifffile_time is not None:
        exposure.frame_time_s, exposure.frame_time_from = tifffile_time
    elif exposure.frame_time_s is None and fei_frame is not None:
        exposure.frame_time_s = fei_frame
        exposure.frame_time_from = f"FEI Scan.FrameTime ({fei_frame:g} s)"
    return exposure


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


def _imagej_frame_time(tif: Any) -> tuple[float, str] | None:
    """Seconds per frame of an ImageJ stack: ``finterval`` in ``tunit`` (ImageJ's default: s)."""
    meta = tif.imagej_metadata or {}
    interval = positive_number(meta.get("finterval"))
    if interval is None:
        return None
    unit = str(meta.get("tunit") or "s")
    seconds = time_to_s(interval, unit)
    return None if seconds is None else (seconds, f"ImageJ finterval ({interval:g} {unit})")


def _per_pixel(resolution: Any) -> float | None:
    """Size of one pixel from a TIFF resolution (pixels per unit, often a fraction)."""
    if isinstance(resolution, tuple):
        numerator, denominator = resolution
        return float(denominator) / numerator if numerator else None
    return 1.0 / float(resolution) if resolution else None


def _ome_pixels(tif: Any) -> Any:
    """The first ``Pixels`` element of an OME-TIFF's metadata, or None."""
    if not tif.is_ome or not tif.ome_metadata:
        return None
    root = ET.fromstring(tif.ome_metadata)
    return next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"), None)


def _ome_calibration(tif: Any) -> Calibration | None:
    """Pixel size of an OME-TIFF from the first ``Pixels`` element."""
    pixels = _ome_pixels(tif)
    if pixels is None or "PhysicalSizeX" not in pixels.attrib:
        return None
    scale_x = float(pixels.attrib["PhysicalSizeX"])
    scale_y = float(pixels.attrib.get("PhysicalSizeY", scale_x))
    # The OME schema's default unit is the micrometre.
    unit_x = pixels.attrib.get("PhysicalSizeXUnit", "µm")
    unit_y = pixels.attrib.get("PhysicalSizeYUnit", "µm")
    return Calibration(scale_y, scale_x, unit_y, unit_x)


def _ome_frame_time(tif: Any) -> tuple[float, str] | None:
    """Seconds per frame of an OME-TIFF: ``TimeIncrement`` in ``TimeIncrementUnit`` (default s)."""
    pixels = _ome_pixels(tif)
    if pixels is None:
        return None
    increment = positive_number(pixels.attrib.get("TimeIncrement"))
    if increment is None:
        return None
    unit = pixels.attrib.get("TimeIncrementUnit", "s")
    seconds = time_to_s(increment, unit)
    return None if seconds is None else (seconds, f"OME TimeIncrement ({increment:g} {unit})")
