"""A piezoresponse force microscopy (PFM) movie of ferroelectric switching, with ground truth.

Physics
-------
The sample is a 2-D scalar polarisation field ``P(y, x)`` in units of the spontaneous value
(``P_s = 1``), one value per pixel. It follows time-dependent Ginzburg-Landau relaxation in a
Landau double well,

    dP/dt = -Gamma * (alpha(y, x) * P + beta * P**3 - kappa * lap(P) - E(y, x, t) - h(y, x)),

with ``beta = 1`` and ``Gamma = 1`` (the time unit). Away from weak sites ``alpha = -1``:
minima at ``P = +-1`` and a homogeneous coercive field ``2 / (3 * sqrt(3)) ~ 0.385``
(:data:`COERCIVE_FIELD`). ``kappa`` is the gradient energy: a flat wall is
``P = tanh(u / w)`` with ``w = sqrt(2 * kappa)`` px, so the default ``kappa = 2`` gives walls
about 6 px wide from -0.9 to +0.9. Lengths are in pixels; ``lap`` is the five-point Laplacian
with Neumann (zero-flux, mirror) boundaries, so walls meet the image border at right angles and
nothing wraps around.

- ``h`` is smooth random pinning: white noise smoothed by a Gaussian of ``pinning_length_px``
  and scaled to a standard deviation ``pinning_strength``.
- ``n_sites`` weak sites soften the double well: around each, ``alpha = -(1 - s g(r))`` with
  ``g`` a Gaussian of ``site_sigma_px`` and ``s`` the site's softening, so the local coercive
  field (and the local spontaneous polarisation, ``sqrt(1 - s)``) is lower and reversed
  domains nucleate there first. The softenings are stratified, one in each of ``n_sites``
  equal slices of ``[0.4, 1] * site_softening``, so the sites switch on one after another as
  the field ramps. ``-alpha`` is kept >= 0.1 where sites overlap.
- ``E`` points in the switching direction (towards ``P = -1``; the sample starts "up",
  ``P = +1``). Its uniform part ramps linearly from ``field_start`` (during the step into
  frame 1) to ``field_end`` (during the step into the last frame). On top, ``n_tip_pulses``
  biased-tip pulses, each a Gaussian field of peak ``tip_field`` and sigma ``tip_sigma_px``,
  act during the first two thirds of the steps into frames 1, 2, ... (one pulse per step),
  each writing a reversed domain under its spot.

The initial domains, tip spots and sites are placed by one draw of points spread over the
field (at least about ``0.9 * size / sqrt(n + 1)`` apart). Frame 0 is the initial state:
uniform ``+1`` with ``n_initial_domains`` reversed disks of ``initial_radius_px``, relaxed for
one frame time under ``field_start``. Between frames the field integrates ``time_per_frame``
time units by explicit Euler with a step ``dt <= 1 / (8 * kappa + 6)``, half the stability
limit of the Laplacian plus the stiff part of the double well, so ``P`` stays bounded: at a
pixel ``|P|`` approaches the root of ``P**3 - P = |E + h|``, at most about 1.15 in the frames
and 1.2-1.27 for a moment under a tip pulse with the defaults
(``attrs["true_peak_abs_polarization"]`` records the largest ``|P|`` over every sub-step).
Frames are snapshots under the field, so the up state is slightly depolarised
(``|P| ~ 1 - E / 2``, about 0.9 in the last frame) and the reversed state slightly enhanced
(about 1.1).

The default movie (10 frames, 128 x 128 px, seed 0) starts with two reversed domains
(switched fraction 0.03). The tip pulses write a domain in each of frames 1 and 2; as the
field ramps, the domains grow and more nucleate at weak sites (six separate reversed domains
in frames 6-7); they merge into one connected reversed region by frame 8 and 74 % of the
field is reversed in the last frame, with islands and a band of the original state left.

Signal model
------------
The tip probes a finite area: the local response ``d * P * exp(i * phase_offset)`` is
convolved with a Gaussian of ``resolution_sigma_px`` (mirror boundaries), so across a wall
the blurred ``P_b`` passes through zero and the amplitude dips, as PFM amplitude images
show (weak sites, with their lower ``P``, read a lower amplitude too). Complex lock-in noise
(standard deviation ``lockin_noise * d`` on each quadrature) is added, then

- amplitude = ``|response|`` + background, the background being ``background`` plus a linear
  tilt rising by ``background_tilt`` across the field in a random direction (a.u.);
- phase = ``angle(response)`` + Gaussian phase jitter of ``phase_noise_deg``, in degrees,
  wrapped to [-180, 180). Up domains (``P > 0``) read ``phase_offset_deg``, reversed ones
  ``phase_offset_deg - 180`` (mod 360).

Ground truth is stored next to the images under names prefixed ``true_``.

Randomness comes from ``np.random.default_rng(seed)`` only; the sample (pinning, spots,
softenings, background tilt) and the measurement noise use two independent child streams, so
the same seed with another noise setting shows exactly the same domains.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter, label

from ..core.config import defaults
from ..core.errors import InputError, check_number
from ..core.frames import make_frames

__all__ = [
    "CHANNELS",
    "CHANNEL_UNITS",
    "COERCIVE_FIELD",
    "PHASE_INTERVAL_DEG",
    "domain_walls",
    "simulate_pfm_movie",
]

#: Names of the ``channel`` coordinate of ``channel_image``.
CHANNELS = ("amplitude", "phase")
#: Units of each channel.
CHANNEL_UNITS = ("a.u.", "deg")
#: Phase values lie in [-180, 180) degrees.
PHASE_INTERVAL_DEG = (-180.0, 180.0)
#: Homogeneous coercive field of the double well with alpha = -1, beta = 1.
COERCIVE_FIELD = 2.0 / (3.0 * math.sqrt(3.0))
#: Keyword defaults: the config schema's simulate_pfm section (the one source of every default).
CONFIG = defaults("simulate_pfm")

_MIN_NEG_ALPHA = 0.1  # -alpha never drops below this (the well stays a double well)


# --------------------------------------------------------------------------------------------
# helpers


def _gaussian_spots(shape, centres, sigma, weights):
    """Sum of Gaussian bumps ``weights[k] * exp(-r_k**2 / (2 sigma**2))`` on a ``shape`` grid."""
    yy = np.arange(shape[0])[:, None]
    xx = np.arange(shape[1])[None, :]
    out = np.zeros(shape)
    for (cy, cx), w in zip(centres, weights):
        out += w * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2.0 * sigma**2))
    return out


def _spread_points(rng, n, size, margin, min_dist):
    """``n`` random points (y, x), at least ``margin`` from the border and ``min_dist`` apart.

    Candidates are drawn one by one and kept when far enough from the kept ones; the distance
    shrinks by 10 % after every 200 rejections, so the loop always ends.
    """
    points: list[tuple[float, float]] = []
    rejected = 0
    while len(points) < n:
        p = tuple(float(v) for v in rng.uniform(margin, size - 1 - margin, 2))
        if all(math.hypot(p[0] - q[0], p[1] - q[1]) >= min_dist for q in points):
            points.append(p)
        else:
            rejected += 1
            if rejected % 200 == 0:
                min_dist *= 0.9
    return points


def domain_walls(domain: np.ndarray) -> np.ndarray:
    """Pixels on a domain wall: those whose domain differs from one of their 4-neighbours'.

    Works on one image ``(y, x)`` or a stack ``(..., y, x)``. Both pixels of every unlike pair
    are marked, so a wall is a line two pixels wide (one pixel on each side of the sign
    change); pixels at the image border are compared with the neighbours they have.
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


