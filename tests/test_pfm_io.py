"""Tests of the PFM path: Asylum .ibw scans read by rvae_pathways.io.readers.read_scan (every channel, no
image), turned into frames of the piezoresponse by rvae_pathways.pfm.piezoresponse (pfm_frames, read_pfm_frames).

The real scan (``tests/data/pfm_box_in_box_asylum.ibw``, MIT licence beside it) is a 10 um
Asylum Research PFM scan of tip-written box-in-box 180-degree domains. As read here (row 0 at
the top), the outer written box spans about rows 45-210 and columns 40-220, the inner box
about rows 90-165 and columns 85-170; a surface particle in the height channel sits near the
right edge in the upper half (row ~78, column ~240).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rvae_pathways.core.errors import InputError
from rvae_pathways.core.frames import check_frames, write_frames
from rvae_pathways.io.readers import read_frames, read_scan
from rvae_pathways.io.suffixes import SCAN_SUFFIXES, SUPPORTED_SUFFIXES
from rvae_pathways.pfm.piezoresponse import (
    add_piezoresponse,
    estimate_phase_offset,
    pfm_frames,
    pick_pfm_channels,
    piezoresponse,
    read_pfm_frames,
)

DATA = Path(__file__).resolve().parent / "data"
SCAN = DATA / "pfm_box_in_box_asylum.ibw"

CHANNELS = [
    "HeightRetrace",
    "AmplitudeRetrace",
    "PhaseRetrace",
    "ZSensorRetrace",
    "LatAmplitudeRetrace",
    "LatPhaseRetrace",
]
UNITS = ["m", "m", "deg", "m", "V", "deg"]


def angle_diff(a: float, b: float, period: float = 360.0) -> float:
    """Signed difference a - b on a circle of ``period`` degrees, in [-period/2, period/2)."""
    return (a - b + period / 2) % period - period / 2


@pytest.fixture(scope="module")
def channels() -> xr.Dataset:
    """The scan as io reads it: every channel, no image."""
    return read_scan(SCAN, pixel_size_nm=None, modality="pfm")


@pytest.fixture(scope="module")
def scan() -> xr.Dataset:
    """The scan as the load_frames rule reads it: frames whose image is the piezoresponse."""
    return read_pfm_frames(SCAN, pixel_size_nm=None)


# ----------------------------------------------------------------------------------------
# The real Asylum scan
# ----------------------------------------------------------------------------------------


def test_ibw_is_supported():
    assert ".ibw" in SUPPORTED_SUFFIXES
    assert ".ibw" in SCAN_SUFFIXES


def test_read_scan_keeps_every_channel_and_no_physics(channels):
    """io reads the channels as they are; the piezoresponse is pfm's (no image, no offset)."""
    assert "image" not in channels
    assert list(channels.data_vars) == ["channel_image"]
    assert channels["channel_image"].dims == ("frame", "channel", "y", "x")
    assert channels["channel_image"].shape == (1, 6, 256, 256)
    assert channels["channel_image"].dtype == np.float32
    assert [str(c) for c in channels["channel"].values] == CHANNELS
    assert [str(u) for u in channels["channel_units"].values] == UNITS
    assert channels.attrs["scan_size_m"] == pytest.approx([1e-5, 1e-5])
    assert channels.attrs["pixel_size_nm"] == pytest.approx(10_000 / 256)
    assert channels.attrs["pixel_size_source"] == "file"
    assert channels.attrs["source"] == str(SCAN) and channels.attrs["modality"] == "pfm"
    for key in ("phase_offset_deg", "piezoresponse", "amplitude_channel", "phase_channel"):
        assert key not in channels.attrs


def test_pfm_frames_of_the_scan_is_what_read_pfm_frames_gives(channels, scan):
    frames = pfm_frames(channels)
    xr.testing.assert_identical(frames, scan)
    np.testing.assert_array_equal(frames["channel_image"].values, channels["channel_image"].values)
    assert "image" not in channels  # the scan is left as it was
    for key, value in channels.attrs.items():
        assert frames.attrs[key] == value
    assert frames.attrs["amplitude_channel"] == "AmplitudeRetrace"
    assert frames.attrs["phase_channel"] == "PhaseRetrace"


