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
finally Poisson shot noise turns expected counts into counts. The whole field drifts smoothly
(a constant speed along a slowly turning direction); the drift is part of the true positions.

Ground truth, positions in pixels ``(y, x)`` including drift, is stored for every atom whose
centre lies inside the image (``0 <= y <= ny - 1`` and ``0 <= x <= nx - 1``); atoms just outside
still shine into the border pixels.

Randomness comes from ``np.random.default_rng(seed)`` only; the structure and the noise use two
independent child streams, so runs with the same seed but a different dose or noise setting show
exactly the same atoms.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import xarray as xr
from scipy import ndimage
from scipy.spatial import cKDTree

from ..core.errors import InputError, check_number
from ..core.frames import make_frames
from ..core.geometry import inside
from ..core.vocabulary import CLASS_NAMES, EVENT_KINDS

__all__ = ["BOND_LENGTH_NM", "simulate_stem_movie"]


#: Graphene C-C bond length in nm.
BOND_LENGTH_NM = 0.142
#: Two atoms closer than this multiple of the bond length count as bonded.
BOND_CUTOFF = 1.2

Z_CARBON = 6
Z_SILICON = 14

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


# --------------------------------------------------------------------------------------------
# structure


def _honeycomb(y_range, x_range, angle_rad, offset):
    """Graphene sites filling a rectangle (nm).

    The lattice vector ``a1`` points at ``angle_rad`` from the +x axis towards +y (image rows);
    ``a2`` is ``a1`` turned by a further 60 degrees. Sublattice 0 sits at ``offset + i a1 + j a2``,
    sublattice 1 one bond length further along ``(a1 + a2) / 3`` (angle + 30 degrees).

    Returns positions (N, 2) as (y, x) in nm and the sublattice (N,) int8.
    """
    a = BOND_LENGTH_NM * math.sqrt(3.0)
    a1 = a * np.array([math.sin(angle_rad), math.cos(angle_rad)])
    a2 = a * np.array([math.sin(angle_rad + math.pi / 3), math.cos(angle_rad + math.pi / 3)])
    basis = (a1 + a2) / 3.0
    centre = np.array([(y_range[0] + y_range[1]) / 2, (x_range[0] + x_range[1]) / 2])
    half_diag = 0.5 * math.hypot(y_range[1] - y_range[0], x_range[1] - x_range[0])
    # the rhombic cell has inradius a*sqrt(3)/4 along each vector: enough indices to cover the disc
    n = int(math.ceil(half_diag / (a * math.sqrt(3) / 2))) + 2
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    base = centre + offset + i.reshape(-1, 1) * a1 + j.reshape(-1, 1) * a2
    pos = np.concatenate([base, base + basis])
    sub = np.concatenate([np.zeros(len(base), np.int8), np.ones(len(base), np.int8)])
    inside = (
        (pos[:, 0] >= y_range[0])
        & (pos[:, 0] <= y_range[1])
        & (pos[:, 1] >= x_range[0])
        & (pos[:, 1] <= x_range[1])
    )
    pos, sub = pos[inside], sub[inside]
    order = np.lexsort((pos[:, 1], pos[:, 0]))  # ids run row by row, top to bottom
    return pos[order], sub[order]


