"""Tests of rvae_pathways.io.readers: each format written for real, then read back."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from fake_files import (
    spectrum_tags,
    write_dm,
    write_hspy,
    write_imagej_tiff,
    write_ome_tiff,
    write_velox_emd,
)

from rvae_pathways.core.errors import InputError
from rvae_pathways.core.frames import make_frames
from rvae_pathways.io.readers import read_frames
from rvae_pathways.io.suffixes import SUPPORTED_SUFFIXES


def movie(frames: int = 3, ny: int = 16, nx: int = 20, seed: int = 0) -> np.ndarray:
    """A random float32 stack (or a 2-D image when ``frames`` is 0)."""
    rng = np.random.default_rng(seed)
    shape = (ny, nx) if frames == 0 else (frames, ny, nx)
    return rng.uniform(0, 100, shape).astype(np.float32)


def assert_frames(ds: xr.Dataset, expected: np.ndarray, pixel_size_nm: float, source) -> None:
    """Common checks of a frames Dataset against the pixels written."""
    expected = expected if expected.ndim == 3 else expected[np.newaxis]
    assert ds["image"].dims == ("frame", "y", "x")
    assert ds["image"].dtype == np.float32
    np.testing.assert_array_equal(ds["image"].values, expected.astype(np.float32))
    assert ds.attrs["pixel_size_nm"] == pytest.approx(pixel_size_nm, rel=1e-6)
    assert ds.attrs["source"] == str(source)


# ----------------------------------------------------------------------------------------
# .npy
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [0, 4])
def test_npy_image_and_stack(tmp_path, frames):
    data = movie(frames)
    path = tmp_path / "movie.npy"
    np.save(path, data)
    ds = read_frames(path, pixel_size_nm=0.05, modality="pfm")
    assert_frames(ds, data, 0.05, path)
    assert ds.attrs["pixel_size_source"] == "samples table"
    assert ds.attrs["modality"] == "pfm"
    assert ds.attrs["intensity_units"] == "counts"


def test_npy_integer_pixels_become_float32(tmp_path):
    data = np.arange(16 * 16, dtype=np.uint16).reshape(16, 16)
    np.save(tmp_path / "a.npy", data)
    ds = read_frames(str(tmp_path / "a.npy"), pixel_size_nm=0.1)
    assert ds["image"].dtype == np.float32
    assert ds["image"].values[0, 15, 15] == 255.0
    assert ds.attrs["source"] == str(tmp_path / "a.npy")  # the path as given (a str)


def test_suffix_is_case_insensitive(tmp_path):
    data = movie(2)
    np.save(tmp_path / "a.npy", data)
    (tmp_path / "a.npy").rename(tmp_path / "A.NPY")
    ds = read_frames(tmp_path / "A.NPY", pixel_size_nm=0.1)
    assert ds.sizes["frame"] == 2


def test_pickled_npy_is_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="pickle") as err:
        read_frames(path, pixel_size_nm=0.1)
    assert "np.save" in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("shape", [(64,), (2, 3, 16, 16)])
def test_wrong_number_of_dims(tmp_path, shape):
    path = tmp_path / "bad.npy"
    np.save(path, np.random.default_rng(1).random(shape))
    with pytest.raises(InputError, match=r"frame, y, x") as err:
        read_frames(path, pixel_size_nm=0.1)
    assert str(shape) in str(err.value)


@pytest.mark.parametrize(
    "value, words", [(np.nan, "NaN"), (np.inf, "infinite"), (None, "constant")]
)
def test_bad_frame_is_refused(tmp_path, value, words):
    data = movie(3)
    if value is None:
        data[1] = 7.0
    else:
        data[1, 4, 5] = value
    path = tmp_path / "bad.npy"
    np.save(path, data)
    with pytest.raises(InputError, match=words) as err:
        read_frames(path, pixel_size_nm=0.1)
    assert "frame 1" in str(err.value)


def test_unknown_pixel_size(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, movie(2))
    with pytest.raises(InputError, match="pixel_size_nm") as err:
        read_frames(path)
    assert "pixel size unknown" in str(err.value)
    assert "samples table" in str(err.value)


def test_nan_pixel_size_counts_as_not_given(tmp_path):
    # an empty cell of a samples table reads as NaN
    path = write_hspy(tmp_path / "a.hspy", movie(2), scale=0.3, units="nm")
    ds = read_frames(path, pixel_size_nm=float("nan"))
    assert ds.attrs["pixel_size_nm"] == pytest.approx(0.3)
    assert ds.attrs["pixel_size_source"] == "file"


def test_pixel_size_that_is_not_a_number(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, movie(2))
    with pytest.raises(InputError, match="'0.1 nm'"):
        read_frames(path, pixel_size_nm="0.1 nm")
    assert read_frames(path, pixel_size_nm="0.1").attrs["pixel_size_nm"] == pytest.approx(0.1)


# ----------------------------------------------------------------------------------------
# TIFF
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, unit, nm",
    [(0.25, "nm", 0.25), (0.002, "micron", 2.0), (0.002, "\\u00B5m", 2.0), (1.5, "\\u00C5", 0.15)],
)
def test_imagej_tiff_stack(tmp_path, size, unit, nm):
    data = movie(5)
    path = write_imagej_tiff(tmp_path / "stack.tif", data, size, unit)
    ds = read_frames(path)
    assert_frames(ds, data, nm, path)
    assert ds.attrs["pixel_size_source"] == "file"


def test_ome_tiff_stack(tmp_path):
    data = movie(3)
    path = write_ome_tiff(tmp_path / "stack.ome.tiff", data, 0.5, "nm")
    ds = read_frames(path)
    assert_frames(ds, data, 0.5, path)


def test_uncalibrated_tiff_needs_the_table(tmp_path):
    import tifffile

    data = movie(2)
    path = tmp_path / "plain.TIFF"
    tifffile.imwrite(path, data)
    with pytest.raises(InputError, match="pixel_size_nm"):
        read_frames(path)
    ds = read_frames(path, pixel_size_nm=0.2)
    assert_frames(ds, data, 0.2, path)


def test_rgb_tiff_is_refused(tmp_path):
    import tifffile

    path = tmp_path / "colour.tif"
    tifffile.imwrite(path, np.zeros((16, 16, 3), np.uint8), photometric="rgb")
    with pytest.raises(InputError, match="RGB"):
        read_frames(path, pixel_size_nm=0.1)


@pytest.mark.parametrize("channels, name", [(3, "RGB"), (4, "RGBA")])
def test_a_colour_npy_is_refused_not_read_as_narrow_frames(tmp_path, channels, name):
    path = tmp_path / "colour.npy"
    np.save(path, np.random.default_rng(0).random((128, 96, channels)))
    with pytest.raises(InputError, match=f"colour \\({name}\\) image of 128 x 96 px, not 128 frames of 96 x {channels} px"):
        read_frames(path, pixel_size_nm=0.1)
    np.save(path, np.random.default_rng(0).random((3, 96, 96)))  # three frames are not a colour image
    assert read_frames(path, pixel_size_nm=0.1).sizes["frame"] == 3


# ----------------------------------------------------------------------------------------
# HyperSpy
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scale, unit, nm",
    [(0.2, "nm", 0.2), (2.0, "Å", 0.2), (200.0, "pm", 0.2), (2e-4, "µm", 0.2), (2e-10, "m", 0.2)],
)
def test_hspy_units(tmp_path, scale, unit, nm):
    data = movie(2)
    path = write_hspy(tmp_path / "a.hspy", data, scale=scale, units=unit, quantity="Intensity (e-)")
    ds = read_frames(path)
    assert_frames(ds, data, nm, path)
    assert ds.attrs["intensity_units"] == "e-"


@pytest.mark.parametrize("suffix", [".hdf5", ".h5"])
def test_hspy_other_suffixes_and_2d(tmp_path, suffix):
    data = movie(0)
    path = write_hspy(tmp_path / f"a{suffix}", data, scale=0.1, units="nm")
    ds = read_frames(path)
    assert_frames(ds, data, 0.1, path)


def test_non_square_pixels_use_y(tmp_path):
    path = write_hspy(tmp_path / "a.hspy", movie(2), scale=(0.1, 0.2), units="nm")
    ds = read_frames(path)
    assert ds.attrs["pixel_size_nm"] == pytest.approx(0.1)
    assert "non-square" in ds.attrs["pixel_size_note"]


def test_table_overrides_file(tmp_path):
    path = write_hspy(tmp_path / "a.hspy", movie(2), scale=0.1, units="nm")
    with pytest.warns(UserWarning, match="overrides"):
        ds = read_frames(path, pixel_size_nm=0.12)
    assert ds.attrs["pixel_size_nm"] == pytest.approx(0.12)
    assert ds.attrs["pixel_size_source"] == "samples table"
    assert ds.attrs["pixel_size_file"] == "0.1 x 0.1 nm"


def test_unitless_scale_is_not_guessed(tmp_path):
    path = write_hspy(tmp_path / "a.hspy", movie(2), scale=0.05, units=None)
    with pytest.raises(InputError, match="no unit") as err:
        read_frames(path)
    assert "0.05" in str(err.value) and "pixel_size_nm" in str(err.value)


def test_reciprocal_unit_is_not_a_length(tmp_path):
    path = write_hspy(tmp_path / "a.hspy", movie(2), scale=0.5, units="1/nm")
    with pytest.raises(InputError, match="not a length unit"):
        read_frames(path)


def test_hspy_spectra_are_refused(tmp_path):
    path = write_hspy(tmp_path / "a.hspy", movie(2), signal_axes=1)
    with pytest.raises(InputError, match="holds no image") as err:
        read_frames(path, pixel_size_nm=0.1)
    assert "(2, 16, 20)" in str(err.value)


def test_real_haadf_file(real_data):
    path = real_data / "srtio3_110_haadf.hdf5"
    # the file holds a scale (0.009326) but no unit: the reader does not guess one
    with pytest.raises(InputError, match="no unit") as err:
        read_frames(path)
    assert "0.00932627" in str(err.value)
    ds = read_frames(path, pixel_size_nm=0.00933)
    assert ds["image"].shape == (1, 400, 380)
    assert ds.attrs["pixel_size_nm"] == pytest.approx(0.00933, abs=1e-5)
    assert ds.attrs["pixel_size_file"] == "0.00932627 x 0.00932627 with no unit"
    assert float(ds["image"].std()) > 0


# ----------------------------------------------------------------------------------------
# Digital Micrograph
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("frames", [0, 3])
def test_dm_image_and_stack(tmp_path, version, frames):
    data = movie(frames)
    path = write_dm(tmp_path / f"a.dm{version}", data, version=version, scale=0.125, units="nm")
    ds = read_frames(path)
    assert_frames(ds, data, 0.125, path)
    assert ds.attrs["pixel_size_source"] == "file"
    assert ds.attrs["intensity_units"] == "counts"
    assert ds.attrs["signal"] == "HAADF"


def test_dm_integer_pixels_and_angstrom(tmp_path):
    data = (movie(2) * 100).astype(np.uint16)
    path = write_dm(tmp_path / "a.DM4", data, version=4, scale=0.5, units="Å")
    ds = read_frames(path)
    assert_frames(ds, data, 0.05, path)


@pytest.mark.parametrize(
    "data, tags, words",
    [
        (movie(0)[0], None, "a spectrum"),
        (movie(3), spectrum_tags("Spectrum image", "EELS"), "a spectrum image"),
        (movie(3), spectrum_tags("Spectrum image", ""), "a spectrum image"),
    ],
)
def test_dm_spectra_are_refused(tmp_path, data, tags, words):
    path = write_dm(tmp_path / "si.dm3", data, image_tags=tags)
    with pytest.raises(InputError, match=words) as err:
        read_frames(path, pixel_size_nm=0.1)
    assert str(tuple(data.shape)) in str(err.value)


# ----------------------------------------------------------------------------------------
# Velox EMD
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [0, 4])
def test_velox_single_signal(tmp_path, frames):
    data = movie(frames)
    path = write_velox_emd(tmp_path / "a.emd", [("DF4", data)], pixel_size_m=2.5e-10)
    ds = read_frames(path)
    assert_frames(ds, data, 0.25, path)
    assert ds.attrs["signal"] == "DF4"


def test_velox_picks_haadf(tmp_path):
    bf, haadf = movie(2, seed=1), movie(2, seed=2)
    path = write_velox_emd(tmp_path / "a.emd", [("BF", bf), ("HAADF", haadf)], spectrum=np.ones(64))
    ds = read_frames(path)
    assert_frames(ds, haadf, 0.2, path)
    assert ds.attrs["signal"] == "HAADF"


def test_velox_first_image_without_haadf(tmp_path):
    bf, df = movie(2, seed=1), movie(2, seed=2)
    ds = read_frames(write_velox_emd(tmp_path / "a.emd", [("BF", bf), ("DF2", df)]))
    np.testing.assert_array_equal(ds["image"].values, bf)
    assert ds.attrs["signal"] == "BF"


def test_velox_spectrum_only_is_refused(tmp_path):
    path = write_velox_emd(tmp_path / "a.emd", [], spectrum=np.arange(64.0))
    with pytest.raises(InputError, match="holds no image"):
        read_frames(path, pixel_size_nm=0.1)


# ----------------------------------------------------------------------------------------
# Zarr
# ----------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_zarr_round_trip_keeps_truth(tmp_path):
    data = movie(3)
    ds = make_frames(data, pixel_size_nm=0.02, source="simulate_stem", intensity_units="a.u.")
    ds["true_angle"] = ("frame", np.array([0.1, 0.2, 0.3]))
    ds.attrs["true_seed"] = 7
    path = tmp_path / "frames.zarr"
    ds.to_zarr(path)
    out = read_frames(path)
    assert_frames(out, data, 0.02, path)
    np.testing.assert_allclose(out["true_angle"].values, [0.1, 0.2, 0.3])
    assert out.attrs["true_seed"] == 7
    assert out.attrs["intensity_units"] == "a.u."
    assert out.attrs["upstream_source"] == "simulate_stem"
    assert out.attrs["pixel_size_source"] == "file"


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_zarr_without_image_is_refused(tmp_path):
    path = tmp_path / "other.zarr"
    xr.Dataset({"counts": (("a",), np.arange(3))}).to_zarr(path)
    with pytest.raises(InputError, match="'image'"):
        read_frames(path, pixel_size_nm=0.1)


# ----------------------------------------------------------------------------------------
# Paths and damaged files
# ----------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "movie.dm4"
    with pytest.raises(InputError, match="not found") as err:
        read_frames(path, pixel_size_nm=0.1)
    assert str(path) in str(err.value)


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "movie.raw"
    path.write_bytes(b"\0" * 64)
    with pytest.raises(InputError, match=r"\.raw") as err:
        read_frames(path, pixel_size_nm=0.1)
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in str(err.value)


@pytest.mark.parametrize(
    "suffix", [".dm3", ".dm4", ".emd", ".hspy", ".tif", ".npy", ".ser", ".mrc", ".prz"]
)
def test_corrupt_file(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(np.random.default_rng(3).bytes(4096))
    with pytest.raises(InputError, match="could not read") as err:
        read_frames(path, pixel_size_nm=0.1)
    assert str(path) in str(err.value)


def test_truncated_dm_file(tmp_path):
    path = write_dm(tmp_path / "a.dm3", movie(2))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(InputError, match="Digital Micrograph"):
        read_frames(path, pixel_size_nm=0.1)

