"""The physics corpus's SrTiO3 case: a perfect crystal viewed along [110], HAADF and ABF (abTEM multislice)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from .physics_imaging import Optics, abtem_version, fourier_evaluate, odd_steps, poisson_counts, scan_image
from .physics_truth import frames_with_truth, inside_field, projected_columns, seeded_streams

__all__ = ["SRTIO3_CLASSES", "SRTIO3_OPTICS", "srtio3_110"]

SRTIO3_A = 3.905
SRTIO3_CLASSES = ("SrO", "Ti", "O")


# --------------------------------------------------------------------------------------------
# SrTiO3 [110]

SRTIO3_OPTICS = Optics(
    voltage_kv=200, convergence_mrad=20, detectors={"haadf": (70, 200), "abf": (10, 20)},
    sampling_A=0.041, interpolation=None, slice_thickness_A=SRTIO3_A * math.sqrt(2) / 2,
    source_fwhm_A=0.5,
)


def _srtio3_110_cell(reps_x, reps_y, reps_z):
    """SrTiO3 with [001] along x, [1-10] along y, [110] along z (the beam); orthogonal cell.

    Period a x a*sqrt(2) x a*sqrt(2) per repeat. Returns ase.Atoms.
    """
    from ase import Atoms

    a = SRTIO3_A
    frac = {"Sr": [(0, 0, 0)], "Ti": [(0.5, 0.5, 0.5)], "O": [(0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]}
    ex, ey, ez = np.array([0, 0, 1.0]), np.array([1, -1, 0]) / math.sqrt(2), np.array([1, 1, 0]) / math.sqrt(2)
    lx, ly, lz = a * reps_x, a * math.sqrt(2) * reps_y, a * math.sqrt(2) * reps_z
    span = int(max(reps_x, reps_y, reps_z) * 2) + 2
    g = np.arange(-span, span + 1)
    cells = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    symbols, positions = [], []
    for sym, sites in frac.items():
        for s in sites:
            r = (cells + np.array(s)) * a
            p = np.column_stack([r @ ex, r @ ey, r @ ez])
            keep = (p[:, 0] >= -1e-6) & (p[:, 0] < lx - 1e-6) & (p[:, 1] >= -1e-6) & (p[:, 1] < ly - 1e-6) \
                & (p[:, 2] >= -1e-6) & (p[:, 2] < lz - 1e-6)
            positions.append(p[keep])
            symbols += [sym] * int(keep.sum())
    return Atoms(symbols=symbols, positions=np.concatenate(positions), cell=[lx, ly, lz], pbc=True)


def srtio3_110(
    seed: int = 0,
    thickness_repeats: int = 10,
    pixel_A: float = 0.12,
    field_px: int = 250,
    haadf_dose: float = 20.0,
    abf_dose: float = 300.0,
    optics: Optics = SRTIO3_OPTICS,
):
    """SrTiO3 viewed along [110]: one HAADF and one ABF frame of the same field.

    Physics: 200 kV, 20 mrad aberration-free probe, HAADF 70-200 mrad and ABF 10-20 mrad
    recorded in one conventional multislice run, thickness ``10 * a * sqrt(2)`` = 5.5 nm in
    slices of ``a * sqrt(2) / 2`` (one atomic plane each), potential sampling <= 0.041 A (largest
    angle ~203 mrad). The probe is scanned over one projected unit cell (a along [001] x
    a*sqrt(2) along [1-10], 13 x 19 positions) at the centre of a 4 x 3 unit-cell supercell;
    the crystal is perfect, so that image is the period of the whole image, which is then
    evaluated by Fourier series on a field of 250 x 250 px at 0.12 A (30 x 30 A), rotated by a
    seeded angle in [-15, 15) degrees and shifted by a seeded offset.

    Per a x a*sqrt(2) projected cell: 2 SrO + 2 Ti columns (HAADF truth, nearest spacing a/2 =
    1.95 A along [001]) and 2 further pure O columns (ABF truth, nearest spacing Ti-O
    a*sqrt(2)/4 = 1.38 A along [1-10]).

    Returns
    -------
    dict "haadf" / "abf" -> xarray.Dataset
    """
    rng, noise = seeded_streams(seed)
    reps = (4, 3)
    atoms = _srtio3_110_cell(reps[0], reps[1], thickness_repeats)
    a, b = SRTIO3_A, SRTIO3_A * math.sqrt(2)
    start = (a * (reps[0] // 2), b * (reps[1] // 2))
    n_x, n_y = odd_steps(a, optics.nyquist_step_A), odd_steps(b, optics.nyquist_step_A)
    images = scan_image(atoms, optics, start, (start[0] + a, start[1] + b), (n_x, n_y))

    unit = projected_columns(_srtio3_110_cell(1, 1, 1))
    theta = float(rng.uniform(-15, 15))
    offset = rng.uniform(0, 1, 2) * (b, a)  # (y, x) A
    c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))
    r, q = np.meshgrid(np.arange(field_px) * pixel_A, np.arange(field_px) * pixel_A, indexing="ij")
    # field (row r, col q) -> sample (y, x) = offset + R(theta) (q, r)
    sx = offset[1] + c * q - s * r
    sy = offset[0] + s * q + c * r
    clean = {k: fourier_evaluate(v, (b, a), (start[1], start[0]), sy, sx, optics.source_fwhm_A)
             for k, v in images.items()}

    # columns: every periodic image that falls in the field
    names = {38: 0, 22: 1, 8: 2}
    reach = field_px * pixel_A * 1.5 + 2 * b
    iy, ix = np.meshgrid(np.arange(-int(reach / b) - 1, int(reach / b) + 2),
                         np.arange(-int(reach / a) - 1, int(reach / a) + 2), indexing="ij")
    py, px_, zz, cl = [], [], [], []
    for xy, zmax, _ in unit:
        X = xy[0] + ix.ravel() * a
        Y = xy[1] + iy.ravel() * b
        dxs, dys = X - offset[1], Y - offset[0]
        px_.append((c * dxs + s * dys) / pixel_A)
        py.append((-s * dxs + c * dys) / pixel_A)
        zz.append(np.full(len(X), zmax))
        cl.append(np.full(len(X), names[zmax]))
    py, px_, zz, cl = map(np.concatenate, (py, px_, zz, cl))
    keep = inside_field(py, px_, (field_px, field_px))
    order = np.lexsort((px_[keep], py[keep]))
    py, px_, zz, cl = py[keep][order], px_[keep][order], zz[keep][order], cl[keep][order]
    ids = np.arange(len(py))  # one numbering for both stores: HAADF ids are a subset of ABF ids
    col_rows, spacing = {}, {}
    for kind, allowed in (("haadf", (0, 1)), ("abf", (0, 1, 2))):
        m = np.isin(cl, allowed)
        pts = np.column_stack([py[m], px_[m]])
        d, _ = cKDTree(pts).query(pts, k=2)
        spacing[kind] = float(np.min(d[:, 1]) * pixel_A / 10)
        n = int(m.sum())
        col_rows[kind] = [(np.zeros(n), ids[m], py[m], px_[m], zz[m], cl[m], np.full(n, -1))]

    common = {
        **optics.attrs(),
        "seed": int(seed),
        "abtem_version": abtem_version(),
        "thickness_nm": thickness_repeats * b / 10,
        "lattice_constant_nm": SRTIO3_A / 10,
        "zone_axis": "[110]",
        "rotation_deg": theta,
        "rotation_note": "crystal [001] runs from +x towards +y (image rows) at this angle",
        "columns_per_projected_cell": "a x a*sqrt(2) cell: 2 SrO, 2 Ti, 2 O",
        "scan_note": "one projected unit cell scanned in a 4 x 3 supercell, then tiled (perfect crystal)",
    }
    out = {}
    for kind, dose, contrast, desc in (
        ("haadf", haadf_dose, "bright", "HAADF: truth = SrO and Ti columns"),
        ("abf", abf_dose, "dark", "ABF: truth = all columns, pure O included (columns dark)"),
    ):
        attrs = {
            "case": f"srtio3_110_{kind}",
            "description": f"SrTiO3 [110], {desc}",
            **common,
            **optics.detector_attrs(kind, dose),
            "contrast": contrast,
            "spacing_nm": spacing[kind],
        }
        counts = poisson_counts(clean[kind][None], dose, noise(dose))
        out[kind] = frames_with_truth(counts, pixel_A, col_rows[kind], SRTIO3_CLASSES, attrs, "simulate_physics")
    out["clean"] = clean
    return out
