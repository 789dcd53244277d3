import numpy as np
import pytest
import xarray as xr
from lattice import honeycomb_image
from scipy import ndimage

from rvae_pathways.stem.align import frame_shift, normalise_intensity, prepare_movie
from rvae_pathways.core.frames import make_frames


def test_normalise_intensity_maps_percentiles_to_0_and_1():
    image = np.arange(1000, dtype=float).reshape(25, 40)
    out = normalise_intensity(image, 0, 100)
    assert out.dtype == np.float32
    assert out.min() == 0 and out.max() == pytest.approx(1)
    out = normalise_intensity(image, 10, 90)
    assert np.percentile(out, 10) == pytest.approx(0, abs=1e-6)
    assert np.percentile(out, 90) == pytest.approx(1, abs=1e-6)
    with pytest.raises(ValueError):
        normalise_intensity(np.ones((8, 8)))


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, -0.3), (2.5, 1.25)])
def test_frame_shift_measures_a_known_subpixel_shift(shift):
    image, _ = honeycomb_image(shape=(128, 128), noise=False)
    moved = ndimage.shift(image, shift, order=3, mode="wrap")
    measured = frame_shift(image, moved, max_shift=7.1)
    np.testing.assert_allclose(measured, shift, atol=0.1)


def test_frame_shift_without_a_bound_may_jump_by_a_lattice_vector():
    # why max_shift matters: a periodic lattice correlates with itself one period away
    image, _ = honeycomb_image(shape=(128, 128), noise=False)
    moved = ndimage.shift(image, (0.4, -0.3), order=3, mode="wrap")
    bounded = frame_shift(image, moved, max_shift=7.1)
    assert np.hypot(*(bounded - (0.4, -0.3))) < 0.1
    unbounded = frame_shift(image, moved, max_shift=64)
    assert unbounded[0] == pytest.approx(0.4 + 3 * 14.2, abs=0.5)  # one period (3 bonds) along y


def _drifting_movie(n=5, step=(0.3, -0.5)):
    images = []
    for i in range(n):
        offset = (3.3 + step[0] * i, 7.7 + step[1] * i)
        image, _ = honeycomb_image(shape=(128, 128), offset=offset, seed=i)
        images.append(image)
    return make_frames(np.stack(images), 0.01, "test"), np.array(step)


def test_prepare_movie_writes_normalised_frames_and_cumulative_drift(tmp_path):
    frames, step = _drifting_movie()
    frames["true_frame"] = ("true_atom", np.zeros(3, np.int32))
    drift = prepare_movie(frames, tmp_path / "aligned.zarr", (1, 99), 7.1, per_frame=True)
    expected = np.arange(5)[:, None] * step
    np.testing.assert_allclose(drift, expected, atol=0.3)
    aligned = xr.open_zarr(tmp_path / "aligned.zarr")
    assert aligned["image"].shape == (5, 128, 128)
    assert aligned["image"].chunks[0] == (1,) * 5
    np.testing.assert_allclose(aligned["drift_y"].values, drift[:, 0], atol=1e-5)
    assert aligned.attrs["pixel_size_nm"] == 0.01
    assert "true_frame" in aligned  # truth travels with the frames
    first = aligned["image"][0].values
    assert np.percentile(first, 1) == pytest.approx(0, abs=1e-5)


def test_the_movie_is_scaled_alike_so_a_growing_dark_hole_does_not_brighten_the_lattice(tmp_path):
    image, _ = honeycomb_image(shape=(96, 96), seed=0)
    holed = image.copy()
    holed[30:70, 30:70] = image.min() - 0.5 * (image.max() - image.min())  # darker vacuum in a hole
    frames = make_frames(np.stack([image, image, holed]), 0.01, "test")
    lattice = np.ones((96, 96), bool)
    lattice[25:75, 25:75] = False
    out = {}
    for per_frame in (False, True):
        prepare_movie(frames, tmp_path / f"{per_frame}.zarr", (1, 99), 4.0, per_frame=per_frame)
        aligned = xr.open_zarr(tmp_path / f"{per_frame}.zarr")
        out[per_frame] = [aligned["image"][i].values[lattice].mean() for i in range(3)]
        assert aligned.attrs["normalised_per_frame"] is per_frame
    assert out[False][2] == pytest.approx(out[False][0], rel=1e-6)  # one scale for the movie
    assert out[True][2] > 1.1 * out[True][0]  # per-frame percentiles brighten the holed frame
