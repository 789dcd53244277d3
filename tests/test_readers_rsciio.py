"""Tests of the readers through RosettaSciIO (rvae_pathways.io.rsciio, io.tiff) and of the frame time
and dose per frame read from a file's metadata (io.raw.settle_exposure).

Every file is written here at test time from its format's published layout (or with tifffile,
or with rsciio's HyperSpy writer), then read back with ``read_frames``:

- MRC (``.mrc``): the 1024-byte MRC2014 header, then the sections (x fastest); an FEI
  extended header adds 1024 records of 128 bytes (tilts, stage, exposure time, pixel size in m).
- FEI TIA (``.ser``): a little-endian series header (byte order 0x4949, series id 0x0197,
  version 0x0210: 4-byte offsets), one dimension record for the series, the offset arrays of
  the data elements and tags, then each 2-D element (x and y calibrations, data type, sizes,
  rows from the bottom up) and its time tag. An ``.emi`` is binary with the acquisition's
  XML (``<ObjectInfo>``) embedded; rsciio reads only the XML.
- Panta Rhei (``.prz``): a NumPy ``.npz`` archive with ``data`` and, from Panta Rhei 24.03,
  ``meta_data_json`` (a JSON list holding one dict with ``device.calib``, one calibration per
  axis in image order x, y, index).
- TIFF with vendor tags written through tifffile's ``extratags``: FEI/Thermo Fisher
  ``FEI_HELIOS`` (34682, INI text) and Zeiss ``CZ_SEM`` (34118).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from fake_files import Group, Scalar, write_dm, write_hspy, write_velox_emd

from rvae_pathways.core.errors import InputError
from rvae_pathways.core.frames import write_frames
from rvae_pathways.io.raw import (
    ELEMENTARY_CHARGE_C,
    Exposure,
    dose_e_per_A2,
    settle_exposure,
    time_to_s,
)
from rvae_pathways.io.readers import read_frames
from rvae_pathways.io.suffixes import SUPPORTED_SUFFIXES

E = 1.602176634e-19  # C


def stack(frames: int = 3, ny: int = 16, nx: int = 20, dtype=np.float32, seed: int = 0) -> np.ndarray:
    """Random pixels, (frames, ny, nx), or (ny, nx) when ``frames`` is 0."""
    rng = np.random.default_rng(seed)
    shape = (ny, nx) if frames == 0 else (frames, ny, nx)
    return rng.uniform(1, 200, shape).astype(dtype)


def assert_pixels(ds, expected: np.ndarray, pixel_size_nm: float) -> None:
    """The Dataset holds ``expected`` (as float32 frames) at ``pixel_size_nm``, from the file."""
    expected = expected if expected.ndim == 3 else expected[np.newaxis]
    np.testing.assert_array_equal(ds["image"].values, expected.astype(np.float32))
    assert ds.attrs["pixel_size_nm"] == pytest.approx(pixel_size_nm, rel=1e-5)
    assert ds.attrs["pixel_size_source"] == "file"


# ----------------------------------------------------------------------------------------
# Writers
# ----------------------------------------------------------------------------------------

_MRC_MODE = {np.dtype(np.uint8): 0, np.dtype(np.int16): 1, np.dtype(np.float32): 2, np.dtype(np.uint16): 6}


def write_mrc(
    path: Path,
    data: np.ndarray,
    pixel_size_A: float = 0.0,
    fei_pixel_size_m: float | None = None,
    fei_exposure_s: float = 0.0,
) -> Path:
    """Write an MRC2014 file: header words 1-3 the size, 4 the mode, 8-10 the sampling, 11-13 the
    cell in Å (0: no calibration), 24 the extended header's bytes, 27 its type, 53 ``"MAP "``.

    With ``fei_pixel_size_m`` an FEI extended header (``FEI1``) follows: 1024 records of 128
    bytes, 13 float32 each (tilts, stage x y z, shifts x y, defocus, exposure time in s, mean,
    tilt axis, pixel size in m, magnification), the rest zero.
    """
    data = np.asarray(data)
    nz, ny, nx = data.shape if data.ndim == 3 else (1,) + data.shape
    header = np.zeros(256, "<i4")
    floats = header.view("<f4")
    header[0:3] = nx, ny, nz
    header[3] = _MRC_MODE[data.dtype]
    header[7:10] = nx, ny, nz
    floats[10:13] = nx * pixel_size_A, ny * pixel_size_A, nz * pixel_size_A
    floats[13:16] = 90.0
    header[16:19] = 1, 2, 3
    floats[19:22] = data.min(), data.max(), data.mean()
    extended = b""
    if fei_pixel_size_m is not None:
        records = np.zeros((1024, 32), "<f4")
        records[:nz, 8] = fei_exposure_s
        records[:nz, 11] = fei_pixel_size_m
        extended = records.tobytes()
        header.view("S4")[26] = b"FEI1"
    header[23] = len(extended)
    header[27] = 20140
    header.view("S4")[52] = b"MAP "
    header.view("u1")[53 * 4 : 53 * 4 + 2] = 0x44, 0x44  # little-endian machine stamp
    path = Path(path)
    pixels = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<"))
    path.write_bytes(header.tobytes() + extended + pixels.tobytes())
    return path


_SER_TYPE = {np.dtype(np.uint8): 1, np.dtype(np.uint16): 2, np.dtype(np.int16): 5, np.dtype(np.float32): 7}


def write_ser(
    path: Path,
    frames: np.ndarray,
    pixel_size_m: float,
    series_step: float = 1.0,
    series_unit: str = "",
) -> Path:
    """Write a TIA series (``.ser``) of 2-D images (frame, y, x) with a time tag per image.

    The series dimension is calibrated ``series_step`` per image in ``series_unit`` (none by
    default, as TIA writes an image series).
    """
    frames = np.asarray(frames)
    n, ny, nx = frames.shape
    description, unit = b"Number", series_unit.encode()
    head = struct.pack("<HHHIIIII", 0x4949, 0x0197, 0x0210, 0x4122, 0x4152, n, n, 0)
    head += struct.pack("<I", 1)  # one dimension: the series
    head += struct.pack("<IddII", n, 0.0, series_step, 0, len(description)) + description
    head += struct.pack("<I", len(unit)) + unit
    offset_array = len(head)
    first_element = offset_array + 8 * n  # data offsets, then tag offsets (4 bytes each)
    elements = []
    for image in frames:
        element = struct.pack("<ddi", 0.0, pixel_size_m, 0) + struct.pack("<ddi", 0.0, pixel_size_m, 0)
        element += struct.pack("<HII", _SER_TYPE[frames.dtype], nx, ny)
        element += np.ascontiguousarray(image[::-1]).astype(frames.dtype.newbyteorder("<")).tobytes()
        elements.append(element)
    data_offsets = first_element + np.cumsum([0] + [len(e) for e in elements[:-1]])
    first_tag = first_element + sum(len(e) for e in elements)
    tags = [struct.pack("<HHI", 0x4152, 0, 1_700_000_000 + i) for i in range(n)]
    tag_offsets = first_tag + 8 * np.arange(n)
    head = head[:22] + struct.pack("<I", offset_array) + head[26:]
    body = np.asarray(data_offsets, "<u4").tobytes() + np.asarray(tag_offsets, "<u4").tobytes()
    path = Path(path)
    path.write_bytes(head + body + b"".join(elements) + b"".join(tags))
    return path


def write_emi(path: Path, mode: str, dwell_time_s: float, camera: str | None = None) -> Path:
    """Write an ``.emi`` holding the acquisition's XML among binary bytes (all rsciio reads)."""
    camera_xml = f"<CameraNamePath>{camera}</CameraNamePath>" if camera else ""
    xml = (
        "<ObjectInfo><AcquireDate>Thu Dec 04 10:00:00 2026</AcquireDate>"
        f"<AcquireInfo><DwellTimePath>{dwell_time_s!r}</DwellTimePath>{camera_xml}</AcquireInfo>"
        "<ExperimentalDescription><Root>"
        "<Data><Label>High tension</Label><Value>300</Value><Unit>kV</Unit></Data>"
        f"<Data><Label>Mode</Label><Value>{mode}</Value><Unit></Unit></Data>"
        "</Root></ExperimentalDescription></ObjectInfo>"
    )
    path = Path(path)
    path.write_bytes(b"\x00\x01binary header\x00" + xml.encode() + b"\x00binary tail")
    return path


