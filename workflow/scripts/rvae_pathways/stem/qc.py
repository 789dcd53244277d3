"""Lattice quality check of found atoms: do they look like the lattice the given spacing implies?

The atom finder (:func:`rvae_pathways.stem.atoms.find_atoms`) always returns *something*: points
between columns when the spacing is wrong, points scattered over an amorphous support, peaks of
noise. This module compares, frame by frame, the found atoms with what the user's
nearest-neighbour spacing (``spacing_px``, ``d`` below) implies and with what the image shows.

1. **Where is a lattice resolved?**
   (:func:`~rvae_pathways.stem.lattice_map.resolved_lattice_map`) A crystal gives *sharp
   spots* in the power spectrum, in the band of spatial frequencies ``1/(3 d) <= |k| <=
   1/(0.6 d)``; an amorphous support gives a diffuse ring there, white noise a flat floor.
   The frame's spots are the peaks of its spectrum that stand far above the median power on
   their ring of ``|k|``. Then, at every place, the local power near each spot (the image
   shifted by the spot's frequency and low-passed: a Gaussian local area of about
   ``window_spacings`` spacings) is compared with the local power near *control* frequencies
   of the same ``|k|`` where the frame's spectrum is featureless. On a lattice the ratio is tens
   to thousands; on a support, noise or vacuum it is about 1 (speckle and noise have no
   preferred direction), whatever their strength.
2. **Which atoms belong to the lattice?** (:func:`lattice_members`) Those where it is
   resolved, and those bonded to them with the lattice's own bond vectors (the map blurs over a
   few spacings: rims of holes, narrow strips, image borders).
3. **Is there material without a lattice?** (:func:`~rvae_pathways.stem.material.material_map`)
   An amorphous support has no spots, like vacuum, so the map above cannot tell them apart
   (and, blurred over several spacings, it spreads a particle's lattice over the support beside
   it). Texture can: a film holds speckle at atomic scales, vacuum only white noise or nothing.
   Where the band power stands well above the place's own noise, farther than a spacing from
   every atom of the lattice (:func:`~rvae_pathways.stem.material.lattice_area`), the field
   holds material but no lattice: it counts as unresolved, and warns.
4. **Were atoms missed?** (:func:`missed_peak_share`) A spacing 2x too large makes the finder
   smooth the lattice away and keep a sparse subset whose density and neighbour distances look
   right *in units of the wrong spacing*. Peaks found at half the spacing, in the lattice, that
   no found atom accounts for show it.
5. **What did the finder return?** (:func:`check_frame`) Density of atoms in the resolved
   area, median nearest-neighbour distance, share of atoms with a neighbour at about one
   spacing, share of atoms outside the lattice.

Each metric has an ``ok`` band and a wider ``warn`` band in
:data:`~rvae_pathways.stem.qc_verdicts.THRESHOLDS` (outside both: ``fail``); a frame's verdict
is its worst metric's. Vacuum (a hole, the edge of a particle) holds neither lattice nor atoms,
so it lowers no metric but ``resolved_fraction``, which only fails when atoms were found but
almost nothing is resolved (a noise image).

Steps 1 and 3 live in :mod:`rvae_pathways.stem.lattice_map` and :mod:`rvae_pathways.stem.material`,
the thresholds, verdicts and per-sample summaries in :mod:`rvae_pathways.stem.qc_verdicts`; this
module holds the atoms' side (steps 2 and 4) and :func:`check_frame`, which composes them all.
All functions are small and pure, on arrays; metrics are plain floats, ints, strings and lists
(JSON-ready: an undefined value is None, never NaN).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..core.config import defaults
from .atoms import find_peaks
from .lattice_map import lattice_analysis
from .material import lattice_area, material_map
from .qc_verdicts import THRESHOLDS, verdict_of

__all__ = ["lattice_members", "missed_peak_share", "check_frame"]


def missed_peak_share(image: np.ndarray, y: np.ndarray, x: np.ndarray, spacing_px: float, resolved: np.ndarray,
                      radius: float = THRESHOLDS["missed_radius"], contrast: str = "bright") -> float | None:
    """Share of the image's peaks, in the resolved lattice, that no found atom accounts for.

    Peaks are found as :func:`rvae_pathways.stem.atoms.find_peaks` finds them for half the spacing
    (finer smoothing, half the distance between peaks, the same significance tests); a peak is
    accounted for when a found atom lies within ``radius * spacing_px``. With the right spacing
    every peak is an atom the finder found too; with a spacing 2x too large the finder smooths
    the lattice away and keeps a sparse subset, and most peaks go unclaimed. ``contrast``
    "dark" (atoms darker than their surroundings, as in ABF) looks for peaks of the negated
    image, as the finder does.

    Returns None where no peak lies in the resolved lattice.
    """
    image = np.asarray(image, dtype=float)
    peaks = find_peaks(-image if contrast == "dark" else image, 0.5 * spacing_px).reshape(-1, 2)
    peaks = peaks[resolved[peaks[:, 0], peaks[:, 1]]] if len(peaks) else peaks
    if len(peaks) == 0:
        return None
    if len(y) == 0:
        return 1.0
    distance = cKDTree(np.stack([y, x], axis=1)).query(peaks)[0]
    return float(np.mean(distance > radius * spacing_px))


def lattice_members(positions: np.ndarray, resolved: np.ndarray, spacing_px: float,
                    shell: tuple[float, float] = THRESHOLDS["neighbour_shell"],
                    tolerance: float = THRESHOLDS["bond_tolerance"]) -> np.ndarray:
    """Atoms that belong to the resolved lattice: inside it, or bonded to it like it.

    The lattice map blurs over a local area of several spacings, so it misses lattice atoms
    in narrow strips, at the rim of a hole and at the image border. Bonds (pairs at
    ``shell`` spacings) of atoms in the map show the lattice's bond vectors; an atom outside
    it joins when it has as many such bonds as it has neighbours (two at most) and is linked
    to the map through atoms that do. On an amorphous support or noise, bond directions are
    random and rarely match.

    Parameters
    ----------
    positions : (n, 2) array
        Atom positions (y, x) in px.
    resolved : (n,) bool array
        Whether each atom sits where the lattice map is resolved.
    spacing_px : float
    shell : (float, float)
        Neighbour distances in spacings.
    tolerance : float
        Largest difference between a bond vector and one of the lattice's, in spacings.

    Returns
    -------
    (n,) bool array.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    positions = np.asarray(positions, dtype=float).reshape(-1, 2)
    members = np.asarray(resolved, bool).copy()
    if members.sum() < 3 or members.all():
        return members
    pairs = cKDTree(positions).query_pairs(shell[1] * spacing_px, output_type="ndarray")
    vectors = (positions[pairs[:, 1]] - positions[pairs[:, 0]]) / spacing_px
    keep = np.hypot(*vectors.T) >= shell[0]
    pairs, vectors = pairs[keep], vectors[keep]
    if len(pairs) == 0:
        return members
    inside = members[pairs[:, 0]] & members[pairs[:, 1]]
    template = np.concatenate([vectors[inside], -vectors[inside]])
    if len(template) < 6:
        return members
    # a bond vector of the lattice recurs: at least 5 % of the atoms in the map have it
    support = cKDTree(template).query_ball_point(vectors, tolerance, return_length=True)
    lattice_bond = support >= max(3, 0.05 * members.sum())
    n = len(positions)
    neighbours = np.bincount(pairs.ravel(), minlength=n)
    matching = np.bincount(pairs[lattice_bond].ravel(), minlength=n)
    consistent = members | ((matching >= np.minimum(neighbours, 2)) & (neighbours > 0))
    link = lattice_bond & consistent[pairs[:, 0]] & consistent[pairs[:, 1]]
    graph = coo_matrix((np.ones(link.sum()), (pairs[link, 0], pairs[link, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    members = consistent & np.isin(component, component[members])
    return _enclosed(positions, members, spacing_px)


def _enclosed(positions: np.ndarray, members: np.ndarray, spacing_px: float,
              radius: float = THRESHOLDS["enclosure_radius"], share: float = THRESHOLDS["enclosure_share"],
              rounds: int = 3) -> np.ndarray:
    """Members plus the atoms mostly surrounded by members: a point defect or a Stone-Wales
    defect inside a lattice breaks its bond directions and blurs its local spectrum, but it is
    part of the crystal. An atom joins when at least ``share`` of the atoms within ``radius``
    spacings are members; a few rounds fill a defect from its rim inwards. The first row of a
    support beside a lattice has lattice on one side only (under half) and stays out.
    """
    members = members.copy()
    if members.all() or not members.any():
        return members
    tree = cKDTree(positions)
    near = tree.query_ball_point(positions, radius * spacing_px)
    for _ in range(rounds):
        joined = [i for i in np.flatnonzero(~members)
                  if len(near[i]) > 1 and members[[j for j in near[i] if j != i]].mean() >= share]
        if not joined:
            break
        members[joined] = True
    return members


def _none_or_float(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def check_frame(
    image: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    spacing_px: float,
    neighbour_radius: float = defaults("atoms")["neighbour_radius"],
    contrast: str = "bright",
) -> tuple[dict, np.ndarray]:
    """Compare the atoms found in one frame with the lattice the spacing implies.

    Parameters
    ----------
    image : 2-D array
        The frame the atoms were found in.
    y, x : 1-D arrays
        Atom positions in px (``find_atoms(...)["y"]``, ``["x"]``).
    spacing_px : float
        The nearest-neighbour spacing given to the finder, px.
    neighbour_radius : float
        Where too little of the field is resolved to measure a density (a noise image), the
        density is taken over the field within this many spacings of a found atom.
    contrast : {"bright", "dark"}
        The contrast the atoms were found with (only the missed-peak search needs it; the
        lattice map works on either).

    Returns
    -------
    metrics : dict
        ``n_atoms``; ``spacing_px``; ``density_ratio`` (atoms per px^2 times ``spacing_px**2``
        over the resolved area, or over the occupied area where less than
        ``THRESHOLDS["density_min_area"]`` spacings^2 are resolved; ``density_area`` says
        which); ``nn_ratio_median`` (median nearest-neighbour distance / ``spacing_px``);
        ``missed_peak_share`` (see :func:`missed_peak_share`); ``amorphous_fraction`` (share
        of the field where :func:`~rvae_pathways.stem.material.material_map` finds material
        farther than ``THRESHOLDS["lattice_reach"]`` spacings from every atom of the lattice;
        None below ``THRESHOLDS["structure_min_spacing_px"]``); ``resolved_fraction`` (share of
        the field where :func:`~rvae_pathways.stem.lattice_map.resolved_lattice_map` is True and
        no such material lies); ``lattice_atom_share`` (share of atoms with a neighbour at
        ``THRESHOLDS["neighbour_shell"]`` spacings); ``outside_lattice_share`` (share of
        atoms not ``in_lattice``); ``verdict`` (one of
        :data:`~rvae_pathways.stem.qc_verdicts.VERDICTS`, see
        :func:`~rvae_pathways.stem.qc_verdicts.verdict_of`) and ``reasons`` (list of str).
        Undefined values (no atoms, nothing resolved) are None.
    in_lattice : bool array, one per atom
        True where the atom belongs to the lattice: it sits where the lattice is resolved, or
        is bonded to such atoms with the lattice's bond vectors (see :func:`lattice_members`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.poisson(5.0, (96, 96)).astype(float)
    >>> metrics, in_lattice = check_frame(noise, rng.uniform(0, 95, 40), rng.uniform(0, 95, 40), 8.0)
    >>> metrics["verdict"], metrics["outside_lattice_share"], bool(in_lattice.any())
    ('fail', 1.0, False)
    """
    image = np.asarray(image)
    y = np.asarray(y, dtype=float).ravel()
    x = np.asarray(x, dtype=float).ravel()
    if y.shape != x.shape:
        raise ValueError(f"y and x differ in length: {y.size} and {x.size}")
    spacing_px = float(spacing_px)
    too_small = min(image.shape) < THRESHOLDS["min_field_spacings"] * spacing_px
    resolved = np.ones(image.shape, bool) if too_small else lattice_analysis(image, spacing_px)["resolved"]
    ny, nx = resolved.shape
    n = int(y.size)
    finite = np.isfinite(y) & np.isfinite(x)
    iy = np.clip(np.rint(np.where(finite, y, 0)), 0, ny - 1).astype(int)
    ix = np.clip(np.rint(np.where(finite, x, 0)), 0, nx - 1).astype(int)
    in_lattice = np.zeros(len(y), bool)
    in_lattice[finite] = lattice_members(np.stack([y[finite], x[finite]], axis=1), resolved[iy, ix][finite], spacing_px)
    # Material without a lattice (an amorphous support, contamination) is not resolved either,
    # however close to a lattice the blurred map spreads.
    amorphous = None
    if not too_small and spacing_px >= THRESHOLDS["structure_min_spacing_px"]:
        covered = lattice_area(np.stack([y, x], axis=1)[in_lattice], image.shape, spacing_px)
        amorphous = material_map(image, spacing_px, covered)
        resolved = resolved & ~amorphous

    resolved_area = float(resolved.sum())
    metrics = {
        "n_atoms": n,
        "spacing_px": spacing_px,
        "density_ratio": None,
        "density_area": None,
        "nn_ratio_median": None,
        "missed_peak_share": missed_peak_share(image, y[finite], x[finite], spacing_px, resolved,
                                               contrast=contrast),
        "resolved_fraction": resolved_area / resolved.size,
        "lattice_atom_share": None,
        "outside_lattice_share": None,
        "amorphous_fraction": None if amorphous is None else float(amorphous.mean()),
    }
    positions = np.stack([y[finite], x[finite]], axis=1)
    if n:
        metrics["outside_lattice_share"] = 1.0 - float(in_lattice.mean())
        if resolved_area >= THRESHOLDS["density_min_area"] * spacing_px**2:
            in_map = resolved[iy, ix] & finite
            metrics["density_ratio"] = float(in_map.sum()) * spacing_px**2 / resolved_area
            metrics["density_area"] = "resolved"
        elif len(positions):
            occupied = np.ones(resolved.shape, bool)
            occupied[iy[finite], ix[finite]] = False
            near = ndimage.distance_transform_edt(occupied) <= neighbour_radius * spacing_px
            metrics["density_ratio"] = len(positions) * spacing_px**2 / float(near.sum())
            metrics["density_area"] = "occupied"
    if len(positions) >= 2:
        tree = cKDTree(positions)
        k = min(len(positions), 13)
        shell = THRESHOLDS["neighbour_shell"]
        dist, _ = tree.query(positions, k=k, distance_upper_bound=shell[1] * spacing_px)
        dist = dist[:, 1:]
        nearest = tree.query(positions, k=2)[0][:, 1]
        metrics["nn_ratio_median"] = float(np.median(nearest)) / spacing_px
        in_shell = (dist >= shell[0] * spacing_px) & (dist <= shell[1] * spacing_px)
        metrics["lattice_atom_share"] = float(np.any(in_shell, axis=1).sum()) / n
    elif n:
        metrics["lattice_atom_share"] = 0.0
    if too_small:
        in_lattice[:] = True
        metrics["resolved_fraction"] = None
        metrics["outside_lattice_share"] = None
    metrics = {key: (_none_or_float(v) if isinstance(v, (float, np.floating)) else v) for key, v in metrics.items()}
    metrics["verdict"], metrics["reasons"] = verdict_of(metrics)
    if too_small:
        metrics["reasons"].append(
            f"the frame is only {min(image.shape) / spacing_px:.1f} spacings across (fewer than "
            f"{THRESHOLDS['min_field_spacings']:g}): too small to map where the lattice is resolved; "
            "in_lattice not checked")
        if metrics["verdict"] == "ok":
            metrics["verdict"] = "warn"
    return metrics, in_lattice
