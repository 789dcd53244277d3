"""Tests of the HAADF-STEM movie simulator and its ground truth."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.spatial import cKDTree

from rvae_pathways.core.config import defaults
from rvae_pathways.core.errors import InputError
from rvae_pathways.core.vocabulary import CLASS_NAMES, EVENT_KINDS
from rvae_pathways.sim.stem import simulate_stem_movie
from rvae_pathways.sim.stem_sheet import BOND_LENGTH_NM

QUIET = dict(hop_probability=0.0, hole_growth_per_frame=0.0, stone_wales_per_frame=0.0)
# no microscope imperfections (the library's defaults are the workflow's: a probe tail and a support)
CLEAN = dict(probe_tail_fraction=0.0, support_counts=0.0)


@pytest.fixture(scope="module")
def movie() -> xr.Dataset:
    return simulate_stem_movie(**CLEAN)


def frame_truth(ds, t):
    """Truth of frame t as a dict of numpy arrays."""
    m = ds["true_frame"].values == t
    return {
        k: ds[f"true_{k}"].values[m] for k in ("id", "y", "x", "species", "class", "sublattice")
    }


def by_id(ds, t):
    f = frame_truth(ds, t)
    return {int(i): (f["y"][k], f["x"][k]) for k, i in enumerate(f["id"])}


def test_same_seed_same_movie_other_seed_other_movie(movie):
    again = simulate_stem_movie(**CLEAN)
    xr.testing.assert_identical(movie, again)
    other = simulate_stem_movie(seed=1, **CLEAN)
    assert not np.array_equal(movie["image"].values, other["image"].values)
    assert other.attrs["true_lattice_angle_deg"] != movie.attrs["true_lattice_angle_deg"]


def test_layout_dims_and_dtypes(movie):
    assert movie["image"].dims == ("frame", "y", "x")
    assert movie["image"].shape == (20, 256, 256)
    assert movie["image"].dtype == np.float32
    assert movie.attrs["pixel_size_nm"] == 0.01
    assert movie.attrs["modality"] == "stem"
    assert movie.attrs["intensity_units"] == "counts"
    expected = {
        "true_frame": np.int32,
        "true_id": np.int32,
        "true_y": np.float32,
        "true_x": np.float32,
        "true_species": np.int8,
        "true_class": np.int8,
        "true_sublattice": np.int8,
    }
    for name, dtype in expected.items():
        assert movie[name].dims == ("true_atom",), name
        assert movie[name].dtype == dtype, name
    events = {
        "true_event_frame": np.int32,
        "true_event_kind": np.int8,
        "true_event_atom": np.int32,
        "true_event_y": np.float32,
        "true_event_x": np.float32,
    }
    for name, dtype in events.items():
        assert movie[name].dims == ("true_event",), name
        assert movie[name].dtype == dtype, name
    assert movie.attrs["true_class_names"].split(",") == list(CLASS_NAMES)
    assert movie.attrs["true_event_kinds"].split(",") == list(EVENT_KINDS)
    assert 0 <= movie.attrs["true_lattice_angle_deg"] < 60
    assert movie.attrs["bond_length_nm"] == BOND_LENGTH_NM
    for key in ("seed", "dose", "probe_fwhm_nm", "z_exponent"):
        assert key in movie.attrs
    # counts: Poisson draws are whole, non-negative numbers
    img = movie["image"].values
    assert img.min() >= 0 and np.array_equal(img, np.round(img))


def test_truth_inside_image_and_sorted(movie):
    y, x = movie["true_y"].values, movie["true_x"].values
    assert y.min() >= 0 and y.max() <= 255 and x.min() >= 0 and x.max() <= 255
    key = movie["true_frame"].values.astype(np.int64) * 10**6 + movie["true_id"].values
    assert np.all(np.diff(key) > 0)  # sorted by frame then id, no duplicates
    assert set(np.unique(movie["true_frame"].values)) == set(range(20))
    assert set(np.unique(movie["true_species"].values)) == {6, 14}
    assert set(np.unique(movie["true_class"].values)) <= {0, 1, 2, 3}
    assert set(np.unique(movie["true_sublattice"].values)) <= {-1, 0, 1}


def test_pristine_bond_length_and_geometry(movie):
    bond_px = BOND_LENGTH_NM / 0.01
    for t in (0, 19):
        f = frame_truth(movie, t)
        pts = np.stack([f["y"], f["x"]], axis=1)
        d, _ = cKDTree(pts).query(pts, k=2)
        nn = d[:, 1]
        assert nn.min() > 0.9 * bond_px  # no two atoms on top of each other
        pristine = f["class"] == 0
        np.testing.assert_allclose(nn[pristine], bond_px, rtol=1e-4)
        # a pristine atom has exactly three bonded neighbours (those away from the border)
        inner = pristine & (pts.min(axis=1) > 20) & (pts.max(axis=1) < 235)
        counts = cKDTree(pts).query_ball_point(pts[inner], 1.2 * bond_px, return_length=True)
        assert np.all(counts == 4)  # itself + 3
        # neighbours of a sublattice-0 atom are on sublattice 1
        tree = cKDTree(pts)
        for i in np.flatnonzero(inner & (f["sublattice"] == 0)):
            nb = [j for j in tree.query_ball_point(pts[i], 1.2 * bond_px) if j != i]
            assert set(f["sublattice"][nb]) <= {1, -1}


def test_si_brighter_than_c_by_z_contrast():
    ds = simulate_stem_movie(n_frames=1, shot_noise=False, scan_noise=0.0, seed=3, **QUIET, **CLEAN)
    f = frame_truth(ds, 0)
    inner = (np.minimum(f["y"], f["x"]) > 10) & (np.maximum(f["y"], f["x"]) < 245)
    peak = map_coordinates(ds["image"].values[0].astype(float), [f["y"], f["x"]], order=1)
    peak -= ds.attrs["background"]
    si = np.median(peak[inner & (f["species"] == 14)])
    c = np.median(peak[inner & (f["species"] == 6)])
    assert si / c == pytest.approx((14 / 6) ** 1.7, rel=0.03)
    assert c == pytest.approx(ds.attrs["dose"], rel=0.05)
    # at high dose the noisy image shows the same ratio
    noisy = simulate_stem_movie(n_frames=1, dose=5000.0, seed=3, **QUIET, **CLEAN)
    img = gaussian_filter(noisy["image"].values[0].astype(float), 1.0)
    peak = map_coordinates(img, [f["y"], f["x"]], order=1) - noisy.attrs["background"]
    ratio = np.median(peak[inner & (f["species"] == 14)]) / np.median(
        peak[inner & (f["species"] == 6)]
    )
    assert ratio == pytest.approx((14 / 6) ** 1.7, rel=0.06)


def test_default_dose_noisy_but_atoms_detectable(movie):
    img = movie["image"].values[0].astype(float)
    f = frame_truth(movie, 0)
    carbon = f["species"] == 6
    # raw pixels: visibly noisy (Poisson spread at the C peaks ~ 1 / sqrt(dose) = 14% of the signal)
    raw = img[np.round(f["y"]).astype(int), np.round(f["x"]).astype(int)][carbon]
    assert raw.std() > 0.1 * raw.mean()
    # smoothed at the probe scale: every carbon stands clear of the empty hexagon centres
    smooth = gaussian_filter(img, 3.0)
    at_atoms = map_coordinates(smooth, [f["y"], f["x"]], order=1)[carbon]
    hex_level = np.percentile(smooth, 5)
    assert np.percentile(at_atoms, 1) > hex_level + 0.3 * movie.attrs["dose"]


def test_ids_persist_and_removed_ids_never_return(movie):
    si_ids = set(movie["true_id"].values[movie["true_species"].values == 14].tolist())
    assert len(si_ids) == movie.attrs["n_dopants"] >= 3
    for t in range(20):
        f = frame_truth(movie, t)
        for i in si_ids & set(f["id"].tolist()):
            k = np.flatnonzero(f["id"] == i)[0]
            assert f["species"][k] == 14 and f["class"][k] == 1
        # carbon ids stay carbon
        assert np.all(f["species"][~np.isin(f["id"], list(si_ids))] == 6)
    kind = movie["true_event_kind"].values
    ev_frame = movie["true_event_frame"].values
    ev_atom = movie["true_event_atom"].values
    removed = kind == 1
    assert len(set(ev_atom[removed].tolist())) == removed.sum()  # each id removed once
    frames = movie["true_frame"].values
    ids = movie["true_id"].values
    for t, i in zip(ev_frame[removed], ev_atom[removed]):
        assert not np.any((ids == i) & (frames >= t))
        assert np.any((ids == i) & (frames == t - 1))  # it was there the frame before


def test_events_of_each_kind_consistent_with_truth(movie):
    kind = movie["true_event_kind"].values
    counts = np.bincount(kind, minlength=3)
    assert np.all(counts >= 1), counts
    bond_px = BOND_LENGTH_NM / 0.01
    drift = np.stack([movie["true_drift_y"].values, movie["true_drift_x"].values], axis=1)
    for t, k, i, y, x in zip(
        movie["true_event_frame"].values,
        kind,
        movie["true_event_atom"].values,
        movie["true_event_y"].values,
        movie["true_event_x"].values,
    ):
        assert 1 <= t < 20
        step = drift[t] - drift[t - 1]
        before, now = by_id(movie, t - 1), by_id(movie, t)
        if k == 0:  # the Si is at the event position, one bond from where it was
            assert movie["true_species"].values[movie["true_id"].values == i][0] == 14
            np.testing.assert_allclose(now[i], (y, x), atol=1e-3)
            moved = np.subtract(now[i], before[i]) - step
            assert np.hypot(*moved) == pytest.approx(bond_px, rel=1e-3)
            # some carbon took the Si's old site
            old = np.add(before[i], step)
            f = frame_truth(movie, t)
            d = np.hypot(f["y"] - old[0], f["x"] - old[1])
            assert d.min() < 1e-3 and f["species"][np.argmin(d)] == 6
        elif k == 1:  # removed where it was (moved by the drift)
            np.testing.assert_allclose(np.add(before[i], step), (y, x), atol=1e-3)
        else:  # Stone-Wales: the atom sits half a bond from the midpoint, off its old site
            f = frame_truth(movie, t)
            j = np.flatnonzero(f["id"] == i)[0]
            assert f["sublattice"][j] == -1 and f["class"][j] == 2
            assert np.hypot(f["y"][j] - y, f["x"][j] - x) == pytest.approx(bond_px / 2, rel=1e-3)
            moved = np.subtract(now[i], before[i]) - step
            assert np.hypot(*moved) == pytest.approx(bond_px / np.sqrt(2), rel=1e-3)
            # six atoms (rotated pair + their four neighbours) carry the defect class
            near = np.hypot(f["y"] - y, f["x"] - x) < 1.6 * bond_px
            assert np.sum(near & (f["class"] == 2)) == 6


def test_hole_grows(movie):
    t0 = movie.attrs["hole_start_frame"]
    centre = np.array([movie.attrs["true_hole_y"], movie.attrs["true_hole_x"]])
    drift = np.stack([movie["true_drift_y"].values, movie["true_drift_x"].values], axis=1)
    counts = []
    for t in range(20):
        f = frame_truth(movie, t)
        c = centre - drift[t0] + drift[t]  # the hole moves with the specimen
        counts.append(np.sum(np.hypot(f["y"] - c[0], f["x"] - c[1]) < 50))
    assert counts[t0 - 1] - counts[-1] >= 15
    assert counts[0] == counts[t0 - 1]  # nothing removed before the hole starts
    n_edge = [np.sum(frame_truth(movie, t)["class"] == 3) for t in range(20)]
    assert n_edge[0] == 0 and n_edge[-1] >= 8


@pytest.mark.parametrize("speed", [0.002, 0.005])
def test_drift_matches_parameter(speed):
    ds = simulate_stem_movie(n_frames=6, drift_nm_per_frame=speed, seed=5, **QUIET, **CLEAN)
    step_px = speed / 0.01
    for t in range(1, 6):
        a, b = by_id(ds, t - 1), by_id(ds, t)
        common = sorted(set(a) & set(b))
        shift = np.array([np.subtract(b[i], a[i]) for i in common])
        assert np.abs(shift - shift[0]).max() < 1e-3  # a rigid translation
        assert np.hypot(*shift[0]) == pytest.approx(step_px, rel=1e-3)
        recorded = [ds["true_drift_y"][t] - ds["true_drift_y"][t - 1],
                    ds["true_drift_x"][t] - ds["true_drift_x"][t - 1]]
        np.testing.assert_allclose(shift[0], recorded, atol=1e-3)
    if speed == 0.005:  # 2.5 px over the movie: atoms drift in and out across the border
        assert set(by_id(ds, 5)) ^ set(by_id(ds, 0))


def test_line_jitter_changes_image_not_truth():
    plain = simulate_stem_movie(n_frames=2, shape=(64, 64), seed=2, **CLEAN)
    jit = simulate_stem_movie(n_frames=2, shape=(64, 64), seed=2, line_jitter_px=0.05, **CLEAN)
    for name in ("true_id", "true_y", "true_x", "true_class"):
        np.testing.assert_array_equal(plain[name].values, jit[name].values)
    assert not np.array_equal(plain["image"].values, jit["image"].values)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(dose=-1.0),
        dict(dose=0.0),
        dict(n_frames=0),
        dict(n_frames=2.5),
        dict(shape=(8, 256)),
        dict(shape=(256,)),
        dict(pixel_size_nm=0.0),
        dict(pixel_size_nm=0.1),
        dict(probe_fwhm_nm=-0.1),
        dict(background=-1.0),
        dict(hop_probability=1.5),
        dict(hole_growth_per_frame=-2.0),
        dict(stone_wales_per_frame=float("nan")),
        dict(drift_nm_per_frame=-0.01),
        dict(scan_noise=0.9),
        dict(line_jitter_px=-0.1),
        dict(hole_start_frame=0),
        dict(n_dopants=-1),
        dict(n_dopants=500),
        dict(seed=-3),
    ],
)
def test_bad_parameters_raise_input_error(kwargs):
    with pytest.raises(InputError):
        simulate_stem_movie(**kwargs)


def test_quiet_movie_has_no_events():
    ds = simulate_stem_movie(n_frames=3, shape=(64, 64), seed=1, **QUIET, **CLEAN)
    assert ds.sizes["true_event"] == 0
    assert np.all(np.isin(ds["true_class"].values, [0, 1]))


@pytest.mark.parametrize("n_frames", [20, 1])
def test_zarr_round_trip(movie, tmp_path, n_frames):
    ds = movie if n_frames == 20 else simulate_stem_movie(n_frames=1, shape=(64, 64), **CLEAN)
    path = tmp_path / "movie.zarr"
    ds.to_zarr(path)
    back = xr.open_zarr(path).load()
    assert back.attrs == ds.attrs
    for name, var in ds.data_vars.items():
        assert back[name].dims == var.dims
        assert back[name].dtype == var.dtype, name
        np.testing.assert_array_equal(back[name].values, var.values)


def test_probe_tails_keep_the_counts_and_a_support_leaves_the_atoms_alone():
    plain = simulate_stem_movie(n_frames=2, shape=(96, 96), seed=2, shot_noise=False, scan_noise=0.0, **CLEAN)
    tails = simulate_stem_movie(n_frames=2, shape=(96, 96), seed=2, shot_noise=False, scan_noise=0.0,
                                **{**CLEAN, "probe_tail_fraction": 0.25})
    support = simulate_stem_movie(n_frames=2, shape=(96, 96), seed=2, shot_noise=False, scan_noise=0.0,
                                  **{**CLEAN, "support_counts": 3.0})
    # a quarter of each spot's counts moves into the wide tail: the peaks drop, the sum barely
    # changes (only what the tails spill over the border)
    assert tails["image"].max() < 0.85 * plain["image"].max()
    assert float(tails["image"].sum()) == pytest.approx(float(plain["image"].sum()), rel=0.03)
    # the support adds a smooth, non-negative field of the asked spread; the atoms are the same
    extra = (support["image"] - plain["image"]).values
    assert extra.min() >= -1e-3 and 2.0 < extra.std() < 4.0
    assert np.array_equal(support["true_x"].values, plain["true_x"].values)
    with pytest.raises(InputError, match="probe_tail_fwhm_nm"):
        simulate_stem_movie(n_frames=1, shape=(64, 64), probe_tail_fraction=0.2, probe_tail_fwhm_nm=0.05)


def test_defaults_are_the_config_schemas():
    """A bare call simulates what the workflow simulates by default (microscope imperfections included)."""
    config = defaults("simulate_stem")
    ds = simulate_stem_movie(n_frames=1, shape=(64, 64))
    for key in ("pixel_size_nm", "seed", "dose", "probe_tail_fraction", "support_counts"):
        assert ds.attrs[key] == config[key], key
    assert config["probe_tail_fraction"] > 0 and config["support_counts"] > 0
    signature = inspect.signature(simulate_stem_movie).parameters
    assert signature["n_frames"].default == config["n_frames"]
    assert signature["shape"].default == (config["height"], config["width"])