def test_read_frames_refuses_a_multi_channel_scan():
    """read_frames returns one image per frame: a scan's channels need read_scan (and pfm)."""
    with pytest.raises(InputError, match="multi-channel scan") as err:
        read_frames(SCAN, modality="pfm")
    assert str(SCAN) in str(err.value)
    assert "read_scan" in str(err.value) and "read_pfm_frames" in str(err.value)


def test_read_scan_refuses_a_single_image_file(tmp_path):
    path = tmp_path / "pr.npy"
    np.save(path, np.random.default_rng(0).normal(size=(2, 16, 16)).astype(np.float32))
    with pytest.raises(InputError, match="not a multi-channel scan") as err:
        read_scan(path, pixel_size_nm=10.0)
    assert str(path) in str(err.value) and "read_frames" in str(err.value)
    with pytest.raises(InputError, match="not found"):
        read_scan(tmp_path / "missing.ibw")


def test_read_pfm_frames_of_piezoresponse_images_reads_them_as_they_are(tmp_path):
    """A .npy stack of piezoresponse images is a frames file: read as read_frames reads it."""
    images = np.random.default_rng(1).normal(size=(2, 16, 16)).astype(np.float32)
    path = tmp_path / "pr.npy"
    np.save(path, images)
    ds = read_pfm_frames(path, pixel_size_nm=20.0)
    xr.testing.assert_identical(ds, read_frames(path, pixel_size_nm=20.0, modality="pfm"))
    np.testing.assert_array_equal(ds["image"].values, images)
    assert ds.attrs["modality"] == "pfm" and "channel_image" not in ds


def test_scan_channels_units_and_shape(scan):
    assert [str(c) for c in scan["channel"].values] == CHANNELS
    assert [str(u) for u in scan["channel_units"].values] == UNITS
    assert scan["channel_units"].dims == ("channel",)
    assert scan["channel_image"].dims == ("frame", "channel", "y", "x")
    assert scan["channel_image"].shape == (1, 6, 256, 256)
    assert scan["channel_image"].dtype == np.float32
    assert scan["image"].dims == ("frame", "y", "x")
    assert scan["image"].shape == (1, 256, 256)
    assert scan["image"].dtype == np.float32
    check_frames(scan)


def test_scan_size_and_pixel_size(scan):
    assert scan.attrs["scan_size_m"] == pytest.approx([1e-5, 1e-5])
    assert scan.attrs["pixel_size_nm"] == pytest.approx(10_000 / 256)  # 39.0625 nm
    assert scan.attrs["pixel_size_source"] == "file"
    assert scan.attrs["modality"] == "pfm"
    assert scan.attrs["source"] == str(SCAN)


def test_scan_values_are_physical(scan):
    """Phases in degrees, heights and amplitude in metres: magnitudes as the units say."""
    ch = scan["channel_image"].isel(frame=0)
    phase = ch.sel(channel="PhaseRetrace").values
    assert phase.min() >= -180 and phase.max() <= 360 and np.ptp(phase) > 180
    amplitude = ch.sel(channel="AmplitudeRetrace").values
    assert 1e-13 < np.median(amplitude) < 1e-10  # picometres
    height = ch.sel(channel="HeightRetrace").values
    assert 1e-9 < np.ptp(height) < 1e-6


def test_samples_table_pixel_size_overrides(tmp_path):
    with pytest.warns(UserWarning, match="overrides"):
        ds = read_pfm_frames(SCAN, pixel_size_nm=50.0)
    assert ds.attrs["pixel_size_nm"] == 50.0
    assert ds.attrs["pixel_size_source"] == "samples table"
    assert "pixel_size_file" in ds.attrs
    assert ds.attrs["scan_size_m"] == pytest.approx([1e-5, 1e-5])


def test_scan_orientation_as_the_instrument_shows_it(scan):
    """Igor stores w[x, y] and shows y upward: the particle is upper right, not lower right."""
    height = scan["channel_image"].sel(channel="HeightRetrace").values[0]
    row, col = np.unravel_index(np.argmax(height), height.shape)
    assert row < 128 and col > 192, (row, col)


