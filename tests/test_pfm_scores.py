import json

import numpy as np
import pytest
import xarray as xr

from rvae_pathways.pfm.domains import domain_labels, switched_fraction
from rvae_pathways.pfm.tiles import tile_movie
from rvae_pathways.scores.pfm import (TARGETS, label_windows_with_truth, score_pfm, score_switched_fraction,
                                     wall_points)


def test_domain_labels_are_the_sign_of_the_decoded_centre():
    labels = domain_labels(np.array([0.7, -0.2, 0.0, -1e-9, 3.0]))
    assert labels.dtype == np.int8
    assert labels.tolist() == [1, -1, 1, -1, 1]
    assert domain_labels(np.zeros(0)).shape == (0,)


def test_decode_centre_is_the_decoded_patch_at_its_middle_pixel():
    import torch

    from rvae_pathways.rvae.manifold import decode_centre
    from rvae_pathways.rvae.model import RVAE

    torch.manual_seed(0)
    model = RVAE(7, n_latent=2)  # odd: the middle pixel sits at grid point (0, 0)
    z = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    with torch.no_grad():
        images = model.decode(torch.as_tensor(z)).numpy()
    np.testing.assert_allclose(decode_centre(model, z), images[:, 3, 3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(decode_centre(model, z, batch_size=2), images[:, 3, 3], rtol=1e-5, atol=1e-6)


def test_wall_points_lie_midway_between_disagreeing_neighbours():
    grid = np.array([
        [[1, 1, -1],
         [1, 1, -1]],
        [[1, 1, 1],
         [0, -1, 1]],
    ], dtype=np.int8)
    rows, cols = np.mgrid[0:2, 0:3]
    centre_y = np.broadcast_to(10.0 + 4 * rows, grid.shape)  # stride 4, first centre at 10
    centre_x = np.broadcast_to(20.0 + 4 * cols, grid.shape)
    points = wall_points(grid, centre_y, centre_x)
    assert len(points) == 2
    # frame 0: a vertical wall between columns 1 and 2, in both rows
    assert sorted(map(tuple, points[0])) == [(10.0, 26.0), (14.0, 26.0)]
    # frame 1: the -1 at (1, 1) against its up neighbours; the missing window (0) makes no wall
    assert sorted(map(tuple, points[1])) == [(12.0, 24.0), (14.0, 26.0)]
    assert points[0].dtype == float


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
    summary = tile_movie(images, path, 8, 4, None)
    label_windows_with_truth(path, truth)
    p = xr.open_zarr(path).load()
    rng = np.random.default_rng(5)
    # what a decoder would draw at the window centres: a smoothed, noisy signal around the centre
    centre = p["image"].values[:, 3:5, 3:5].mean(axis=(1, 2)) + 0.05 * rng.normal(size=p.sizes["patch"])
    labels = domain_labels(centre)
    args = dict(
        frame=p["frame"].values, row=p["row"].values, col=p["col"].values, y=p["y"].values, x=p["x"].values,
        grid_shape=(summary["grid_rows"], summary["grid_cols"]), stride_px=4, window_px=8,
        true_domain=p["true_domain"].values, true_wall_distance_px=p["true_wall_distance_px"].values,
        true_wall=truth["true_wall"].values, true_switched_fraction=switched,
    )
    return labels, args


def test_score_pfm_meets_every_target_on_labels_that_follow_the_truth(disc_case):
    labels, args = disc_case
    scores = score_pfm(labels, **args)
    json.dumps(scores, allow_nan=False)  # strict JSON
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
    assert scores["sign_accuracy"]["sign_flipped"] is False
    # a model may draw the opposite sign: scored up to a global flip, and said so
    flipped = score_pfm(-labels, **args)
    assert flipped["sign_accuracy"]["sign_flipped"] is True
    assert flipped["sign_accuracy"]["value"] == pytest.approx(scores["sign_accuracy"]["value"])
    assert flipped["walls"]["value"] == pytest.approx(scores["walls"]["value"])


def test_score_pfm_fails_on_scrambled_labels(disc_case):
    labels, args = disc_case
    scrambled = labels[np.random.default_rng(0).permutation(len(labels))]
    scores = score_pfm(scrambled, **args)
    assert scores["sign_accuracy"]["value"] < 0.9
    assert scores["walls"]["value"] < 0.5
    assert not (scores["switched_fraction"]["value"] >= 0.95)
    assert scores["passes"] == {"sign_accuracy": False, "walls": False, "switched_fraction": False}
    assert not scores["all_pass"]


def test_score_pfm_degenerate_cases_give_none_with_a_note(disc_case):
    labels, args = disc_case
    n = len(labels)
    flat = dict(args, true_wall=np.zeros_like(args["true_wall"]), true_domain=np.ones(n, np.int8),
                true_wall_distance_px=np.full(n, 1e3), true_switched_fraction=np.zeros(8))
    scores = score_pfm(np.ones(n, np.int8), **flat)  # one state only: no latent wall, no true wall
    json.dumps(scores, allow_nan=False)
    assert scores["sign_accuracy"]["value"] == 1.0
    assert scores["walls"]["value"] is None and "no wall" in scores["walls"]["note"]
    assert scores["switched_fraction"]["value"] is None and "flat" in scores["switched_fraction"]["note"]
    assert scores["passes"] == {"sign_accuracy": True, "walls": False, "switched_fraction": False}
    near = dict(args, true_wall_distance_px=np.zeros(n))
    scores = score_pfm(labels, **near)
    assert scores["sign_accuracy"]["value"] is None and scores["sign_accuracy"]["note"]
    assert not scores["passes"]["sign_accuracy"]


def test_switched_fraction_counts_the_minority_state_of_the_first_frame():
    frame = np.repeat([0, 1, 2], 4)
    labels = np.array([1, 1, 1, -1, 1, 1, -1, -1, -1, -1, -1, 0])
    fraction, state = switched_fraction(labels, frame, 4)
    np.testing.assert_allclose(fraction, [0.25, 0.5, 1.0, np.nan])  # label 0 (unassigned) left out; frame 3 empty
    assert state == -1
    # the other way round: -1 is the majority at first
    fraction, state = switched_fraction(-labels, frame, 3)
    np.testing.assert_allclose(fraction, [0.25, 0.5, 1.0])
    assert state == 1
    # a tie in the first frame: -1 counts as switched
    np.testing.assert_allclose(switched_fraction([1, -1, -1, -1], [0, 0, 1, 1], 2)[0], [0.5, 1.0])


def test_the_score_and_the_figure_read_one_switched_fraction():
    frame = np.repeat([0, 1, 2], 4)
    labels = np.array([1, 1, 1, -1, 1, 1, -1, -1, -1, -1, -1, 0])
    scored = score_switched_fraction(labels, frame, 3, np.array([0.2, 0.5, 0.9]))
    np.testing.assert_allclose(scored["predicted"], switched_fraction(labels, frame, 3)[0])