def write_prz(path: Path, data: np.ndarray, meta: dict, json_metadata: bool = True) -> Path:
    """Write a Panta Rhei ``.prz``: an ``.npz`` of ``data`` and the metadata.

    ``json_metadata=False`` stores the metadata as Panta Rhei before 24.03 did: a pickled
    object array ``meta_data`` (written here; the reader must never load it).
    """
    arrays = {"data": np.asarray(data), "file_format_version": np.array(2)}
    if json_metadata:
        arrays["meta_data_json"] = np.array(json.dumps([meta]))
    else:
        holder = np.empty(1, dtype=object)
        holder[0] = meta
        arrays["meta_data"] = holder
    path = Path(path)
    with open(path, "wb") as f:  # a file object keeps numpy from adding ".npz"
        np.savez(f, **arrays)
    return path


def fei_tiff_text(pixel_m: float, dwell_s: float, current_a: float, frame_s: float) -> str:
    """The INI text of an FEI/Thermo Fisher SEM ``FEI_HELIOS`` tag."""
    return (
        "[User]\r\nDate=12/04/2026\r\nTime=10:00:00 AM\r\nUser=test\r\n\r\n"
        "[Beam]\r\nHV=5000\r\nBeam=EBeam\r\n\r\n"
        f"[EBeam]\r\nBeamCurrent={current_a!r}\r\n\r\n"
        f"[Scan]\r\nInternalScan=1\r\nDwelltime={dwell_s!r}\r\nPixelWidth={pixel_m!r}\r\n"
        f"PixelHeight={pixel_m!r}\r\nFrameTime={frame_s!r}\r\n"
    )


