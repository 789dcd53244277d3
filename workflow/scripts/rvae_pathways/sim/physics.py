"""A validation corpus made by electron-scattering physics (abTEM), independent of our own simulator.

:mod:`rvae_pathways.sim.stem` draws Gaussian spots; the stores made here come instead from
abTEM (PRISM or conventional multislice through an independent-atom potential, Lobato
parametrisation, infinite projection per slice, float32), so that the atom finder and the rVAE
can be checked on images whose contrast, probe tails, channelling and cross-talk between columns
are physical. This module does not import :mod:`rvae_pathways.sim.stem`.

``abtem`` and ``ase`` are an optional extra (``pip install .[physics]``: abtem 1.0.11, ase 3.29.0)
and are imported only inside the functions that need them; numpy, scipy and xarray suffice to
import this module.

Imaging chain (every case)
--------------------------
1. Structure: an orthogonal, periodic cell built here (no seams inside the imaged field).
2. Scattering: ``abtem.Probe`` (multislice) or ``abtem.SMatrix`` (PRISM, interpolation factor
   ``f``), aberration-free probe (zero defocus, no Cs), annular detectors. The potential's
   sampling is fine enough that the detector's outer angle stays below the largest simulated
   (anti-aliased, 2/3 of Nyquist) angle; this is checked.
3. Scan: a grid over one whole period of the cell at (just under) the Nyquist step of the probe,
   ``lambda / (4 alpha)``, with an odd number of positions per axis (no ambiguous Nyquist bin).
4. Fourier interpolation: the scanned image is periodic and band-limited (to ``2 alpha /
   lambda``), so its Fourier series is evaluated exactly at the target pixel centres (any pixel
   size, any rigid drift or in-plane rotation of the field).
5. Partial spatial coherence: a Gaussian source-size blur (FWHM ``source_fwhm_A``, 0.5 A unless
   stated) applied in the same Fourier step.
6. Dose: the clean movie is scaled by one factor so that its mean over all frames equals
   ``dose_counts_per_px`` (so atoms lost from a frame make it darker), clipped at 0, then drawn
   from a Poisson distribution. Values are stored as float32 holding whole numbers.

Randomness: ``np.random.SeedSequence(seed)`` gives the child streams ``spawn_key=(0,)`` (the
structure: rotation, dopants, defects, hole, hops, drift) and ``spawn_key=(1, round(1000 *
dose))`` (the shot noise at that dose). Two doses of one seed therefore show the same atoms,
and each store is reproducible on its own.

Ground truth (every store)
--------------------------
Along dim ``true_atom``, sorted by frame: ``true_frame`` int32, ``true_id`` int32 (persistent over
frames), ``true_y``/``true_x`` float32 in pixels (pixel centres at integer indices, the same
convention as ``image[frame, y, x]``, drift included), ``true_species`` int8 (Z of the heaviest
atom of the column), ``true_class`` int8 (names in ``attrs["true_class_names"]``,
comma-separated, the code is the index), ``true_sublattice`` int8 (graphene sublattice 0/1, -1
otherwise). A row is written for each object whose centre lies in ``[-0.5, n - 0.5)`` px on
both axes. ``attrs["spacing_nm"]`` is the expected nearest-neighbour distance of the objects
that carry truth rows; ``attrs["contrast"]`` is ``"bright"`` (objects brighter than the
background) or ``"dark"`` (ABF).

Command line::

    PYTHONPATH=workflow/scripts python -m rvae_pathways.sim.physics --out tests/data/corpus \
        [--case graphene_s0 ...]

Cases: ``graphene_s0``, ``graphene_s1``, ``graphene_s2`` (each writes ``graphene_s{seed}_d3`` and
``graphene_s{seed}_d10``), ``srtio3_110`` (writes ``srtio3_110_haadf`` and ``srtio3_110_abf``),
``au_nanoparticle``, ``mos2_vacancies``. See ``tests/data/corpus/README.md``.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from ..core.frames import make_frames, write_frames

log = logging.getLogger("rvae_pathways.sim.physics")

__all__ = [
    "CASES",
    "Optics",
    "electron_wavelength_A",
    "fourier_evaluate",
    "graphene_movie",
    "srtio3_110",
    "au_nanoparticle",
    "mos2_vacancies",
    "main",
]

#: Classes of the graphene movies (the code is the index).
GRAPHENE_CLASSES = ("pristine C", "Si", "C in 5-7 defect", "edge C")
GRAPHENE_EVENTS = ("dopant hop", "atom removed", "Stone-Wales")
GRAPHENE_BOND_A = 1.42
#: Two graphene atoms closer than this multiple of the bond count as bonded.
BOND_CUTOFF = 1.2
SRTIO3_A = 3.905
SRTIO3_CLASSES = ("SrO", "Ti", "O")
AU_A = 4.078
MOS2_A = 3.16
#: Vertical S-S distance in one MoS2 layer (A).
MOS2_SS_A = 3.17
MOS2_CLASSES = ("Mo", "S2", "S1")

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


# --------------------------------------------------------------------------------------------
# optics and the scattering run


def electron_wavelength_A(voltage_kv: float) -> float:
    """Relativistic electron wavelength in Angstrom at ``voltage_kv`` kV."""
    h, m0, e, c = 6.62607015e-34, 9.1093837015e-31, 1.602176634e-19, 299792458.0
    ev = voltage_kv * 1e3 * e
    return h / math.sqrt(2 * m0 * ev * (1 + ev / (2 * m0 * c**2))) * 1e10


@dataclass(frozen=True)
class Optics:
    """Microscope and simulation settings of one case.

    Attributes
    ----------
    voltage_kv : float
        Acceleration voltage.
    convergence_mrad : float
        Probe semi-angle (aberration-free probe, zero defocus).
    detectors : dict of name -> (inner, outer) mrad
        Annular detectors, all recorded in one run.
    sampling_A : float
        Largest allowed potential / wave sampling; the cell's gpts are rounded up from it.
    interpolation : int or None
        PRISM interpolation factor; None runs conventional multislice.
    slice_thickness_A : float
        Multislice slice thickness.
    source_fwhm_A : float
        FWHM of the Gaussian source-size blur (partial spatial coherence).
    """

    voltage_kv: float
    convergence_mrad: float
    detectors: dict
    sampling_A: float
    interpolation: int | None
    slice_thickness_A: float
    source_fwhm_A: float = 0.5

    @property
    def wavelength_A(self) -> float:
        return electron_wavelength_A(self.voltage_kv)

    @property
    def nyquist_step_A(self) -> float:
        """Scan step that samples the band limit ``2 alpha / lambda`` of an incoherent image."""
        return self.wavelength_A / (4 * self.convergence_mrad * 1e-3)

    def attrs(self) -> dict:
        """Store attributes describing the optics (detector angles per detector name)."""
        out = {
            "voltage_kv": float(self.voltage_kv),
            "convergence_mrad": float(self.convergence_mrad),
            "aberrations": "none (aberration-free probe, zero defocus)",
            "source_fwhm_nm": self.source_fwhm_A / 10,
            "source_size_note": "Gaussian blur of the intensity (partial spatial coherence)",
            "method": (
                f"PRISM (abtem.SMatrix, interpolation {self.interpolation})"
                if self.interpolation
                else "multislice (abtem.Probe)"
            ),
            "slice_thickness_nm": self.slice_thickness_A / 10,
            "potential": "independent atoms, Lobato parametrisation, infinite projection",
            "frozen_phonons": "none",
        }
        return out

    def detector_attrs(self, name: str, dose: float) -> dict:
        """Store attributes of one detector's image: its name, angles and mean dose."""
        inner, outer = self.detectors[name]
        return {
            "detector": name.upper(),
            "detector_inner_mrad": float(inner),
            "detector_outer_mrad": float(outer),
            "dose_counts_per_px": float(dose),
        }


