"""The physics corpus's MoS2 case: monolayer 2H-MoS2 with S and Mo vacancies (abTEM PRISM HAADF)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from .physics_imaging import Optics, abtem_version, fourier_evaluate, odd_steps, poisson_counts, scan_image
from .physics_truth import frames_with_truth, inside_field, pick_far, seeded_streams

__all__ = ["MOS2_CLASSES", "MOS2_OPTICS", "mos2_vacancies"]

MOS2_A = 3.16
#: Vertical S-S distance in one MoS2 layer (A).
MOS2_SS_A = 3.17
MOS2_CLASSES = ("Mo", "S2", "S1")


# --------------------------------------------------------------------------------------------
# MoS2 with vacancies

MOS2_OPTICS = Optics(
    voltage_kv=60, convergence_mrad=30, detectors={"haadf": (80, 200)}, sampling_A=0.0795,
    interpolation=3, slice_thickness_A=2.0, source_fwhm_A=0.5,
)


def mos2_vacancies(
    seed: int = 0,
    reps=(10, 6),
    pixel_A: float = 0.125,
    field_px: int = 250,
    n_frames: int = 2,
    dose: float = 10.0,
    n_s_vacancies: int = 4,
    optics: Optics = MOS2_OPTICS,
):
    """Monolayer 2H-MoS2 with S vacancies (S1 columns) and one Mo vacancy, 60 kV HAADF.

    Physics: 60 kV, 30 mrad aberration-free probe, HAADF 80-200 mrad, PRISM (interpolation 3)
    through a periodic 10 x 6 rectangular cell (31.6 x 32.8 A, a = 3.16 A, S-S 3.17 A along the
    beam), potential sampling <= 0.0795 A, 2 A slices; whole-cell scan, Fourier interpolation
    to 0.125 A pixels (250 x 250 px field at the cell origin), source size 0.5 A FWHM. Frames
    share the structure; the field drifts by about 0.5 px between frames.

    Truth: Mo columns (class 0, Z 42), S2 columns (class 1, Z 16), S1 columns (class 2, one S
    of the pair removed). The Mo vacancy has no truth row; its site is in the attrs.
    """
    from ase import Atoms

    rng, noise = seeded_streams(seed)
    a = MOS2_A
    lx, ly = a * reps[0], a * math.sqrt(3) * reps[1]
    # rectangular 2H cell: Mo at (0,0) and (a/2, a*sqrt3/2); S pairs at +(0, a/sqrt3) from each
    mo = []
    s = []
    for i in range(reps[0]):
        for j in range(reps[1]):
            for base in ((0.0, 0.0), (a / 2, a * math.sqrt(3) / 2)):
                x0, y0 = base[0] + i * a + a / 4, base[1] + j * a * math.sqrt(3) + a / (4 * math.sqrt(3))
                mo.append((x0, y0))
                s.append((x0, (y0 + a / math.sqrt(3)) % ly))
    mo, s = np.array(mo), np.array(s)
    field = field_px * pixel_A
    interior_s = np.flatnonzero(np.all((s > 3.0) & (s < field - 3.0), axis=1))
    interior_mo = np.flatnonzero(np.all((mo > 3.0) & (mo < field - 3.0), axis=1))
    picked = []
    mo_vac = interior_mo[pick_far(rng, mo[interior_mo], picked, 5.0)]
    picked.append(mo[mo_vac])
    s_vac = []
    for _ in range(n_s_vacancies):
        k = interior_s[pick_far(rng, s[interior_s], picked, 5.0)]
        s_vac.append(k)
        picked.append(s[k])
    # which S of the pair goes (top or bottom) is seeded
    top_missing = rng.random(n_s_vacancies) < 0.5
    z0 = 3.0
    positions, numbers = [], []
    for k, p in enumerate(mo):
        if k != mo_vac:
            positions.append((p[0], p[1], z0))
            numbers.append(42)
    for k, p in enumerate(s):
        for top in (True, False):
            if k in s_vac and top == top_missing[s_vac.index(k)]:
                continue
            positions.append((p[0], p[1], z0 + (MOS2_SS_A / 2 if top else -MOS2_SS_A / 2)))
            numbers.append(16)
    atoms = Atoms(numbers=numbers, positions=positions, cell=[lx, ly, 2 * z0], pbc=True)
    n_x, n_y = odd_steps(lx, optics.nyquist_step_A), odd_steps(ly, optics.nyquist_step_A)
    tile = scan_image(atoms, optics, (0, 0), (lx, ly), (n_x, n_y))["haadf"]

    col_xy = np.concatenate([np.delete(mo, mo_vac, axis=0), s])
    col_z = np.concatenate([np.full(len(mo) - 1, 42), np.full(len(s), 16)])
    col_cls = np.concatenate([np.zeros(len(mo) - 1), np.where(np.isin(np.arange(len(s)), s_vac), 2, 1)])
    col_id = np.arange(len(col_xy))
    drift = np.zeros((n_frames, 2))
    for t in range(1, n_frames):
        phi = rng.uniform(0, 2 * math.pi)
        drift[t] = drift[t - 1] + 0.5 * np.array([math.sin(phi), math.cos(phi)])
    coords = np.arange(field_px) * pixel_A
    clean = np.zeros((n_frames, field_px, field_px))
    rows = []
    for t in range(n_frames):
        dy, dx = drift[t] * pixel_A
        clean[t] = fourier_evaluate(tile, (ly, lx), (0, 0), coords - dy, coords - dx, optics.source_fwhm_A)
        ty = col_xy[:, 1] / pixel_A + drift[t, 0]
        tx = col_xy[:, 0] / pixel_A + drift[t, 1]
        keep = inside_field(ty, tx, (field_px, field_px))
        n = int(keep.sum())
        rows.append((np.full(n, t), col_id[keep], ty[keep], tx[keep], col_z[keep], col_cls[keep], np.full(n, -1)))
    d, _ = cKDTree(np.concatenate([mo, s])).query(np.concatenate([mo, s]), k=2)
    counts = poisson_counts(clean, dose, noise(dose))
    attrs = {
        "case": "mos2_vacancies",
        "description": "monolayer 2H-MoS2 with S vacancies (S1 columns) and one Mo vacancy",
        **optics.attrs(),
        **optics.detector_attrs("haadf", dose),
        "seed": int(seed),
        "abtem_version": abtem_version(),
        "contrast": "bright",
        "spacing_nm": float(np.min(d[:, 1]) / 10),
        "lattice_constant_nm": MOS2_A / 10,
        "n_s_vacancies": int(n_s_vacancies),
        "true_mo_vacancy_y_px": float(mo[mo_vac][1] / pixel_A),
        "true_mo_vacancy_x_px": float(mo[mo_vac][0] / pixel_A),
        "true_mo_vacancy_note": "frame 0; add true_drift_y/x for later frames",
        "cell_nm": f"{lx / 10:.4f} x {ly / 10:.4f}",
    }
    ds = frames_with_truth(counts, pixel_A, rows, MOS2_CLASSES, attrs, "simulate_physics")
    ds["true_drift_y"] = ("frame", drift[:, 0].astype(np.float32))
    ds["true_drift_x"] = ("frame", drift[:, 1].astype(np.float32))
    return {"ds": ds, "clean": clean}
