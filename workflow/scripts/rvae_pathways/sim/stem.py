"""A HAADF-STEM movie of Si-doped graphene changing under the electron beam, with ground truth.

The simulator builds a graphene sheet (honeycomb lattice, C-C bond 0.142 nm, a random in-plane
orientation) larger than the field of view, substitutes a few Si atoms, then steps through the
frames. Each frame ``t > 0`` starts from the structure of frame ``t - 1`` and applies, in this
order,

1. hole growth: from ``hole_start_frame`` on, a vacancy seeded near the field centre grows by
   removing a Poisson number of carbon atoms from its rim each frame (poorly bonded atoms go
   first; removed atoms never come back; Si is never removed);
2. dopant hops: each Si, with probability ``hop_probability``, swaps site with one of its carbon
   neighbours (the Si atom's id moves to the new site, the carbon's id to the old one);
3. Stone-Wales rotations: a Poisson number of C-C bonds, away from the hole, the dopants and
   earlier defects, turn by 90 degrees about their midpoints, making 5-7-7-5 defects that stay
   (no healing).

Each frame is then rendered as a HAADF-like Z-contrast image: every atom is a Gaussian probe spot
with peak height ``dose * (Z / 6) ** z_exponent`` counts on a constant ``background``; rows get a
random gain (probe current noise along the slow scan direction) and optionally a tiny x jitter;
finally Poisson shot noise turns expected counts into counts. By default the image also has what
a microscope adds (the workflow's defaults, from the config schema): a share
``probe_tail_fraction`` of each atom's counts moves into a wide probe tail, and an amorphous
support of ``support_counts`` lies under the sheet; 0 turns either off. The whole field drifts
smoothly (a constant speed along a slowly turning direction); the drift is part of the true
positions.

Ground truth, positions in pixels ``(y, x)`` including drift, is stored for every atom whose
centre lies inside the image (``0 <= y <= ny - 1`` and ``0 <= x <= nx - 1``); atoms just outside
still shine into the border pixels.

Randomness comes from ``np.random.default_rng(seed)`` only; the structure and the noise use two
independent child streams, so runs with the same seed but a different dose or noise setting show
exactly the same atoms.

The sheet and the beam's events are in :mod:`rvae_pathways.sim.stem_sheet`; the rendering,
support and noise in :mod:`rvae_pathways.sim.stem_imaging`.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import xarray as xr

from ..core.config import defaults
from ..core.errors import InputError, check_number
from ..core.frames import make_frames
from ..core.geometry import inside
from ..core.vocabulary import CLASS_NAMES, EVENT_KINDS
from .stem_imaging import frame_counts, support_field
from .stem_sheet import BOND_LENGTH_NM, build_sheet, grow_hole, hop_dopants, place_dopants, stone_wales

__all__ = ["simulate_stem_movie"]

#: Keyword defaults: the config schema's simulate_stem section (the one source of every default).
CONFIG = defaults("simulate_stem")

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


# --------------------------------------------------------------------------------------------
# the simulator


def simulate_stem_movie(
    n_frames: int = CONFIG["n_frames"],
    shape: tuple[int, int] = (CONFIG["height"], CONFIG["width"]),
    pixel_size_nm: float = CONFIG["pixel_size_nm"],
    *,
    n_dopants: int | None = None,
    dose: float = CONFIG["dose"],
    probe_fwhm_nm: float = 0.1,
    z_exponent: float = 1.7,
    background: float = 2.5,
    drift_nm_per_frame: float = 0.002,
    scan_noise: float = 0.03,
    line_jitter_px: float = 0.0,
    shot_noise: bool = True,
    hop_probability: float = 0.1,
    hole_start_frame: int | None = 2,
    hole_growth_per_frame: float = 2.0,
    stone_wales_per_frame: float = 0.25,
    probe_tail_fraction: float = CONFIG["probe_tail_fraction"],
    probe_tail_fwhm_nm: float = 0.4,
    support_counts: float = CONFIG["support_counts"],
    support_scale_nm: float = 0.6,
    lattice_angle_deg: float | None = None,
    seed: int = CONFIG["seed"],
) -> xr.Dataset:
    """Simulate a HAADF-STEM movie of Si-doped graphene under the beam, with ground truth.

    The defaults of ``n_frames``, ``shape`` (``height``, ``width``), ``pixel_size_nm``, ``dose``,
    ``probe_tail_fraction``, ``support_counts`` and ``seed`` are the config schema's
    ``simulate_stem`` defaults (:data:`CONFIG`), so a bare call simulates what the workflow
    simulates by default, microscope imperfections included.

    Parameters
    ----------
    n_frames : int
        Number of frames (>= 1).
    shape : (int, int)
        Image height and width in pixels (each >= 16, and >= 0.5 nm across).
    pixel_size_nm : float
        Pixel size in nm (0 < size < 0.071, i.e. under half a C-C bond, so atoms are resolved).
    n_dopants : int or None
        Number of substitutional Si atoms, placed on random sites inside the field at frame 0
        (at least 0.3 nm, or a quarter of the field in small fields, from the border; 0.43 nm
        apart; 0.4 nm from the hole seed); InputError when they do not fit. None: 1.5 % of the
        atoms in the field at frame 0, at least 3, or as many as fit in a small field (the
        number placed is in ``attrs["n_dopants"]``).
    dose : float
        Expected counts at the centre of an isolated carbon atom, above the background (> 0).
        The image is in counts, so this also sets the Poisson noise: 12 gives a visibly noisy
        picture whose atoms are plain after smoothing at the probe scale.
    probe_fwhm_nm : float
        Full width at half maximum of the Gaussian spot of one atom, in nm (> 0).
    z_exponent : float
        HAADF contrast exponent: an atom's peak is ``dose * (Z / 6) ** z_exponent`` counts.
    background : float
        Constant expected counts per pixel added everywhere (>= 0).
    drift_nm_per_frame : float
        Speed of the specimen drift in nm per frame (>= 0). The direction is random (from the
        seed) and turns slowly (by at most 0.05 rad per frame); the speed is constant, so
        consecutive frames are shifted by exactly this distance.
    scan_noise : float
        Standard deviation of the per-scan-line gain (relative, >= 0, < 0.5): each image row is
        multiplied by ``max(0, 1 + scan_noise * N(0, 1))`` before shot noise.
    line_jitter_px : float
        Standard deviation of a random x shift of each scan line in pixels (>= 0; default 0).
        It distorts the image only; true positions do not include it.
    shot_noise : bool
        Draw Poisson counts (True) or return the expected counts (False, noise-free except for
        the scan-line gain and jitter).
    probe_tail_fraction : float
        Share (0 to < 1) of each atom's counts scattered into the probe's tail, a second, wider
        Gaussian of FWHM ``probe_tail_fwhm_nm`` (a real probe's aberrations and source size
        put 10-30 % of the current there); the atom's total counts stay the same. 0: none
        (the default is the schema's, 0.2).
    probe_tail_fwhm_nm : float
        Full width at half maximum of the tail (> ``probe_fwhm_nm``).
    support_counts : float
        Amplitude (standard deviation, counts) of an amorphous support under the sheet: a
        smooth random field of correlation length ``support_scale_nm``, shifted to be >= 0,
        drifting with the specimen. 0: none, vacuum under the sheet (the default is the
        schema's, 1.0).
    support_scale_nm : float
        Correlation length of the support (> 0).
    lattice_angle_deg : float or None
        Direction of the lattice vector a1 in degrees (see ``true_lattice_angle_deg``); None:
        drawn from the seed. Movies of one flake share it (the group demo's four movies do).
    hop_probability : float
        Probability, per Si atom and frame, that it swaps site with a carbon neighbour
        (0 to 1). A hop target must be a carbon bonded to the Si, not part of a rotated bond,
        and at least two bond lengths inside the image.
    hole_start_frame : int or None
        Frame (>= 1) at which a single vacancy appears at the carbon atom nearest a point
        within 0.1 nm of the field centre; None: no hole.
    hole_growth_per_frame : float
        Mean number of carbon atoms removed from the hole's rim per frame from
        ``hole_start_frame`` on (Poisson, >= 0; 0: no hole). Rim atoms are the carbons bonded
        to a removed site; an atom with k bonds at distance r from the centroid of the removed
        sites is picked with weight ``4 ** (2 - k) * exp(-(r - r_min) / (2 * 0.142 nm))``, so
        dangling atoms go first and the hole stays roughly compact.
    stone_wales_per_frame : float
        Mean number of new Stone-Wales defects per frame (Poisson, >= 0). A candidate bond joins
        two three-fold bonded carbons, neither in a defect yet; its midpoint lies at least
        3 bonds from the hole and from every Si, 4 bonds from earlier defects, and 3 bonds
        inside the image.
    seed : int
        Seed of ``np.random.default_rng`` (>= 0).

    Returns
    -------
    xarray.Dataset
        A frames Dataset (see :func:`rvae_pathways.core.frames.make_frames`) with ``image``
        (frame, y, x) float32 counts, plus the truth:

        - along ``true_atom`` (every atom whose centre is inside the image, sorted by frame then
          id): ``true_frame`` int32, ``true_id`` int32 (persistent), ``true_y``/``true_x``
          float32 (pixels, drift included), ``true_species`` int8 (Z: 6 or 14), ``true_class``
          int8 (see below), ``true_sublattice`` int8 (0/1: the graphene sublattice of the
          original site the atom occupies; -1 for the two atoms of a rotated bond);
        - along ``true_event``: ``true_event_frame`` int32, ``true_event_kind`` int8 (see
          ``EVENT_KINDS``), ``true_event_atom`` int32, ``true_event_y``/``true_event_x``
          float32 (pixels, at that frame). A hop records the Si id at its new site; a removal
          records the removed id where it was; a Stone-Wales rotation records the lower id of
          the rotated pair and the bond midpoint (the defect centre);
        - along ``frame``: ``true_drift_y``/``true_drift_x`` float32, the drift in pixels
          (0 at frame 0) added to every true position.

        Classes (``CLASS_NAMES``), with "bonded" meaning closer than 1.2 bond lengths:
        1 "Si": every Si atom, wherever it is; 3 "edge C": a carbon with fewer than three
        bonded atoms (the rim of the hole); 2 "C in 5-7 defect": any other carbon that is one of
        the two atoms of a rotated bond or bonded to one of them (six atoms per intact defect);
        0 "pristine C": all other carbons.

        ``attrs`` add ``true_class_names`` and ``true_event_kinds`` (comma-separated),
        ``true_lattice_angle_deg`` (direction of the lattice vector a1, a zigzag direction,
        from +x towards +y, in [0, 60); bonds from sublattice 0 point at this angle + 30, + 150
        and + 270 degrees), ``true_drift_angle_deg`` (the first step's direction),
        ``true_hole_y``/``true_hole_x`` (the seed point in pixels at the seed frame; absent
        without a hole),
        ``bond_length_nm``, ``seed`` and every simulation parameter.
    """
    p = _checked(locals())
    rng_structure, rng_noise = np.random.default_rng(p.seed).spawn(2)
    drift, phi0 = _drift(rng_structure, p)
    support = support_field(p, drift)
    sheet, angle = build_sheet(rng_structure, p)
    hole_seed_nm = None
    if p.hole_on:
        centre_px = np.array([(p.ny - 1) / 2, (p.nx - 1) / 2])
        hole_seed_nm = (centre_px - drift[p.hole_start_frame]) * p.px + rng_structure.uniform(-0.1, 0.1, 2)
    n_placed = place_dopants(rng_structure, p, sheet, drift, hole_seed_nm)
    images, truth, events = _frames(rng_structure, rng_noise, p, sheet, drift, support, hole_seed_nm)
    ds = _assemble(p, images, truth, events, drift)
    ds.attrs.update({"true_lattice_angle_deg": float(np.degrees(angle)),
                     "true_drift_angle_deg": float(np.degrees(phi0)), "n_dopants": int(n_placed)})
    if p.hole_on:  # JSON has no NaN: without a hole the keys are absent
        hole_px = hole_seed_nm / p.px + drift[p.hole_start_frame]
        ds.attrs["true_hole_y"] = float(hole_px[0])
        ds.attrs["true_hole_x"] = float(hole_px[1])
    return ds


# --------------------------------------------------------------------------------------------
# the phases of simulate_stem_movie, in the order they draw from the structure's random stream


def _checked(args: dict):
    """The arguments of :func:`simulate_stem_movie`, checked (InputError otherwise), with what
    follows from them: ``ny``, ``nx``, ``px``, ``sigma_px``, ``tail_sigma_px``, ``hole_on``."""
    p = dict(args)
    p["n_frames"] = check_number("n_frames", p["n_frames"], low=1, integer=True)
    shape = p["shape"]
    try:
        ny, nx = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise InputError(f"shape must be two whole numbers (height, width), got {shape!r}") from None
    if tuple(shape) != (ny, nx):
        raise InputError(f"shape must be two whole numbers (height, width), got {shape!r}")
    px = check_number("pixel_size_nm", p["pixel_size_nm"], low=0, low_open=True)
    if px >= BOND_LENGTH_NM / 2:
        raise InputError(
            f"pixel_size_nm={px} nm cannot resolve graphene (C-C bond "
            f"{BOND_LENGTH_NM} nm); use pixels smaller than {BOND_LENGTH_NM / 2:.3f} nm"
        )
    if min(ny, nx) < 16 or min(ny, nx) * px < 0.5:
        raise InputError(
            f"shape {shape} at {px} nm/px is too small: each side must be at least "
            "16 px and 0.5 nm"
        )
    for name in ("dose", "probe_fwhm_nm"):
        p[name] = check_number(name, p[name], low=0, low_open=True)
    for name in ("z_exponent", "background", "drift_nm_per_frame", "scan_noise", "line_jitter_px",
                 "hole_growth_per_frame", "stone_wales_per_frame", "probe_tail_fraction", "probe_tail_fwhm_nm",
                 "support_counts", "support_scale_nm"):
        p[name] = check_number(name, p[name], low=0)
    if p["scan_noise"] >= 0.5:
        raise InputError(f"scan_noise is a relative gain spread and must be < 0.5, got {p['scan_noise']}")
    p["hop_probability"] = check_number("hop_probability", p["hop_probability"], low=0, high=1)
    if p["hole_start_frame"] is not None:
        p["hole_start_frame"] = check_number("hole_start_frame", p["hole_start_frame"], low=1, integer=True)
    if p["probe_tail_fraction"] >= 1:
        raise InputError(
            f"probe_tail_fraction is a share of the counts and must be < 1, got {p['probe_tail_fraction']}")
    if p["probe_tail_fraction"] > 0 and p["probe_tail_fwhm_nm"] <= p["probe_fwhm_nm"]:
        raise InputError(f"probe_tail_fwhm_nm ({p['probe_tail_fwhm_nm']}) must exceed probe_fwhm_nm "
                         f"({p['probe_fwhm_nm']})")
    p["seed"] = check_number("seed", p["seed"], low=0, integer=True)
    if p["lattice_angle_deg"] is not None:
        p["lattice_angle_deg"] = check_number("lattice_angle_deg", p["lattice_angle_deg"])
    if p["n_dopants"] is not None:
        p["n_dopants"] = check_number("n_dopants", p["n_dopants"], low=0, integer=True)
    p["shot_noise"] = bool(p["shot_noise"])
    p.update(ny=ny, nx=nx, px=px, pixel_size_nm=px, sigma_px=p["probe_fwhm_nm"] / _FWHM_PER_SIGMA / px,
             tail_sigma_px=p["probe_tail_fwhm_nm"] / _FWHM_PER_SIGMA / px,
             hole_on=(p["hole_start_frame"] is not None and p["hole_growth_per_frame"] > 0
                      and p["hole_start_frame"] < p["n_frames"]))
    return SimpleNamespace(**p)


def _drift(rng, p) -> tuple[np.ndarray, float]:
    """The frames' drift in pixels, (n_frames, 2), 0 at frame 0: steps of a fixed length whose
    direction turns slowly; and the first step's direction (radians)."""
    phi0 = rng.uniform(0, 2 * math.pi)
    turn = rng.uniform(-0.05, 0.05)
    phi = phi0 + turn * np.arange(p.n_frames - 1)
    steps = (p.drift_nm_per_frame / p.px) * np.stack([np.sin(phi), np.cos(phi)], axis=1)
    drift = np.zeros((p.n_frames, 2))
    drift[1:] = np.cumsum(steps, axis=0)
    return drift, phi0


def _frames(rng_structure, rng_noise, p, sheet, drift, support, hole_seed_nm):
    """Each frame: the beam's changes to the sheet (hole, dopant hops, Stone-Wales), then the
    image (probe, tails, support, background, scan gain, shot noise). Returns the images
    (n_frames, ny, nx) float32, the truth per frame ``(ids, y, x, z, class, sublattice)`` and the
    events ``(frame, kind, atom id, y px, x px)``."""
    a = BOND_LENGTH_NM

    def to_px(ids, t):
        return sheet.pos[ids] / p.px + drift[t]

    events: list[tuple[int, int, int, float, float]] = []
    truth: list[tuple] = []
    images = np.empty((p.n_frames, p.ny, p.nx), np.float32)
    for t in range(p.n_frames):
        if t > 0:
            if p.hole_on and t >= p.hole_start_frame:
                grow_hole(sheet, t, p.hole_start_frame, hole_seed_nm, p.hole_growth_per_frame,
                           rng_structure, events, to_px)
            if p.hop_probability > 0:
                hop_dopants(sheet, t, p.hop_probability, rng_structure, events, to_px,
                             lambda yx: inside(yx, (p.ny, p.nx), 2 * a / p.px))
            if p.stone_wales_per_frame > 0:
                stone_wales(sheet, t, p.stone_wales_per_frame, rng_structure, events, to_px,
                             lambda yx: inside(yx, (p.ny, p.nx), 3 * a / p.px))
        alive = np.flatnonzero(sheet.alive)
        yx = to_px(alive, t)
        cls = sheet.classes()
        keep = inside(yx, (p.ny, p.nx), 0.0)
        ids = alive[keep]
        truth.append((ids, yx[keep, 0], yx[keep, 1], sheet.z[ids], cls[ids], sheet.sub[ids]))
        images[t] = frame_counts(rng_noise, p, yx, sheet.z[alive], support, drift[t])
    return images, truth, events


def _assemble(p, images, truth, events, drift) -> xr.Dataset:
    """The frames Dataset with the truth of every atom, event and frame, and the parameters in attrs."""
    n_frames = p.n_frames
    ds = make_frames(images, p.px, source="simulate_stem", modality="stem", intensity_units="counts")
    n_per = [len(f[0]) for f in truth]
    cat = [np.concatenate([f[k] for f in truth]) for k in range(6)]
    ds["true_frame"] = ("true_atom", np.repeat(np.arange(n_frames), n_per).astype(np.int32))
    ds["true_id"] = ("true_atom", cat[0].astype(np.int32))
    ds["true_y"] = ("true_atom", cat[1].astype(np.float32))
    ds["true_x"] = ("true_atom", cat[2].astype(np.float32))
    ds["true_species"] = ("true_atom", cat[3].astype(np.int8))
    ds["true_class"] = ("true_atom", cat[4].astype(np.int8))
    ds["true_sublattice"] = ("true_atom", cat[5].astype(np.int8))

    ev = np.array(events, dtype=float).reshape(-1, 5)
    ds["true_event_frame"] = ("true_event", ev[:, 0].astype(np.int32))
    ds["true_event_kind"] = ("true_event", ev[:, 1].astype(np.int8))
    ds["true_event_atom"] = ("true_event", ev[:, 2].astype(np.int32))
    ds["true_event_y"] = ("true_event", ev[:, 3].astype(np.float32))
    ds["true_event_x"] = ("true_event", ev[:, 4].astype(np.float32))
    ds["true_drift_y"] = ("frame", drift[:, 0].astype(np.float32))
    ds["true_drift_x"] = ("frame", drift[:, 1].astype(np.float32))
    ds.attrs.update(
        {
            "true_class_names": ",".join(CLASS_NAMES),
            "true_event_kinds": ",".join(EVENT_KINDS),
            "true_position_units": "px",
            "bond_length_nm": BOND_LENGTH_NM,
            "seed": int(p.seed),
            **{name: getattr(p, name) for name in (
                "dose", "probe_fwhm_nm", "z_exponent", "background", "drift_nm_per_frame", "scan_noise",
                "line_jitter_px")},
            "shot_noise": int(p.shot_noise),
            "hop_probability": p.hop_probability,
            "hole_start_frame": -1 if p.hole_start_frame is None else int(p.hole_start_frame),
            **{name: getattr(p, name) for name in (
                "hole_growth_per_frame", "stone_wales_per_frame", "probe_tail_fraction", "probe_tail_fwhm_nm",
                "support_counts", "support_scale_nm")},
        }
    )
    for name in ("true_y", "true_x", "true_event_y", "true_event_x", "true_drift_y", "true_drift_x"):
        ds[name].attrs["units"] = "px"
    return ds
