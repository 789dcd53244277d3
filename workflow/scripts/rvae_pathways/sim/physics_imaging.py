"""The abTEM imaging chain of the physics corpus: optics, the scattering run, Fourier interpolation, dose.

``abtem`` is an optional extra (``pip install .[physics]``) and is imported only inside the
functions that run it; numpy suffices to import this module.

Imaging chain (every case of :mod:`rvae_pathways.sim.physics`)
--------------------------------------------------------------
1. Structure: an orthogonal, periodic cell built by the case's module (no seams inside the
   imaged field).
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
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "Optics",
    "abtem_version",
    "electron_wavelength_A",
    "fourier_evaluate",
    "odd_steps",
    "poisson_counts",
    "scan_image",
]

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


def odd_steps(length_A: float, step_A: float) -> int:
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


def abtem_version() -> str:
    import abtem

    return str(abtem.__version__)


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


def poisson_counts(clean: np.ndarray, dose: float, rng) -> np.ndarray:
    """Scale ``clean`` so its mean is ``dose``, clip at 0 and draw Poisson counts (float32)."""
    clean = np.clip(clean, 0, None)
    scale = dose / clean.mean()
    return rng.poisson(clean * scale).astype(np.float32)