def zeiss_tiff_text(pixel_m: float, width: int) -> str:
    """The text of a Zeiss ``CZ_SEM`` tag: unnamed values first (the fourth: the pixel size in m
    at a 1024-pixel-wide display), then named parameters."""
    unnamed = ["0", "0", "0", repr(pixel_m * width / 1024), "0"]
    named = ["AP_PIXEL_SIZE", f"Pixel Size = {pixel_m * 1e9:g} nm", "DP_DETECTOR_TYPE", "Detector = SE2"]
    return "\r\n".join(unnamed + named)


# ----------------------------------------------------------------------------------------
# MRC
# ----------------------------------------------------------------------------------------


def test_mrc_suffixes_are_supported():
    for suffix in (".mrc", ".ser", ".emi", ".prz"):
        assert suffix in SUPPORTED_SUFFIXES


@pytest.mark.parametrize("frames", [0, 4])
def test_mrc_cell_gives_the_pixel_size(tmp_path, frames):
    data = stack(frames, dtype=np.float32)
    path = write_mrc(tmp_path / "stack.mrc", data, pixel_size_A=1.5)
    ds = read_frames(path)
    assert_pixels(ds, data, 0.15)
    assert "frame_time_s" not in ds.attrs and "dose_e_per_A2_per_frame" not in ds.attrs


def test_mrc_integer_pixels(tmp_path):
    data = stack(2, dtype=np.int16)
    path = write_mrc(tmp_path / "ints.MRC", data, pixel_size_A=2.0)
    assert_pixels(read_frames(path), data, 0.2)


def test_mrc_without_cell_needs_the_table(tmp_path):
    data = stack(2, dtype=np.uint16)
    path = write_mrc(tmp_path / "plain.mrc", data, pixel_size_A=0.0)
    with pytest.raises(InputError, match="pixel_size_nm"):
        read_frames(path)
    assert read_frames(path, pixel_size_nm=0.3).attrs["pixel_size_nm"] == pytest.approx(0.3)