def _gpts(length_A: float, sampling_A: float, multiple: int) -> int:
    """Smallest multiple of ``multiple`` with ``length / n <= sampling``, preferring 2-3-5-7 sizes."""
    n = int(math.ceil(length_A / sampling_A / multiple)) * multiple
    while not _smooth(n):
        n += multiple
    return n


def _smooth(n: int) -> bool:
    for p in (2, 3, 5, 7):
        while n % p == 0:
            n //= p
    return n == 1


def _odd_steps(length_A: float, step_A: float) -> int:
    """Smallest odd number of scan positions over ``length`` with a step no larger than ``step``."""
    n = int(math.ceil(length_A / step_A))
    return n if n % 2 else n + 1


def _setup_abtem():
    import abtem
    import dask

    abtem.config.set(
        {"diagnostics.progress_bar": False, "fftw.planning_effort": "FFTW_ESTIMATE", "precision": "float32"}
    )
    dask.config.set(scheduler="threads", num_workers=2)
    return abtem


def scan_image(atoms, optics: Optics, scan_start_A, scan_end_A, scan_gpts, frozen_phonons=None):
    """Run one abTEM simulation and return one image per detector.

    Parameters
    ----------
    atoms : ase.Atoms
        Orthogonal periodic cell (x, y in the plane, the beam along z).
    optics : Optics
    scan_start_A, scan_end_A : (x, y) in A
        Scan rectangle (end excluded).
    scan_gpts : (nx, ny)
        Scan positions (odd numbers).
    frozen_phonons : (num_configs, sigma_A, seed) or None

    Returns
    -------
    dict name -> float64 array (ny, nx)
        Detected intensity (fraction of the incident beam), rows along y.
    """
    abtem = _setup_abtem()
    lx, ly = atoms.cell.lengths()[:2]
    mult = optics.interpolation or 1
    gpts = (_gpts(lx, optics.sampling_A, mult), _gpts(ly, optics.sampling_A, mult))
    sampling = max(lx / gpts[0], ly / gpts[1])
    max_mrad = 1e3 * (2 / 3) * optics.wavelength_A / (2 * sampling)
    for name, (inner, outer) in optics.detectors.items():
        if outer >= max_mrad:
            raise ValueError(f"detector {name} outer angle {outer} mrad >= simulated {max_mrad:.0f} mrad")
    source = atoms
    if frozen_phonons is not None:
        n, sigma, seed = frozen_phonons
        source = abtem.FrozenPhonons(atoms, num_configs=n, sigmas=sigma, seed=seed)
    potential = abtem.Potential(
        source, gpts=gpts, slice_thickness=optics.slice_thickness_A, projection="infinite",
        parametrization="lobato",
    )
    names = list(optics.detectors)
    detectors = [abtem.AnnularDetector(inner=optics.detectors[k][0], outer=optics.detectors[k][1]) for k in names]
    scan = abtem.GridScan(start=tuple(scan_start_A), end=tuple(scan_end_A), gpts=tuple(scan_gpts), endpoint=False)
    energy = optics.voltage_kv * 1e3
    if optics.interpolation:
        smatrix = abtem.SMatrix(
            potential=potential, energy=energy, semiangle_cutoff=optics.convergence_mrad,
            interpolation=optics.interpolation,
        )
        result = smatrix.scan(scan=scan, detectors=detectors)
    else:
        probe = abtem.Probe(energy=energy, semiangle_cutoff=optics.convergence_mrad)
        probe.grid.match(potential)
        result = probe.scan(potential, scan=scan, detectors=detectors)
    if not isinstance(result, list):
        result = [result]
    import dask

    arrays = dask.compute(*[r.array for r in result])  # one pass through the shared graph
    log.info("abTEM: gpts %s, sampling %.4f A (max %.0f mrad), %d slices, scan %s",
             gpts, sampling, max_mrad, potential.num_slices, tuple(scan_gpts))
    return {name: np.asarray(arrays[i], np.float64).T for i, name in enumerate(names)}


