import numpy as np
import pytest
from lattice import honeycomb_image

from rvae_pathways.stem.atoms import count_neighbours, find_atoms, find_peaks
from rvae_pathways.stem.gaussian_fits import refine_positions
from rvae_pathways.core.frames import frame_slices
from rvae_pathways.core.geometry import SampleGeometry
import rvae_pathways.stem.gaussian_fits as gaussian_fits
from rvae_pathways.core.errors import InputError
from rvae_pathways.scores.atoms import detection_counts, detection_scores
from rvae_pathways.core.geometry import match_points


def test_the_sample_geometry_converts_lengths_and_rejects_tiny_spacings():
    geometry = SampleGeometry(pixel_size_nm=0.01, spacing_nm=0.142)
    assert geometry.spacing_px == pytest.approx(14.2)
    assert geometry.px(0.03) == pytest.approx(3.0)
    assert geometry.spacings_px(0.5) == pytest.approx(7.1)
    assert geometry.px_from_angstrom(0.7) == pytest.approx(7.0)
    assert SampleGeometry(0.02).px_from_angstrom(1.42) == pytest.approx(7.1)
    with pytest.raises(InputError, match="pixel_size_nm"):
        SampleGeometry(0.1, 0.142).spacing_px  # 1.42 px
    with pytest.raises(InputError, match="spacing"):
        SampleGeometry(0.01, -1)
    with pytest.raises(InputError, match="pixel size"):
        SampleGeometry(0.0)
    with pytest.raises(InputError, match="Angstrom"):
        geometry.px_from_angstrom(0.0)
    with pytest.raises(InputError, match="spacing_nm"):
        SampleGeometry(0.01).spacing_px


def test_refine_positions_recovers_an_isolated_spot_exactly():
    yy, xx = np.mgrid[0:64, 0:64]
    image = 2 + 10 * np.exp(-((yy - 30.3) ** 2 + (xx - 33.6) ** 2) / (2 * 4.2**2))
    fit = refine_positions(image, np.array([[30, 34]]), spacing_px=14.2, fit_radius=0.6)
    assert fit["y"][0] == pytest.approx(30.3, abs=1e-3)
    assert fit["x"][0] == pytest.approx(33.6, abs=1e-3)
    assert fit["amplitude"][0] == pytest.approx(10, rel=1e-3)
    assert fit["sigma_px"] == pytest.approx(4.2, rel=1e-3)
    assert fit["refined"].all()


def test_refine_positions_handles_no_peaks():
    fit = refine_positions(np.ones((16, 16)), np.zeros((0, 2)), 5.0, 0.6)
    assert len(fit["y"]) == 0


def test_find_atoms_on_a_noise_free_lattice_is_exact_away_from_the_border():
    image, truth = honeycomb_image(noise=False)
    found = find_atoms(image, 14.2)
    positions = np.stack([found["y"], found["x"]], 1)
    counts = detection_counts(positions, truth, 3.0, image.shape, margin=14.2)
    scores = detection_scores(**counts)
    assert scores["f1"] == 1.0
    # 0.022 px: what the background estimate and neighbours rendered at the shared fitted width
    # leave at a 0.6-spacing fit disc; a hundredth of the shot-noise error at low dose
    assert scores["rmse_px"] < 0.025


