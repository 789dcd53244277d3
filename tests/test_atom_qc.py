"""Tests of the lattice quality check of found atoms (rvae_pathways.stem.qc).

Every wrong result of the atom finder must show: a spacing 2x off either way, noise, atoms on an
amorphous support; a right one must pass, with or without a vacuum hole, simulated or real.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from rvae_pathways.stem.align import normalise_intensity
from rvae_pathways.stem.lattice_map import resolved_lattice_map
from rvae_pathways.stem.material import lattice_area, material_map
from rvae_pathways.stem.qc import check_frame
from rvae_pathways.stem.qc_verdicts import METRIC_BANDS, THRESHOLDS, VERDICTS, qc_messages, summarise, verdict_of
from rvae_pathways.stem.atoms import find_atoms
from rvae_pathways.io.readers import read_frames
from rvae_pathways.sim.stem import simulate_stem_movie

PIXEL_NM = 0.01
BOND_PX = 0.142 / PIXEL_NM  # graphene C-C bond, 14.2 px
PROBE_SIGMA_PX = 0.1 / 2.3548 / PIXEL_NM  # the simulator's default probe (0.1 nm FWHM)
# no probe tail, no support (the simulator's defaults are the demo's imperfect microscope)
CLEAN = dict(probe_tail_fraction=0.0, support_counts=0.0)
STO_PIXEL_NM = 0.00933
STO_SPACING_NM = 0.1953  # SrTiO3 [110]: Sr and Ti columns alternate along [001] at a / 2


def found_and_checked(image, spacing_px, check_spacing_px=None):
    """Normalise, find atoms at ``spacing_px`` and check them at ``check_spacing_px`` (the same
    unless given): (metrics, in_lattice, atoms)."""
    image = normalise_intensity(image)
    atoms = find_atoms(image, spacing_px)
    metrics, in_lattice = check_frame(image, atoms["y"], atoms["x"], check_spacing_px or spacing_px)
    return metrics, in_lattice, atoms


def random_spots_image(shape, min_distance, rng, dose=50.0, background=2.5):
    """An amorphous support: spots at random places at least ``min_distance`` apart (random
    sequential adsorption until full), drawn like the simulator's atoms, with shot noise."""
    ny, nx = shape
    margin = min_distance
    candidates = rng.uniform([-margin, -margin], [ny + margin, nx + margin], (6000, 2))
    kept = np.empty((0, 2))
    for point in candidates:
        if len(kept) == 0 or np.min(np.sum((kept - point) ** 2, axis=1)) >= min_distance**2:
            kept = np.vstack([kept, point])
    yy, xx = np.arange(ny)[:, None], np.arange(nx)[None, :]
    expected = np.full(shape, background)
    for y, x in kept:
        expected += dose * np.exp(-((yy - y) ** 2) / (2 * PROBE_SIGMA_PX**2)) * np.exp(
            -((xx - x) ** 2) / (2 * PROBE_SIGMA_PX**2))
    return rng.poisson(expected).astype(np.float32)


# ------------------------------------------------------------------------------------------
# data, built once per module


@pytest.fixture(scope="module")
def graphene():
    """Two 192 x 192 frames of the simulated Si-doped graphene movie (no hole yet)."""
    return simulate_stem_movie(2, (192, 192), PIXEL_NM, seed=1, **CLEAN)["image"].values


@pytest.fixture(scope="module")
def graphene_checks(graphene):
    return [found_and_checked(frame, BOND_PX) for frame in graphene]


@pytest.fixture(scope="module")
def support():
    """Graphene on the left half of a 192 x 384 field, an amorphous support on the right."""
    rng = np.random.default_rng(0)
    shape = (192, 384)
    image = simulate_stem_movie(1, shape, PIXEL_NM, seed=12, hole_start_frame=None, **CLEAN)["image"].values[0]
    image[:, 192:] = random_spots_image(shape, BOND_PX, rng)[:, 192:]
    return found_and_checked(image, BOND_PX)


