"""Writers of small, valid microscope files for the reader tests.

RosettaSciIO can read Digital Micrograph and Velox files but cannot write them, so this module
builds them from their published layouts:

- Digital Micrograph 3 and 4 (``.dm3``/``.dm4``): a big-endian header, then a tree of tag
  groups and typed data tags; image pixels are stored little-endian under
  ``ImageList/<n>/ImageData/Data``.
- Velox EMD (``.emd``): HDF5 with a JSON ``Version`` dataset and one group per signal under
  ``Data/Image/<uuid>/`` holding ``Data`` (y, x, frame) and ``Metadata`` (the JSON metadata as
  bytes in a ``uint8`` column).

HyperSpy (``.hspy``) files are written by ``rsciio.hspy.file_writer`` and TIFF by ``tifffile``;
the helpers here only fill in what those writers need.
"""

from __future__ import annotations

import json
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

# ----------------------------------------------------------------------------------------
# Digital Micrograph
# ----------------------------------------------------------------------------------------

# Tag-type codes of the DM tag format, with the struct letter of each simple type.
_DM_SIMPLE = {
    "int16": (2, "h"),
    "int32": (3, "i"),
    "uint16": (4, "H"),
    "uint32": (5, "I"),
    "float32": (6, "f"),
    "float64": (7, "d"),
    "bool": (8, "?"),
    "int8": (10, "b"),
    "int64": (11, "q"),
    "uint64": (12, "Q"),
}
_DM_ARRAY = 20
_DM_GROUP_TAG = 20
_DM_DATA_TAG = 21

# ImageData/DataType codes of DM for the pixel types the tests use.
_DM_IMAGE_TYPE = {"int16": 1, "float32": 2, "int32": 7, "uint16": 10, "float64": 12}


@dataclass
class Scalar:
    """A DM data tag holding one number of a given numpy type name (e.g. ``"float32"``)."""

    value: Any
    kind: str


class Group(list):
    """A DM tag group: a list of ``(name, value)`` pairs; an empty name means unnamed.

    Values are :class:`Group`, :class:`Scalar`, ``str`` (stored as a UTF-16 array, as DM
    does) or a numpy array (stored as an array of its element type).
    """


def _dm_int(version: int, value: int) -> bytes:
    """The big-endian length/count field: 4 bytes in DM3, 8 bytes in DM4."""
    return struct.pack(">i" if version == 3 else ">q", value)


def _dm_data_tag(version: int, info: list[int], payload: bytes) -> bytes:
    """Body of a data tag: the ``%%%%`` mark, the type description, then the value bytes."""
    body = b"%%%%" + _dm_int(version, len(info)) + b"".join(_dm_int(version, i) for i in info)
    body += payload
    if version == 4:
        body = struct.pack(">q", len(body)) + body  # DM4 stores each tag's size first
    return body


def _dm_value(version: int, value: Any) -> tuple[int, bytes]:
    """Encode one tag value; return the tag kind and its bytes after the name."""
    if isinstance(value, Group):
        return _DM_GROUP_TAG, _dm_group_body(version, value, with_size=True)
    if isinstance(value, Scalar):
        code, letter = _DM_SIMPLE[value.kind]
        return _DM_DATA_TAG, _dm_data_tag(version, [code], struct.pack("<" + letter, value.value))
    if isinstance(value, str):
        chars = np.frombuffer(value.encode("utf-16-le"), dtype="<u2")
        info = [_DM_ARRAY, _DM_SIMPLE["uint16"][0], chars.size]
        return _DM_DATA_TAG, _dm_data_tag(version, info, chars.tobytes())
    array = np.ascontiguousarray(value)
    code = _DM_SIMPLE[array.dtype.name][0]
    payload = array.astype(array.dtype.newbyteorder("<")).tobytes()
    return _DM_DATA_TAG, _dm_data_tag(version, [_DM_ARRAY, code, array.size], payload)


def _dm_group_body(version: int, group: Group, with_size: bool) -> bytes:
    """A group: sorted and open flags, (DM4: size), tag count, then each tag."""
    tags = b""
    for name, value in group:
        kind, body = _dm_value(version, value)
        encoded = name.encode("latin-1")
        tags += struct.pack(">bh", kind, len(encoded)) + encoded + body
    head = struct.pack(">bb", 0, 1)
    if version == 4 and with_size:
        head += struct.pack(">q", len(tags) + 8)
    return head + _dm_int(version, len(group)) + tags


