import json

import numpy as np
import pytest
import xarray as xr

from rvae_pathways.pfm_scores import TARGETS, domain_labels, score_pfm, wall_windows
from rvae_pathways.tiles import tile_movie


def test_domain_labels_split_two_clusters_and_follow_orient_by():
    rng = np.random.default_rng(0)
    truth = np.repeat([1, -1], [300, 100])
    z = np.column_stack([truth * 2.0, np.zeros(400)]) + rng.normal(scale=0.4, size=(400, 2))
    labels = domain_labels(z, seed=0)
    assert labels.dtype == np.int8 and set(np.unique(labels)) == {-1, 1}
    agree = np.mean(labels == truth)
    assert max(agree, 1 - agree) > 0.99
    assert np.mean(labels == 1) == pytest.approx(0.75, abs=0.01)  # +1: the more populous state
    np.testing.assert_array_equal(domain_labels(z, seed=0), labels)  # deterministic
    # orient_by picks +1 as the state with the larger mean signal, whatever the cluster sizes
    signal = -truth + rng.normal(scale=0.1, size=400)
    oriented = domain_labels(z, seed=0, orient_by=signal)
    assert np.mean(oriented == -truth) > 0.99


def test_domain_labels_degenerate_inputs_do_not_crash():
    assert domain_labels(np.zeros((5, 3))).tolist() == [1] * 5
    assert domain_labels(np.zeros((0, 3))).shape == (0,)
    assert domain_labels(np.ones((1, 2))).tolist() == [1]


def test_wall_windows_on_a_hand_made_grid():
    grid = np.array([
        [[1, 1, 1, -1],
         [1, 1, 1, -1],
         [1, 1, 1, 1]],
        [[1, 1, 1, 1],
         [1, 1, 1, 1],
         [1, 1, 1, 1]],
    ], dtype=np.int8)
    walls = wall_windows(grid)
    expected = np.array([
        [[0, 0, 1, 1],
         [0, 0, 1, 1],
         [0, 0, 0, 1]],
        [[0, 0, 0, 0],
         [0, 0, 0, 0],
         [0, 0, 0, 0]],
    ], dtype=bool)
    np.testing.assert_array_equal(walls, expected)
    # one frame as (rows, cols); missing windows (0) make no wall; frames do not touch
    np.testing.assert_array_equal(wall_windows(grid[0]), expected[0])
    holes = grid[0].copy()
    holes[:, 3] = 0
    assert not wall_windows(holes).any()


def _disc_movie(n_frames=8, size=96, r0=10.0, growth=4.0):
    """A down (-1) film with an up (+1) disc growing by ``growth`` px a frame; the wall: pixels with an
    opposite 4-neighbour."""
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.hypot(yy - 47.5, xx - 47.5)
    domain = np.stack([np.where(r <= r0 + growth * f, 1, -1) for f in range(n_frames)]).astype(np.int8)
    wall = np.zeros(domain.shape, bool)
    for axis in (1, 2):
        differ = np.diff(domain, axis=axis) != 0
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        wall[tuple(lo)] |= differ
        wall[tuple(hi)] |= differ
    switched = (domain == 1).mean(axis=(1, 2))
    rng = np.random.default_rng(3)
    images = xr.DataArray((domain + 0.3 * rng.normal(size=domain.shape)).astype(np.float32),
                          dims=("frame", "y", "x"), attrs={"pixel_size_nm": 1.0})
    truth = xr.Dataset({"true_domain": (("frame", "y", "x"), domain), "true_wall": (("frame", "y", "x"), wall)})
    return images, truth, switched