@pytest.fixture(scope="module")
def holey():
    """The last frame of a short movie whose hole has grown to about half the field."""
    return simulate_stem_movie(8, (192, 192), PIXEL_NM, seed=2, hole_start_frame=1,
                               hole_growth_per_frame=6, **CLEAN)["image"].values[-1]


@pytest.fixture(scope="module")
def srtio3(real_data):
    frames = read_frames(real_data / "srtio3_110_haadf.hdf5", pixel_size_nm=STO_PIXEL_NM)
    return frames["image"].values[0]


# ------------------------------------------------------------------------------------------
# thresholds


def test_every_verdict_band_has_its_ok_range_inside_its_warn_range():
    inf = float("inf")
    for name in METRIC_BANDS:
        (ok_lo, ok_hi), (warn_lo, warn_hi) = THRESHOLDS[name]["ok"], THRESHOLDS[name]["warn"]
        ok_lo, warn_lo = (-inf if v is None else v for v in (ok_lo, warn_lo))
        ok_hi, warn_hi = (inf if v is None else v for v in (ok_hi, warn_hi))
        assert warn_lo <= ok_lo < ok_hi <= warn_hi, name
    assert VERDICTS == ("ok", "warn", "fail")


def test_verdict_is_the_worst_band_of_any_metric():
    good = {"n_atoms": 100, "spacing_px": 10.0, "density_ratio": 0.8, "nn_ratio_median": 1.0,
            "missed_peak_share": 0.0, "lattice_atom_share": 1.0, "outside_lattice_share": 0.0,
            "resolved_fraction": 1.0}
    assert verdict_of(good) == ("ok", [])
    verdict, reasons = verdict_of({**good, "outside_lattice_share": 0.3})
    assert verdict == "warn" and len(reasons) == 1 and "30%" in reasons[0]
    verdict, reasons = verdict_of({**good, "outside_lattice_share": 0.3, "nn_ratio_median": 2.0})
    assert verdict == "fail" and "2.00x" in reasons[0] and len(reasons) == 2  # worst first
    # vacuum is no fault: a small resolved share only fails with the atoms outside it
    assert verdict_of({**good, "resolved_fraction": 0.01})[0] == "fail"
    assert verdict_of({**good, "resolved_fraction": 0.3})[0] == "ok"


# ------------------------------------------------------------------------------------------
# the lattice map


def test_map_marks_a_lattice_and_not_noise(graphene):
    image = normalise_intensity(graphene[0])
    resolved = resolved_lattice_map(image, BOND_PX)
    assert resolved.shape == image.shape and resolved.dtype == bool
    assert resolved.mean() > 0.95
    noise = np.random.default_rng(0).poisson(5.0, image.shape).astype(float)
    assert not resolved_lattice_map(noise, BOND_PX).any()


def test_map_of_a_large_frame():
    # a 1024 x 1024 triangular lattice of Gaussian spots (sum of three cosines, cheap to make)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1024, 0:1024].astype(np.float32)
    spacing = 12.0
    k = 2 * np.pi / (spacing * np.sqrt(3) / 2)
    image = sum(np.cos(k * (np.cos(a) * xx + np.sin(a) * yy)) for a in np.deg2rad([10, 70, 130]))
    image = np.exp(2 * image) + rng.normal(0, 5, image.shape)
    # (its speed is measured by bench/atom_finding.py, with the whole check)
    assert resolved_lattice_map(image, spacing).mean() > 0.95


# ------------------------------------------------------------------------------------------
# material without a lattice


@pytest.mark.parametrize("mean, spacing", [(0.2, 8.0), (3.0, 14.2), (50.0, 20.0)])
def test_white_noise_is_not_material(mean, spacing):
    noise = np.random.default_rng(int(mean * 10)).poisson(mean, (384, 384)).astype(float)
    assert not material_map(noise, spacing).any()
    assert not material_map(np.zeros((96, 96)), spacing).any()  # noise-free vacuum


