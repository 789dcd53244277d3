"""TIFF stacks through tifffile, with the pixel size from ImageJ or OME metadata."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from .raw import Calibration, RawImage


def read_tiff(path: Path) -> RawImage:
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