def test_scan_piezoresponse_has_two_states(scan):
    """Amplitude-weighted histogram of cos(phase - offset): its two largest modes are +-1."""
    ch = scan["channel_image"].isel(frame=0)
    amplitude = ch.sel(channel="AmplitudeRetrace").values.astype(np.float64)
    phase = ch.sel(channel="PhaseRetrace").values.astype(np.float64)
    offset = scan.attrs["phase_offset_deg"]
    assert isinstance(offset, float) and -90 <= offset < 90
    cosine = np.cos(np.deg2rad(phase - offset))
    hist, edges = np.histogram(cosine, bins=20, range=(-1, 1), weights=amplitude)
    peaks = [
        i
        for i in range(len(hist))
        if hist[i] >= (hist[i - 1] if i > 0 else 0) and hist[i] >= (hist[i + 1] if i < 19 else 0)
    ]
    top_two = sorted(peaks, key=lambda i: hist[i])[-2:]
    centres = sorted((edges[i] + edges[i + 1]) / 2 for i in top_two)
    assert centres[0] < -0.9 and centres[1] > 0.9
    # nearly all the response is in the two states, each holds a real share of it
    share = hist / hist.sum()
    assert share[[0, -1]].sum() > 0.9 and share[0] > 0.05 and share[-1] > 0.05
    np.testing.assert_allclose(
        scan["image"].values[0], piezoresponse(amplitude, phase, offset), rtol=1e-5, atol=1e-18
    )


def test_scan_inner_box_has_the_opposite_sign_of_the_ring(scan):
    image = scan["image"].values[0]
    centre = image[105:150, 100:155]
    ring = np.zeros(image.shape, bool)
    ring[55:200, 50:210] = True  # inside the outer box ...
    ring[80:175, 75:185] = False  # ... outside the inner one
    assert np.sign(np.median(centre)) == -np.sign(np.median(image[ring]))
    assert (np.sign(centre) == np.sign(np.median(centre))).mean() > 0.95
    assert (np.sign(image[ring]) == np.sign(np.median(image[ring]))).mean() > 0.95
    assert scan.attrs["intensity_units"] == "m"
    assert "AmplitudeRetrace" in scan.attrs["piezoresponse"]
    assert "PhaseRetrace" in scan.attrs["piezoresponse"]


def test_scan_zarr_round_trip(scan, tmp_path):
    path = tmp_path / "frames.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. no unstable fixed-width string dtype in Zarr v3
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        write_frames(scan, path)
        back = read_frames(path, modality="pfm")
    import zarr

    assert zarr.open_group(path, mode="r")["channel_image"].chunks == (1, 6, 256, 256)
    np.testing.assert_array_equal(back["channel_image"].values, scan["channel_image"].values)
    np.testing.assert_array_equal(back["image"].values, scan["image"].values)
    assert [str(c) for c in back["channel"].values] == CHANNELS
    assert [str(u) for u in back["channel_units"].values] == UNITS
    for key in ("pixel_size_nm", "phase_offset_deg", "piezoresponse", "intensity_units"):
        assert back.attrs[key] == scan.attrs[key]
    assert back.attrs["scan_size_m"] == pytest.approx(scan.attrs["scan_size_m"])
    # the stored channels give the same piezoresponse again
    again = add_piezoresponse(back, "AmplitudeRetrace", "PhaseRetrace")
    assert again.attrs["phase_offset_deg"] == pytest.approx(scan.attrs["phase_offset_deg"])
    # a pfm sample's frames store is read back as it is
    xr.testing.assert_identical(read_pfm_frames(path), back)


