"""A piezoresponse force microscopy (PFM) movie of ferroelectric switching, with ground truth.

Physics
-------
The sample is a 2-D scalar polarisation field ``P(y, x)`` in units of the spontaneous value
(``P_s = 1``), one value per pixel. It follows time-dependent Ginzburg-Landau relaxation in a
Landau double well,

    dP/dt = -Gamma * (alpha * P + beta * P**3 - kappa * lap(P) - E(y, x, t) - h(y, x)),

with ``alpha = -1`` and ``beta = 1`` (minima at ``P = +-1``, homogeneous coercive field
``2 / (3 * sqrt(3)) ~ 0.385``), ``Gamma = 1`` (the time unit), gradient energy ``kappa``
(a flat wall is ``P = tanh(u / w)`` with ``w = sqrt(2 * kappa)`` px, so the default
``kappa = 1`` gives walls about 3-4 px wide from -0.9 to +0.9), a static disorder field ``h``
and a switching field ``E``. Lengths are in pixels; ``lap`` is the five-point Laplacian with
Neumann (zero-flux, mirror) boundaries, so walls meet the image border at right angles and
nothing wraps around.

- ``h`` is the sum of smooth random pinning (white noise smoothed by a Gaussian of
  ``pinning_length_px``, scaled to a standard deviation ``pinning_strength``) and
  ``n_sites`` Gaussian wells (sigma ``site_sigma_px``, depth ``site_strength`` times a random
  factor in [0.6, 1]) that favour the reversed state: weak spots where reversed domains
  nucleate first, the deepest first.
- ``E`` points in the switching direction (towards ``P = -1``; the sample starts "up",
  ``P = +1``). Its uniform part ramps linearly from ``field_start`` (during the step into
  frame 1) to ``field_end`` (during the step into the last frame). On top, ``n_tip_pulses``
  biased-tip pulses, each a Gaussian field of peak ``tip_field`` and sigma ``tip_sigma_px``
  at a random spot, act during the first half of the steps into frames 1, 2, ... (one pulse
  per frame), writing a reversed domain there.

Frame 0 is the relaxed initial state: uniform ``+1`` with reversed disks of radius
``initial_radius_px`` at the ``n_initial_domains`` deepest sites, relaxed for one frame time
under ``field_start``; pre-existing domains that are too small to survive shrink away.
Between frames the field integrates ``time_per_frame`` time units by explicit Euler with a
step ``dt = 1 / (8 * kappa + 6)``, under half the stability limit of the Laplacian plus the
stiff part of the double well, so ``P`` stays bounded (``|P|`` at most about 1.2 with the
default fields: the root of ``P**3 - P = |E + h|``).

The default movie (10 frames, 128 x 128 px, seed 0) starts with two small reversed domains
at pinning sites (switched fraction ~ 0.02). Two tip-written domains appear in frames 1-2,
and as the field ramps more domains nucleate at the weak sites (up to about ten separate
domains around frames 4-5); they grow, merge into a few large ones, and by the last frame
about 75 % of the field is reversed, with islands of the original state left at strongly
pinned spots.

Signal model
------------
The tip probes a finite area: the local response ``d * P * exp(i * phase_offset)`` is
convolved with a Gaussian of ``resolution_sigma_px`` (mirror boundaries), so across a wall
the blurred ``P_b`` passes through zero and the amplitude dips, as PFM amplitude images
show. Complex lock-in noise (standard deviation ``lockin_noise * d`` on each quadrature) is
added, then

- amplitude = ``|response|`` + background, the background being ``background`` plus a linear
  tilt of ``background_tilt`` across the field in a random direction (a.u.);
- phase = ``angle(response)`` + Gaussian phase jitter of ``phase_noise_deg``, in degrees,
  wrapped to [-180, 180). Up domains (``P > 0``) read ``phase_offset_deg``, reversed ones
  ``phase_offset_deg - 180`` (mod 360).

Ground truth is stored next to the images under names prefixed ``true_``.

Randomness comes from ``np.random.default_rng(seed)`` only; the sample (pinning, sites,
tip spots) and the measurement noise use two independent child streams, so the same seed with
another noise setting shows exactly the same domains.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter

from .errors import InputError
from .frames import make_frames

__all__ = ["CHANNELS", "CHANNEL_UNITS", "COERCIVE_FIELD", "simulate_pfm_movie", "domain_walls"]

#: Names of the ``channel`` coordinate of ``channel_image``.
CHANNELS = ("amplitude", "phase")
#: Units of each channel.
CHANNEL_UNITS = ("a.u.", "deg")
#: Homogeneous coercive field of the double well with alpha = -1, beta = 1.
COERCIVE_FIELD = 2.0 / (3.0 * math.sqrt(3.0))


# --------------------------------------------------------------------------------------------
# validation


def _check_number(name, value, *, low=None, high=None, low_open=False, integer=False, hint=""):
    """Return ``value`` as a float/int, raising InputError when it is not a finite number in range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number, got {value!r}{hint}")
    if not math.isfinite(float(value)):
        raise InputError(f"{name} must be finite, got {value!r}{hint}")
    if integer and not float(value).is_integer():
        raise InputError(f"{name} must be a whole number, got {value!r}{hint}")
    v = int(value) if integer else float(value)
    if low is not None and (v < low or (low_open and v == low)):
        rel = ">" if low_open else ">="
        raise InputError(f"{name} must be {rel} {low}, got {value!r}{hint}")
    if high is not None and v > high:
        raise InputError(f"{name} must be <= {high}, got {value!r}{hint}")
    return v