class _Sheet:
    """The atoms of the sheet, indexed by persistent id."""

    def __init__(self, pos, sub):
        self.pos = pos.copy()  # (N, 2) (y, x) nm, without drift
        self.sub = sub.copy()  # (N,) int8, sublattice of the site the atom sits on; -1 undefined
        self.z = np.full(len(pos), Z_CARBON, np.int8)
        self.alive = np.ones(len(pos), bool)
        self.rotated = np.zeros(len(pos), bool)  # the two atoms of each Stone-Wales bond
        self.sw_centres: list[np.ndarray] = []  # midpoints (nm) of rotated bonds
        self.hole_sites: list[np.ndarray] = []  # positions (nm) of removed atoms
        self._bonds = None

    def bonds(self):
        """Bonded pairs (M, 2) of alive atom ids and the bond count of every id (N,)."""
        if self._bonds is None:
            ids = np.flatnonzero(self.alive)
            tree = cKDTree(self.pos[ids])
            pairs = tree.query_pairs(BOND_CUTOFF * BOND_LENGTH_NM, output_type="ndarray")
            pairs = ids[pairs] if len(pairs) else np.zeros((0, 2), np.intp)
            count = np.bincount(pairs.ravel(), minlength=len(self.pos))
            self._bonds = (pairs, count)
        return self._bonds

    def neighbours(self, i):
        pairs, _ = self.bonds()
        return np.concatenate([pairs[pairs[:, 0] == i, 1], pairs[pairs[:, 1] == i, 0]])

    def changed(self):
        self._bonds = None

    def defect_members(self):
        """Boolean (N,): alive atoms of a rotated bond, and the alive atoms bonded to them."""
        pairs, _ = self.bonds()
        member = self.rotated & self.alive
        touch = member[pairs[:, 0]] | member[pairs[:, 1]]
        out = member.copy()
        out[pairs[touch].ravel()] = True
        return out

    def classes(self):
        """Structural class of every id (meaningful for alive atoms only); see CLASS_NAMES."""
        _, count = self.bonds()
        carbon = self.z == Z_CARBON
        cls = np.zeros(len(self.pos), np.int8)
        cls[self.defect_members() & carbon] = 2
        cls[carbon & (count < 3)] = 3
        cls[self.z == Z_SILICON] = 1
        return cls


def _min_dist(points, p):
    if len(points) == 0:
        return np.inf
    return float(np.min(np.linalg.norm(np.asarray(points) - p, axis=1)))


# --------------------------------------------------------------------------------------------
# rendering


def _render(y, x, amp, shape, sigma_px, jitter=None):
    """Sum of Gaussian spots (peak ``amp``, width ``sigma_px``) on an ``shape`` image.

    Each spot is evaluated on its own (2h+1)^2 window, h = ceil(4 sigma), and the windows are
    accumulated with one ``bincount`` into a padded canvas. ``jitter`` (ny,) shifts every spot's
    x centre by the value of the row being drawn (scan-line jitter).
    """
    ny, nx = shape
    h = int(math.ceil(4.0 * sigma_px))
    w = 2 * h + 1
    keep = (y > -h - 1) & (y < ny + h) & (x > -h - 1) & (x < nx + h)
    y, x, amp = y[keep], x[keep], amp[keep]
    pad = 2 * h + 2
    cy, cx = ny + 2 * pad, nx + 2 * pad
    if len(y) == 0:
        return np.zeros(shape)
    offs = np.arange(w)
    rows = np.floor(y).astype(np.intp)[:, None] - h + offs  # (N, w)
    cols = np.floor(x).astype(np.intp)[:, None] - h + offs  # (N, w)
    gy = np.exp(-0.5 * ((rows - y[:, None]) / sigma_px) ** 2) * amp[:, None]
    if jitter is None:
        gx = np.exp(-0.5 * ((cols - x[:, None]) / sigma_px) ** 2)
        vals = gy[:, :, None] * gx[:, None, :]  # (N, w, w)
    else:
        shift = jitter[np.clip(rows, 0, ny - 1)]  # (N, w): the shift of each drawn row
        dx = cols[:, None, :] - x[:, None, None] - shift[:, :, None]
        vals = gy[:, :, None] * np.exp(-0.5 * (dx / sigma_px) ** 2)
    flat = (rows + pad)[:, :, None] * cx + (cols + pad)[:, None, :]
    canvas = np.bincount(flat.ravel(), weights=vals.ravel(), minlength=cy * cx)
    return canvas.reshape(cy, cx)[pad : pad + ny, pad : pad + nx]


# --------------------------------------------------------------------------------------------
# the simulator


