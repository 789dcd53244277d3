"""A validation corpus made by electron-scattering physics (abTEM), independent of our own simulator.

:mod:`rvae_pathways.sim.stem` draws Gaussian spots; the stores made here come instead from
abTEM (PRISM or conventional multislice through an independent-atom potential, Lobato
parametrisation, infinite projection per slice, float32), so that the atom finder and the rVAE
can be checked on images whose contrast, probe tails, channelling and cross-talk between columns
are physical. This module does not import :mod:`rvae_pathways.sim.stem`.

The corpus is made by one module per case, all built on the same imaging chain and truth:

- :mod:`rvae_pathways.sim.physics_imaging`: optics, the abTEM scattering run, Fourier
  interpolation, source-size blur and dose (the imaging chain of every case);
- :mod:`rvae_pathways.sim.physics_truth`: the seeded random streams and the truth rows of a store;
- :mod:`rvae_pathways.sim.physics_graphene`, :mod:`~rvae_pathways.sim.physics_srtio3`,
  :mod:`~rvae_pathways.sim.physics_au`, :mod:`~rvae_pathways.sim.physics_mos2`: the cases.

This module runs the cases and writes their stores.

``abtem`` and ``ase`` are an optional extra (``pip install .[physics]``: abtem 1.0.11, ase 3.29.0)
and are imported only inside the functions that need them; numpy, scipy and xarray suffice to
import this module.

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
import time
from pathlib import Path

from ..core.frames import write_frames
from .physics_au import au_nanoparticle
from .physics_graphene import graphene_movie
from .physics_mos2 import mos2_vacancies
from .physics_srtio3 import srtio3_110

log = logging.getLogger("rvae_pathways.sim.physics")

__all__ = ["CASES", "main", "run_case"]


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