def test_mrc_fei_extended_header_gives_pixel_size_and_exposure(tmp_path):
    data = stack(3, dtype=np.float32)
    path = write_mrc(tmp_path / "fei.mrc", data, fei_pixel_size_m=1.2e-10, fei_exposure_s=0.04)
    ds = read_frames(path)
    assert_pixels(ds, data, 0.12)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.04)
    assert ds.attrs["frame_time_source"] == "file"
    assert "camera exposure" in ds.attrs["frame_time_note"]
    assert "dose_e_per_A2_per_frame" not in ds.attrs  # a camera: no dose from a beam current


# ----------------------------------------------------------------------------------------
# FEI TIA (.ser, .emi)
# ----------------------------------------------------------------------------------------


def test_ser_image_series(tmp_path):
    data = stack(3, dtype=np.uint16)
    path = write_ser(tmp_path / "series_1.ser", data, pixel_size_m=2e-10)
    ds = read_frames(path)
    assert_pixels(ds, data, 0.2)
    assert "frame_time_s" not in ds.attrs


def test_ser_single_image_and_float_pixels(tmp_path):
    data = stack(1, dtype=np.float32)
    path = write_ser(tmp_path / "one_1.ser", data, pixel_size_m=5e-11)
    assert_pixels(read_frames(path), data[0], 0.05)


def test_ser_series_in_seconds_gives_the_frame_time(tmp_path):
    data = stack(4, dtype=np.int16)
    path = write_ser(tmp_path / "timed_1.ser", data, 2e-10, series_step=250.0, series_unit="ms")
    ds = read_frames(path)
    assert_pixels(ds, data, 0.2)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.25)
    assert ds.attrs["frame_time_source"] == "file"
    assert "time axis" in ds.attrs["frame_time_note"]


def test_emi_stem_dwell_time_gives_the_frame_time(tmp_path):
    data = stack(2, ny=8, nx=10, dtype=np.uint16)
    write_ser(tmp_path / "scan_1.ser", data, pixel_size_m=1e-10)
    path = write_emi(tmp_path / "scan.emi", mode="STEM nP SA Zoom Image", dwell_time_s=2e-6)
    ds = read_frames(path)
    assert_pixels(ds, data, 0.1)
    assert ds.attrs["dwell_time_s"] == pytest.approx(2e-6)
    assert ds.attrs["frame_time_s"] == pytest.approx(2e-6 * 80)
    assert "dwell time" in ds.attrs["frame_time_note"]
    assert "dose_e_per_A2_per_frame" not in ds.attrs  # TIA states no beam current


def test_emi_camera_exposure_is_the_frame_time(tmp_path):
    data = stack(2, dtype=np.uint16)
    write_ser(tmp_path / "cam_1.ser", data, pixel_size_m=1e-10)
    path = write_emi(tmp_path / "cam.emi", mode="TEM Image", dwell_time_s=0.5, camera="BM-Ceta")
    ds = read_frames(path)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.5)
    assert "dwell_time_s" not in ds.attrs


def test_emi_without_its_ser_file(tmp_path):
    path = write_emi(tmp_path / "alone.emi", mode="STEM", dwell_time_s=1e-6)
    with pytest.raises(InputError, match="alone_1.ser"):
        read_frames(path, pixel_size_nm=0.1)


# ----------------------------------------------------------------------------------------
# Panta Rhei (.prz)
# ----------------------------------------------------------------------------------------


def _prz_meta(pixel_m: float, frame_s: float | None = None) -> dict:
    """Panta Rhei metadata of a scan-generator stack: calibrations in image order (x, y, index)."""
    calib = [{"value": pixel_m, "unit": "m", "offset": 0.0}] * 2
    calib.append({"value": frame_s, "unit": "s", "offset": 0.0} if frame_s else None)
    return {"type": "Stack", "device.calib": calib, "source.type": "scan_generator"}


