"""How the choice between independent training starts decides the rVAE's scores on the physics movies.

Reads the one-start runs of ``bench/corpus_rvae.py --probe-starts`` (one JSON per case and
seed, as ``bench/gpu_corpus.sh`` writes them: ``rvae_<case>_seed<s>.json``). A run of ``fit``
with ``restarts`` k and seed s trains its start i exactly as the one-start run seeded s + i, so
for every disjoint start set {s, ..., s + k - 1} and every rule this prints what the rule would
have chosen and how that model scores:

- ``total``: the plain ELBO of the last warm-up epoch (``fit``'s rule);
- ``objective``: the warm-up objective as trained (``train.selection_loss``, recorded by the probe:
  content KL weighted, plus the ring spectra's reconstruction weighted ``ring_reconstruction``);
- ``total+ring``: the plain ELBO plus the weighted ring-spectrum loss;
- ``final``: the loss at the end of training (needs every start trained to the end: k times
  the cost);
- ``best``: the start with the best defect AUC (an upper bound no rule can read).

Prints, per dose, rule and k: the number of start sets, the defect AUC's mean, std and minimum,
and how many chosen models meet every target (Si AUC, sublattice, defect AUC, rotation ratio, no
collapsed latent). Numbers only, never pass/fail.

Usage::

    PYTHONPATH=workflow/scripts python bench/start_choice.py FOLDER [--k 1 3 5]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from rvae_pathways.scores.latents import TARGETS  # noqa: E402

NAME = re.compile(r"rvae_(?P<case>graphene_s\d+_d(?P<dose>\d+))_seed(?P<seed>\d+)\.json$")


def read_runs(folder: Path) -> dict:
    """``{(case, seed): record}`` of the one-start runs in ``folder``."""
    runs = {}
    for path in sorted(folder.glob("rvae_*.json")):
        match = NAME.search(path.name)
        if not match:
            continue
        data = json.loads(path.read_text())
        if not data["rows"]:
            continue
        row, scores = data["rows"][0], data["full"][0]["scores"]
        probe = scores.get("warmup_probe")
        if probe is None:
            raise SystemExit(f"{path} has no warm-up probe: run bench/corpus_rvae.py with --probe-starts")
        weight = float(data["hyper"].get("ring_reconstruction", 0.0))
        ring = weight * probe.get("ring_loss", 0.0)
        runs[(match["case"], int(match["seed"]))] = {
            "dose": match["dose"],
            "row": row,
            "total": probe["total"],
            "objective": probe["objective"],
            "total+ring": probe["total"] + ring,
            "final": scores["final_loss"],
            "best": -(row["defect_auc"] or 0.0),
        }
    return runs


def meets_targets(row: dict) -> bool:
    return (
        (row["si_auc"] or 0) >= TARGETS["si_vs_c_auc"]
        and (row["sublattice"] or 0) >= TARGETS["sublattice"]
        and (row["defect_auc"] or 0) >= TARGETS["defect_vs_c_auc"]
        and (row["rotation_ratio"] if row["rotation_ratio"] is not None else 1.0) <= TARGETS["rotation_ratio"]
        and row["collapsed"] == 0
    )


RULES = ("total", "objective", "total+ring", "final", "best")


def chosen_rows(runs: dict, k: int, rule: str, step: int = 1) -> dict:
    """``{dose: [row of the chosen start, per case and run]}``: the run seeded s chooses among the
    starts s .. s + k - 1; runs every ``step`` seeds (``k``: disjoint start sets), complete ones only."""
    by_dose: dict[str, list] = {}
    cases = sorted({case for case, _ in runs})
    for case in cases:
        seeds = sorted(seed for c, seed in runs if c == case)
        for first in range(0, max(seeds) + 1, step):
            members = [runs.get((case, first + i)) for i in range(k)]
            if any(m is None for m in members):
                continue
            pick = min(members, key=lambda m: m[rule])
            by_dose.setdefault(pick["dose"], []).append(pick["row"])
    return by_dose


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5], help="starts per run")
    parser.add_argument("--disjoint", action="store_true",
                        help="runs seeded 0, k, 2k, ... (disjoint start sets); default: every seed")
    args = parser.parse_args()
    runs = read_runs(args.folder)
    seeds = sorted({seed for _, seed in runs})
    print(f"{len(runs)} one-start runs, seeds {seeds[0]}..{seeds[-1]}, {len({c for c, _ in runs})} cases")
    print(f"{'dose':<5} {'rule':<11} {'k':>2} {'runs':>4} {'defect AUC mean±std':>20} {'min':>6} "
          f"{'sublat min':>10} {'Si min':>6} {'collapsed':>9} {'meet all':>9}")
    for dose in sorted({r["dose"] for r in runs.values()}, key=int):
        for k in args.k:
            for rule in RULES if k > 1 else RULES[:1]:
                rows = chosen_rows(runs, k, rule, k if args.disjoint else 1).get(dose, [])
                if not rows:
                    continue
                auc = np.array([r["defect_auc"] or 0.0 for r in rows])
                print(f"d{dose:<4} {rule if k > 1 else '-':<11} {k:>2} {len(rows):>4} "
                      f"{auc.mean():>13.3f}±{auc.std(ddof=1) if len(auc) > 1 else 0:.3f} {auc.min():>6.3f} "
                      f"{min(r['sublattice'] or 0 for r in rows):>10.3f} {min(r['si_auc'] or 0 for r in rows):>6.3f} "
                      f"{sum(r['collapsed'] > 0 for r in rows):>9} {sum(map(meets_targets, rows)):>5}/{len(rows)}")
    print(f"targets: Si AUC >= {TARGETS['si_vs_c_auc']}, sublattice >= {TARGETS['sublattice']}, defect AUC >= "
          f"{TARGETS['defect_vs_c_auc']}, rotation ratio <= {TARGETS['rotation_ratio']}, no collapsed latent")


if __name__ == "__main__":
    main()
