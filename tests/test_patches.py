import numpy as np
import pytest
import xarray as xr

from rvae_pathways.errors import InputError
from rvae_pathways.patches import check_window, default_window_px, extract_movie_patches, extract_patches


def test_default_window_is_odd_and_about_twice_the_spacing():
    assert default_window_px(14.2) == 29
    assert default_window_px(15.0) == 31
    assert default_window_px(1.0) == 5


def test_rot90_of_an_odd_patch_turns_about_the_atom():
    image = np.zeros((40, 40))
    image[20, 20] = 1.0  # the atom
    image[20, 26] = 0.5  # a neighbour to its right
    (patch,), _ = extract_patches(image, np.array([20.3]), np.array([19.8]), default_window_px(7.0))
    c = patch.shape[0] // 2
    turned = np.rot90(patch)
    assert turned[c, c] == 1.0  # the atom stays put
    assert turned[c - 6, c] == 0.5  # the neighbour moves from the right to above


def test_extract_patches_centres_each_atom_and_drops_border_atoms():
    image = np.arange(400, dtype=float).reshape(20, 20)
    y = np.array([10.2, 1.0, 9.6, 18.0])
    x = np.array([10.4, 10.0, 3.0, 18.0])
    patches, kept = extract_patches(image, y, x, 6)
    assert kept.tolist() == [True, False, True, False]
    assert patches.shape == (2, 6, 6) and patches.dtype == np.float32
    # centre index w // 2 holds the pixel nearest the atom
    assert patches[0, 3, 3] == image[10, 10]
    assert patches[1, 3, 3] == image[10, 3]
    np.testing.assert_array_equal(patches[0], image[7:13, 7:13])


def test_window_larger_than_the_frame_is_an_input_error():
    with pytest.raises(InputError, match="window_px"):
        check_window(40, (32, 64))
    with pytest.raises(InputError):
        extract_patches(np.zeros((8, 8)), np.array([4.0]), np.array([4.0]), 10)


def _movie(n_frames, atoms_per_frame=5, size=40):
    rng = np.random.default_rng(0)
    aligned = xr.Dataset(
        {"image": (("frame", "y", "x"), rng.normal(size=(n_frames, size, size)).astype(np.float32))},
        attrs={"pixel_size_nm": 0.01, "true_class_names": "a,b"},
    )
    frame = np.repeat(np.arange(n_frames), atoms_per_frame).astype(np.int32)
    y = rng.uniform(0, size, frame.size).astype(np.float32)
    x = rng.uniform(0, size, frame.size).astype(np.float32)
    atoms = xr.Dataset(
        {
            "frame": ("atom", frame),
            "y": ("atom", y),
            "x": ("atom", x),
            "intensity": ("atom", np.ones(frame.size, np.float32)),
            "true_class": ("atom", rng.integers(0, 2, frame.size).astype(np.int32)),
        }
    )
    return aligned, atoms


def test_extract_movie_patches_streams_in_fixed_chunks(tmp_path):
    aligned, atoms = _movie(7)
    counts = extract_movie_patches(aligned, atoms, tmp_path / "p.zarr", 8, chunk_rows=4)
    patches = xr.open_zarr(tmp_path / "p.zarr")
    n = counts["n_patches"]
    assert n + counts["n_dropped_at_border"] == atoms.sizes["atom"]
    assert patches["image"].shape == (n, 8, 8)
    assert set(c for c in patches["image"].chunks[0][:-1]) == {4}
    assert patches.attrs["n_dropped_at_border"] == counts["n_dropped_at_border"]
    assert patches.attrs["true_class_names"] == "a,b"
    # each patch remembers its atom, and is the window around that atom
    k = n // 2
    a = int(patches["atom"][k])
    f, yy, xx = int(atoms["frame"][a]), int(np.rint(atoms["y"][a])), int(np.rint(atoms["x"][a]))
    np.testing.assert_array_equal(patches["image"][k].values, aligned["image"][f, yy - 4 : yy + 4, xx - 4 : xx + 4].values)
    assert int(patches["true_class"][k]) == int(atoms["true_class"][a])


def test_extract_movie_patches_with_every_atom_at_the_border_is_an_input_error(tmp_path):
    aligned, atoms = _movie(2)
    atoms["y"][:] = 0.0
    with pytest.raises(InputError, match="border"):
        extract_movie_patches(aligned, atoms, tmp_path / "p.zarr", 8)