def test_prz_stack_with_calibration_and_frame_time(tmp_path):
    data = stack(3, dtype=np.float32)
    path = write_prz(tmp_path / "stack.prz", data, _prz_meta(3e-11, frame_s=0.1))
    ds = read_frames(path)
    assert_pixels(ds, data, 0.03)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.1)
    assert "metadata_note" not in ds.attrs


def test_prz_image(tmp_path):
    data = stack(0, dtype=np.uint16)
    meta = {"device.calib": [{"value": 4e-10, "unit": "m", "offset": 0.0}] * 2}
    assert_pixels(read_frames(write_prz(tmp_path / "image.prz", data, meta)), data, 0.4)


def test_prz_with_pickled_metadata_is_read_without_them(tmp_path):
    data = stack(2, dtype=np.float32)
    path = write_prz(tmp_path / "old.prz", data, _prz_meta(3e-11), json_metadata=False)
    with pytest.raises(InputError, match="pixel_size_nm"):
        read_frames(path)
    ds = read_frames(path, pixel_size_nm=0.03)
    np.testing.assert_array_equal(ds["image"].values, data)
    assert "pickled" in ds.attrs["metadata_note"]


def test_prz_upper_case_suffix_is_refused_with_advice(tmp_path):
    path = write_prz(tmp_path / "stack.PRZ", stack(2), _prz_meta(3e-11))
    with pytest.raises(InputError, match="lower case"):
        read_frames(path)


# ----------------------------------------------------------------------------------------
# TIFF with vendor tags
# ----------------------------------------------------------------------------------------


def test_fei_tiff_calibration_frame_time_and_dose(tmp_path):
    import tifffile

    data = stack(0, ny=24, nx=32, dtype=np.uint16)
    path = tmp_path / "sem.tif"
    text = fei_tiff_text(pixel_m=2.5e-10, dwell_s=1e-6, current_a=1e-10, frame_s=0.9)
    tifffile.imwrite(path, data, extratags=[(34682, "s", 0, text, True)])
    ds = read_frames(path)
    assert_pixels(ds, data, 0.25)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.9)  # FEI's frame time, flyback included
    assert ds.attrs["dwell_time_s"] == pytest.approx(1e-6)
    assert ds.attrs["beam_current_nA"] == pytest.approx(0.1)
    # 0.1 nA for 1 us on each 0.25 nm pixel: I t / (e A), A = 6.25 A^2
    assert ds.attrs["dose_e_per_A2_per_frame"] == pytest.approx(1e-10 * 1e-6 / E / 6.25, rel=1e-6)
    assert ds.attrs["dose_source"] == "file"


def test_zeiss_tiff_calibration(tmp_path):
    import tifffile

    data = stack(0, ny=24, nx=32, dtype=np.uint16)
    path = tmp_path / "zeiss.tif"
    tifffile.imwrite(path, data, extratags=[(34118, "s", 0, zeiss_tiff_text(3e-9, 32), True)])
    ds = read_frames(path)
    assert_pixels(ds, data, 3.0)
    assert "frame_time_s" not in ds.attrs


def test_imagej_and_ome_frame_intervals(tmp_path):
    import tifffile

    data = stack(3)
    imagej = tmp_path / "ij.tif"
    tifffile.imwrite(
        imagej, data, imagej=True, resolution=(4.0, 4.0),
        metadata={"axes": "TYX", "unit": "nm", "finterval": 250.0, "tunit": "ms"},
    )
    ds = read_frames(imagej)
    assert_pixels(ds, data, 0.25)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.25)
    ome = tmp_path / "stack.ome.tif"
    tifffile.imwrite(
        ome, data, ome=True,
        metadata={"axes": "TYX", "PhysicalSizeX": 0.5, "PhysicalSizeXUnit": "nm", "PhysicalSizeY": 0.5,
                  "PhysicalSizeYUnit": "nm", "TimeIncrement": 20.0, "TimeIncrementUnit": "ms"},
    )
    ds = read_frames(ome)
    assert_pixels(ds, data, 0.5)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.02)