def _dm_image(data: np.ndarray, scales, units, origins, name: str, image_tags: Group) -> Group:
    """The tag group of one image; ``scales``/``units``/``origins`` are in array order."""
    data = np.asarray(data)
    calibrations = Group(
        (
            "",
            Group(
                [
                    ("Origin", Scalar(float(o), "float32")),
                    ("Scale", Scalar(float(s), "float32")),
                    ("Units", u),
                ]
            ),
        )
        for s, u, o in zip(scales[::-1], units[::-1], origins[::-1])  # DM lists x first
    )
    image_data = Group(
        [
            (
                "Calibrations",
                Group(
                    [
                        (
                            "Brightness",
                            Group(
                                [
                                    ("Origin", Scalar(0.0, "float32")),
                                    ("Scale", Scalar(1.0, "float32")),
                                    ("Units", "counts"),
                                ]
                            ),
                        ),
                        ("Dimension", calibrations),
                        ("DisplayCalibratedUnits", Scalar(True, "bool")),
                    ]
                ),
            ),
            ("Data", data.ravel()),
            ("DataType", Scalar(_DM_IMAGE_TYPE[data.dtype.name], "int32")),
            ("Dimensions", Group(("", Scalar(n, "uint32")) for n in data.shape[::-1])),
            ("PixelDepth", Scalar(data.dtype.itemsize, "uint32")),
        ]
    )
    return Group([("ImageData", image_data), ("ImageTags", image_tags), ("Name", name)])


def write_dm(
    path: str | Path,
    data: np.ndarray,
    version: int = 3,
    scale: float | tuple[float, ...] = 0.1,
    units: str | tuple[str, ...] = "nm",
    image_tags: Group | None = None,
    name: str = "HAADF",
) -> Path:
    """Write a Digital Micrograph file holding a thumbnail and one image (or stack).

    Parameters
    ----------
    path : str or Path
    data : array, 1-D, 2-D (y, x) or 3-D (frame, y, x)
        int16, uint16, int32, float32 or float64 pixels.
    version : {3, 4}
        DM3 or DM4 layout.
    scale, units : float/str or tuples of them in array order
        Calibration of each axis; a single value applies to the last two (spatial) axes,
        and a leading stack axis gets scale 1 and no unit.
    image_tags : Group, optional
        Contents of the image's ``ImageTags`` group (e.g. ``Meta Data`` of spectra).
    name : str
        The image's ``Name`` tag.

    Returns
    -------
    Path
    """
    data = np.asarray(data)
    if np.ndim(scale) == 0:
        scale = (1.0,) * (data.ndim - 2) + (float(scale),) * min(data.ndim, 2)
    if isinstance(units, str):
        units = ("",) * (data.ndim - 2) + (units,) * min(data.ndim, 2)
    origins = (0.0,) * data.ndim

    thumb = np.zeros((8, 8), np.float32)
    thumbnail = _dm_image(thumb, (1.0, 1.0), ("", ""), (0.0, 0.0), "", Group())
    image = _dm_image(data, scale, units, origins, name, image_tags or Group())
    root = Group(
        [
            ("ApplicationBounds", np.array([0, 0, 800, 1200], np.int32)),
            ("ImageList", Group([("", thumbnail), ("", image)])),
            ("Thumbnails", Group([("", Group([("ImageIndex", Scalar(0, "uint32"))]))])),
        ]
    )
    tags = _dm_group_body(version, root, with_size=False)
    trailer = b"\0" * (8 if version == 3 else 16)
    size = _dm_int(version, len(tags) + len(trailer))
    header = struct.pack(">i", version) + size + struct.pack(">i", 1)  # 1: little-endian data
    path = Path(path)
    path.write_bytes(header + tags + trailer)
    return path


def spectrum_tags(kind: str = "Spectrum image", signal: str = "EELS") -> Group:
    """``ImageTags`` that mark a DM image as a spectrum or spectrum image."""
    return Group([("Meta Data", Group([("Format", kind), ("Signal", signal)]))])


# ----------------------------------------------------------------------------------------
# Velox EMD
# ----------------------------------------------------------------------------------------


def _velox_metadata(pixel_size_m: float, detector: str, frames: int) -> np.ndarray:
    """The JSON metadata of one Velox signal as a zero-padded uint8 (bytes, frame) array."""
    meta = {
        "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1700000000"}},
        "BinaryResult": {
            "DetectorIndex": "0",
            "Offset": {"x": "0", "y": "0"},
            "PixelSize": {"width": repr(pixel_size_m), "height": repr(pixel_size_m)},
            "PixelUnitX": "m",
            "PixelUnitY": "m",
            "Detector": detector,
        },
        "Detectors": {
            "Detector-0": {
                "DetectorName": detector,
                "Dispersion": "10",
                "OffsetEnergy": "0",
            }
        },
        "Optics": {"AccelerationVoltage": "300000"},
        "Scan": {"FrameTime": "2.5", "DwellTime": "1e-6"},
    }
    raw = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    out = np.zeros((raw.size + 64, frames), np.uint8)
    out[: raw.size, :] = raw[:, None]
    return out


