"""Atom finding on the physics corpus: one table of every case x (F1, RMSE, QC, speed).

Every case of ``tests/data/corpus`` (abTEM simulations, see its README) is found with the
finder settings of ``config/config.yaml`` (contrast decided from the data) and scored against its
truth at a 0.3 A tolerance, atoms at least one spacing inside the frame
(:func:`rvae_pathways.scores.fidelity.score_case`). Where atomap is installed (``pip install atomap``,
optional), its documented path runs beside ours on the same frames: ``get_atom_positions``
(separation from the spacing) then ``refine_position_using_2d_gaussian`` on a Sublattice.
With ``--rvae-json FILE`` (the ``--json`` output of ``bench/corpus_rvae.py``, which trains the
rVAE and the VAE baseline on the graphene movies) the latent scores of each case follow its row:
Si vs C AUC, sublattice, 5-7 defect vs C AUC, rotation ratio, collapsed latents (one line per
model and training seed). Prints numbers, never pass/fail.

Usage: ``python bench/fidelity.py [--cases NAME ...] [--no-atomap] [--rvae-json FILE ...]``
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from rvae_pathways.scores.fidelity import CORPUS, corpus_cases, score_case  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def finder_settings() -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    return dict(config["atoms"])


def atomap_positions(image: np.ndarray, spacing_px: float, contrast: str) -> np.ndarray:
    """Atom positions (y, x) by atomap's documented path: ``get_atom_positions`` on the image
    smoothed at a quarter spacing (separation half a spacing), then a Sublattice refined with
    2-D Gaussians on the unsmoothed image (dark contrast: the image negated first)."""
    import atomap.api as am
    import hyperspy.api as hs
    from scipy import ndimage

    data = -image if contrast == "dark" else image
    data = data - data.min()
    smoothed = hs.signals.Signal2D(ndimage.gaussian_filter(data, 0.25 * spacing_px))
    found = am.get_atom_positions(smoothed, separation=max(2, int(round(0.5 * spacing_px))))
    if len(found) == 0:
        return np.zeros((0, 2))
    sublattice = am.Sublattice(found, image=data)
    sublattice.find_nearest_neighbors()
    sublattice.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
    xy = np.asarray(sublattice.atom_positions, dtype=float).reshape(-1, 2)  # atomap: (x, y) rows
    return xy[:, ::-1]


def rvae_rows(paths) -> dict:
    """The rows of ``bench/corpus_rvae.py --json`` files, by case."""
    by_case: dict[str, list] = {}
    for path in paths or []:
        data = json.loads(Path(path).read_text())
        for row in data["rows"]:
            by_case.setdefault(row["case"], []).append({**row, "seed": data.get("seed"),
                                                        "restarts": data.get("hyper", {}).get("restarts", 1)})
    return by_case


def print_rvae(rows: list) -> None:
    def f(v):
        return "-" if v is None else f"{v:.3f}"

    for r in rows:
        seed = "" if r.get("seed") is None else f" seed {r['seed']}"
        starts = f", {r['restarts']} starts" if r.get("restarts", 1) > 1 else ""
        print(f"  {r['model'] + seed + starts:28s} Si AUC {f(r['si_auc'])}, sublattice {f(r['sublattice'])}, "
              f"5-7 defect AUC {f(r['defect_auc'])}, rotation ratio {f(r['rotation_ratio'])}, "
              f"collapsed latents {r['collapsed']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=None)
    parser.add_argument("--no-atomap", action="store_true")
    parser.add_argument("--atomap-frames", type=int, default=2, help="frames per case for atomap (its fits are slow)")
    parser.add_argument("--rvae-json", nargs="*", default=None, help="bench/corpus_rvae.py --json outputs")
    args = parser.parse_args()
    latent = rvae_rows(args.rvae_json)
    warnings.filterwarnings("ignore")
    finder = finder_settings()
    print(f"finder (config/config.yaml atoms): {finder}")
    has_atomap = False
    if not args.no_atomap:
        try:
            from importlib.metadata import version

            import atomap  # noqa: F401

            has_atomap = True
            print(f"atomap {version('atomap')}: get_atom_positions on the image smoothed at a quarter spacing, "
                  f"then 2-D Gaussian refinement, on the first {args.atomap_frames} frames of each case")
        except ImportError:
            print("atomap not installed (pip install atomap): its rows are left out")
    print(f"{'case':22s} {'contrast':9s} {'frames':>6s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'RMSE px':>7s} "
          f"{'particle':>8s} {'QC':>5s} {'Mpx/s':>6s}")
    for case in args.cases or corpus_cases():
        r = score_case(CORPUS / f"{case}.zarr", finder)
        particle = f"{r['particle_precision']:.3f}" if "particle_precision" in r else "-"
        contrast = r["contrast"] + ("" if r["contrast"] == r["contrast_as_recorded"] else "!")
        print(f"{case:22s} {contrast:9s} {len(r['frames']):6d} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} "
              f"{r['rmse_px']:7.3f} {particle:>8s} {r['qc']['verdict']:>5s} {r['mpx_per_s']:6.2f}", flush=True)
        print_rvae(latent.get(case, []))
        if has_atomap:
            a = score_case(CORPUS / f"{case}.zarr", frames=range(min(args.atomap_frames, len(r["frames"]))),
                           qc=False, locate=atomap_positions)
            print(f"{'  atomap':22s} {'':9s} {len(a['frames']):6d} {a['precision']:6.3f} "
                  f"{a['recall']:6.3f} {a['f1']:6.3f} {a['rmse_px']:7.3f} {'-':>8s} {'-':>5s} {a['mpx_per_s']:6.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
