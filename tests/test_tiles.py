import logging

import numpy as np
import pytest
import xarray as xr

from rvae_pathways.core.errors import InputError
from rvae_pathways.pfm.tiles import tile_image, tile_movie, tile_origins, uncovered_px
from rvae_pathways.scores.pfm import label_windows_with_truth


def test_tile_origins_exact_fit_reaches_the_far_border():
    origins = tile_origins(32, 8, 4)
    assert origins.tolist() == [0, 4, 8, 12, 16, 20, 24]
    assert origins[-1] + 8 == 32
    assert uncovered_px(32, 8, 4) == 0


def test_tile_origins_leave_a_remainder_smaller_than_the_stride():
    origins = tile_origins(35, 8, 5)
    assert origins.tolist() == [0, 5, 10, 15, 20, 25]
    assert uncovered_px(35, 8, 5) == 2  # 35 - (25 + 8)
    for length in range(10, 60):
        for stride in (1, 3, 7):
            left = uncovered_px(length, 10, stride)
            assert 0 <= left < stride


def test_window_as_long_as_the_axis_gives_one_window():
    assert tile_origins(16, 16, 4).tolist() == [0]
    assert uncovered_px(16, 16, 4) == 0


@pytest.mark.parametrize(
    "length, window, stride, match",
    [(16, 17, 4, "window_px to at most 16"), (16, 1, 1, "at least 2"), (16, 4, 0, "stride_px"), (16, 4.5, 2, "whole number")],
)
def test_tile_origins_errors_say_what_to_change(length, window, stride, match):
    with pytest.raises(InputError, match=match):
        tile_origins(length, window, stride)


def _ramp(ny=30, nx=40):
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    return 3.0 * yy - 2.0 * xx + 1.0


def test_tile_image_is_row_major_and_centred():
    image = _ramp()
    tiles, rows, cols, yc, xc = tile_image(image, 6, 4, None)
    ny_tiles, nx_tiles = len(tile_origins(30, 6, 4)), len(tile_origins(40, 6, 4))
    assert tiles.shape == (ny_tiles * nx_tiles, 6, 6) and tiles.dtype == np.float32
    assert rows.tolist() == np.repeat(np.arange(ny_tiles), nx_tiles).tolist()
    assert cols.tolist() == np.tile(np.arange(nx_tiles), ny_tiles).tolist()
    np.testing.assert_allclose(yc, rows * 4 + 2.5)
    np.testing.assert_allclose(xc, cols * 4 + 2.5)
    # a tile is the window's pixels, and its mean is the ramp at its (sub-pixel) centre
    k = 2 * nx_tiles + 3
    np.testing.assert_array_equal(tiles[k], image[8:14, 12:18])
    np.testing.assert_allclose(tiles.mean(axis=(1, 2)), 3.0 * yc - 2.0 * xc + 1.0, rtol=1e-5)


@pytest.mark.parametrize("window, patch_px", [(12, 6), (12, 4), (10, 7), (9, 5)])
def test_resampling_keeps_a_constant_constant_and_a_ramp_at_the_centre(window, patch_px):
    flat = np.full((40, 40), 2.5)
    tiles, *_ = tile_image(flat, window, 5, patch_px)
    assert tiles.shape[1:] == (patch_px, patch_px)
    np.testing.assert_allclose(tiles, 2.5, rtol=1e-6)
    ramp = _ramp(60, 60)
    tiles, rows, cols, yc, xc = tile_image(ramp, window, 5, patch_px)
    expected = 3.0 * yc - 2.0 * xc + 1.0
    # the samples are symmetric about the centre: their mean is the centre value (the blur of
    # the non-integer steps bends the ramp within a few px of the frame border only)
    inner = (yc > 12) & (yc < 47) & (xc > 12) & (xc < 47)
    assert inner.sum() > 4
    np.testing.assert_allclose(tiles.mean(axis=(1, 2))[inner], expected[inner], atol=1e-3)
    if patch_px % 2:  # an odd grid has a sample on the centre
        c = patch_px // 2
        np.testing.assert_allclose(tiles[inner, c, c], expected[inner], atol=1e-3)
    if window % patch_px == 0:  # block means: exact up to the border
        np.testing.assert_allclose(tiles.mean(axis=(1, 2)), expected, atol=1e-3)
    step = window / patch_px
    # neighbouring samples are one step apart along the ramp
    np.testing.assert_allclose((tiles[inner, 1:, :] - tiles[inner, :-1, :]), 3.0 * step, atol=1e-3)


def test_resampling_averages_noise():
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(64, 64))
    fine, *_ = tile_image(noise, 16, 8, None)
    coarse, *_ = tile_image(noise, 16, 8, 8)
    odd, *_ = tile_image(noise, 16, 8, 7)
    assert coarse.std() < 0.6 * fine.std() and odd.std() < 0.6 * fine.std()


def test_patch_px_errors():
    with pytest.raises(InputError, match="at most 8"):
        tile_image(np.zeros((20, 20)), 8, 4, 12)
    with pytest.raises(InputError, match="patch_px"):
        tile_image(np.zeros((20, 20)), 8, 4, 2)