def test_find_atoms_finds_dim_atoms_next_to_bright_ones():
    # Every C next to a "Si" sits in its tail; a plain peak finder loses them.
    _, truth = honeycomb_image(noise=False)
    interior = np.flatnonzero((np.abs(truth - 64) < 40).all(axis=1))
    chosen = interior[[0, len(interior) // 2, -1]]
    image, truth = honeycomb_image(bright=chosen, seed=1)
    found = find_atoms(image, 14.2)
    positions = np.stack([found["y"], found["x"]], 1)
    scores = detection_scores(**detection_counts(positions, truth, 3.0, image.shape, margin=7.1))
    assert scores["f1"] >= 0.99
    assert scores["rmse_px"] < 0.3
    i_found, i_true = match_points(positions, truth, 3.0)
    bright = np.isin(i_true, chosen)
    assert bright.sum() == 3
    # the bright atoms' fitted intensity is (14/6)**1.7 = 4.2 times the others'
    ratio = np.median(found["intensity"][i_found[bright]]) / np.median(found["intensity"][i_found[~bright]])
    assert ratio == pytest.approx((14 / 6) ** 1.7, rel=0.15)


def test_float32_fits_that_stop_when_settled_agree_with_float64_fits_run_to_the_end(monkeypatch):
    """The speed-ups of the fits (float32 pixel arithmetic, rows that stop once settled, blocks of
    atoms) move positions by at most the stated 0.004 px and find the same atoms."""
    image, _ = honeycomb_image(shape=(160, 160), bright=[5, 40], seed=2)
    fast = find_atoms(image, 14.2)
    monkeypatch.setattr(gaussian_fits, "PIXEL_DTYPE", np.float64)
    monkeypatch.setattr(gaussian_fits, "SETTLED_STEP", 0.0)
    monkeypatch.setattr(gaussian_fits, "FIT_BLOCK", 10**9)
    exact = find_atoms(image, 14.2)
    assert len(fast["y"]) == len(exact["y"]) > 50
    shift = np.hypot(fast["y"] - exact["y"], fast["x"] - exact["x"])
    assert shift.max() < 0.004
    np.testing.assert_allclose(fast["intensity"], exact["intensity"], rtol=2e-3)


def test_find_atoms_ignores_noise_in_vacuum():
    rng = np.random.default_rng(0)
    image = rng.poisson(3.0, size=(96, 96)).astype(float)
    image[40:56, 40:56] += 0  # nothing but noise
    yy, xx = np.mgrid[0:96, 0:96]
    image += 40 * np.exp(-((yy - 48) ** 2 + (xx - 48) ** 2) / (2 * 4.2**2))
    found = find_atoms(image, 14.2)
    assert len(found["y"]) == 1
    assert found["y"][0] == pytest.approx(48, abs=0.3)


def test_find_peaks_threshold_drops_weak_peaks():
    image, _ = honeycomb_image(noise=False)
    everything = find_peaks(image, 14.2, threshold=0.0)
    assert len(find_peaks(image, 14.2, threshold=2.0)) < len(everything)


def test_count_neighbours_of_a_honeycomb_interior_is_three():
    _, truth = honeycomb_image(shape=(200, 200), noise=False)
    counts = count_neighbours(truth, 1.25 * 14.2)
    interior = (truth[:, 0] > 30) & (truth[:, 0] < 170) & (truth[:, 1] > 30) & (truth[:, 1] < 170)
    assert (counts[interior] == 3).all()
    assert count_neighbours(np.zeros((0, 2)), 1.0).shape == (0,)


def test_frame_slices_cover_each_frame_including_empty_ones():
    slices = frame_slices(np.array([0, 0, 2, 2, 2]), 4)
    assert slices == [slice(0, 2), slice(2, 2), slice(2, 5), slice(5, 5)]


def test_pure_noise_holds_no_atoms():
    for seed in range(10):
        image = np.random.default_rng(seed).poisson(3.0, (128, 128)).astype(float)
        assert len(find_atoms(image, 14.2)["y"]) == 0, seed


def test_smoothing_noise_gain_matches_simulated_noise():
    from scipy import ndimage

    from rvae_pathways.core.noise import noise_sigma
    from rvae_pathways.stem.background_noise import smoothing_noise_gain

    noise = np.random.default_rng(0).normal(0, 2.0, size=(20000, 40))
    smoothed_std = ndimage.gaussian_filter1d(noise, 3.0, axis=1).std(axis=0)
    np.testing.assert_allclose(smoothing_noise_gain(40, 3.0), smoothed_std / smoothed_std[20], rtol=0.03)
    assert noise_sigma(noise[:200]) == pytest.approx(2.0, rel=0.03)


def test_the_contrast_is_decided_from_the_frame():
    # bright atoms (HAADF-like) on small and larger frames; the same frames negated (ABF-like)
    from rvae_pathways.stem.atoms import detect_contrast, resolve_contrast
    from rvae_pathways.sim.stem import simulate_stem_movie

    for shape in ((96, 96), (192, 192)):
        movie = simulate_stem_movie(n_frames=1, shape=shape, seed=4, probe_tail_fraction=0.0, support_counts=0.0)
        image = movie["image"][0].values
        bright, skew = detect_contrast(image, 14.2)
        dark, negated = detect_contrast(image.max() - image, 14.2)
        assert (bright, dark) == ("bright", "dark") and skew > 0.1 and negated < -0.1
    assert resolve_contrast("dark", image, 14.2) == "dark"  # what the user says wins
    with pytest.raises(InputError, match="contrast"):
        resolve_contrast("inverted", image, 14.2)
