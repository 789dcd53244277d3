"""Tests of the PFM switching simulator and its ground truth."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import distance_transform_edt, label

from rvae_pathways.core.config import defaults
from rvae_pathways.core.errors import InputError
from rvae_pathways.sim.pfm import CHANNELS, CHANNEL_UNITS, simulate_pfm_movie

QUIET = dict(lockin_noise=0.0, phase_noise_deg=0.0)


@pytest.fixture(scope="module")
def movie() -> xr.Dataset:
    return simulate_pfm_movie()


def channel(ds, name, t=None):
    a = ds["channel_image"].sel(channel=name).values
    return a if t is None else a[t]


def switched_regions(ds):
    """Number of 4-connected switched regions per frame, counted here from true_domain."""
    majority = ds.attrs["true_majority_domain"]
    return [label(d != majority)[1] for d in ds["true_domain"].values]


def far_from_walls(ds, px):
    """(frame, y, x) mask of pixels at least ``px`` from every wall pixel of their frame."""
    out = np.zeros(ds["true_wall"].shape, bool)
    for t, wall in enumerate(ds["true_wall"].values):
        out[t] = distance_transform_edt(~wall) >= px if wall.any() else True
    return out


def circular_mean_deg(deg):
    return float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(deg))))))


def angle_diff_deg(a, b):
    return (a - b + 180.0) % 360.0 - 180.0


# --------------------------------------------------------------------------------------------
# contract


def test_layout_dims_dtypes_coords_and_attrs(movie):
    ci = movie["channel_image"]
    assert ci.dims == ("frame", "channel", "y", "x")
    assert ci.shape == (10, 2, 128, 128)
    assert ci.dtype == np.float32
    assert list(movie["channel"].values) == ["amplitude", "phase"] == list(CHANNELS)
    assert list(movie["channel_units"].values) == ["a.u.", "deg"] == list(CHANNEL_UNITS)
    assert movie["channel_units"].dims == ("channel",)
    for name in ("frame", "y", "x"):
        np.testing.assert_array_equal(movie[name].values, np.arange(movie.sizes[name]))
    expected = {
        "true_polarization": np.float32,
        "true_domain": np.int8,
        "true_wall": np.bool_,
    }
    for name, dtype in expected.items():
        assert movie[name].dims == ("frame", "y", "x"), name
        assert movie[name].shape == (10, 128, 128), name
        assert movie[name].dtype == dtype, name
    assert movie["true_switched_fraction"].dims == ("frame",)
    assert movie["true_switched_fraction"].dtype == np.float32
    assert movie["true_n_domains"].dtype == np.int32
    assert set(np.unique(movie["true_domain"].values)) == {-1, 1}
    assert np.isfinite(ci.values).all()
    attrs = movie.attrs
    assert attrs["pixel_size_nm"] == 20.0
    assert attrs["source"] == "simulate_pfm"
    assert attrs["modality"] == "pfm"
    assert attrs["intensity_units"] == "a.u."
    assert attrs["true_phase_offset_deg"] == 37.0
    assert attrs["seed"] == 0
    assert attrs["phase_interval_deg"] == "[-180, 180)"
    for key in ("kappa", "field_start", "field_end", "tip_field", "resolution_sigma_px",
                "time_per_frame", "n_sites", "lockin_noise"):
        assert key in attrs, key
    assert "phase_offset_deg" not in attrs  # the estimate's name (add_piezoresponse)
    assert "image" not in movie  # added by add_piezoresponse, as for a file


def test_piezoresponse_of_the_movie_is_a_frames_dataset(movie):
    from rvae_pathways.core.frames import check_frames
    from rvae_pathways.pfm.piezoresponse import add_piezoresponse

    ds = add_piezoresponse(movie)
    check_frames(ds)
    assert abs(ds.attrs["phase_offset_deg"] - 37.0) < 3.0
    # away from walls the sign of the piezoresponse is the true domain
    far = far_from_walls(movie, 4)
    agree = np.sign(ds["image"].values[far]) == movie["true_domain"].values[far]
    assert agree.mean() > 0.99


def test_same_seed_same_movie_other_seed_other_movie(movie):
    again = simulate_pfm_movie()
    xr.testing.assert_identical(movie, again)
    for name in movie.data_vars:
        assert movie[name].values.tobytes() == again[name].values.tobytes(), name
    other = simulate_pfm_movie(seed=1)
    assert not np.array_equal(movie["true_polarization"].values, other["true_polarization"].values)
    assert not np.array_equal(movie["channel_image"].values, other["channel_image"].values)


def test_noise_settings_leave_the_sample_unchanged(movie):
    quiet = simulate_pfm_movie(**QUIET)
    np.testing.assert_array_equal(
        quiet["true_polarization"].values, movie["true_polarization"].values
    )
    assert not np.array_equal(quiet["channel_image"].values, movie["channel_image"].values)


# --------------------------------------------------------------------------------------------
# physics


def test_polarization_stays_bounded(movie):
    p = np.abs(movie["true_polarization"].values)
    assert np.isfinite(p).all()
    assert p.max() <= 1.2
    peak = movie.attrs["true_peak_abs_polarization"]  # over every sub-step, tip pulses included
    assert p.max() <= peak + 1e-6
    assert peak <= 1.3
    # away from walls both states sit near +-1, the up state a little depolarised by the
    # switching field, the reversed one a little enhanced (P**3 - P = -E)
    d = movie["true_domain"].values
    far = far_from_walls(movie, 6)
    assert 0.85 < np.median(p[far & (d > 0)]) < 1.0 < np.median(p[far & (d < 0)]) < 1.15


@pytest.mark.parametrize("kappa", [0.3, 25.0])
def test_integration_is_stable_at_extreme_wall_widths(kappa):
    ds = simulate_pfm_movie(n_frames=3, size=32, kappa=kappa, field_end=0.45, tip_field=0.8)
    p = ds["true_polarization"].values
    assert np.isfinite(p).all()
    assert ds.attrs["true_peak_abs_polarization"] < 1.45  # root of P**3 - P = 0.45 + 0.8 + h


def test_switched_fraction_rises_to_largely_but_not_fully_switched(movie):
    f = movie["true_switched_fraction"].values
    assert 0.0 <= f[0] <= 0.1
    assert 0.6 <= f[-1] <= 0.9
    assert np.all(np.diff(f) >= -0.005)  # (nearly) monotone: domains grow, hardly shrink
    assert f[len(f) // 2] < f[-1] - 0.2  # switching is spread over the movie, not a jump
    # consistent with true_domain and the frame-0 majority
    majority = movie.attrs["true_majority_domain"]
    assert majority == 1
    recount = (movie["true_domain"].values != majority).mean(axis=(1, 2))
    np.testing.assert_allclose(f, recount, atol=1e-6)


def test_domains_nucleate_grow_and_merge(movie):
    n = switched_regions(movie)
    np.testing.assert_array_equal(movie["true_n_domains"].values, n)
    peak_frame = int(np.argmax(n))
    assert max(n) >= 4  # several separate reversed domains at once
    assert max(n) > n[0]  # new ones nucleated after frame 0
    assert n[-1] < max(n)  # and later merged
    assert 0 < peak_frame < len(n) - 1


def test_tip_pulses_write_reversed_domains(movie):
    majority = movie.attrs["true_majority_domain"]
    for t, y, x in zip(movie["true_tip_frame"].values, movie["true_tip_y"].values,
                       movie["true_tip_x"].values):
        d = movie["true_domain"].values
        yi, xi = int(round(float(y))), int(round(float(x)))
        assert d[t - 1, yi, xi] == majority  # not switched before the pulse
        assert d[t, yi, xi] == -majority  # switched by it


def test_no_field_no_switching():
    ds = simulate_pfm_movie(n_frames=4, size=48, field_start=0.0, field_end=0.0,
                            n_tip_pulses=0, n_initial_domains=0, **QUIET)
    np.testing.assert_array_equal(ds["true_switched_fraction"].values, 0.0)
    assert not ds["true_wall"].values.any()


def test_field_ramps_from_start_to_end(movie):
    field = movie["true_field"].values
    assert field[0] == pytest.approx(0.08) and field[1] == pytest.approx(0.08)
    assert field[-1] == pytest.approx(0.2)
    assert np.all(np.diff(field) >= 0)


# --------------------------------------------------------------------------------------------
# truth


def test_true_wall_marks_both_sides_of_every_sign_change(movie):
    d = movie["true_domain"].values
    wall = movie["true_wall"].values
    padded = np.pad(d, ((0, 0), (1, 1), (1, 1)), mode="edge")  # the border has no outer neighbour
    _, ny, nx = d.shape
    differs = np.zeros_like(wall)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        differs |= padded[:, 1 + dy : 1 + dy + ny, 1 + dx : 1 + dx + nx] != d
    np.testing.assert_array_equal(wall, differs)
    assert wall.any()
    # walls are thin lines: both domains meet on them
    for t in range(d.shape[0]):
        if wall[t].any():
            assert set(np.unique(d[t][wall[t]])) == {-1, 1}
    assert wall.mean() < 0.1


def test_amplitude_dips_at_walls(movie):
    amp = channel(movie, "amplitude")
    wall = movie["true_wall"].values
    far = far_from_walls(movie, 6)
    assert np.median(amp[wall]) < 0.6 * np.median(amp[far])
    # inside domains the amplitude is about d |P| + background for both states
    d = movie["true_domain"].values
    up, down = np.median(amp[far & (d > 0)]), np.median(amp[far & (d < 0)])
    assert up == pytest.approx(1.0 + 0.15, rel=0.15)
    assert down == pytest.approx(1.0 + 0.15, rel=0.15)


@pytest.mark.parametrize("offset", [37.0, 150.0, -100.0])
def test_phase_of_the_two_states_is_180_deg_apart_around_the_offset(offset):
    ds = simulate_pfm_movie(n_frames=4, size=64, seed=3, phase_offset_deg=offset)
    phase = channel(ds, "phase")
    assert phase.min() >= -180.0 and phase.max() < 180.0
    d = ds["true_domain"].values
    far = far_from_walls(ds, 5)
    up = circular_mean_deg(phase[far & (d > 0)])
    down = circular_mean_deg(phase[far & (d < 0)])
    assert abs(angle_diff_deg(up, offset)) < 3.0
    assert abs(angle_diff_deg(down, offset + 180.0)) < 3.0
    assert abs(angle_diff_deg(up, down)) == pytest.approx(180.0, abs=3.0)
    assert ds.attrs["true_phase_offset_deg"] == pytest.approx(angle_diff_deg(offset, 0.0))


def test_noise_free_signal_is_blurred_polarization_plus_background():
    ds = simulate_pfm_movie(n_frames=3, size=32, resolution_sigma_px=0.0, background_tilt=0.0,
                            background=0.2, amplitude_scale=2.0, **QUIET)
    p = ds["true_polarization"].values
    np.testing.assert_allclose(channel(ds, "amplitude"), 2.0 * np.abs(p) + 0.2, rtol=1e-5)
    phase = channel(ds, "phase")
    np.testing.assert_allclose(phase[p > 0], 37.0, atol=1e-3)
    np.testing.assert_allclose(phase[p < 0], 37.0 - 180.0, atol=1e-3)


# --------------------------------------------------------------------------------------------
# arguments


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_frames=0), "n_frames"),
        (dict(n_frames=2.5), "n_frames"),
        (dict(size=8), "size"),
        (dict(size="big"), "size"),
        (dict(pixel_size_nm=0.0), "pixel_size_nm"),
        (dict(seed=-1), "seed"),
        (dict(kappa=0.0), "kappa"),
        (dict(pinning_strength=0.5), "pinning_strength"),
        (dict(site_softening=1.0), "site_softening"),
        (dict(field_start=0.3, field_end=0.1), "field_end"),
        (dict(field_end=float("nan")), "field_end"),
        (dict(n_frames=3, n_tip_pulses=3), "n_tip_pulses"),
        (dict(tip_field=-0.1), "tip_field"),
        (dict(time_per_frame=0.0), "time_per_frame"),
        (dict(lockin_noise=-1.0), "lockin_noise"),
        (dict(phase_offset_deg=float("inf")), "phase_offset_deg"),
        (dict(size=16, n_sites=50), "do not fit"),
        (dict(n_initial_domains=True), "n_initial_domains"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs, match):
    with pytest.raises(InputError, match=match):
        simulate_pfm_movie(**kwargs)


def test_small_and_short_movies_work():
    one = simulate_pfm_movie(n_frames=1, size=16)
    assert one["channel_image"].shape == (1, 2, 16, 16)
    assert one.sizes["true_tip"] == 0
    two = simulate_pfm_movie(n_frames=2, size=24, seed=5)
    assert two.sizes["true_tip"] == 1
    assert np.isfinite(two["channel_image"].values).all()


def test_defaults_are_the_config_schemas(movie):
    """A bare call simulates what the workflow simulates by default."""
    config = defaults("simulate_pfm")
    signature = inspect.signature(simulate_pfm_movie).parameters
    for key in ("n_frames", "size", "pixel_size_nm", "seed"):
        assert signature[key].default == config[key], key
    assert movie.sizes["frame"] == config["n_frames"] and movie.sizes["y"] == movie.sizes["x"] == config["size"]
    assert movie.attrs["pixel_size_nm"] == config["pixel_size_nm"]
