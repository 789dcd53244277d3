import numpy as np
import pytest
import xarray as xr

from rvae_pathways.core.errors import InputError
from rvae_pathways.core.frames import (acquisition, bad_frames, check_frames, checked_frames, drop_bad_frames,
                                      make_frames, set_acquisition, truth_variables, write_frames)


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
    with pytest.raises(InputError, match="frame 2 is unusable: constant.*skip_bad_frames"):
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


def movie_with_bad_frames():
    images = np.random.default_rng(0).uniform(0, 100, size=(6, 16, 16))
    images[1, 3, 3] = np.inf
    images[3] = 0.0  # blank
    images[4, :12] = 255.0  # 75 % of the pixels at the ceiling: saturated
    return make_frames(images, 0.1, "x")


def test_a_saturated_frame_is_refused_and_named():
    frames = movie_with_bad_frames()
    assert set(bad_frames(frames)) == {1, 3, 4}
    assert "saturated (75%" in bad_frames(frames)[4]
    frames = frames.isel(frame=[0, 4])
    with pytest.raises(InputError, match="frame 1 is unusable: saturated"):
        check_frames(frames)


def test_skipping_bad_frames_keeps_each_frame_its_number_in_the_file(tmp_path):
    kept = checked_frames(movie_with_bad_frames(), skip_bad_frames=True)
    assert kept["frame"].values.tolist() == [0, 1, 2]
    assert kept["source_frame"].values.tolist() == [0, 2, 5]
    assert kept.attrs["skipped_frames"] == [1, 3, 4]
    assert "infinite" in kept.attrs["skipped_frame_problems"][0]
    np.testing.assert_array_equal(kept["image"].values[1], movie_with_bad_frames()["image"].values[2])
    # written and read again (and skipped again), the numbers in the file stay
    write_frames(kept, tmp_path / "f.zarr")
    again = xr.open_zarr(tmp_path / "f.zarr")
    assert again["source_frame"].values.tolist() == [0, 2, 5] and again.attrs["skipped_frames"] == [1, 3, 4]
    images = again["image"].values.copy()
    images[0] = 1.0
    blanked = again.copy()
    blanked["image"] = (("frame", "y", "x"), images)
    twice = drop_bad_frames(blanked)
    assert twice["source_frame"].values.tolist() == [2, 5] and twice.attrs["skipped_frames"] == [1, 3, 4, 0]


def test_a_movie_with_no_usable_frame_is_refused_even_when_skipping():
    with pytest.raises(InputError, match="every one of the 2 frames is unusable"):
        drop_bad_frames(make_frames(np.zeros((2, 16, 16)), 0.1, "x"))


def test_the_samples_table_overrides_the_files_frame_time_and_dose():
    frames = make_frames(np.ones((2, 8, 8)), 0.1, "x")
    assert acquisition(frames.attrs) == {"frame_time_s": None, "dose_e_per_A2_per_frame": None}
    frames.attrs.update(frame_time_s=2.0, frame_time_source="file", frame_time_note="from the file's dwell time")
    set_acquisition(frames, "samples table", frame_time_s=None, dose_e_per_A2_per_frame=float("nan"))
    assert frames.attrs["frame_time_source"] == "file" and "dose_e_per_A2_per_frame" not in frames.attrs
    assert frames.attrs["frame_time_note"] == "from the file's dwell time"  # what is kept keeps its note
    set_acquisition(frames, "samples table", frame_time_s=0.5, dose_e_per_A2_per_frame=1e5)
    assert acquisition(frames.attrs) == {"frame_time_s": 0.5, "dose_e_per_A2_per_frame": 1e5}
    assert frames.attrs["frame_time_source"] == frames.attrs["dose_source"] == "samples table"
    assert "frame_time_note" not in frames.attrs  # the note said how the file's value was found
    with pytest.raises(InputError, match="frame_time_s must be a positive number of seconds"):
        set_acquisition(frames, "samples table", frame_time_s=-1.0)
    with pytest.raises(InputError, match="dose_e_per_A2_per_frame must be a number"):
        set_acquisition(frames, "samples table", dose_e_per_A2_per_frame="a lot")