# --------------------------------------------------------------------------------------------
# Fourier interpolation, blur, dose


def fourier_evaluate(tile, period_yx, origin_yx, y_A, x_A, blur_fwhm_A=0.0):
    """Evaluate the periodic, band-limited image ``tile`` at sample points, with a Gaussian blur.

    Parameters
    ----------
    tile : (ny, nx) array, ny and nx odd
        Samples of one period; ``tile[i, j]`` is the value at ``origin + (i * Ly / ny, j * Lx / nx)``.
    period_yx : (Ly, Lx) in A
    origin_yx : (y0, x0) in A
    y_A, x_A : arrays in A
        Both 1-D: the result is the grid ``out[r, c]`` at ``(y_A[r], x_A[c])``. Both 2-D of one
        shape: the result has that shape, ``out[i, j]`` at ``(y_A[i, j], x_A[i, j])`` (any points,
        e.g. a rotated field).
    blur_fwhm_A : float
        FWHM of a Gaussian convolution applied to the image (0: none).

    Returns
    -------
    float64 array
    """
    tile = np.asarray(tile, np.float64)
    ny, nx = tile.shape
    if ny % 2 == 0 or nx % 2 == 0:
        raise ValueError("fourier_evaluate needs odd tile sizes (no Nyquist bin)")
    ly, lx = period_yx
    spec = np.fft.fft2(tile) / (ny * nx)
    ky = np.fft.fftfreq(ny, d=ly / ny)
    kx = np.fft.fftfreq(nx, d=lx / nx)
    if blur_fwhm_A > 0:
        sigma = blur_fwhm_A / _FWHM_PER_SIGMA
        spec = spec * np.exp(-2 * np.pi**2 * sigma**2 * (ky[:, None] ** 2 + kx[None, :] ** 2))
    y_A = np.asarray(y_A, np.float64) - origin_yx[0]
    x_A = np.asarray(x_A, np.float64) - origin_yx[1]
    if y_A.ndim == 1 and x_A.ndim == 1:
        ey = np.exp(2j * np.pi * y_A[:, None] * ky[None, :])
        ex = np.exp(2j * np.pi * x_A[:, None] * kx[None, :])
        return (ey @ spec @ ex.T).real
    shape = y_A.shape
    ey = np.exp(2j * np.pi * y_A.reshape(-1, 1) * ky[None, :])
    ex = np.exp(2j * np.pi * x_A.reshape(-1, 1) * kx[None, :])
    return np.einsum("pa,ab,pb->p", ey, spec, ex, optimize=True).real.reshape(shape)