def _two_domain_movie(n_frames=3, ny=20, nx=24, wall_x=(9, 12, 15)):
    """Up (+1) left of a vertical wall at column wall_x[f], down (-1) right of it; the wall column is True."""
    xx = np.arange(nx)
    domain = np.empty((n_frames, ny, nx), np.int8)
    wall = np.zeros((n_frames, ny, nx), bool)
    for f in range(n_frames):
        domain[f] = np.where(xx <= wall_x[f], 1, -1)[None, :]
        wall[f, :, wall_x[f]] = True
    rng = np.random.default_rng(0)
    images = xr.DataArray((domain + 0.1 * rng.normal(size=domain.shape)).astype(np.float32),
                          dims=("frame", "y", "x"), attrs={"pixel_size_nm": 2.0})
    truth = xr.Dataset({"true_domain": (("frame", "y", "x"), domain), "true_wall": (("frame", "y", "x"), wall)})
    return images, truth


def test_tile_movie_round_trip_through_zarr(tmp_path, caplog):
    images, truth = _two_domain_movie()
    with caplog.at_level(logging.INFO, logger="tiles-test"):
        summary = tile_movie(images, tmp_path / "p.zarr", 5, 3, None, chunk_rows=7, log=logging.getLogger("tiles-test"))
    label_windows_with_truth(tmp_path / "p.zarr", truth)
    rows, cols = len(tile_origins(20, 5, 3)), len(tile_origins(24, 5, 3))
    assert summary["n_patches"] == 3 * rows * cols
    assert (summary["grid_rows"], summary["grid_cols"]) == (rows, cols)
    assert summary["uncovered_y_px"] == 20 - (3 * (rows - 1) + 5)
    assert len([r for r in caplog.records if "windows" in r.message]) == 3  # a line per frame
    p = xr.open_zarr(tmp_path / "p.zarr")
    assert p["image"].shape == (3 * rows * cols, 5, 5) and p["image"].dtype == np.float32
    assert set(p["image"].chunks[0][:-1]) == {7}
    a = p.attrs
    assert a["pixel_size_nm"] == pytest.approx(2.0) and a["frame_pixel_size_nm"] == pytest.approx(2.0)
    assert (a["window_px"], a["patch_px"], a["stride_px"], a["sample_step_px"]) == (5, 5, 3, 1.0)
    assert (a["grid_rows"], a["grid_cols"], a["n_frames"]) == (rows, cols, 3)
    # every patch is its frame's window, with its centre and grid position
    frame, row, col = p["frame"].values, p["row"].values, p["col"].values
    assert np.bincount(frame).tolist() == [rows * cols] * 3
    k = rows * cols + 2 * cols + 4  # frame 1, row 2, col 4
    assert (frame[k], row[k], col[k]) == (1, 2, 4)
    assert (p["y"].values[k], p["x"].values[k]) == (8.0, 14.0)
    np.testing.assert_array_equal(p["image"][k].values, images[1, 6:11, 12:17].values)
    assert p["intensity"].values[k] == pytest.approx(images[1, 6:11, 12:17].values.mean(), rel=1e-5)
    # truth: sign at the centre pixel and distance to the vertical wall
    wall_x = np.array([9, 12, 15])[frame]
    x = p["x"].values
    np.testing.assert_array_equal(p["true_domain"].values, np.where(x <= wall_x, 1, -1))
    assert p["true_domain"].dtype == np.int8
    np.testing.assert_allclose(p["true_wall_distance_px"].values, np.abs(x - wall_x), atol=1e-6)


def test_tile_movie_resampled_with_even_window_and_a_frame_without_wall(tmp_path):
    images, truth = _two_domain_movie()
    truth["true_wall"][2] = False
    truth["true_domain"][2] = 1
    summary = tile_movie(images, tmp_path / "p.zarr", 6, 4, patch_px=3, pixel_size_nm=0.5)
    label_windows_with_truth(tmp_path / "p.zarr", truth)
    p = xr.open_zarr(tmp_path / "p.zarr")
    assert p["image"].shape[1:] == (3, 3) and summary["patch_px"] == 3
    assert p.attrs["pixel_size_nm"] == pytest.approx(1.0)  # 0.5 nm * 6 / 3
    assert p.attrs["sample_step_px"] == pytest.approx(2.0)
    frame, x = p["frame"].values, p["x"].values
    np.testing.assert_allclose(np.unique(p["y"].values), 2.5 + 4 * np.arange(summary["grid_rows"]))
    # half-pixel centres: distance to the wall pixels in the same row (rows are half a pixel off)
    first = frame < 2
    expected = np.hypot(0.5, x - np.array([9, 12, 15])[frame])
    np.testing.assert_allclose(p["true_wall_distance_px"].values[first], expected[first], atol=1e-5)
    assert np.all(p["true_wall_distance_px"].values[frame == 2] >= np.hypot(20, 24) - 1e-3)
    assert np.all(p["true_domain"].values[frame == 2] == 1)


def test_tile_movie_rejects_a_truth_of_another_shape(tmp_path):
    images, truth = _two_domain_movie()
    tile_movie(images, tmp_path / "p.zarr", 5, 3, None)
    with pytest.raises(InputError, match="true_domain"):
        label_windows_with_truth(tmp_path / "p.zarr", truth.isel(x=slice(0, 10)))


def test_model_patch_px_samples_only_windows_larger_than_patch_px():
    from rvae_pathways.pfm.tiles import model_patch_px

    assert model_patch_px(32, 12) == 12
    assert model_patch_px(12, 12) is None and model_patch_px(8, 12) is None  # keep their pixels
    assert model_patch_px(32, None) is None