def _relax(buf, neg_alpha, kappa, dt, n_steps, drive, pulse_drive, n_pulse):
    """Advance ``P`` (the inside of the padded ``buf``) by ``n_steps`` explicit Euler steps.

    ``buf`` has one ghost cell on each side, refreshed from the edge before every step
    (Neumann boundary). The first ``n_pulse`` steps use ``pulse_drive``, the rest ``drive``
    (both ``E + h``). Works in place and returns the largest ``|P|`` reached.
    """
    p = buf[1:-1, 1:-1]
    rate = np.empty_like(p)
    tmp = np.empty_like(p)
    peak = 0.0
    for k in range(n_steps):
        f = pulse_drive if k < n_pulse else drive
        buf[0, 1:-1] = buf[1, 1:-1]
        buf[-1, 1:-1] = buf[-2, 1:-1]
        buf[1:-1, 0] = buf[1:-1, 1]
        buf[1:-1, -1] = buf[1:-1, -2]
        # rate = kappa * lap(P) - alpha * P - P**3 + E + h
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


# --------------------------------------------------------------------------------------------
# the simulator


def simulate_pfm_movie(
    n_frames: int = CONFIG["n_frames"],
    size: int = CONFIG["size"],
    pixel_size_nm: float = CONFIG["pixel_size_nm"],
    seed: int = CONFIG["seed"],
    *,
    kappa: float = 2.0,
    pinning_strength: float = 0.05,
    pinning_length_px: float = 3.0,
    n_sites: int | None = None,
    site_softening: float = 0.9,
    site_sigma_px: float = 6.0,
    n_initial_domains: int = 2,
    initial_radius_px: float = 9.0,
    field_start: float = 0.08,
    field_end: float = 0.2,
    n_tip_pulses: int | None = None,
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

    See the module docstring for the model. The default sequence (10 frames of 128 x 128 px,
    about 0.3 s) goes from a nearly single-domain state (switched fraction 0.03, two small
    reversed domains) through nucleation of separate reversed domains under the tip and at
    weak sites (up to six at once), their growth and merging (one connected reversed region
    from frame 8), to 74 % switched in the last frame. Other seeds end between about 0.6 and
    0.95 switched.

    The defaults of ``n_frames``, ``size``, ``pixel_size_nm`` and ``seed`` are the config schema's
    ``simulate_pfm`` defaults (:data:`CONFIG`).

    Parameters
    ----------
    n_frames : int
        Number of frames (>= 1). Frame 0 is the initial state; the field ramp is spread over
        the steps into frames 1 .. n_frames - 1, so fewer frames show less switching.
    size : int
        Image height and width in pixels (>= 16).
    pixel_size_nm : float
        Pixel size in nm (> 0); only recorded (the physics works in pixels).
    seed : int
        Seed of ``np.random.default_rng`` (>= 0).
    kappa : float
        Gradient-energy coefficient (> 0, <= 25); walls have a tanh length ``sqrt(2 kappa)`` px.
    pinning_strength : float
        Standard deviation of the smooth random pinning field h (>= 0, < 0.3).
    pinning_length_px : float
        Correlation length (Gaussian sigma) of h in px (> 0).
    n_sites : int or None
        Number of weak (nucleation) sites (>= 0). None: 16 per 128 x 128 px (scaled with the
        area, at least 1; 16 in the default field); the number is in ``attrs["n_sites"]``.
    site_softening : float
        Largest softening ``s`` of the double well at a site centre (0 .. 0.9): there
        ``alpha = -(1 - s)``.
    site_sigma_px : float
        Gaussian sigma of a site in px (> 0).
    n_initial_domains : int
        Reversed disks present before frame 0 (>= 0).
    initial_radius_px : float
        Radius of those disks in px (> 0).
    field_start, field_end : float
        Uniform switching field during the step into frame 1 and into the last frame
        (each 0 .. 0.45, start <= end), linear in between; frame 0 relaxes under
        ``field_start``.
    n_tip_pulses : int or None
        Number of biased-tip pulses (0 .. n_frames - 1), one during each of the steps into
        frames 1, 2, ... None: ``min(2, n_frames - 1)``.
    tip_field : float
        Peak field of a tip pulse (0 .. 0.8).
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
        Rise of the amplitude background across the field (>= 0, a.u.), in a random direction.
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
        - ``channel_image`` float32 (frame, channel, y, x) with coordinates ``channel`` =
          ("amplitude", "phase") and ``channel_units`` = ("a.u.", "deg") along ``channel``;
          phase in degrees wrapped to [-180, 180);
        - ``true_polarization`` float32 (frame, y, x): the un-blurred ``P`` in units of P_s;
        - ``true_domain`` int8 (frame, y, x): +1 where ``P >= 0``, -1 elsewhere;
        - ``true_wall`` bool (frame, y, x): pixels whose domain differs from a 4-neighbour's
          (:func:`domain_walls`: lines two pixels wide, one pixel each side);
        - ``true_switched_fraction`` float32 (frame): fraction of pixels whose domain
          differs from the majority domain of frame 0 (``attrs["true_majority_domain"]``);
        - ``true_n_domains`` int32 (frame): number of separate switched regions
          (4-connected);
        - ``true_field`` float32 (frame): the uniform switching field during the step into
          each frame (frame 0: the field of the initial relaxation);
        - along ``true_tip``: ``true_tip_frame`` int32 (the frame each pulse led into),
          ``true_tip_y``/``true_tip_x`` float32 (its centre, px);
        - along ``true_site``: ``true_site_y``/``true_site_x`` float32 (px) and
          ``true_site_softening`` float32, the weak sites, softest first;
        - along ``true_initial``: ``true_initial_y``/``true_initial_x`` float32 (px), the
          centres of the initial reversed disks.

        ``attrs``: ``pixel_size_nm``, ``source`` ("simulate_pfm"), ``modality`` ("pfm"),
        ``intensity_units`` ("a.u."), ``true_phase_offset_deg``,
        ``true_background_tilt_angle_deg`` (direction of the rise, from +x towards +y),
        ``true_majority_domain``, ``true_peak_abs_polarization``, ``phase_interval_deg``
        ("[-180, 180)"), ``boundary`` ("neumann"), ``dt``, ``seed`` and every parameter
        but ``phase_offset_deg`` (whose true value is ``true_phase_offset_deg``:
        ``attrs["phase_offset_deg"]`` is where :func:`rvae_pathways.pfm.piezoresponse.add_piezoresponse`
        puts its estimate).

        There is no ``image``: as for a scan read from a file, pass the Dataset to
        :func:`rvae_pathways.pfm.piezoresponse.add_piezoresponse` to add the signed piezoresponse
        (amplitude times the cosine of the phase minus an estimated offset) as ``image``,
        which makes it a frames Dataset (:mod:`rvae_pathways.core.frames`).
    """
    p = _checked(locals())
    rng_sample, rng_noise = np.random.default_rng(p.seed).spawn(2)
    sample = _sample(rng_sample, p)
    fields = np.full(p.n_frames, p.field_start)  # fields[t]: during the step into frame t
    if p.n_frames > 2:
        fields[1:] = np.linspace(p.field_start, p.field_end, p.n_frames - 1)
    polar, peak, dt = _integrate(p, sample, fields)
    images = _signal(rng_noise, p, polar, sample.tilt_angle)
    return _assemble(p, sample, fields, polar, images, peak, dt)


# --------------------------------------------------------------------------------------------
# the phases of simulate_pfm_movie


def _checked(args: dict):
    """The arguments of :func:`simulate_pfm_movie`, checked (InputError otherwise), with the
    defaults that depend on others (``n_sites``, ``n_tip_pulses``) filled in."""
    p = dict(args)
    p["n_frames"] = check_number("n_frames", p["n_frames"], low=1, integer=True)
    size = p["size"] = check_number(
        "size", p["size"], low=16, integer=True, hint="; simulate images of at least 16 x 16 px"
    )
    p["pixel_size_nm"] = check_number("pixel_size_nm", p["pixel_size_nm"], low=0, low_open=True)
    p["seed"] = check_number("seed", p["seed"], low=0, integer=True)
    p["kappa"] = check_number(
        "kappa", p["kappa"], low=0, low_open=True, high=25, hint="; walls are sqrt(2 kappa) px wide"
    )
    p["pinning_strength"] = check_number("pinning_strength", p["pinning_strength"], low=0)
    if p["pinning_strength"] >= 0.3:
        raise InputError(
            f"pinning_strength={p['pinning_strength']} would nucleate domains everywhere (the "
            f"coercive field is {COERCIVE_FIELD:.3f}); use a value below 0.3"
        )
    p["pinning_length_px"] = check_number("pinning_length_px", p["pinning_length_px"], low=0, low_open=True)
    if p["n_sites"] is None:
        p["n_sites"] = max(1, round(16 * size * size / 128**2))
    p["n_sites"] = check_number("n_sites", p["n_sites"], low=0, integer=True)
    p["site_softening"] = check_number(
        "site_softening", p["site_softening"], low=0, high=0.9,
        hint="; 1 would remove the double well at a site centre",
    )
    p["site_sigma_px"] = check_number("site_sigma_px", p["site_sigma_px"], low=0, low_open=True)
    p["n_initial_domains"] = check_number("n_initial_domains", p["n_initial_domains"], low=0, integer=True)
    p["initial_radius_px"] = check_number("initial_radius_px", p["initial_radius_px"], low=0, low_open=True)
    p["field_start"] = check_number("field_start", p["field_start"], low=0, high=0.45)
    p["field_end"] = check_number("field_end", p["field_end"], low=0, high=0.45)
    if p["field_end"] < p["field_start"]:
        raise InputError(
            f"field_end ({p['field_end']}) must be >= field_start ({p['field_start']}): the field ramps up"
        )
    if p["n_tip_pulses"] is None:
        p["n_tip_pulses"] = min(2, p["n_frames"] - 1)
    p["n_tip_pulses"] = check_number(
        "n_tip_pulses", p["n_tip_pulses"], low=0, high=p["n_frames"] - 1, integer=True,
        hint="; there is one pulse per step between frames, so use n_tip_pulses <= n_frames - 1",
    )
    p["tip_field"] = check_number("tip_field", p["tip_field"], low=0, high=0.8)
    p["tip_sigma_px"] = check_number("tip_sigma_px", p["tip_sigma_px"], low=0, low_open=True)
    p["time_per_frame"] = check_number("time_per_frame", p["time_per_frame"], low=0, low_open=True, high=200)
    for name in ("resolution_sigma_px",):
        p[name] = check_number(name, p[name], low=0)
    p["amplitude_scale"] = check_number("amplitude_scale", p["amplitude_scale"], low=0, low_open=True)
    for name in ("background", "background_tilt", "lockin_noise", "phase_noise_deg"):
        p[name] = check_number(name, p[name], low=0)
    p["phase_offset_deg"] = check_number("phase_offset_deg", p["phase_offset_deg"])
    n_spots = p["n_initial_domains"] + p["n_tip_pulses"] + p["n_sites"]
    if n_spots > size * size // 25:
        raise InputError(
            f"{n_spots} initial domains, tip spots and sites do not fit in a {size} x {size} px "
            f"field; use at most {size * size // 25} in all (one per 25 px)"
        )
    p["n_spots"], p["shape"] = n_spots, (size, size)
    return SimpleNamespace(**p)


def _sample(rng, p):
    """The sample: the random pinning field ``h`` (> 0 favours the up state), the spots (initial
    domains, tip pulses, soft sites: one spread-out draw in this order), the double well's depth
    ``neg_alpha`` (shallower at the sites, the softest first) and the background's tilt angle."""
    size = p.size
    pin = gaussian_filter(rng.standard_normal(p.shape), p.pinning_length_px, mode="reflect")
    h = pin * (p.pinning_strength / max(float(pin.std()), 1e-12))
    margin = min(max(p.initial_radius_px, p.site_sigma_px, p.tip_sigma_px), size / 4)
    spots = _spread_points(rng, p.n_spots, size, margin, 0.9 * size / math.sqrt(p.n_spots + 1))
    initial = spots[: p.n_initial_domains]
    tips = spots[p.n_initial_domains : p.n_initial_domains + p.n_tip_pulses]
    sites = spots[p.n_initial_domains + p.n_tip_pulses :]
    strata = (np.arange(p.n_sites) + rng.uniform(0.0, 1.0, p.n_sites)) / max(p.n_sites, 1)
    softening = p.site_softening * (1.0 - 0.6 * strata)  # softest first
    neg_alpha = np.maximum(1.0 - _gaussian_spots(p.shape, sites, p.site_sigma_px, softening), _MIN_NEG_ALPHA)
    tilt_angle = rng.uniform(0.0, 2.0 * math.pi)
    return SimpleNamespace(h=h, initial=initial, tips=tips, sites=sites, softening=softening, neg_alpha=neg_alpha,
                           tilt_angle=tilt_angle)


def _integrate(p, sample, fields):
    """The polarisation of every frame, (n_frames, size, size) float32, from the initial domains
    through the field ramp and the tip pulses; the largest |P| met, and the time step."""
    size = p.size
    yy, xx = np.arange(size)[:, None], np.arange(size)[None, :]
    n_sub = int(math.ceil(p.time_per_frame * (8.0 * p.kappa + 6.0)))
    dt = p.time_per_frame / n_sub
    p0 = np.ones(p.shape)
    for cy, cx in sample.initial:
        p0[(yy - cy) ** 2 + (xx - cx) ** 2 <= p.initial_radius_px**2] = -1.0
    buf = np.pad(p0, 1, mode="edge")
    peak = 1.0
    polar = np.empty((p.n_frames, size, size), np.float32)
    for t in range(p.n_frames):
        drive = sample.h - fields[t]  # the switching field points towards P = -1
        pulse_drive, n_pulse = drive, 0
        if 1 <= t <= p.n_tip_pulses:
            tip = _gaussian_spots(p.shape, [sample.tips[t - 1]], p.tip_sigma_px, [p.tip_field])
            pulse_drive, n_pulse = drive - tip, (2 * n_sub) // 3
        peak = max(peak, _relax(buf, sample.neg_alpha, p.kappa, dt, n_sub, drive, pulse_drive, n_pulse))
        polar[t] = buf[1:-1, 1:-1]
    return polar, peak, dt


def _signal(rng_noise, p, polar, tilt_angle):
    """The lock-in's amplitude and phase channels, (n_frames, 2, size, size) float32: the
    polarisation blurred by the tip, turned by the phase offset, with lock-in and phase noise,
    on a tilted background; phases in [-180, 180)."""
    size = p.size
    yy, xx = np.arange(size)[:, None], np.arange(size)[None, :]
    centre = (size - 1) / 2
    rise = (yy - centre) * math.sin(tilt_angle) + (xx - centre) * math.cos(tilt_angle)
    bg = p.background + p.background_tilt * rise / (size - 1)
    rotor = p.amplitude_scale * np.exp(1j * math.radians(p.phase_offset_deg))
    images = np.empty((p.n_frames, 2, size, size), np.float32)
    for t in range(p.n_frames):
        pb = polar[t].astype(np.float64)
        if p.resolution_sigma_px > 0:
            pb = gaussian_filter(pb, p.resolution_sigma_px, mode="reflect")
        response = rotor * pb
        if p.lockin_noise > 0:
            noise = rng_noise.standard_normal((2, size, size)) * (p.lockin_noise * p.amplitude_scale)
            response = response + (noise[0] + 1j * noise[1])
        phase = np.degrees(np.angle(response))
        if p.phase_noise_deg > 0:
            phase = phase + rng_noise.normal(0.0, p.phase_noise_deg, p.shape)
        images[t, 0] = np.abs(response) + bg
        images[t, 1] = (phase + 180.0) % 360.0 - 180.0
    images[:, 1][images[:, 1] >= 180.0] = -180.0  # float32 rounding at the upper end
    return images


def _assemble(p, sample, fields, polar, images, peak, dt) -> xr.Dataset:
    """The Dataset: the channels, the truth (polarisation, domains, walls, switched fraction,
    domain count, field, spots) and the parameters in attrs."""
    domain = np.where(polar >= 0, 1, -1).astype(np.int8)
    wall = domain_walls(domain)
    majority = 1 if (domain[0] > 0).mean() >= 0.5 else -1
    switched = domain != majority
    fraction = switched.mean(axis=(1, 2)).astype(np.float32)
    n_domains = np.array([label(s)[1] for s in switched], np.int32)

    # make_frames sets the coordinates and attrs; its "image" is left to add_piezoresponse
    ds = make_frames(
        images[:, 0], p.pixel_size_nm, source="simulate_pfm", modality="pfm", intensity_units="a.u."
    ).drop_vars("image")
    ds = ds.assign_coords(
        channel=("channel", np.array(CHANNELS, dtype=object)),
        channel_units=("channel", np.array(CHANNEL_UNITS, dtype=object)),
    )
    ds["channel_image"] = (("frame", "channel", "y", "x"), images)
    ds["channel_image"].attrs["phase_interval_deg"] = "[-180, 180)"
    ds["true_polarization"] = (("frame", "y", "x"), polar)
    ds["true_polarization"].attrs["units"] = "P_s"
    ds["true_domain"] = (("frame", "y", "x"), domain)
    ds["true_wall"] = (("frame", "y", "x"), wall)
    ds["true_switched_fraction"] = ("frame", fraction)
    ds["true_n_domains"] = ("frame", n_domains)
    ds["true_field"] = ("frame", fields.astype(np.float32))
    for name, points in (("tip", sample.tips), ("site", sample.sites), ("initial", sample.initial)):
        arr = np.array(points, float).reshape(-1, 2)
        ds[f"true_{name}_y"] = (f"true_{name}", arr[:, 0].astype(np.float32), {"units": "px"})
        ds[f"true_{name}_x"] = (f"true_{name}", arr[:, 1].astype(np.float32), {"units": "px"})
    ds["true_tip_frame"] = ("true_tip", np.arange(1, p.n_tip_pulses + 1, dtype=np.int32))
    ds["true_site_softening"] = ("true_site", sample.softening.astype(np.float32))

    ds.attrs.update(
        {
            "true_phase_offset_deg": float((p.phase_offset_deg + 180.0) % 360.0 - 180.0),
            "true_background_tilt_angle_deg": float(np.degrees(sample.tilt_angle)),
            "true_majority_domain": int(majority),
            "true_peak_abs_polarization": float(peak),
            "phase_interval_deg": "[-180, 180)",
            "boundary": "neumann",
            "dt": float(dt),
            "seed": int(p.seed),
            "n_frames": int(p.n_frames),
            "size": int(p.size),
            "kappa": p.kappa,
            "pinning_strength": p.pinning_strength,
            "pinning_length_px": p.pinning_length_px,
            "n_sites": int(p.n_sites),
            "site_softening": p.site_softening,
            "site_sigma_px": p.site_sigma_px,
            "n_initial_domains": int(p.n_initial_domains),
            "initial_radius_px": p.initial_radius_px,
            "field_start": p.field_start,
            "field_end": p.field_end,
            "n_tip_pulses": int(p.n_tip_pulses),
            "tip_field": p.tip_field,
            "tip_sigma_px": p.tip_sigma_px,
            "time_per_frame": p.time_per_frame,
            "resolution_sigma_px": p.resolution_sigma_px,
            "amplitude_scale": p.amplitude_scale,
            "background": p.background,
            "background_tilt": p.background_tilt,
            "lockin_noise": p.lockin_noise,
            "phase_noise_deg": p.phase_noise_deg,
        }
    )
    return ds
