"""The graphene sheet of the demo STEM simulator (:mod:`rvae_pathways.sim.stem`) and what the beam does to it.

The sheet holds the atoms by persistent id (positions in nm without drift, species, sublattice,
bonds, structural classes). :func:`build_sheet` and :func:`place_dopants` set it up at frame 0;
the events :func:`grow_hole`, :func:`hop_dopants` and :func:`stone_wales` change it frame by
frame, each appending ``(frame, kind, atom id, y px, x px)`` to the events list.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from ..core.errors import InputError
from ..core.geometry import inside

__all__ = [
    "BOND_CUTOFF",
    "BOND_LENGTH_NM",
    "Z_CARBON",
    "Z_SILICON",
    "build_sheet",
    "grow_hole",
    "hop_dopants",
    "place_dopants",
    "stone_wales",
]

#: Graphene C-C bond length in nm.
BOND_LENGTH_NM = 0.142
#: Two atoms closer than this multiple of the bond length count as bonded.
BOND_CUTOFF = 1.2

Z_CARBON = 6
Z_SILICON = 14


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
# the sheet at frame 0 (draws from the structure's random stream)


def build_sheet(rng, p):
    """The graphene sheet at a random angle (or ``p.lattice_angle_deg``) and offset, large enough to
    cover the field over the whole drift and the probe's reach; and its angle (radians)."""
    a = BOND_LENGTH_NM
    angle = rng.uniform(0, math.pi / 3)  # drawn even when given, so the stream after it is the same
    if getattr(p, "lattice_angle_deg", None) is not None:
        angle = math.radians(p.lattice_angle_deg) % (math.pi / 3)
    cell = np.array([[1.0, 0.5], [0.0, math.sqrt(3) / 2]]) * a * math.sqrt(3)  # not rotated
    offset = cell @ rng.uniform(0, 1, 2)
    reach = p.drift_nm_per_frame * max(p.n_frames - 1, 0)
    margin = reach + 4.0 * p.sigma_px * p.px + 3.0 * a
    sheet = _Sheet(*_honeycomb((-margin, (p.ny - 1) * p.px + margin), (-margin, (p.nx - 1) * p.px + margin),
                               angle, offset))
    return sheet, angle


def place_dopants(rng, p, sheet, drift, hole_seed_nm) -> int:
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


# --------------------------------------------------------------------------------------------
# events (each appends (frame, kind, atom id, y px, x px) to ``events``)


def grow_hole(sheet, t, start, seed_nm, rate, rng, events, to_px):
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


def hop_dopants(sheet, t, p, rng, events, to_px, target_ok):
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


def stone_wales(sheet, t, rate, rng, events, to_px, centre_ok):
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
