import numpy as np
import pytest
import xarray as xr

from rvae_pathways.core.errors import InputError
from rvae_pathways.core.frames import check_frames, make_frames, truth_variables, write_frames


def test_make_frames_wraps_an_image_as_a_one_frame_movie():
    ds = make_frames(np.ones((4, 5)), 0.1, "x.npy")
    assert ds["image"].shape == (1, 4, 5) and ds["image"].dtype == np.float32
    assert ds.attrs == {"pixel_size_nm": 0.1, "intensity_units": "counts", "source": "x.npy", "modality": "stem"}


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5)])
def test_make_frames_rejects_wrong_dimensions(shape):
    with pytest.raises(InputError, match="shape"):
        make_frames(np.ones(shape), 0.1, "x")


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_make_frames_rejects_bad_pixel_sizes(bad):
    with pytest.raises(InputError, match="pixel"):
        make_frames(np.ones((4, 4)), bad, "x")


def test_check_frames_names_the_bad_frame():
    images = np.random.default_rng(0).normal(size=(3, 16, 16))
    check_frames(make_frames(images, 0.1, "x"))
    images[1, 2, 3] = np.nan
    with pytest.raises(InputError, match="frame 1 .*NaN"):
        check_frames(make_frames(images, 0.1, "x"))
    images[1, 2, 3] = 0
    images[2] = 7.0
    with pytest.raises(InputError, match="frame 2 is constant"):
        check_frames(make_frames(images, 0.1, "x"))
    with pytest.raises(InputError, match="at least"):
        check_frames(make_frames(np.ones((2, 4, 4)), 0.1, "x"))


def test_write_frames_chunks_by_frame_and_keeps_truth(tmp_path):
    ds = make_frames(np.random.default_rng(0).normal(size=(3, 16, 16)), 0.1, "x")
    ds["true_y"] = ("true_atom", np.arange(4.0))
    assert truth_variables(ds) == ["true_y"]
    write_frames(ds, tmp_path / "f.zarr")
    back = xr.open_zarr(tmp_path / "f.zarr")
    assert back["image"].chunks[0] == (1, 1, 1)
    np.testing.assert_array_equal(back["true_y"].values, np.arange(4.0))


def test_check_frames_refuses_an_empty_stack():
    with pytest.raises(InputError, match="no frames"):
        check_frames(make_frames(np.ones((0, 16, 16)), 0.1, "x"))


def test_write_frames_streams_frame_variables_and_writes_the_rest_whole(tmp_path):
    ds = make_frames(np.random.default_rng(0).normal(size=(4, 16, 16)), 0.1, "x")
    ds["true_drift_y"] = ("frame", np.arange(4.0))
    write_frames(ds, tmp_path / "f.zarr")
    back = xr.open_zarr(tmp_path / "f.zarr")
    np.testing.assert_array_equal(back["image"].values, ds["image"].values)
    np.testing.assert_array_equal(back["frame"].values, np.arange(4))
    assert back["true_drift_y"].chunks[0] == (4,)
    np.testing.assert_array_equal(back["true_drift_y"].values, np.arange(4.0))
    assert back.attrs == ds.attrs