# --------------------------------------------------------------------------------------------
# physics


def _gaussian_spots(shape, centres, sigma, weights):
    """Sum of Gaussian bumps ``weights[k] * exp(-r_k**2 / (2 sigma**2))`` on a ``shape`` grid."""
    ny, nx = shape
    yy = np.arange(ny)[:, None]
    xx = np.arange(nx)[None, :]
    out = np.zeros(shape)
    for (cy, cx), w in zip(centres, weights):
        out += w * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2.0 * sigma**2))
    return out


def _spread_points(rng, n, size, margin, min_dist, avoid=()):
    """``n`` random points (y, x) at least ``margin`` from the border and ``min_dist`` apart.

    Draws candidates in order and keeps those far enough from the kept ones and from
    ``avoid``; the distance is relaxed by 10 % after every 200 rejections, so it always ends.
    """
    points: list[tuple[float, float]] = []
    fixed = [tuple(p) for p in avoid]
    tries = 0
    while len(points) < n:
        p = tuple(rng.uniform(margin, size - 1 - margin, 2))
        others = points + fixed
        if not others or min(math.hypot(p[0] - q[0], p[1] - q[1]) for q in others) >= min_dist:
            points.append(p)
        else:
            tries += 1
            if tries % 200 == 0:
                min_dist *= 0.9
    return points


def domain_walls(domain: np.ndarray) -> np.ndarray:
    """Pixels on a domain wall: those whose sign differs from one of their 4-neighbours.

    Works on one image ``(y, x)`` or a stack ``(..., y, x)``. Both pixels of every unlike pair
    are marked, so a wall is a line two pixels wide (one on each side of the sign change);
    pixels at the image border are compared with the neighbours they have.
    """
    d = np.asarray(domain)
    wall = np.zeros(d.shape, bool)
    dy = d[..., 1:, :] != d[..., :-1, :]
    dx = d[..., :, 1:] != d[..., :, :-1]
    wall[..., 1:, :] |= dy
    wall[..., :-1, :] |= dy
    wall[..., :, 1:] |= dx
    wall[..., :, :-1] |= dx
    return wall


# --------------------------------------------------------------------------------------------
# the simulator


