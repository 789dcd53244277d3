"""The physics corpus's Au case: a gold nanoparticle on amorphous carbon (abTEM PRISM HAADF)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from .physics_imaging import Optics, abtem_version, fourier_evaluate, odd_steps, poisson_counts, scan_image
from .physics_truth import frames_with_truth, inside_field, projected_columns, seeded_streams

__all__ = ["AU_OPTICS", "amorphous_carbon", "au_nanoparticle"]

AU_A = 4.078


# --------------------------------------------------------------------------------------------
# Au nanoparticle on amorphous carbon

AU_OPTICS = Optics(
    voltage_kv=200, convergence_mrad=20, detectors={"haadf": (70, 150)}, sampling_A=0.055,
    interpolation=4, slice_thickness_A=2.5, source_fwhm_A=0.5,
)


def amorphous_carbon(rng, lx, ly, thickness_A, density_g_cm3=2.0, min_dist_A=1.3):
    """Random C atoms at ``density`` in a periodic slab (random sequential addition with a minimum distance).

    Returns (n, 3) positions in A with z in [0, thickness).
    """
    n_target = int(round(density_g_cm3 / 12.011 * 6.02214076e23 * 1e-24 * lx * ly * thickness_A))
    box = np.array([lx, ly, thickness_A])
    pos = np.zeros((0, 3))
    while len(pos) < n_target:
        cand = rng.uniform(0, 1, (4 * (n_target - len(pos)) + 10, 3)) * box
        # reject candidates too close to placed atoms (periodic in x and y; the slab is thin in z)
        if len(pos):
            tree = cKDTree(pos, boxsize=[lx, ly, thickness_A * 10])
            d, _ = tree.query(cand, k=1)
            cand = cand[d >= min_dist_A]
        # then among the candidates, greedy in order
        accepted = []
        ctree = cKDTree(cand, boxsize=[lx, ly, thickness_A * 10])
        taken = np.zeros(len(cand), bool)
        blocked = np.zeros(len(cand), bool)
        for k in range(len(cand)):
            if blocked[k]:
                continue
            taken[k] = True
            accepted.append(k)
            blocked[ctree.query_ball_point(cand[k], min_dist_A)] = True
            if len(pos) + len(accepted) >= n_target:
                break
        pos = np.concatenate([pos, cand[accepted]])
    return pos[:n_target]


def au_nanoparticle(
    seed: int = 0,
    cell_A: float = 40.0,
    pixel_A: float = 0.125,
    field_px: int = 320,
    n_frames: int = 2,
    dose: float = 15.0,
    carbon_thickness_A: float = 20.0,
    optics: Optics = AU_OPTICS,
):
    """An Au truncated-octahedron particle (~2.5 nm, 586 atoms) in [110] zone axis on amorphous carbon.

    Physics: 200 kV, 20 mrad aberration-free probe, HAADF 70-150 mrad, PRISM (interpolation 4)
    through a 40 x 40 A periodic cell, potential sampling <= 0.055 A (756 x 756 gpts, largest
    angle ~158 mrad), 2.5 A slices; amorphous carbon 2.0 nm thick at 2.0 g/cm3 (min C-C distance
    1.3 A) covering the cell, the particle
    (ase.cluster.Octahedron("Au", 10, cutoff=3), rotated so [110] is along the beam, then by a
    seeded angle about the beam) on top of it, centred in the cell with a seeded offset. The
    scan covers the whole cell (odd positions, <= Nyquist), then Fourier interpolation to 0.125
    A pixels, source size 0.5 A FWHM. Frames share the structure; the field drifts by about
    0.5 px between frames.

    Truth: Au columns (atoms whose projected positions lie within 0.3 A), position = mean,
    species 79, class 0 "Au column"; ``true_particle`` (frame, y, x) bool marks pixels within
    1 A of the convex hull of the columns.
    """
    from ase import Atoms
    from ase.cluster import Octahedron
    from scipy.ndimage import distance_transform_edt
    from scipy.spatial import Delaunay

    rng, noise = seeded_streams(seed)
    particle = Octahedron("Au", 10, cutoff=3, latticeconstant=AU_A)
    particle.positions -= particle.positions.mean(axis=0)
    particle.rotate([1, 1, 0], [0, 0, 1])
    spin = float(rng.uniform(0, 180))
    particle.rotate(spin, "z")
    centre_xy = cell_A / 2 + rng.uniform(-2, 2, 2)
    zmin = particle.positions[:, 2].min()
    particle.positions += np.array([centre_xy[0], centre_xy[1], carbon_thickness_A + 2.0 - zmin])
    carbon = amorphous_carbon(rng, cell_A, cell_A, carbon_thickness_A) + np.array([0, 0, 1.0])
    height = particle.positions[:, 2].max() + 2.0
    atoms = Atoms(
        numbers=np.concatenate([np.full(len(carbon), 6), particle.numbers]),
        positions=np.concatenate([carbon, particle.positions]),
        cell=[cell_A, cell_A, height], pbc=True,
    )
    n_scan = odd_steps(cell_A, optics.nyquist_step_A)
    tile = scan_image(atoms, optics, (0, 0), (cell_A, cell_A), (n_scan, n_scan))["haadf"]

    cols = projected_columns(particle)
    col_xy = np.array([c[0] for c in cols])
    d, _ = cKDTree(col_xy).query(col_xy, k=2)
    spacing = float(np.median(np.sort(d[:, 1])[: max(1, len(d) // 2)]))
    origin = (cell_A - field_px * pixel_A) / 2
    coords = origin + np.arange(field_px) * pixel_A
    drift = np.zeros((n_frames, 2))
    for t in range(1, n_frames):
        phi = rng.uniform(0, 2 * math.pi)
        drift[t] = drift[t - 1] + 0.5 * np.array([math.sin(phi), math.cos(phi)])
    clean = np.zeros((n_frames, field_px, field_px))
    mask = np.zeros((n_frames, field_px, field_px), bool)
    rows = []
    rr, qq = np.meshgrid(np.arange(field_px), np.arange(field_px), indexing="ij")
    for t in range(n_frames):
        dy, dx = drift[t] * pixel_A
        clean[t] = fourier_evaluate(tile, (cell_A, cell_A), (0, 0), coords - dy, coords - dx, optics.source_fwhm_A)
        ty = (col_xy[:, 1] - origin) / pixel_A + drift[t, 0]
        tx = (col_xy[:, 0] - origin) / pixel_A + drift[t, 1]
        keep = inside_field(ty, tx, (field_px, field_px))
        n = int(keep.sum())
        rows.append((np.full(n, t), np.flatnonzero(keep), ty[keep], tx[keep], np.full(n, 79), np.zeros(n),
                     np.full(n, -1)))
        hull = Delaunay(np.column_stack([ty, tx]))
        inside = hull.find_simplex(np.column_stack([rr.ravel(), qq.ravel()])).reshape(rr.shape) >= 0
        mask[t] = distance_transform_edt(~inside) <= 1.0 / pixel_A
    cy = (centre_xy[1] - origin) / pixel_A
    cx = (centre_xy[0] - origin) / pixel_A
    radius = float(np.max(np.hypot(col_xy[:, 1] - centre_xy[1], col_xy[:, 0] - centre_xy[0])) / pixel_A)
    counts = poisson_counts(clean, dose, noise(dose))
    attrs = {
        "case": "au_nanoparticle",
        "description": "Au nanoparticle ([110] zone axis) on amorphous carbon; truth = Au columns",
        **optics.attrs(),
        **optics.detector_attrs("haadf", dose),
        "seed": int(seed),
        "abtem_version": abtem_version(),
        "contrast": "bright",
        "spacing_nm": spacing / 10,
        "particle": f"ase.cluster.Octahedron('Au', 10, cutoff=3), {len(particle)} atoms, a = {AU_A} A",
        "particle_rotation_about_beam_deg": spin,
        "particle_centre_y_px": float(cy),
        "particle_centre_x_px": float(cx),
        "particle_centre_note": "frame 0; add true_drift_y/x for later frames",
        "particle_radius_px": radius,
        "particle_radius_note": "largest distance of a column from the centre",
        "n_au_columns": len(col_xy),
        "carbon_thickness_nm": carbon_thickness_A / 10,
        "carbon_density_g_cm3": 2.0,
        "carbon_min_distance_nm": 0.13,
        "n_carbon_atoms": len(carbon),
        "true_particle_note": "pixels within 1 A (0.1 nm) of the convex hull of the Au columns",
    }
    ds = frames_with_truth(counts, pixel_A, rows, ("Au column",), attrs, "simulate_physics")
    ds["true_particle"] = (("frame", "y", "x"), mask)
    ds["true_drift_y"] = ("frame", drift[:, 0].astype(np.float32))
    ds["true_drift_x"] = ("frame", drift[:, 1].astype(np.float32))
    return {"ds": ds, "clean": clean}