def test_scan_without_vertical_phase_is_refused(tmp_path):
    """Relabel PhaseRetrace in the file's bytes: only the lateral phase is left."""
    content = SCAN.read_bytes()
    label = b"PhaseRetrace\x00"
    at = [m.start() for m in re.finditer(re.escape(label), content)]
    at = [i for i in at if content[i - 3 : i] != b"Lat"]
    assert len(at) == 1
    patched = content[: at[0]] + b"OtherRetrace\x00" + content[at[0] + len(label) :]
    path = tmp_path / "no_phase.ibw"
    path.write_bytes(patched)
    with pytest.raises(InputError, match="phase") as err:
        read_pfm_frames(path)
    assert "OtherRetrace" in str(err.value) and "LatPhaseRetrace" in str(err.value)
    assert str(path) in str(err.value)
    # io reads the channels all the same: choosing them is the PFM step's
    assert "OtherRetrace" in [str(c) for c in read_scan(path)["channel"].values]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_corrupt_ibw(tmp_path, seed):
    path = tmp_path / "broken.ibw"
    path.write_bytes(np.random.default_rng(seed).bytes(4096))
    with pytest.raises(InputError, match="could not read") as err:
        read_scan(path)
    assert str(path) in str(err.value)
    with pytest.raises(InputError, match="could not read"):
        read_pfm_frames(path)


@pytest.mark.parametrize("keep", [10, 500, 1_600_000])
def test_truncated_ibw(tmp_path, keep):
    """A valid header whose wave, note or labels are cut off."""
    path = tmp_path / "cut.ibw"
    path.write_bytes(SCAN.read_bytes()[:keep])
    with pytest.raises(InputError, match="could not read"):
        read_scan(path)


def test_ibw_header_with_random_body(tmp_path):
    path = tmp_path / "body.ibw"
    path.write_bytes(SCAN.read_bytes()[:64] + np.random.default_rng(5).bytes(4096))
    with pytest.raises(InputError, match="could not read"):
        read_scan(path)


# ----------------------------------------------------------------------------------------
# estimate_phase_offset and piezoresponse on synthetic domains
# ----------------------------------------------------------------------------------------


def two_domains(offset: float, wrap_low: float, seed: int = 0, n: int = 4000, up: float = 0.5):
    """Amplitude, phase (wrapped into [wrap_low, wrap_low + 360)) and the domain mask."""
    rng = np.random.default_rng(seed)
    domain = rng.random(n) < up  # True: phase near offset; False: near offset + 180
    phase = offset + np.where(domain, 0.0, 180.0) + rng.normal(0, 12, n)
    phase = (phase - wrap_low) % 360 + wrap_low
    amplitude = rng.uniform(0.5, 1.5, n) * np.where(domain, 1.0, 2.0)
    return amplitude, phase, domain


@pytest.mark.parametrize("wrap_low", [-180.0, -90.0, 0.0])
@pytest.mark.parametrize("offset", [-89.0, -45.0, 0.0, 30.0, 89.5, 120.0, 175.0, -170.0, 250.0])
def test_estimate_phase_offset_recovers_the_axis(offset, wrap_low):
    amplitude, phase, domain = two_domains(offset, wrap_low, up=0.3)
    est = estimate_phase_offset(amplitude, phase)
    assert -90 <= est < 90
    assert abs(angle_diff(est, offset, period=180)) < 2
    cosine = np.cos(np.deg2rad(phase - est))
    near = abs(angle_diff(est, offset)) < 90  # est points at the "domain" state
    plus, minus = (domain, ~domain) if near else (~domain, domain)
    assert cosine[plus].mean() > 0.9 and cosine[minus].mean() < -0.9
    assert (cosine[plus] > 0).mean() > 0.99 and (cosine[minus] < 0).mean() > 0.99
    pr = piezoresponse(amplitude, phase, est)
    assert pr.dtype == np.float32
    assert (np.sign(pr[plus]) > 0).mean() > 0.99


def test_estimate_phase_offset_250_written_as_minus_110():
    """A domain at 250 deg, written as -110, and its opposite at 70: the axis is 70 deg."""
    amplitude, phase, domain = two_domains(250.0, -180.0)
    assert phase[domain].mean() < 0  # written as about -110
    est = estimate_phase_offset(amplitude, phase)
    assert est == pytest.approx(70.0, abs=2)
    assert np.cos(np.deg2rad(phase[~domain] - est)).mean() > 0.9