@pytest.fixture(scope="module")
def disc_case(tmp_path_factory):
    images, truth, switched = _disc_movie()
    path = tmp_path_factory.mktemp("pfm") / "patches.zarr"
    summary = tile_movie(images, path, 8, 4, truth=truth)
    p = xr.open_zarr(path).load()
    rng = np.random.default_rng(5)
    mean = p["image"].values.mean(axis=(1, 2))
    # content latents: a noisy, non-linear function of the window mean, plus a latent of noise
    z = np.column_stack([np.tanh(2 * mean) + 0.05 * rng.normal(size=len(mean)), rng.normal(size=len(mean))])
    args = dict(
        frame=p["frame"].values, row=p["row"].values, col=p["col"].values, y=p["y"].values, x=p["x"].values,
        grid_shape=(summary["grid_rows"], summary["grid_cols"]), stride_px=4, window_px=8,
        true_domain=p["true_domain"].values, true_wall_distance_px=p["true_wall_distance_px"].values,
        true_wall=truth["true_wall"].values, true_switched_fraction=switched,
    )
    return z, args, mean


def test_score_pfm_meets_every_target_on_latents_that_follow_the_truth(disc_case):
    z, args, mean = disc_case
    scores = score_pfm(z, **args)
    json.dumps(scores)  # JSON-ready
    assert scores["targets"] == TARGETS
    assert scores["sign_accuracy"]["threshold_px"] == 4.0  # max(stride, window / 2)
    assert scores["sign_accuracy"]["value"] >= 0.98
    assert scores["walls"]["tolerance_px"] == 4.0
    assert scores["walls"]["precision"] > 0.9 and scores["walls"]["recall"] > 0.9
    assert scores["switched_fraction"]["value"] >= 0.95
    assert len(scores["switched_fraction"]["predicted"]) == 8
    assert scores["switched_fraction"]["switched_state"] in (1, -1)
    assert scores["passes"] == {"sign_accuracy": True, "walls": True, "switched_fraction": True}
    assert scores["all_pass"]
    # the sign is arbitrary without orient_by, and fixed by it: +1 = larger mean signal = the true up
    oriented = score_pfm(z, **args, orient_by=mean)
    assert oriented["sign_accuracy"]["sign_flipped"] is False
    flipped = score_pfm(-z, **args, orient_by=-mean)
    assert flipped["sign_accuracy"]["sign_flipped"] is True
    assert flipped["sign_accuracy"]["value"] == pytest.approx(oriented["sign_accuracy"]["value"])


def test_score_pfm_fails_on_scrambled_latents(disc_case):
    z, args, _ = disc_case
    scrambled = z[np.random.default_rng(0).permutation(len(z))]
    scores = score_pfm(scrambled, **args)
    assert scores["sign_accuracy"]["value"] < 0.9
    assert scores["walls"]["value"] < 0.5
    assert not (scores["switched_fraction"]["value"] >= 0.95)
    assert scores["passes"] == {"sign_accuracy": False, "walls": False, "switched_fraction": False}
    assert not scores["all_pass"]


def test_score_pfm_degenerate_cases_give_nan_with_a_note(disc_case):
    z, args, _ = disc_case
    n = len(z)
    flat = dict(args, true_wall=np.zeros_like(args["true_wall"]), true_domain=np.ones(n, np.int8),
                true_wall_distance_px=np.full(n, 1e3), true_switched_fraction=np.zeros(8))
    scores = score_pfm(np.zeros((n, 2)), **flat)  # one state only: no latent wall, no true wall
    json.dumps(scores)
    assert scores["sign_accuracy"]["value"] == 1.0
    assert np.isnan(scores["walls"]["value"]) and "no wall" in scores["walls"]["note"]
    assert np.isnan(scores["switched_fraction"]["value"]) and "flat" in scores["switched_fraction"]["note"]
    assert scores["passes"] == {"sign_accuracy": True, "walls": False, "switched_fraction": False}
    near = dict(args, true_wall_distance_px=np.zeros(n))
    scores = score_pfm(z, **near)
    assert np.isnan(scores["sign_accuracy"]["value"]) and scores["sign_accuracy"]["note"]
    assert not scores["passes"]["sign_accuracy"]
