"""The physics corpus's graphene movies: Si-doped graphene under a 60 kV beam (abTEM HAADF).

The structures change frame by frame (Si hops, Stone-Wales defects, a growing hole) and the
field drifts; :func:`graphene_movie` images them with :mod:`rvae_pathways.sim.physics_imaging`
and writes the truth of every atom and event.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from scipy.spatial import cKDTree

from .physics_imaging import Optics, abtem_version, fourier_evaluate, odd_steps, poisson_counts, scan_image
from .physics_truth import frames_with_truth, inside_field, pick_far, seeded_streams

log = logging.getLogger(__name__)

__all__ = ["GRAPHENE_CLASSES", "GRAPHENE_EVENTS", "GRAPHENE_OPTICS", "graphene_movie", "graphene_structures"]

#: Classes of the graphene movies (the code is the index).
GRAPHENE_CLASSES = ("pristine C", "Si", "C in 5-7 defect", "edge C")
GRAPHENE_EVENTS = ("dopant hop", "atom removed", "Stone-Wales")
GRAPHENE_BOND_A = 1.42
#: Two graphene atoms closer than this multiple of the bond count as bonded.
BOND_CUTOFF = 1.2


# --------------------------------------------------------------------------------------------
# graphene movie

GRAPHENE_OPTICS = Optics(
    voltage_kv=60, convergence_mrad=30, detectors={"haadf": (80, 200)}, sampling_A=0.0795,
    interpolation=3, slice_thickness_A=4.0, source_fwhm_A=0.5,
)


class _Sheet:
    """Graphene atoms by persistent id: (x, y) positions in A, species, site sublattice."""

    def __init__(self, xy, sub):
        self.xy = xy.copy()
        self.sub = sub.copy()
        self.z = np.full(len(xy), 6, np.int8)
        self.alive = np.ones(len(xy), bool)
        self.rotated = np.zeros(len(xy), bool)

    def neighbour_lists(self):
        ids = np.flatnonzero(self.alive)
        tree = cKDTree(self.xy[ids])
        pairs = tree.query_pairs(BOND_CUTOFF * GRAPHENE_BOND_A, output_type="ndarray")
        nb = {int(i): [] for i in ids}
        for a, b in ids[pairs] if len(pairs) else []:
            nb[int(a)].append(int(b))
            nb[int(b)].append(int(a))
        return nb

    def classes(self):
        """Class code per id (see GRAPHENE_CLASSES); -1 for removed atoms."""
        nb = self.neighbour_lists()
        cls = np.full(len(self.xy), -1, np.int8)
        defect = np.zeros(len(self.xy), bool)
        for i in np.flatnonzero(self.alive & self.rotated):
            defect[i] = True
            defect[nb[int(i)]] = True
        for i, n in nb.items():
            if self.z[i] == 14:
                cls[i] = 1
            elif len(n) < 3:
                cls[i] = 3
            elif defect[i]:
                cls[i] = 2
            else:
                cls[i] = 0
        return cls


def _honeycomb_cell(cell_A, angle, offset_xy):
    """Graphene sites filling the periodic square cell [0, L)^2, lattice vector a1 at ``angle``.

    Sublattice 0 at ``offset + i a1 + j a2``, sublattice 1 shifted by ``(a1 + a2) / 3``. Sites
    that would sit closer than 0.7 bond to a periodic image across the cell boundary are dropped
    (the seam lies at the cell edge, outside the imaged field).
    """
    a = GRAPHENE_BOND_A * math.sqrt(3)
    a1 = a * np.array([math.cos(angle), math.sin(angle)])
    a2 = a * np.array([math.cos(angle + math.pi / 3), math.sin(angle + math.pi / 3)])
    n = int(2 * cell_A / a) + 4
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    base = offset_xy + i.reshape(-1, 1) * a1 + j.reshape(-1, 1) * a2
    xy = np.concatenate([base, base + (a1 + a2) / 3])
    sub = np.concatenate([np.zeros(len(base), np.int8), np.ones(len(base), np.int8)])
    keep = np.all((xy >= 0) & (xy < cell_A), axis=1)
    xy, sub = xy[keep], sub[keep]
    tree = cKDTree(xy, boxsize=cell_A)
    pairs = tree.query_pairs(0.7 * GRAPHENE_BOND_A, output_type="ndarray")
    drop = np.unique(pairs.max(axis=1)) if len(pairs) else np.array([], int)
    keep = np.ones(len(xy), bool)
    keep[drop] = False
    return xy[keep], sub[keep], a1


def _stone_wales(sheet: _Sheet, i: int, j: int, nb):
    """Rotate bond i-j by 90 degrees about its midpoint and relax the neighbourhood with springs.

    Spring model: harmonic bonds of rest length 1.42 A between the bonded pairs of the new
    topology (the rotated atoms each keep one old neighbour and take one of the other atom's),
    atoms within 4.5 A of the midpoint free, the rest fixed; 200 steepest-descent steps.
    """
    mid = (sheet.xy[i] + sheet.xy[j]) / 2
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    for k in (i, j):
        sheet.xy[k] = mid + rot @ (sheet.xy[k] - mid)
    outer = [k for k in nb[i] + nb[j] if k not in (i, j)]
    di = np.linalg.norm(sheet.xy[outer] - sheet.xy[i], axis=1)
    new_i = [outer[k] for k in np.argsort(di)[:2]]
    new_j = [k for k in outer if k not in new_i]
    bonds = set()
    for a, ns in nb.items():
        for b in ns:
            if a < b and {a, b} & {i, j} == set():
                bonds.add((a, b))
    bonds.add((min(i, j), max(i, j)))
    for k in new_i:
        bonds.add((min(i, k), max(i, k)))
    for k in new_j:
        bonds.add((min(j, k), max(j, k)))
    free = np.flatnonzero(sheet.alive & (np.linalg.norm(sheet.xy - mid, axis=1) < 4.5))
    free_set = set(int(k) for k in free)
    local = np.array([b for b in bonds if b[0] in free_set or b[1] in free_set])
    for _ in range(200):
        d = sheet.xy[local[:, 1]] - sheet.xy[local[:, 0]]
        r = np.linalg.norm(d, axis=1)
        f = ((r - GRAPHENE_BOND_A) / r)[:, None] * d
        grad = np.zeros_like(sheet.xy)
        np.add.at(grad, local[:, 0], -f)
        np.add.at(grad, local[:, 1], f)
        sheet.xy[free] -= 0.25 * grad[free]
    sheet.rotated[[i, j]] = True
    sheet.sub[[i, j]] = -1
    return mid


def graphene_structures(
    seed: int,
    n_frames: int = 10,
    cell_A: float = 40.0,
    field_origin_A: float = 4.0,
    field_A: float = 32.0,
    n_si: int = 3,
    stone_wales_frames=(1, 1, 3),
    hole_start: int = 2,
    hole_growth: float = 3.0,
    hop_probability: float = 0.35,
    drift_px_per_frame: float = 0.45,
):
    """The structure of each frame of a Si-doped graphene movie, with events and drift.

    Each frame is the previous one after these changes (in this order): Stone-Wales rotations
    scheduled for the frame; hole growth (from ``hole_start``: first the C atom nearest a random
    seed point, then ``2 + Poisson(hole_growth - 2)`` rim carbons nearest the hole centre, then
    every C with fewer than two bonded neighbours); Si hops (each Si, with ``hop_probability``,
    swaps place with a random bonded C that is not in a rotated bond; ids move with atoms).
    Si substitutions sit 1.0 A above the carbon plane. Defects are placed at least 5 A inside
    the field, the hole seed at least 9 A from Si and Stone-Wales centres.

    Returns
    -------
    dict with ``frames`` (list of (xy, z_height, Z, ids, class, sublattice) per frame), ``events``
    (frame, kind, id, x_A, y_A), ``drift_px`` (n_frames, 2) as (y, x), ``angle`` (rad, a1 from
    +x towards +y), ``cell_A``.
    """
    rng, _ = seeded_streams(seed)
    angle = float(rng.uniform(0, math.pi / 3))
    offset = rng.uniform(0, GRAPHENE_BOND_A, 2)
    xy, sub, _ = _honeycomb_cell(cell_A, angle, offset)
    sheet = _Sheet(xy, sub)
    lo, hi = field_origin_A + 5.0, field_origin_A + field_A - 5.0
    interior = np.flatnonzero(np.all((xy > lo) & (xy < hi), axis=1))

    # Si substitutions
    placed = []
    for _ in range(n_si):
        k = interior[pick_far(rng, xy[interior], placed, 5.0)]
        sheet.z[k] = 14
        placed.append(sheet.xy[k].copy())
    si_xy = list(placed)
    sw_centres, events, frames = [], [], []
    hole_centre = None

    step_angle = rng.uniform(0, 2 * math.pi)
    steps = np.zeros((n_frames, 2))
    for t in range(1, n_frames):
        phi = step_angle + rng.normal(0, 0.4)
        mag = drift_px_per_frame * (1 + 0.3 * rng.normal())
        steps[t] = mag * np.array([math.sin(phi), math.cos(phi)])
    drift = np.cumsum(steps, axis=0)

    for t in range(n_frames):
        # Stone-Wales rotations
        for _ in range(sum(1 for f in stone_wales_frames if f == t)):
            nb = sheet.neighbour_lists()
            cls = sheet.classes()
            avoid = [p for p in si_xy] + sw_centres + ([hole_centre] if hole_centre is not None else [])
            cands = [k for k in interior if sheet.alive[k] and cls[k] == 0]
            for _try in range(500):
                k = cands[pick_far(rng, sheet.xy[cands], avoid, 6.5)]
                partners = [m for m in nb[k] if cls[m] == 0 and lo < sheet.xy[m][0] < hi and lo < sheet.xy[m][1] < hi]
                if partners:
                    m = partners[int(rng.integers(len(partners)))]
                    break
            else:
                raise RuntimeError("no bond for a Stone-Wales rotation")
            mid = _stone_wales(sheet, k, m, nb)
            sw_centres.append(mid)
            events.append((t, 2, min(k, m), mid[0], mid[1]))
        # hole
        if t == hole_start:
            avoid = [p for p in si_xy] + sw_centres
            pt = rng.uniform(lo + 2, hi - 2, 2)
            for _try in range(2000):
                if min(np.linalg.norm(np.asarray(avoid) - pt, axis=1)) >= 9.0:
                    break
                pt = rng.uniform(lo + 2, hi - 2, 2)
            carbons = np.flatnonzero(sheet.alive & (sheet.z == 6) & ~sheet.rotated)
            k = carbons[np.argmin(np.linalg.norm(sheet.xy[carbons] - pt, axis=1))]
            hole_centre = sheet.xy[k].copy()
            sheet.alive[k] = False
            events.append((t, 1, int(k), *sheet.xy[k]))
        elif hole_centre is not None and t > hole_start:
            nb = sheet.neighbour_lists()
            rim = [i for i, n in nb.items() if len(n) < 3 and sheet.z[i] == 6
                   and np.linalg.norm(sheet.xy[i] - hole_centre) < 9.0]
            rim = sorted(rim, key=lambda i: np.linalg.norm(sheet.xy[i] - hole_centre))
            n_remove = 2 + int(rng.poisson(max(hole_growth - 2, 0)))
            for k in rim[:n_remove]:
                sheet.alive[k] = False
                events.append((t, 1, int(k), *sheet.xy[k]))
        if hole_centre is not None and t >= hole_start:
            while True:  # dangling carbons go too
                nb = sheet.neighbour_lists()
                loose = [i for i, n in nb.items() if len(n) < 2 and sheet.z[i] == 6
                         and np.linalg.norm(sheet.xy[i] - hole_centre) < 9.0]
                if not loose:
                    break
                for k in loose:
                    sheet.alive[k] = False
                    events.append((t, 1, int(k), *sheet.xy[k]))
        # Si hops
        if t >= 1:
            for s in np.flatnonzero(sheet.alive & (sheet.z == 14)):
                if rng.random() >= hop_probability:
                    continue
                nb = sheet.neighbour_lists()
                cs = [c for c in nb[int(s)] if sheet.z[c] == 6 and not sheet.rotated[c]]
                if not cs:
                    continue
                c = cs[int(rng.integers(len(cs)))]
                sheet.xy[[s, c]] = sheet.xy[[c, s]]
                sheet.sub[[s, c]] = sheet.sub[[c, s]]
                events.append((t, 0, int(s), *sheet.xy[s]))
        cls = sheet.classes()
        ids = np.flatnonzero(sheet.alive)
        height = np.where(sheet.z[ids] == 14, 1.0, 0.0)
        frames.append((sheet.xy[ids].copy(), height, sheet.z[ids].copy(), ids, cls[ids], sheet.sub[ids].copy()))
    params = {
        "n_si": int(n_si),
        "stone_wales_frames": ",".join(str(f) for f in stone_wales_frames),
        "hole_start_frame": int(hole_start),
        "hole_growth_per_frame": float(hole_growth),
        "hop_probability": float(hop_probability),
        "drift_px_per_frame": float(drift_px_per_frame),
    }
    return {"frames": frames, "events": events, "drift_px": drift, "angle": angle, "cell_A": cell_A, "params": params}


def graphene_movie(
    seed: int,
    doses=(3.0, 10.0),
    n_frames: int = 10,
    pixel_A: float = 0.125,
    field_px: int = 256,
    cell_A: float = 40.0,
    optics: Optics = GRAPHENE_OPTICS,
):
    """A 60 kV HAADF movie of Si-doped graphene under the beam, one Dataset per dose.

    Physics: 60 kV, 30 mrad aberration-free probe, HAADF 80-200 mrad, PRISM (interpolation 3)
    through a 40 x 40 A periodic cell at <= 0.0795 A sampling (504 x 504 gpts, largest angle
    ~204 mrad), one 4 A slice; scan 99 x 99 over the whole cell (0.404 A step, Nyquist 0.406 A);
    Fourier interpolation to 0.125 A pixels; source size 0.5 A FWHM. The imaged field is the
    32 x 32 A (256 x 256 px) centre of the cell plus the drift; the periodic seam of the
    rotated lattice lies at the cell edge, 4 A outside the field.

    The clean frames are computed once and reused for every dose.

    Returns
    -------
    dict dose -> xarray.Dataset
    """
    st = graphene_structures(seed, n_frames=n_frames, cell_A=cell_A,
                             field_origin_A=(cell_A - field_px * pixel_A) / 2, field_A=field_px * pixel_A)
    from ase import Atoms

    origin = (cell_A - field_px * pixel_A) / 2
    n_scan = odd_steps(cell_A, optics.nyquist_step_A)
    coords = origin + np.arange(field_px) * pixel_A
    clean = np.zeros((n_frames, field_px, field_px))
    rows = []
    t0 = time.time()
    for t, (xy, height, z, ids, cls, sub) in enumerate(st["frames"]):
        pos = np.column_stack([xy, 2.0 + height])
        atoms = Atoms(numbers=z.astype(int), positions=pos, cell=[cell_A, cell_A, 4.0], pbc=True)
        tile = scan_image(atoms, optics, (0, 0), (cell_A, cell_A), (n_scan, n_scan))["haadf"]
        dy, dx = st["drift_px"][t] * pixel_A
        clean[t] = fourier_evaluate(tile, (cell_A, cell_A), (0, 0), coords - dy, coords - dx, optics.source_fwhm_A)
        ty = (xy[:, 1] - origin) / pixel_A + st["drift_px"][t][0]
        tx = (xy[:, 0] - origin) / pixel_A + st["drift_px"][t][1]
        keep = inside_field(ty, tx, (field_px, field_px))
        rows.append((np.full(keep.sum(), t), ids[keep], ty[keep], tx[keep], z[keep], cls[keep], sub[keep]))
        log.info("graphene seed %d frame %d/%d done (%.0f s)", seed, t + 1, n_frames, time.time() - t0)

    ev = np.array(st["events"], float).reshape(-1, 5)
    ev_y = (ev[:, 4] - origin) / pixel_A + st["drift_px"][ev[:, 0].astype(int), 0]
    ev_x = (ev[:, 3] - origin) / pixel_A + st["drift_px"][ev[:, 0].astype(int), 1]
    out = {}
    _, noise = seeded_streams(seed)
    for dose in doses:
        counts = poisson_counts(clean, dose, noise(dose))
        attrs = {
            "case": f"graphene_s{seed}_d{dose:g}",
            "description": "Si-doped graphene under a 60 kV beam: Si hops, Stone-Wales defects, a growing hole",
            **optics.attrs(),
            **optics.detector_attrs("haadf", dose),
            "seed": int(seed),
            "abtem_version": abtem_version(),
            "contrast": "bright",
            "spacing_nm": GRAPHENE_BOND_A / 10,
            "bond_length_nm": GRAPHENE_BOND_A / 10,
            "true_lattice_angle_deg": float(np.degrees(st["angle"])),
            "true_lattice_angle_note": "lattice vector a1 from +x towards +y (image rows); "
            "sublattice 1 = sublattice 0 + (a1 + a2) / 3",
            "true_event_kinds": ",".join(GRAPHENE_EVENTS),
            **st["params"],
            "si_height_nm": 0.1,
            "cell_nm": cell_A / 10,
        }
        ds = frames_with_truth(counts, pixel_A, rows, GRAPHENE_CLASSES, attrs, source="simulate_physics")
        ds["true_event_frame"] = ("true_event", ev[:, 0].astype(np.int32))
        ds["true_event_kind"] = ("true_event", ev[:, 1].astype(np.int8))
        ds["true_event_atom"] = ("true_event", ev[:, 2].astype(np.int32))
        ds["true_event_y"] = ("true_event", ev_y.astype(np.float32))
        ds["true_event_x"] = ("true_event", ev_x.astype(np.float32))
        ds["true_drift_y"] = ("frame", st["drift_px"][:, 0].astype(np.float32))
        ds["true_drift_x"] = ("frame", st["drift_px"][:, 1].astype(np.float32))
        out[dose] = ds
    out["clean"] = clean
    return out