# ----------------------------------------------------------------------------------------
# Frame time and dose from HyperSpy, DM and Velox metadata; the samples table's override
# ----------------------------------------------------------------------------------------


def _timed_hspy(tmp_path, mode: str = "STEM") -> tuple[Path, np.ndarray]:
    data = stack(3, ny=16, nx=20)
    path = write_hspy(
        tmp_path / "timed.hspy", data, scale=0.1, units="nm", frame_axis=(50.0, "ms"),
        acquisition={"TEM": {"beam_current": 0.05, "acquisition_mode": mode}},
    )
    return path, data


def test_hspy_time_axis_and_beam_current_give_frame_time_and_dose(tmp_path):
    path, data = _timed_hspy(tmp_path)
    ds = read_frames(path)
    assert_pixels(ds, data, 0.1)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.05)
    assert ds.attrs["frame_time_source"] == "file"
    field_of_view_A2 = 16 * 20 * (0.1 * 10) ** 2
    expected = 0.05e-9 * 0.05 / E / field_of_view_A2
    assert ds.attrs["dose_e_per_A2_per_frame"] == pytest.approx(expected, rel=1e-6)
    assert ds.attrs["dose_source"] == "file"
    assert ds.attrs["beam_current_nA"] == pytest.approx(0.05)


def test_samples_table_overrides_frame_time_and_dose(tmp_path):
    path, _ = _timed_hspy(tmp_path)
    ds = read_frames(path, frame_time_s=0.2)
    assert ds.attrs["frame_time_s"] == 0.2
    assert ds.attrs["frame_time_source"] == "samples table"
    # the file's beam current over the table's frame time
    assert ds.attrs["dose_e_per_A2_per_frame"] == pytest.approx(0.05e-9 * 0.2 / E / 320, rel=1e-6)
    assert "samples table" in ds.attrs["dose_note"]
    ds = read_frames(path, frame_time_s=float("nan"), dose_e_per_A2_per_frame=12.5)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.05)
    assert ds.attrs["frame_time_source"] == "file"
    assert ds.attrs["dose_e_per_A2_per_frame"] == 12.5
    assert ds.attrs["dose_source"] == "samples table"
    assert "dose_note" not in ds.attrs


@pytest.mark.parametrize("name, value", [("frame_time_s", "fast"), ("frame_time_s", 0.0),
                                         ("dose_e_per_A2_per_frame", -1.0),
                                         ("dose_e_per_A2_per_frame", float("inf"))])
def test_bad_table_values_are_refused(tmp_path, name, value):
    path, _ = _timed_hspy(tmp_path)
    with pytest.raises(InputError, match=f"{name} must be a .*samples table"):
        read_frames(path, **{name: value})


def test_parallel_beam_gives_no_dose(tmp_path):
    path, _ = _timed_hspy(tmp_path, mode="TEM")
    ds = read_frames(path)
    assert ds.attrs["frame_time_s"] == pytest.approx(0.05)
    assert "dose_e_per_A2_per_frame" not in ds.attrs and "dose_source" not in ds.attrs


def test_unknown_exposure_stays_absent(tmp_path):
    path = write_hspy(tmp_path / "plain.hspy", stack(2), scale=0.1, units="nm")
    ds = read_frames(path)
    for key in ("frame_time_s", "frame_time_source", "dose_e_per_A2_per_frame", "dose_source"):
        assert key not in ds.attrs


def test_table_values_reach_a_file_without_metadata(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, stack(2))
    ds = read_frames(path, pixel_size_nm=0.1, frame_time_s="0.5", dose_e_per_A2_per_frame=30)
    assert (ds.attrs["frame_time_s"], ds.attrs["frame_time_source"]) == (0.5, "samples table")
    assert (ds.attrs["dose_e_per_A2_per_frame"], ds.attrs["dose_source"]) == (30.0, "samples table")


