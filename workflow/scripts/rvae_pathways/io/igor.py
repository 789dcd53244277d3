"""Igor binary waves (``.ibw``), e.g. Asylum Research AFM/PFM scans, every channel kept."""

from __future__ import annotations

import logging
import math
import re
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from .raw import Calibration, RawImage, length_to_nm

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


def read_ibw(path: Path) -> RawImage:
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