def simulate_stem_movie(
    n_frames: int = 20,
    shape: tuple[int, int] = (256, 256),
    pixel_size_nm: float = 0.01,
    *,
    n_dopants: int | None = None,
    dose: float = 50.0,
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
    probe_tail_fraction: float = 0.0,
    probe_tail_fwhm_nm: float = 0.4,
    support_counts: float = 0.0,
    support_scale_nm: float = 0.6,
    seed: int = 0,
) -> xr.Dataset:
    """Simulate a HAADF-STEM movie of Si-doped graphene under the beam, with ground truth.

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
        put 10-30 % of the current there); the atom's total counts stay the same. 0: none.
    probe_tail_fwhm_nm : float
        Full width at half maximum of the tail (> ``probe_fwhm_nm``).
    support_counts : float
        Amplitude (standard deviation, counts) of an amorphous support under the sheet: a
        smooth random field of correlation length ``support_scale_nm``, shifted to be >= 0,
        drifting with the specimen. 0: none (vacuum under the sheet).
    support_scale_nm : float
        Correlation length of the support (> 0).
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
    support = _support(p, drift)
    sheet, angle = _sheet(rng_structure, p)
    hole_seed_nm = None
    if p.hole_on:
        centre_px = np.array([(p.ny - 1) / 2, (p.nx - 1) / 2])
        hole_seed_nm = (centre_px - drift[p.hole_start_frame]) * p.px + rng_structure.uniform(-0.1, 0.1, 2)
    n_placed = _place_dopants(rng_structure, p, sheet, drift, hole_seed_nm)
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


def _support(p, drift):
    """The amorphous support's counts, (field, edge): a smooth random field larger than the frame
    by ``edge`` px on each side (it drifts with the sheet), from its own random stream so that the
    sheet and the noise stay as without it; None without a support."""
    if p.support_counts <= 0:
        return None
    edge = int(np.ceil(np.abs(drift).max())) + 2
    rng_support = np.random.default_rng([p.seed, 1])
    field = ndimage.gaussian_filter(rng_support.standard_normal((p.ny + 2 * edge, p.nx + 2 * edge)),
                                    p.support_scale_nm / p.px)
    field *= p.support_counts / max(field.std(), 1e-12)
    return field - field.min(), edge


def _sheet(rng, p):
    """The graphene sheet at a random angle and offset, large enough to cover the field over the
    whole drift and the probe's reach; and its angle (radians)."""
    a = BOND_LENGTH_NM
    angle = rng.uniform(0, math.pi / 3)
    cell = np.array([[1.0, 0.5], [0.0, math.sqrt(3) / 2]]) * a * math.sqrt(3)  # not rotated
    offset = cell @ rng.uniform(0, 1, 2)
    reach = p.drift_nm_per_frame * max(p.n_frames - 1, 0)
    margin = reach + 4.0 * p.sigma_px * p.px + 3.0 * a
    sheet = _Sheet(*_honeycomb((-margin, (p.ny - 1) * p.px + margin), (-margin, (p.nx - 1) * p.px + margin),
                               angle, offset))
    return sheet, angle