def _streams(seed: int):
    """The structure generator and a function dose -> shot-noise generator (see the module doc)."""
    structure = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))

    def noise(dose):
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, int(round(1000 * dose)))))

    return structure, noise


def poisson_counts(clean: np.ndarray, dose: float, rng) -> np.ndarray:
    """Scale ``clean`` so its mean is ``dose``, clip at 0 and draw Poisson counts (float32)."""
    clean = np.clip(clean, 0, None)
    scale = dose / clean.mean()
    return rng.poisson(clean * scale).astype(np.float32)


def _truth_rows(rows):
    """Concatenate per-frame truth tuples (frame, id, y, x, species, class, sublattice)."""
    if not rows:
        raise ValueError("no truth rows")
    cols = [np.concatenate([np.asarray(r[k]) for r in rows]) for k in range(7)]
    order = np.argsort(cols[0], kind="stable")
    dtypes = (np.int32, np.int32, np.float32, np.float32, np.int8, np.int8, np.int8)
    return [c[order].astype(d) for c, d in zip(cols, dtypes)]


def _frames_dataset(images, pixel_A, rows, class_names, attrs, source):
    """A frames Dataset with the truth variables and attrs."""
    ds = make_frames(images, pixel_A / 10, source=source, modality="stem", intensity_units="counts")
    names = ("true_frame", "true_id", "true_y", "true_x", "true_species", "true_class", "true_sublattice")
    for name, col in zip(names, _truth_rows(rows)):
        ds[name] = ("true_atom", col)
    ds["true_y"].attrs["units"] = "px"
    ds["true_x"].attrs["units"] = "px"
    ds.attrs.update(attrs)
    ds.attrs["true_class_names"] = ",".join(class_names)
    ds.attrs["true_position_units"] = "px"
    ds.attrs["true_position_convention"] = "pixel centres at integer indices, as image[frame, y, x]"
    return ds


def _abtem_version() -> str:
    import abtem

    return str(abtem.__version__)


def _inside(y, x, shape):
    return (y >= -0.5) & (y < shape[0] - 0.5) & (x >= -0.5) & (x < shape[1] - 0.5)


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


