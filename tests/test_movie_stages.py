"""The movie-level stages chained in the library, on a small simulated movie."""

import numpy as np
import pytest
import xarray as xr

from rvae_pathways.stem.align import prepare_movie
from rvae_pathways.stem.movie import find_atoms_in_movie
from rvae_pathways.core.errors import InputError
from rvae_pathways.core.frames import make_frames, write_frames
from rvae_pathways.scores.atoms import label_atoms_with_truth, score_movie
from rvae_pathways.stem.patches import default_window_px, extract_movie_patches
from rvae_pathways.sim.stem import simulate_stem_movie

SPACING_PX = 14.2
# no probe tail, no support (the simulator's defaults are the demo's imperfect microscope)
CLEAN = dict(probe_tail_fraction=0.0, support_counts=0.0)


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stages")
    write_frames(simulate_stem_movie(n_frames=4, shape=(160, 160), seed=3, **CLEAN), folder / "frames.zarr")
    prepare_movie(xr.open_zarr(folder / "frames.zarr"), folder / "aligned.zarr", max_shift=0.5 * SPACING_PX)
    aligned = xr.open_zarr(folder / "aligned.zarr")
    find_atoms_in_movie(aligned, folder / "atoms.zarr", SPACING_PX, chunk_rows=100)
    label_atoms_with_truth(folder / "atoms.zarr", aligned, tolerance_px=3.0)
    return folder, aligned, xr.open_zarr(folder / "atoms.zarr")


def test_atom_scores_meet_the_targets_on_a_small_movie(stages):
    _, aligned, atoms = stages
    scores = score_movie(aligned, atoms, tolerance_px=3.0, margin_px=SPACING_PX)
    assert scores["tp"] > 200
    assert scores["f1"] >= 0.99
    assert scores["rmse_px"] <= 0.2
    assert scores["recall_by_class"]["Si"] == 1.0
    assert [f["frame"] for f in scores["frames"]] == [0, 1, 2, 3]


def test_atom_table_is_sorted_by_frame_and_drift_corrected(stages):
    _, aligned, atoms = stages
    frame = atoms["frame"].values
    assert (np.diff(frame) >= 0).all() and set(frame) == {0, 1, 2, 3}
    assert atoms["y"].chunks[0][0] == 100
    for i in range(4):
        rows = frame == i
        np.testing.assert_allclose(
            atoms["y_aligned"].values[rows], atoms["y"].values[rows] - aligned["drift_y"].values[i], atol=1e-4
        )
    # every atom whose centre is in the frame matched a true atom (the truth lists only those)
    y, x = atoms["y"].values, atoms["x"].values
    in_frame = (y >= 1) & (y <= 158) & (x >= 1) & (x <= 158)
    assert (atoms["true_id"].values[in_frame] >= 0).mean() >= 0.99
    assert np.nanmax(atoms["true_distance_px"].values) <= 3.0


def test_two_workers_write_the_same_atom_table_as_one(stages, tmp_path):
    folder, aligned, atoms = stages
    find_atoms_in_movie(aligned, tmp_path / "atoms.zarr", SPACING_PX, chunk_rows=100, workers=2)
    label_atoms_with_truth(tmp_path / "atoms.zarr", aligned, tolerance_px=3.0)
    xr.testing.assert_identical(xr.open_zarr(tmp_path / "atoms.zarr").load(), atoms.load())
    with pytest.raises(InputError, match="workers"):
        find_atoms_in_movie(aligned, tmp_path / "other.zarr", SPACING_PX, workers=0)


def test_patches_of_the_small_movie(stages):
    folder, aligned, atoms = stages
    counts = extract_movie_patches(aligned, atoms, folder / "patches.zarr", default_window_px(SPACING_PX), 15, 256)
    patches = xr.open_zarr(folder / "patches.zarr")
    assert patches.sizes["patch"] == counts["n_patches"] > 100
    # Si patches are brighter at the centre than C patches
    assert patches.sizes["py"] == patches.sizes["px"] == 15
    centre = patches["image"].values[:, 7, 7]
    cls = patches["true_class"].values
    assert centre[cls == 1].mean() > 2 * centre[cls == 0].mean()


def test_a_movie_without_atoms_is_an_input_error(tmp_path):
    noise = np.random.default_rng(0).poisson(3.0, (2, 64, 64)).astype(float)
    frames = make_frames(noise, 0.01, "noise.npy")
    prepare_movie(frames, tmp_path / "aligned.zarr")
    with pytest.raises(InputError, match="no atoms found"):
        find_atoms_in_movie(xr.open_zarr(tmp_path / "aligned.zarr"), tmp_path / "atoms.zarr", SPACING_PX)