def write_velox_emd(
    path: str | Path,
    images: list[tuple[str, np.ndarray]],
    pixel_size_m: float = 2e-10,
    spectrum: np.ndarray | None = None,
) -> Path:
    """Write a Velox-style EMD file.

    Parameters
    ----------
    path : str or Path
    images : list of (detector name, array (y, x) or (frame, y, x))
        Each becomes one ``Data/Image/<uuid>`` signal, in this order.
    pixel_size_m : float
        Pixel size in metres, as Velox stores it.
    spectrum : 1-D array, optional
        If given, also write an EDS spectrum under ``Data/Spectrum``.

    Returns
    -------
    Path
    """
    path = Path(path)
    with h5py.File(path, "w") as f:
        version = json.dumps({"format": "Velox", "version": "11"}).encode()
        f.create_dataset("Version", data=np.array([version]))
        data_group = f.create_group("Data")
        for i, (detector, image) in enumerate(images):
            image = np.asarray(image)
            stack = image if image.ndim == 3 else image[np.newaxis]
            yxf = np.moveaxis(stack, 0, -1)  # Velox stores (y, x, frame)
            # uuids sort in the order given, as h5py lists group members alphabetically
            key = f"{i:04x}" + uuid.uuid4().hex[4:]
            g = data_group.create_group(f"Image/{key}")
            g.create_dataset("Data", data=yxf, chunks=yxf.shape[:2] + (1,))
            g.create_dataset("Metadata", data=_velox_metadata(pixel_size_m, detector, yxf.shape[2]))
        if spectrum is not None:
            g = data_group.create_group(f"Spectrum/{uuid.uuid4().hex}")
            g.create_dataset("Data", data=np.asarray(spectrum)[:, None])
            g.create_dataset("Metadata", data=_velox_metadata(pixel_size_m, "SuperXG1", 1))
    return path


# ----------------------------------------------------------------------------------------
# HyperSpy
# ----------------------------------------------------------------------------------------


def write_hspy(
    path: str | Path,
    data: np.ndarray,
    scale: float | tuple[float, float] = 0.1,
    units: str | None = "nm",
    quantity: str = "Intensity (counts)",
    title: str = "",
    signal_axes: int = 2,
    frame_axis: tuple[float, str] | None = None,
    acquisition: dict | None = None,
) -> Path:
    """Write a HyperSpy file with ``rsciio.hspy.file_writer``.

    Parameters
    ----------
    path : str or Path
    data : array
    scale : float or (y, x) pair
        Scale of the last two axes (other axes get 1).
    units : str or None
        Unit of the last two axes; None writes no unit.
    quantity : str
        ``metadata.Signal.quantity`` (HyperSpy puts the intensity unit in parentheses).
    title : str
    signal_axes : int
        How many trailing axes are signal axes (2: an image, 1: spectra).
    frame_axis : (float, str), optional
        Scale and unit of a stack's first axis (e.g. ``(50.0, "ms")``: a time axis).
    acquisition : dict, optional
        ``metadata.Acquisition_instrument`` (e.g. ``{"TEM": {"beam_current": 0.05}}``).

    Returns
    -------
    Path
    """
    from rsciio.hspy import file_writer

    data = np.asarray(data)
    scales = list(np.broadcast_to(scale, (2,)))
    axes = []
    for i, size in enumerate(data.shape):
        spatial = i >= data.ndim - 2
        axis = {
            "name": "xyz"[data.ndim - 1 - i] if i >= data.ndim - 3 else f"axis{i}",
            "size": size,
            "scale": float(scales[i - data.ndim + 2]) if spatial else 1.0,
            "offset": 0.0,
            "navigate": i < data.ndim - signal_axes,
        }
        if spatial and units is not None:
            axis["units"] = units
        if i == 0 and not spatial and frame_axis is not None:
            axis["scale"], axis["units"] = float(frame_axis[0]), frame_axis[1]
        axes.append(axis)
    signal = {
        "data": data,
        "axes": axes,
        "metadata": {
            "General": {"title": title},
            "Signal": {"signal_type": "", "quantity": quantity},
            **({"Acquisition_instrument": acquisition} if acquisition else {}),
        },
        "original_metadata": {},
        "tmp_parameters": {},
        "attributes": {"_lazy": False},
        "learning_results": {},
        "models": {},
        "package_info": {"name": "hyperspy", "version": "2.0"},
    }
    path = Path(path)
    file_writer(str(path), signal, show_progressbar=False)
    return path


# ----------------------------------------------------------------------------------------
# TIFF
# ----------------------------------------------------------------------------------------


def write_imagej_tiff(path: str | Path, data: np.ndarray, pixel_size: float, unit: str) -> Path:
    """Write an ImageJ TIFF stack whose XResolution/YResolution give 1/pixel_size per unit."""
    import tifffile

    data = np.asarray(data, np.float32)
    axes = "TYX" if data.ndim == 3 else "YX"
    path = Path(path)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1.0 / pixel_size, 1.0 / pixel_size),
        metadata={"axes": axes, "unit": unit},
    )
    return path


def write_ome_tiff(path: str | Path, data: np.ndarray, pixel_size: float, unit: str) -> Path:
    """Write an OME-TIFF stack with PhysicalSizeX/Y in ``unit``."""
    import tifffile

    data = np.asarray(data, np.float32)
    path = Path(path)
    tifffile.imwrite(
        path,
        data,
        ome=True,
        metadata={
            "axes": "TYX" if data.ndim == 3 else "YX",
            "PhysicalSizeX": pixel_size,
            "PhysicalSizeXUnit": unit,
            "PhysicalSizeY": pixel_size,
            "PhysicalSizeYUnit": unit,
        },
    )
    return path