def test_estimate_phase_offset_ignores_nan_and_weights_by_amplitude():
    amplitude, phase, _ = two_domains(40.0, -90.0)
    phase[:10] = np.nan
    amplitude[10:20] = np.inf
    # many pixels with next to no response, all at another phase: they weigh next to nothing
    weak_phase = np.random.default_rng(1).normal(-30.0, 5.0, 20000)
    est = estimate_phase_offset(
        np.concatenate([amplitude, np.full(20000, 1e-3)]), np.concatenate([phase, weak_phase])
    )
    assert est == pytest.approx(40.0, abs=2)


def test_estimate_phase_offset_range_is_half_open():
    """An axis exactly at +-90 deg is reported as -90, never +90."""
    assert estimate_phase_offset(np.ones(3), np.array([90.0, 270.0, -90.0])) == pytest.approx(-90)
    assert estimate_phase_offset(np.ones(2), np.array([89.0, 269.0])) == pytest.approx(89.0)


def test_estimate_phase_offset_errors():
    with pytest.raises(InputError, match="shape"):
        estimate_phase_offset(np.ones(3), np.ones(4))
    with pytest.raises(InputError, match="amplitude"):
        estimate_phase_offset(np.zeros(5), np.arange(5.0))


def test_piezoresponse_formula():
    pr = piezoresponse(np.array([2.0, 2.0, 3.0]), np.array([10.0, 190.0, 70.0]), 10.0)
    np.testing.assert_allclose(pr, [2.0, -2.0, 1.5], atol=1e-6)
    assert pr.dtype == np.float32


# ----------------------------------------------------------------------------------------
# add_piezoresponse, pick_pfm_channels and pfm_frames
# ----------------------------------------------------------------------------------------


def channel_movie(offsets, seed: int = 0, ny: int = 16, nx: int = 16) -> xr.Dataset:
    """A movie of two-domain frames (left half / right half), one phase offset per frame."""
    rng = np.random.default_rng(seed)
    frames = []
    for offset in offsets:
        left = np.zeros((ny, nx), bool)
        left[:, : nx // 2] = True
        phase = offset + np.where(left, 0.0, 180.0) + rng.normal(0, 3, (ny, nx))
        phase = (phase + 90) % 360 - 90  # -90..270, as Asylum writes it
        amplitude = rng.uniform(1, 2, (ny, nx))
        height = rng.normal(0, 1, (ny, nx))
        frames.append(np.stack([height, amplitude, phase]))
    return xr.Dataset(
        {"channel_image": (("frame", "channel", "y", "x"), np.array(frames, np.float32))},
        coords={
            "channel": ["height", "amplitude", "phase"],
            "channel_units": ("channel", ["m", "pm", "deg"]),
        },
        attrs={"source": "synthetic"},
    )


def test_add_piezoresponse_missing_channel_names_the_channels():
    ds = channel_movie([0.0])
    with pytest.raises(InputError) as err:
        add_piezoresponse(ds, amplitude="Amplitude", phase="phase")
    for name in ("height", "amplitude", "phase", "'Amplitude'"):
        assert name in str(err.value)
    with pytest.raises(InputError, match="height, amplitude, phase"):
        add_piezoresponse(ds, phase="PhaseRetrace")


def test_add_piezoresponse_refuses_other_dims():
    ds = channel_movie([0.0]).transpose("channel", "frame", "y", "x")
    with pytest.raises(InputError, match="dims"):
        add_piezoresponse(ds)
    with pytest.raises(InputError, match="channel_image"):
        add_piezoresponse(xr.Dataset({"image": (("frame", "y", "x"), np.ones((1, 8, 8)))}))


def test_add_piezoresponse_one_offset_for_the_movie():
    """The phase drifts 85 -> 95 deg across frames, over the +-90 boundary of the offset.

    Offsets estimated per frame would be +85 and -85 and flip the sign of a domain between
    frames; one offset for the movie keeps each domain's sign in every frame.
    """
    ds = channel_movie([85.0, 90.0, 95.0])
    out = add_piezoresponse(ds)
    offset = out.attrs["phase_offset_deg"]
    assert isinstance(offset, float)
    assert abs(angle_diff(offset, 90.0, period=180)) < 2
    amplitude = ds["channel_image"].sel(channel="amplitude").values
    phase = ds["channel_image"].sel(channel="phase").values
    assert offset == pytest.approx(estimate_phase_offset(amplitude, phase))
    np.testing.assert_allclose(out["image"].values, piezoresponse(amplitude, phase, offset))
    image = out["image"].values
    left, right = np.sign(image[:, :, :8]), np.sign(image[:, :, 8:])
    for i in range(3):  # same sign per domain in every frame, opposite between domains
        assert (left[i] == left[0, 0, 0]).all() and (right[i] == -left[0, 0, 0]).all()
    # per-frame estimates would disagree on the sign (the failure this guards against)
    per_frame = [estimate_phase_offset(amplitude[i], phase[i]) for i in (0, 2)]
    assert np.sign(per_frame[0]) != np.sign(per_frame[1])
    assert out["image"].dims == ("frame", "y", "x") and out["image"].dtype == np.float32
    assert out.attrs["intensity_units"] == "pm"
    assert "amplitude" in out.attrs["piezoresponse"] and "phase" in out.attrs["piezoresponse"]
    assert "image" not in ds  # a copy; the input is unchanged


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (CHANNELS, ("AmplitudeRetrace", "PhaseRetrace")),
        (
            ["HeightTrace", "AmplitudeTrace", "AmplitudeRetrace", "PhaseTrace", "PhaseRetrace"],
            ("AmplitudeRetrace", "PhaseRetrace"),
        ),
        (
            ["Amplitude2Retrace", "Amplitude1Retrace", "Phase2Retrace", "Phase1Retrace"],
            ("Amplitude1Retrace", "Phase1Retrace"),
        ),
        (["height", "amplitude", "phase"], ("amplitude", "phase")),
    ],
)
def test_pick_pfm_channels(names, expected):
    assert pick_pfm_channels(names) == expected