def _pick_far(rng, candidates_xy, avoid_xy, min_dist, tries=2000):
    """Index of a random candidate at least ``min_dist`` from every point of ``avoid_xy``."""
    for _ in range(tries):
        k = int(rng.integers(len(candidates_xy)))
        if not avoid_xy or np.min(np.linalg.norm(np.asarray(avoid_xy) - candidates_xy[k], axis=1)) >= min_dist:
            return k
    raise RuntimeError("could not place a defect; enlarge the field")


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
    rng, _ = _streams(seed)
    angle = float(rng.uniform(0, math.pi / 3))
    offset = rng.uniform(0, GRAPHENE_BOND_A, 2)
    xy, sub, _ = _honeycomb_cell(cell_A, angle, offset)
    sheet = _Sheet(xy, sub)
    lo, hi = field_origin_A + 5.0, field_origin_A + field_A - 5.0
    interior = np.flatnonzero(np.all((xy > lo) & (xy < hi), axis=1))

    # Si substitutions
    placed = []
    for _ in range(n_si):
        k = interior[_pick_far(rng, xy[interior], placed, 5.0)]
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
                k = cands[_pick_far(rng, sheet.xy[cands], avoid, 6.5)]
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
    n_scan = _odd_steps(cell_A, optics.nyquist_step_A)
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
        keep = _inside(ty, tx, (field_px, field_px))
        rows.append((np.full(keep.sum(), t), ids[keep], ty[keep], tx[keep], z[keep], cls[keep], sub[keep]))
        log.info("graphene seed %d frame %d/%d done (%.0f s)", seed, t + 1, n_frames, time.time() - t0)

    ev = np.array(st["events"], float).reshape(-1, 5)
    ev_y = (ev[:, 4] - origin) / pixel_A + st["drift_px"][ev[:, 0].astype(int), 0]
    ev_x = (ev[:, 3] - origin) / pixel_A + st["drift_px"][ev[:, 0].astype(int), 1]
    out = {}
    _, noise = _streams(seed)
    for dose in doses:
        counts = poisson_counts(clean, dose, noise(dose))
        attrs = {
            "case": f"graphene_s{seed}_d{dose:g}",
            "description": "Si-doped graphene under a 60 kV beam: Si hops, Stone-Wales defects, a growing hole",
            **optics.attrs(),
            **optics.detector_attrs("haadf", dose),
            "seed": int(seed),
            "abtem_version": _abtem_version(),
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
        ds = _frames_dataset(counts, pixel_A, rows, GRAPHENE_CLASSES, attrs, source="simulate_physics")
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


def _columns(atoms, tol_A=0.3):
    """Group atoms whose projected (x, y) lie within ``tol_A``; returns (xy mean, heaviest Z, Zs)."""
    xy = atoms.positions[:, :2]
    tree = cKDTree(xy)
    pairs = tree.query_pairs(tol_A, output_type="ndarray")
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(xy)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else coo_matrix((n, n))
    _, label = connected_components(graph, directed=False)
    out = []
    for lab in np.unique(label):
        m = label == lab
        out.append((xy[m].mean(axis=0), int(atoms.numbers[m].max()), sorted(set(atoms.numbers[m].tolist()))))
    return out


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
    rng, noise = _streams(seed)
    reps = (4, 3)
    atoms = _srtio3_110_cell(reps[0], reps[1], thickness_repeats)
    a, b = SRTIO3_A, SRTIO3_A * math.sqrt(2)
    start = (a * (reps[0] // 2), b * (reps[1] // 2))
    n_x, n_y = _odd_steps(a, optics.nyquist_step_A), _odd_steps(b, optics.nyquist_step_A)
    images = scan_image(atoms, optics, start, (start[0] + a, start[1] + b), (n_x, n_y))

    unit = _columns(_srtio3_110_cell(1, 1, 1))
    theta = float(rng.uniform(-15, 15))
    offset = rng.uniform(0, 1, 2) * (b, a)  # (y, x) A
    c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))
    r, q = np.meshgrid(np.arange(field_px) * pixel_A, np.arange(field_px) * pixel_A, indexing="ij")
    # field (row r, col q) -> sample (y, x) = offset + R(theta) (q, r)
    sx = offset[1] + c * q - s * r
    sy = offset[0] + s * q + c * r
    clean = {k: fourier_evaluate(v, (b, a), (start[1], start[0]), sy, sx, optics.source_fwhm_A) for k, v in images.items()}

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
    keep = _inside(py, px_, (field_px, field_px))
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
        "abtem_version": _abtem_version(),
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
        out[kind] = _frames_dataset(counts, pixel_A, col_rows[kind], SRTIO3_CLASSES, attrs, "simulate_physics")
    out["clean"] = clean
    return out


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
    angle ~158 mrad), 2.5 A slices; amorphous carbon 2.0 nm thick at 2.0 g/cm3 (min C-C distance 1.3 A) covering the cell, the particle
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

    rng, noise = _streams(seed)
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
    n_scan = _odd_steps(cell_A, optics.nyquist_step_A)
    tile = scan_image(atoms, optics, (0, 0), (cell_A, cell_A), (n_scan, n_scan))["haadf"]

    cols = _columns(particle)
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
        keep = _inside(ty, tx, (field_px, field_px))
        n = int(keep.sum())
        rows.append((np.full(n, t), np.flatnonzero(keep), ty[keep], tx[keep], np.full(n, 79), np.zeros(n), np.full(n, -1)))
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
        "abtem_version": _abtem_version(),
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
    ds = _frames_dataset(counts, pixel_A, rows, ("Au column",), attrs, "simulate_physics")
    ds["true_particle"] = (("frame", "y", "x"), mask)
    ds["true_drift_y"] = ("frame", drift[:, 0].astype(np.float32))
    ds["true_drift_x"] = ("frame", drift[:, 1].astype(np.float32))
    return {"ds": ds, "clean": clean}


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

    rng, noise = _streams(seed)
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
    mo_vac = interior_mo[_pick_far(rng, mo[interior_mo], picked, 5.0)]
    picked.append(mo[mo_vac])
    s_vac = []
    for _ in range(n_s_vacancies):
        k = interior_s[_pick_far(rng, s[interior_s], picked, 5.0)]
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
    n_x, n_y = _odd_steps(lx, optics.nyquist_step_A), _odd_steps(ly, optics.nyquist_step_A)
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
        keep = _inside(ty, tx, (field_px, field_px))
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
        "abtem_version": _abtem_version(),
        "contrast": "bright",
        "spacing_nm": float(np.min(d[:, 1]) / 10),
        "lattice_constant_nm": MOS2_A / 10,
        "n_s_vacancies": int(n_s_vacancies),
        "true_mo_vacancy_y_px": float(mo[mo_vac][1] / pixel_A),
        "true_mo_vacancy_x_px": float(mo[mo_vac][0] / pixel_A),
        "true_mo_vacancy_note": "frame 0; add true_drift_y/x for later frames",
        "cell_nm": f"{lx / 10:.4f} x {ly / 10:.4f}",
    }
    ds = _frames_dataset(counts, pixel_A, rows, MOS2_CLASSES, attrs, "simulate_physics")
    ds["true_drift_y"] = ("frame", drift[:, 0].astype(np.float32))
    ds["true_drift_x"] = ("frame", drift[:, 1].astype(np.float32))
    return {"ds": ds, "clean": clean}