def _place_dopants(rng, p, sheet, drift, hole_seed_nm) -> int:
    """Turn random lattice sites inside the field at frame 0 into Si, 3 bond lengths apart and
    0.4 nm from the hole's seed; the number placed (InputError if ``n_dopants`` do not fit)."""
    a = BOND_LENGTH_NM
    all_ids = np.arange(len(sheet.pos))
    at_start = sheet.pos[all_ids] / p.px + drift[0]
    wanted = p.n_dopants
    if p.n_dopants is None:
        wanted = max(3, int(round(0.015 * inside(at_start, (p.ny, p.nx), 0.0).sum())))
    inset_nm = min(0.3, 0.25 * min(p.ny, p.nx) * p.px)
    candidates = np.flatnonzero(inside(at_start, (p.ny, p.nx), inset_nm / p.px))
    if hole_seed_nm is not None:
        far = np.linalg.norm(sheet.pos[candidates] - hole_seed_nm, axis=1) >= 0.4
        candidates = candidates[far]
    chosen: list[int] = []
    for i in rng.permutation(candidates):
        if len(chosen) == wanted:
            break
        if _min_dist(sheet.pos[chosen], sheet.pos[i]) >= 3 * a:
            chosen.append(int(i))
    if p.n_dopants is not None and len(chosen) < p.n_dopants:
        raise InputError(
            f"could not place {p.n_dopants} Si dopants 0.43 nm apart in a {p.ny}x{p.nx} px field; "
            f"use n_dopants <= {len(chosen)} or a larger field"
        )
    sheet.z[chosen] = Z_SILICON
    return len(chosen)


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
                _grow_hole(sheet, t, p.hole_start_frame, hole_seed_nm, p.hole_growth_per_frame,
                           rng_structure, events, to_px)
            if p.hop_probability > 0:
                _hop_dopants(sheet, t, p.hop_probability, rng_structure, events, to_px,
                             lambda yx: inside(yx, (p.ny, p.nx), 2 * a / p.px))
            if p.stone_wales_per_frame > 0:
                _stone_wales(sheet, t, p.stone_wales_per_frame, rng_structure, events, to_px,
                             lambda yx: inside(yx, (p.ny, p.nx), 3 * a / p.px))
        alive = np.flatnonzero(sheet.alive)
        yx = to_px(alive, t)
        cls = sheet.classes()
        keep = inside(yx, (p.ny, p.nx), 0.0)
        ids = alive[keep]
        truth.append((ids, yx[keep, 0], yx[keep, 1], sheet.z[ids], cls[ids], sheet.sub[ids]))
        images[t] = _image(rng_noise, p, yx, sheet.z[alive], support, drift[t])
    return images, truth, events


def _image(rng_noise, p, yx, z, support, shift):
    """One frame's counts from the atoms at ``yx`` (px) of atomic numbers ``z``."""
    amp = p.dose * (z / Z_CARBON) ** p.z_exponent
    jitter = rng_noise.normal(0, p.line_jitter_px, p.ny) if p.line_jitter_px > 0 else None
    expected = _render(yx[:, 0], yx[:, 1], amp * (1 - p.probe_tail_fraction), (p.ny, p.nx), p.sigma_px, jitter)
    if p.probe_tail_fraction > 0:
        tail_amp = amp * p.probe_tail_fraction * (p.sigma_px / p.tail_sigma_px) ** 2  # same total counts
        expected += _render(yx[:, 0], yx[:, 1], tail_amp, (p.ny, p.nx), p.tail_sigma_px, jitter)
    if support is not None:
        field, edge = support
        expected += ndimage.shift(field, shift, order=1, mode="nearest")[edge:-edge, edge:-edge]
    expected += p.background
    gain = np.clip(1.0 + p.scan_noise * rng_noise.standard_normal(p.ny), 0.0, None)
    expected *= gain[:, None]
    return rng_noise.poisson(expected) if p.shot_noise else expected


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


# --------------------------------------------------------------------------------------------
# events (each appends (frame, kind, atom id, y px, x px) to ``events``)