@pytest.mark.parametrize(
    "names",
    [
        ["HeightRetrace", "LatAmplitudeRetrace", "LatPhaseRetrace"],
        ["HeightRetrace", "AmplitudeRetrace", "LatPhaseRetrace", "Phase2Retrace"],
        ["HeightRetrace", "Amplitude2Retrace", "PhaseRetrace"],
    ],
)
def test_pick_pfm_channels_refuses_lateral_only(names):
    with pytest.raises(InputError, match="vertical PFM") as err:
        pick_pfm_channels(names)
    for name in names:
        assert name in str(err.value)


def test_pfm_frames_of_a_synthetic_movie():
    """Channels that read_scan would give: frames with the piezoresponse and every channel kept."""
    ds = channel_movie([20.0, 25.0])
    ds.attrs.update(pixel_size_nm=5.0, source="synthetic.ibw", modality="pfm", scan_size_m=[8e-8, 8e-8])
    frames = pfm_frames(ds)
    check_frames(frames)
    expected = add_piezoresponse(ds)
    np.testing.assert_array_equal(frames["image"].values, expected["image"].values)
    assert frames["image"].dims == ("frame", "y", "x") and frames.sizes["frame"] == 2
    assert frames.attrs["intensity_units"] == "pm"  # the amplitude's unit
    assert frames.attrs["scan_size_m"] == [8e-8, 8e-8] and frames.attrs["pixel_size_nm"] == 5.0
    assert frames.attrs["phase_offset_deg"] == expected.attrs["phase_offset_deg"]
    assert (frames.attrs["amplitude_channel"], frames.attrs["phase_channel"]) == ("amplitude", "phase")
    np.testing.assert_array_equal(frames["channel_image"].values, ds["channel_image"].values)
    assert list(frames["channel_units"].values) == ["m", "pm", "deg"]


def test_pfm_frames_without_the_channels_names_the_source():
    ds = channel_movie([0.0]).drop_sel(channel="phase")
    ds.attrs.update(pixel_size_nm=5.0, source="scan_without_phase.ibw", modality="pfm")
    with pytest.raises(InputError, match="vertical PFM phase") as err:
        pfm_frames(ds)
    assert "scan_without_phase.ibw" in str(err.value) and "height, amplitude" in str(err.value)