def simulate_pfm_movie(
    n_frames: int = 10,
    size: int = 128,
    pixel_size_nm: float = 20.0,
    seed: int = 0,
    *,
    kappa: float = 2.0,
    pinning_strength: float = 0.05,
    pinning_length_px: float = 3.0,
    n_sites: int = 16,
    site_softening: float = 0.9,
    site_sigma_px: float = 6.0,
    n_initial_domains: int = 2,
    initial_radius_px: float = 9.0,
    field_start: float = 0.08,
    field_end: float = 0.2,
    n_tip_pulses: int = 2,
    tip_field: float = 0.6,
    tip_sigma_px: float = 6.0,
    time_per_frame: float = 9.0,
    resolution_sigma_px: float = 1.5,
    amplitude_scale: float = 1.0,
    background: float = 0.15,
    background_tilt: float = 0.05,
    lockin_noise: float = 0.05,
    phase_noise_deg: float = 3.0,
    phase_offset_deg: float = 37.0,
) -> xr.Dataset:
    """Simulate a PFM movie of ferroelectric domain switching, with ground truth.

    See the module docstring for the model. The default sequence (10 frames of 128 x 128 px)
    goes from a nearly single-domain state (switched fraction about 0.02) through nucleation
    of separate reversed domains at tip spots and weak pinning sites, their growth and
    merging, to about 75 % switched in the last frame.

    Parameters
    ----------
    n_frames : int
        Number of frames (>= 1). Frame 0 is the initial state; the field ramp is spread over
        the steps into frames 1 .. n_frames - 1, so fewer frames give a coarser sequence of
        the same switching.
    size : int
        Image height and width in pixels (>= 16).
    pixel_size_nm : float
        Pixel size in nm (> 0); only recorded (the physics works in pixels).
    seed : int
        Seed of ``np.random.default_rng`` (>= 0).
    kappa : float
        Gradient-energy coefficient (> 0, <= 25); walls are ``sqrt(2 * kappa)`` px wide
        (tanh length).
    pinning_strength : float
        Standard deviation of the smooth random pinning field (>= 0, < 0.3).
    pinning_length_px : float
        Correlation length (Gaussian sigma) of the pinning field in px (> 0).
    n_sites : int
        Number of weak (nucleation) sites (>= 0).
    site_strength : float
        Largest depth of a site's well, a field favouring the reversed state (>= 0, < 1).
    site_sigma_px : float
        Gaussian sigma of a site's well in px (> 0).
    n_initial_domains : int
        Reversed disks placed at the deepest sites before frame 0 (0 .. n_sites).
    initial_radius_px : float
        Radius of those disks in px (> 0).
    field_start, field_end : float
        Uniform switching field during the step into frame 1 and into the last frame
        (each 0 .. 0.45, start <= end); linear in between.
    n_tip_pulses : int
        Number of biased-tip pulses (0 .. n_frames - 1), one during each of the steps into
        frames 1, 2, ...
    tip_field : float
        Peak field of a tip pulse (>= 0, <= 0.6).
    tip_sigma_px : float
        Gaussian sigma of the tip field in px (> 0).
    time_per_frame : float
        Relaxation time between frames in units of 1 / Gamma (> 0, <= 200).
    resolution_sigma_px : float
        Gaussian sigma of the tip's imaging resolution in px (>= 0; 0: no blur).
    amplitude_scale : float
        Piezoresponse amplitude ``d`` of a saturated domain (> 0, a.u.).
    background : float
        Constant amplitude background (>= 0, a.u.).
    background_tilt : float
        Background rise across the field (>= 0, a.u.), in a random direction.
    lockin_noise : float
        Standard deviation of the complex lock-in noise on each quadrature, relative to
        ``amplitude_scale`` (>= 0).
    phase_noise_deg : float
        Standard deviation of extra Gaussian phase jitter in degrees (>= 0).
    phase_offset_deg : float
        Instrument phase of the up state in degrees (any finite number; stored wrapped to
        [-180, 180) in ``attrs["true_phase_offset_deg"]``).

    Returns
    -------
    xarray.Dataset
        - ``channel_image`` float32 (frame, channel, y, x), ``channel`` = ("amplitude",
          "phase"), ``channel_units`` = ("a.u.", "deg") along ``channel``; phase wrapped to
          [-180, 180);
        - ``image`` float32 (frame, y, x): the amplitude channel again, so the Dataset is also
          a plain frames Dataset (see :func:`rvae_pathways.frames.make_frames`);
        - ``true_polarization`` float32 (frame, y, x): the un-blurred ``P`` in units of P_s;
        - ``true_domain`` int8 (frame, y, x): +1 where ``P >= 0``, -1 elsewhere;
        - ``true_wall`` bool (frame, y, x): pixels whose domain differs from a 4-neighbour's
          (see :func:`domain_walls`: lines two pixels wide);
        - ``true_switched_fraction`` float32 (frame): fraction of pixels whose domain
          differs from the majority domain of frame 0;
        - ``true_field`` float32 (frame): the uniform switching field during the step into
          each frame (frame 0: the field of the initial relaxation);
        - ``true_tip_frame`` int32, ``true_tip_y``, ``true_tip_x`` float32 along
          ``true_tip``: the frame each pulse led into and its centre in px;
        - ``true_site_y``, ``true_site_x``, ``true_site_depth`` float32 along ``true_site``:
          the weak sites, deepest first.

        ``attrs``: ``pixel_size_nm``, ``source`` ("simulate_pfm"), ``modality`` ("pfm"),
        ``intensity_units`` ("a.u."), ``true_phase_offset_deg``, ``true_background_tilt_angle_deg``,
        ``phase_interval_deg`` ("[-180, 180)"), ``boundary`` ("neumann"), ``dt``, ``seed``
        and every parameter.
    """
    # ---- validate ----------------------------------------------------------------------------
    n_frames = _check_number("n_frames", n_frames, low=1, integer=True)
    size = _check_number("size", size, low=16, integer=True, hint="; use an image of 16 px or more")
    pixel_size_nm = _check_number("pixel_size_nm", pixel_size_nm, low=0, low_open=True)
    seed = _check_number("seed", seed, low=0, integer=True)
    kappa = _check_number("kappa", kappa, low=0, low_open=True, high=25)
    pinning_strength = _check_number("pinning_strength", pinning_strength, low=0)
    if pinning_strength >= 0.3:
        raise InputError(
            f"pinning_strength={pinning_strength} would nucleate domains everywhere (the "
            f"coercive field is {COERCIVE_FIELD:.3f}); use a value below 0.3"
        )
    pinning_length_px = _check_number("pinning_length_px", pinning_length_px, low=0, low_open=True)
    n_sites = _check_number("n_sites", n_sites, low=0, integer=True)
    site_softening = _check_number("site_softening", site_softening, low=0, high=0.9)
    site_sigma_px = _check_number("site_sigma_px", site_sigma_px, low=0, low_open=True)
    n_initial_domains = _check_number(
        "n_initial_domains", n_initial_domains, low=0, integer=True)
    initial_radius_px = _check_number("initial_radius_px", initial_radius_px, low=0, low_open=True)
    field_start = _check_number("field_start", field_start, low=0, high=0.45)
    field_end = _check_number("field_end", field_end, low=0, high=0.45)
    if field_end < field_start:
        raise InputError(
            f"field_end ({field_end}) must be >= field_start ({field_start}): the field ramps up"
        )
    n_tip_pulses = _check_number(
        "n_tip_pulses", n_tip_pulses, low=0, high=max(n_frames - 1, 0), integer=True,
        hint="; one pulse per step between frames, so use n_tip_pulses <= n_frames - 1",
    )
    tip_field = _check_number("tip_field", tip_field, low=0, high=0.6)
    tip_sigma_px = _check_number("tip_sigma_px", tip_sigma_px, low=0, low_open=True)
    time_per_frame = _check_number("time_per_frame", time_per_frame, low=0, low_open=True, high=200)
    resolution_sigma_px = _check_number("resolution_sigma_px", resolution_sigma_px, low=0)
    amplitude_scale = _check_number("amplitude_scale", amplitude_scale, low=0, low_open=True)
    background = _check_number("background", background, low=0)
    background_tilt = _check_number("background_tilt", background_tilt, low=0)
    lockin_noise = _check_number("lockin_noise", lockin_noise, low=0)
    phase_noise_deg = _check_number("phase_noise_deg", phase_noise_deg, low=0)
    phase_offset_deg = _check_number("phase_offset_deg", phase_offset_deg)

    rng_sample, rng_noise = np.random.default_rng(seed).spawn(2)
    shape = (size, size)

    # ---- the sample: disorder field h --------------------------------------------------------
    white = rng_sample.standard_normal(shape)
    pin = gaussian_filter(white, pinning_length_px, mode="reflect")
    pin *= pinning_strength / max(float(pin.std()), 1e-12)
    # one spread-out draw places, in this order, the initial domains, the tip spots and the sites
    n_spots = n_initial_domains + n_tip_pulses + n_sites
    margin = min(max(initial_radius_px, site_sigma_px, tip_sigma_px), size / 4)
    spots = _spread_points(rng_sample, n_spots, size, margin, min_dist=0.9 * size / math.sqrt(n_spots + 1))
    initial = spots[:n_initial_domains]
    tips = spots[n_initial_domains : n_initial_domains + n_tip_pulses]
    sites = spots[n_initial_domains + n_tip_pulses :]
    # stratified depths, deepest first: one in each of n_sites equal slices of [0.4, 1] * softening,
    # so the sites switch on one after another as the field ramps
    strata = (np.arange(n_sites) + rng_sample.uniform(0.0, 1.0, n_sites)) / max(n_sites, 1)
    depth = site_softening * (1.0 - 0.6 * strata)
    h = pin
    # weak sites soften the double well: alpha = -(1 - softening), a lower local coercive field
    neg_alpha = 1.0 - _gaussian_spots(shape, sites, site_sigma_px, depth)

    # ---- tip pulses ---------------------------------------------------------------------------
    tip_frames = np.arange(1, n_tip_pulses + 1)

    # ---- field ramp ---------------------------------------------------------------------------
    if n_frames > 2:
        ramp = np.linspace(field_start, field_end, n_frames - 1)
    else:
        ramp = np.full(max(n_frames - 1, 0), field_start)
    fields = np.concatenate([[field_start], ramp])  # fields[t]: during the step into frame t

    # ---- integrate ----------------------------------------------------------------------------
    dt = 1.0 / (8.0 * kappa + 6.0)
    n_sub = int(math.ceil(time_per_frame / dt))
    dt = time_per_frame / n_sub

    p = np.ones(shape)
    yy = np.arange(size)[:, None]
    xx = np.arange(size)[None, :]
    for cy, cx in initial:
        p[(yy - cy) ** 2 + (xx - cx) ** 2 <= initial_radius_px**2] = -1.0

    peak = float(np.abs(p).max())  # the largest |P| over every sub-step

    # p lives inside a padded buffer whose ghost cells mirror the edge (Neumann boundary)
    buf = np.pad(p, 1, mode="edge")
    p = buf[1:-1, 1:-1]
    rate = np.empty(shape)
    tmp = np.empty(shape)

    def relax(drive, drive_pulse, n_pulse, p=p, rate=rate, tmp=tmp):
        """Advance ``p`` in place by one frame time; returns the largest |P| on the way."""
        peak = 0.0
        for k in range(n_sub):
            f = drive_pulse if k < n_pulse else drive
            buf[0, 1:-1] = buf[1, 1:-1]
            buf[-1, 1:-1] = buf[-2, 1:-1]
            buf[1:-1, 0] = buf[1:-1, 1]
            buf[1:-1, -1] = buf[1:-1, -2]
            # rate = kappa * lap(p) + (1 - softening) * p - p**3 + f
            np.add(buf[:-2, 1:-1], buf[2:, 1:-1], out=rate)
            rate += buf[1:-1, :-2]
            rate += buf[1:-1, 2:]
            np.multiply(p, 4.0, out=tmp)
            rate -= tmp
            rate *= kappa
            np.multiply(neg_alpha, p, out=tmp)
            rate += tmp
            np.multiply(p, p, out=tmp)
            tmp *= p
            rate -= tmp
            rate += f
            rate *= dt
            p += rate
            peak = max(peak, float(p.max()), -float(p.min()))
        return peak
    polar = np.empty((n_frames, size, size), np.float32)
    for t in range(n_frames):
        drive = h - fields[t]  # the switching field points towards -1
        pulse_drive, n_pulse = drive, 0
        if 1 <= t <= n_tip_pulses:
            cy, cx = tips[t - 1]
            pulse_drive = drive - _gaussian_spots(shape, [(cy, cx)], tip_sigma_px, [tip_field])
            n_pulse = (2 * n_sub) // 3
        peak = max(peak, relax(drive, pulse_drive, n_pulse))
        polar[t] = p

    # ---- truth --------------------------------------------------------------------------------
    domain = np.where(polar >= 0, 1, -1).astype(np.int8)
    wall = domain_walls(domain)
    majority = 1 if (domain[0] > 0).mean() >= 0.5 else -1
    switched = (domain != majority).mean(axis=(1, 2)).astype(np.float32)

    # ---- signal -------------------------------------------------------------------------------
    tilt_angle = rng_sample.uniform(0, 2 * math.pi)
    ramp_xy = ((yy - (size - 1) / 2) * math.sin(tilt_angle) + (xx - (size - 1) / 2) * math.cos(tilt_angle))
    bg = background + background_tilt * ramp_xy / max(size - 1, 1)
    offset = math.radians(phase_offset_deg)
    images = np.empty((n_frames, 2, size, size), np.float32)
    for t in range(n_frames):
        pb = gaussian_filter(polar[t].astype(np.float64), resolution_sigma_px, mode="reflect") \
            if resolution_sigma_px > 0 else polar[t].astype(np.float64)
        response = amplitude_scale * pb * np.exp(1j * offset)
        if lockin_noise > 0:
            noise = rng_noise.standard_normal((2, size, size)) * (lockin_noise * amplitude_scale)
            response = response + noise[0] + 1j * noise[1]
        amp = np.abs(response) + bg
        phase = np.degrees(np.angle(response))
        if phase_noise_deg > 0:
            phase = phase + rng_noise.normal(0.0, phase_noise_deg, shape)
        images[t, 0] = amp
        images[t, 1] = (phase + 180.0) % 360.0 - 180.0

    # ---- assemble -----------------------------------------------------------------------------
    ds = make_frames(images[:, 0], pixel_size_nm, source="simulate_pfm", modality="pfm",
                     intensity_units="a.u.")
    ds = ds.assign_coords(
        channel=("channel", list(CHANNELS)), channel_units=("channel", list(CHANNEL_UNITS))
    )
    ds["channel_image"] = (("frame", "channel", "y", "x"), images)
    ds["true_polarization"] = (("frame", "y", "x"), polar)
    ds["true_domain"] = (("frame", "y", "x"), domain)
    ds["true_wall"] = (("frame", "y", "x"), wall)
    ds["true_switched_fraction"] = ("frame", switched)
    ds["true_field"] = ("frame", fields.astype(np.float32))
    tip_arr = np.array(tips, float).reshape(-1, 2)
    ds["true_tip_frame"] = ("true_tip", tip_frames.astype(np.int32))
    ds["true_tip_y"] = ("true_tip", tip_arr[:, 0].astype(np.float32))
    ds["true_tip_x"] = ("true_tip", tip_arr[:, 1].astype(np.float32))
    site_arr = np.array(sites, float).reshape(-1, 2)
    ds["true_site_y"] = ("true_site", site_arr[:, 0].astype(np.float32))
    ds["true_site_x"] = ("true_site", site_arr[:, 1].astype(np.float32))
    ds["true_site_depth"] = ("true_site", depth.astype(np.float32))
    for name in ("true_tip_y", "true_tip_x", "true_site_y", "true_site_x"):
        ds[name].attrs["units"] = "px"
    ds["true_polarization"].attrs["units"] = "P_s"
    ds["channel_image"].attrs["phase_interval_deg"] = "[-180, 180)"

    ds.attrs.update(
        {
            "true_phase_offset_deg": float((phase_offset_deg + 180.0) % 360.0 - 180.0),
            "true_background_tilt_angle_deg": float(np.degrees(tilt_angle)),
            "true_majority_domain": int(majority),
            "true_peak_abs_polarization": peak,
            "phase_interval_deg": "[-180, 180)",
            "boundary": "neumann",
            "dt": float(dt),
            "seed": int(seed),
            "size": int(size),
            "kappa": kappa,
            "pinning_strength": pinning_strength,
            "pinning_length_px": pinning_length_px,
            "n_sites": int(n_sites),
            "site_softening": site_softening,
            "site_sigma_px": site_sigma_px,
            "n_initial_domains": int(n_initial_domains),
            "initial_radius_px": initial_radius_px,
            "field_start": field_start,
            "field_end": field_end,
            "n_tip_pulses": int(n_tip_pulses),
            "tip_field": tip_field,
            "tip_sigma_px": tip_sigma_px,
            "time_per_frame": time_per_frame,
            "resolution_sigma_px": resolution_sigma_px,
            "amplitude_scale": amplitude_scale,
            "background": background,
            "background_tilt": background_tilt,
            "lockin_noise": lockin_noise,
            "phase_noise_deg": phase_noise_deg,
            "phase_offset_deg": phase_offset_deg,
        }
    )
    return ds