def _grow_hole(sheet, t, start, seed_nm, rate, rng, events, to_px):
    """Remove the seed atom (at ``start``) and then a Poisson(rate) number of rim carbons."""
    n_remove = int(rng.poisson(rate))
    if t == start:
        carbons = np.flatnonzero(sheet.alive & (sheet.z == Z_CARBON))
        if len(carbons) == 0:
            return
        i = carbons[np.argmin(np.linalg.norm(sheet.pos[carbons] - seed_nm, axis=1))]
        _remove(sheet, i, t, events, to_px)
    for _ in range(n_remove):
        _, count = sheet.bonds()
        carbons = np.flatnonzero(sheet.alive & (sheet.z == Z_CARBON))
        sites = np.asarray(sheet.hole_sites)
        d = cKDTree(sites).query(sheet.pos[carbons])[0]
        rim = carbons[d < BOND_CUTOFF * BOND_LENGTH_NM]
        if len(rim) == 0:
            return
        # dangling atoms first; among equals, those nearer the hole's centroid (keeps it compact)
        r = np.linalg.norm(sheet.pos[rim] - sites.mean(axis=0), axis=1)
        weight = 4.0 ** (2 - np.minimum(count[rim], 3).astype(float))
        weight *= np.exp(-(r - r.min()) / (2 * BOND_LENGTH_NM))
        i = rng.choice(rim, p=weight / weight.sum())
        _remove(sheet, i, t, events, to_px)


def _remove(sheet, i, t, events, to_px):
    y, x = to_px(i, t)
    events.append((t, 1, int(i), y, x))
    sheet.alive[i] = False
    sheet.hole_sites.append(sheet.pos[i].copy())
    sheet.changed()


def _hop_dopants(sheet, t, p, rng, events, to_px, target_ok):
    """Each Si swaps, with probability p, with a bonded carbon that is not in a rotated bond."""
    for s in np.flatnonzero(sheet.alive & (sheet.z == Z_SILICON)):
        if rng.random() >= p:
            continue
        nb = sheet.neighbours(s)
        nb = nb[(sheet.z[nb] == Z_CARBON) & ~sheet.rotated[nb]]
        nb = nb[target_ok(to_px(nb, t))]
        if len(nb) == 0:
            continue
        c = rng.choice(np.sort(nb))
        sheet.pos[[s, c]] = sheet.pos[[c, s]]
        sheet.sub[[s, c]] = sheet.sub[[c, s]]
        y, x = to_px(s, t)
        events.append((t, 0, int(s), y, x))
        sheet.changed()


def _stone_wales(sheet, t, rate, rng, events, to_px, centre_ok):
    """Rotate Poisson(rate) eligible C-C bonds by 90 degrees about their midpoints."""
    a = BOND_LENGTH_NM
    for _ in range(int(rng.poisson(rate))):
        pairs, count = sheet.bonds()
        carbon3 = (sheet.z == Z_CARBON) & (count == 3)
        free = ~sheet.defect_members()
        ok = carbon3[pairs[:, 0]] & carbon3[pairs[:, 1]] & free[pairs[:, 0]] & free[pairs[:, 1]]
        cand = pairs[ok]
        mid = sheet.pos[cand].mean(axis=1)
        ok = centre_ok(_mid_px(sheet, cand, t, to_px))
        silicon = sheet.pos[sheet.alive & (sheet.z == Z_SILICON)]
        for points, dmin in ((sheet.hole_sites, 3 * a), (silicon, 3 * a), (sheet.sw_centres, 4 * a)):
            if len(points):
                ok &= cKDTree(np.asarray(points)).query(mid)[0] >= dmin
        cand, mid = cand[ok], mid[ok]
        if len(cand) == 0:
            return
        k = rng.integers(len(cand))
        i, j = sorted(int(v) for v in cand[k])
        v = sheet.pos[j] - sheet.pos[i]
        turned = np.array([v[1], -v[0]]) * rng.choice([-1.0, 1.0])  # (y, x) turned by 90 deg
        sheet.pos[i] = mid[k] - turned / 2
        sheet.pos[j] = mid[k] + turned / 2
        sheet.sub[[i, j]] = -1
        sheet.rotated[[i, j]] = True
        sheet.sw_centres.append(mid[k].copy())
        sheet.changed()
        y, x = to_px(np.array([i, j]), t).mean(axis=0)
        events.append((t, 2, i, y, x))


def _mid_px(sheet, pairs, t, to_px):
    return (to_px(pairs[:, 0], t) + to_px(pairs[:, 1], t)) / 2