def test_zarr_store_keeps_its_frame_time_unless_the_table_gives_one(tmp_path):
    path, _ = _timed_hspy(tmp_path)
    write_frames(read_frames(path), tmp_path / "frames.zarr")
    stored = read_frames(tmp_path / "frames.zarr")
    assert stored.attrs["frame_time_s"] == pytest.approx(0.05)
    assert stored.attrs["frame_time_source"] == "file"
    again = read_frames(tmp_path / "frames.zarr", frame_time_s=0.3, dose_e_per_A2_per_frame=5.0)
    assert (again.attrs["frame_time_s"], again.attrs["frame_time_source"]) == (0.3, "samples table")
    assert (again.attrs["dose_e_per_A2_per_frame"], again.attrs["dose_source"]) == (5.0, "samples table")


def test_dm_digiscan_dwell_time_and_probe_current(tmp_path):
    tags = Group(
        [
            ("DigiScan", Group([("Sample Time", Scalar(4.0, "float64"))])),  # us per pixel
            (
                "Microscope Info",
                Group([("Illumination Mode", "STEM"), ("Probe Current (nA)", Scalar(0.02, "float64"))]),
            ),
        ]
    )
    data = stack(0, ny=16, nx=16)
    path = write_dm(tmp_path / "scan.dm4", data, version=4, scale=0.05, units="nm", image_tags=tags)
    ds = read_frames(path)
    assert_pixels(ds, data, 0.05)
    assert ds.attrs["dwell_time_s"] == pytest.approx(4e-6)
    assert ds.attrs["frame_time_s"] == pytest.approx(4e-6 * 256)
    pixel_A2 = (0.05 * 10) ** 2
    assert ds.attrs["dose_e_per_A2_per_frame"] == pytest.approx(0.02e-9 * 4e-6 / E / pixel_A2, rel=1e-5)


@pytest.mark.parametrize("frames", [0, 3])
def test_velox_frame_and_dwell_times(tmp_path, frames):
    data = stack(frames)
    path = write_velox_emd(tmp_path / "velox.emd", [("HAADF", data)], pixel_size_m=2e-10)
    ds = read_frames(path)
    assert_pixels(ds, data, 0.2)
    assert ds.attrs["frame_time_s"] == pytest.approx(2.5)  # Scan.FrameTime of the fake file
    assert ds.attrs["dwell_time_s"] == pytest.approx(1e-6)
    assert "dose_e_per_A2_per_frame" not in ds.attrs


# ----------------------------------------------------------------------------------------
# The pure functions
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, unit, seconds",
    [(2, "s", 2), (250, "ms", 0.25), (3, "µs", 3e-6), (3, "us", 3e-6), (5, "ns", 5e-9), (1, "min", 60)],
)
def test_time_to_s(value, unit, seconds):
    assert time_to_s(value, unit) == pytest.approx(seconds)


def test_time_to_s_refuses_other_units():
    assert time_to_s(1, "nm") is None and time_to_s(1, "") is None


def test_dose_formula():
    assert ELEMENTARY_CHARGE_C == E
    # 1 nA for 1 s: 6.24e9 electrons, over 1 nm^2 = 100 A^2
    assert dose_e_per_A2(1.0, 1.0, 1.0) == pytest.approx(1e-9 / E / 100)
    assert dose_e_per_A2(2.0, 0.5, 4.0) == pytest.approx(dose_e_per_A2(1.0, 1.0, 4.0))


def test_settle_exposure_prefers_dwell_time_for_the_dose():
    exposure = Exposure(frame_time_s=1.0, frame_time_from="x", dwell_time_s=1e-6, beam_current_nA=0.1)
    attrs = settle_exposure(exposure, 0.1, (100, 100))
    assert attrs["frame_time_s"] == 1.0  # the file's frame time, flyback included
    assert attrs["dose_e_per_A2_per_frame"] == pytest.approx(dose_e_per_A2(0.1, 1e-6, 0.01))
    assert settle_exposure(Exposure(), 0.1, (10, 10)) == {}
