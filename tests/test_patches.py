import numpy as np
import pytest
import xarray as xr

from rvae_pathways.core.errors import InputError
from rvae_pathways.core.geometry import antialias_sigma, sample_grid
from rvae_pathways.stem.patches import check_window, default_window_px, extract_movie_patches, sample_patches


def test_default_window_is_the_factor_times_the_spacing():
    assert default_window_px(14.2) == pytest.approx(28.4)
    assert default_window_px(14.2, 2.5) == pytest.approx(35.5)


def test_sample_grid_is_centred_on_the_atom_for_odd_and_even_sizes():
    for n in (15, 16):
        offsets, step = sample_grid(30.0, n)
        assert step == pytest.approx(30.0 / n)
        np.testing.assert_allclose(offsets, -offsets[::-1])  # symmetric about the atom
        np.testing.assert_allclose(np.diff(offsets), step)
    with pytest.raises(InputError, match="patch_px"):
        sample_grid(30.0, 2)


def test_rot90_of_a_patch_turns_about_the_atom():
    image = np.zeros((40, 40))
    image[20, 20] = 1.0  # the atom
    image[20, 26] = 0.5  # a neighbour to its right
    # one sample per pixel at an integer position: plain pixel values, no blur
    (patch,), _ = sample_patches(image, np.array([20.0]), np.array([20.0]), 15.0, 15)
    c = 7
    turned = np.rot90(patch)
    assert turned[c, c] == 1.0  # the atom stays put
    assert turned[c - 6, c] == 0.5  # the neighbour moves from the right to above


def test_patches_are_sampled_at_the_sub_pixel_position():
    yy, xx = np.mgrid[0:40, 0:40].astype(float)
    image = 3.0 * yy - 2.0 * xx  # a linear ramp is reproduced exactly by bilinear interpolation
    (patch,), kept = sample_patches(image, np.array([20.3]), np.array([19.6]), 9.0, 9)
    assert kept.all()
    assert patch[4, 4] == pytest.approx(3.0 * 20.3 - 2.0 * 19.6, abs=1e-4)
    assert patch[5, 4] - patch[4, 4] == pytest.approx(3.0, abs=1e-4)  # one sample = one px here
    assert patch[4, 5] - patch[4, 4] == pytest.approx(-2.0, abs=1e-4)


def test_coarser_sampling_blurs_first_so_noise_does_not_alias():
    assert antialias_sigma(1.0) == 0.0
    assert antialias_sigma(2.0) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(200, 200))
    y = x = np.full(50, 100.0) + rng.uniform(-20, 20, 50)
    fine, _ = sample_patches(noise, y, x, 30.0, 30)
    coarse, _ = sample_patches(noise, y, x, 30.0, 15)
    assert coarse.shape == (50, 15, 15)
    assert coarse.std() < 0.6 * fine.std()  # averaged over about a sample spacing


def test_sample_patches_drops_atoms_whose_window_leaves_the_frame():
    image = np.arange(400, dtype=float).reshape(20, 20)
    y = np.array([10.2, 1.0, 9.6, 18.0])
    x = np.array([10.4, 10.0, 3.0, 18.0])
    patches, kept = sample_patches(image, y, x, 6.0, 6)
    assert kept.tolist() == [True, False, True, False]
    assert patches.shape == (2, 6, 6) and patches.dtype == np.float32


def test_window_larger_than_the_frame_is_an_input_error():
    with pytest.raises(InputError, match="window_px"):
        check_window(40, (32, 64))
    with pytest.raises(InputError):
        sample_patches(np.zeros((8, 8)), np.array([4.0]), np.array([4.0]), 10.0, 5)


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
    counts = extract_movie_patches(aligned, atoms, tmp_path / "p.zarr", 8.0, 8, chunk_rows=4)
    patches = xr.open_zarr(tmp_path / "p.zarr")
    n = counts["n_patches"]
    assert n + counts["n_dropped_at_border"] == atoms.sizes["atom"]
    assert patches["image"].shape == (n, 8, 8)
    assert set(c for c in patches["image"].chunks[0][:-1]) == {4}
    assert patches.attrs["n_dropped_at_border"] == counts["n_dropped_at_border"]
    assert patches.attrs["true_class_names"] == "a,b"
    assert patches.attrs["pixel_size_nm"] == pytest.approx(0.01) and patches.attrs["patch_px"] == 8
    # each patch remembers its atom, and is the window around that atom
    k = n // 2
    a = int(patches["atom"][k])
    f = int(atoms["frame"][a])
    expected, _ = sample_patches(aligned["image"][f].values, atoms["y"].values[[a]], atoms["x"].values[[a]], 8.0, 8)
    np.testing.assert_array_equal(patches["image"][k].values, expected[0])
    assert int(patches["true_class"][k]) == int(atoms["true_class"][a])


def test_extract_movie_patches_with_every_atom_at_the_border_is_an_input_error(tmp_path):
    aligned, atoms = _movie(2)
    atoms["y"][:] = 0.0
    with pytest.raises(InputError, match="border"):
        extract_movie_patches(aligned, atoms, tmp_path / "p.zarr", 8.0, 8)