def test_an_amorphous_support_is_material_and_the_lattice_beside_it_is_not(support):
    metrics, in_lattice, atoms = support
    # the right half: spots at random, at least a spacing apart
    assert metrics["amorphous_fraction"] == pytest.approx(0.5, abs=0.06)
    assert any("material but no lattice" in reason for reason in metrics["reasons"])
    image = normalise_intensity(random_spots_image((192, 192), BOND_PX, np.random.default_rng(1)))
    assert material_map(image, BOND_PX).mean() > 0.9
    positions = np.stack([atoms["y"], atoms["x"]], axis=1)[in_lattice]
    covered = lattice_area(positions, (192, 384), BOND_PX)
    assert covered[:, :176].mean() > 0.97 and covered[:, 208:].mean() < 0.05


def test_the_lattice_area_closes_the_gaps_of_a_cell():
    # columns on a 3 x 3-spacing grid: gaps 1.1 spacings from every column belong to the lattice
    spacing = 10.0
    points = np.stack(np.meshgrid(np.arange(15, 300, 30), np.arange(15, 300, 30), indexing="ij"), -1).reshape(-1, 2)
    covered = lattice_area(points, (300, 300), spacing)
    assert covered[15:285, 15:285].all()
    assert not lattice_area(points[:1], (300, 300), spacing)[100:, 100:].any()
    with pytest.raises(ValueError, match="at least 6 px"):
        material_map(np.zeros((64, 64)), 4.0)


# ------------------------------------------------------------------------------------------
# simulated graphene


def test_right_spacing_passes(graphene_checks):
    for metrics, in_lattice, atoms in graphene_checks:
        assert metrics["verdict"] == "ok", metrics["reasons"]
        assert metrics["reasons"] == []
        assert 0.6 < metrics["density_ratio"] < 1.0  # honeycomb: 0.77
        assert metrics["nn_ratio_median"] == pytest.approx(1.0, abs=0.05)
        assert metrics["lattice_atom_share"] > 0.95
        assert metrics["outside_lattice_share"] < 0.05
        assert metrics["missed_peak_share"] < 0.1
        assert len(in_lattice) == len(atoms["y"]) == metrics["n_atoms"]


def test_metrics_are_plain_json(graphene_checks):
    metrics = graphene_checks[0][0]
    assert json.loads(json.dumps(metrics, allow_nan=False)) == metrics
    assert all(isinstance(v, (int, float, str, list, type(None))) for v in metrics.values())


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_spacing_wrong_by_2x_fails(graphene, factor):
    # the finder and the check both get the wrong spacing, as from a wrong samples table
    metrics, _, _ = found_and_checked(graphene[0], factor * BOND_PX)
    assert metrics["verdict"] == "fail"
    assert any("spacing_nm" in reason for reason in metrics["reasons"])
    if factor > 1:  # a sparse, self-consistent subset: only the missed peaks show it
        assert metrics["missed_peak_share"] > THRESHOLDS["missed_peak_share"]["warn"][1]
    else:  # every atom found, but two "spacings" apart
        assert metrics["nn_ratio_median"] > 1.6
        assert metrics["density_ratio"] < 0.25


@pytest.mark.parametrize("kind", ["poisson", "blobs"])
def test_noise_fails(kind):
    rng = np.random.default_rng(3)
    if kind == "poisson":  # white: the finder finds nothing
        image = rng.poisson(5.0, (192, 192)).astype(float)
    else:  # smooth at the atom scale: the finder finds plenty
        image = ndimage.gaussian_filter(rng.normal(size=(192, 192)), PROBE_SIGMA_PX)
    metrics, in_lattice, atoms = found_and_checked(image, BOND_PX)
    assert metrics["verdict"] == "fail"
    assert metrics["resolved_fraction"] < 0.02
    assert metrics["reasons"]
    if kind == "blobs":
        assert metrics["n_atoms"] > 30
        assert metrics["outside_lattice_share"] == 1.0 and not in_lattice.any()