# --------------------------------------------------------------------------------------------
# command line

CASES = ("graphene_s0", "graphene_s1", "graphene_s2", "srtio3_110", "au_nanoparticle", "mos2_vacancies")


def _write(ds, path: Path):
    import shutil

    if path.exists():
        shutil.rmtree(path)
    write_frames(ds, path)
    log.info("wrote %s", path)


def run_case(name: str, out: Path) -> dict:
    """Generate one case and write its store(s) under ``out``; returns name -> seconds."""
    t0 = time.time()
    written = []
    if name.startswith("graphene_s"):
        seed = int(name[len("graphene_s"):])
        res = graphene_movie(seed)
        for dose in (3.0, 10.0):
            p = out / f"graphene_s{seed}_d{dose:g}.zarr"
            _write(res[dose], p)
            written.append(p)
    elif name == "srtio3_110":
        res = srtio3_110()
        for kind in ("haadf", "abf"):
            p = out / f"srtio3_110_{kind}.zarr"
            _write(res[kind], p)
            written.append(p)
    elif name == "au_nanoparticle":
        p = out / "au_nanoparticle.zarr"
        _write(au_nanoparticle()["ds"], p)
        written.append(p)
    elif name == "mos2_vacancies":
        p = out / "mos2_vacancies.zarr"
        _write(mos2_vacancies()["ds"], p)
        written.append(p)
    else:
        raise SystemExit(f"unknown case {name!r}; choose from {', '.join(CASES)}")
    seconds = time.time() - t0
    log.info("case %s: %.1f s (%s)", name, seconds, ", ".join(p.name for p in written))
    return {name: seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data/corpus"))
    parser.add_argument("--case", action="append", choices=CASES, help="repeat for several; default all")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    times = {}
    for name in args.case or CASES:
        times.update(run_case(name, args.out))
    for k, v in times.items():
        print(f"{k}: {v:.1f} s")
    return times


if __name__ == "__main__":
    main()