def test_empty_atom_list_fails_with_a_reason(graphene):
    metrics, in_lattice = check_frame(graphene[0], np.array([]), np.array([]), BOND_PX)
    assert metrics["verdict"] == "fail" and metrics["n_atoms"] == 0
    assert "no atoms" in metrics["reasons"][0]
    assert in_lattice.shape == (0,) and in_lattice.dtype == bool
    json.dumps(metrics, allow_nan=False)


def test_atoms_on_an_amorphous_support_are_flagged(support):
    metrics, in_lattice, atoms = support
    on_support = atoms["x"] >= 192
    assert on_support.sum() > 50 and (~on_support).sum() > 50
    assert np.mean(~in_lattice[on_support]) >= 0.9
    assert np.mean(in_lattice[~on_support]) >= 0.95
    assert metrics["resolved_fraction"] == pytest.approx(0.5, abs=0.1)
    assert metrics["verdict"] in ("warn", "fail")
    assert any("no lattice is resolved" in reason for reason in metrics["reasons"])
    # the lattice half still looks right
    assert 0.6 < metrics["density_ratio"] < 1.0


def test_a_vacuum_hole_passes(holey):
    metrics, in_lattice, _ = found_and_checked(holey, BOND_PX)
    assert metrics["resolved_fraction"] < 0.8  # there is a hole
    assert metrics["verdict"] == "ok", metrics["reasons"]
    assert metrics["outside_lattice_share"] < 0.1  # rim atoms belong to the lattice
    assert metrics["amorphous_fraction"] <= 0.01  # vacuum is not material


# ------------------------------------------------------------------------------------------
# real SrTiO3 [110] HAADF


def test_real_srtio3_passes(srtio3):
    metrics, _, _ = found_and_checked(srtio3, STO_SPACING_NM / STO_PIXEL_NM)
    assert metrics["verdict"] == "ok", metrics["reasons"]
    assert metrics["resolved_fraction"] > 0.95
    assert 0.6 < metrics["density_ratio"] < 0.9


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_real_srtio3_with_the_pixel_size_2x_wrong_fails(srtio3, factor):
    metrics, _, _ = found_and_checked(srtio3, STO_SPACING_NM / (factor * STO_PIXEL_NM))
    assert metrics["verdict"] == "fail", metrics
    assert any("pixel_size_nm" in reason for reason in metrics["reasons"])


# ------------------------------------------------------------------------------------------
# many frames


def _frame(number, verdict, reasons=(), **values):
    return {"frame": number, "verdict": verdict, "reasons": list(reasons), "n_atoms": 10,
            "density_ratio": 0.8, "nn_ratio_median": 1.0, **values}


def test_summary_takes_the_worst_verdict_and_lists_the_worst_frames():
    frames = [_frame(0, "ok"), _frame(1, "warn", ["a"]), _frame(2, "fail", ["b", "c"]), _frame(3, "fail", ["d"]),
              _frame(4, "ok", density_ratio=1.2)]
    summary = summarise(frames)
    assert summary["verdict"] == "fail"
    assert summary["n_frames"] == 5
    assert summary["counts"] == {"ok": 2, "warn": 1, "fail": 2}
    assert summary["worst_frames"] == [2, 3, 1]
    assert summary["median_density_ratio"] == pytest.approx(0.8)
    assert summary["median_missed_peak_share"] is None  # in no frame
    json.dumps(summary, allow_nan=False)
    assert summarise([_frame(0, "ok")])["verdict"] == "ok"
    assert summarise([])["n_frames"] == 0


def test_messages_name_sample_frame_verdict_and_reasons():
    frames = [_frame(0, "ok"), _frame(7, "warn", ["support in view", "check contrast"])]
    lines = qc_messages("graphene_1", frames)
    assert lines == ["atom QC graphene_1 frame 7: warn: support in view; check contrast"]
    assert qc_messages("s", [_frame(0, "ok")]) == []
