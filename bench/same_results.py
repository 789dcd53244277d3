"""Whether two runs of the workflow wrote the same results: every table and latent bit for bit, every score.

Compares two ``results/`` folders (for example the demo before and after a refactor, on the CPU
with the same seed): each Zarr store's variables and attributes, each JSON and TSV file (a
training history without its timing columns), and the models' weights. Figures, logs,
benchmarks and checkpoints are listed, not compared (PNG bytes and timings change between
runs). Prints one line per difference and a summary; exits 1 when anything differs.

Usage::

    PYTHONPATH=workflow/scripts python bench/same_results.py RESULTS_A RESULTS_B
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

SKIPPED = {".png", ".pdf", ".svg", ".html", ".log", ".txt"}
TIMINGS = {"seconds", "patches_per_s"}  # columns of a training history that clocks fill


def stores(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.zarr") if (p / "zarr.json").exists() or (p / ".zgroup").exists())


def files(root: Path) -> list[Path]:
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.endswith(".zarr") for part in rel.parts[:-1]) and "logs" not in rel.parts \
                and "benchmarks" not in rel.parts and not p.name.startswith("checkpoint-"):
            out.append(rel)
    return sorted(out)


def same_dataset(a: Path, b: Path) -> list[str]:
    da, db = xr.open_zarr(a), xr.open_zarr(b)
    problems = []
    if set(da.variables) != set(db.variables):
        problems.append(f"variables differ: {sorted(set(da.variables) ^ set(db.variables))}")
    for name in sorted(set(da.variables) & set(db.variables)):
        va, vb = da[name].values, db[name].values
        if va.shape != vb.shape or va.dtype != vb.dtype:
            problems.append(f"{name}: {va.shape} {va.dtype} vs {vb.shape} {vb.dtype}")
        elif va.dtype.kind in "fc" and not np.array_equal(va, vb, equal_nan=True):
            problems.append(f"{name}: max |difference| {np.nanmax(np.abs(va - vb)):.3g}")
        elif va.dtype.kind not in "fc" and not np.array_equal(va, vb):
            problems.append(f"{name}: values differ")
    if json.dumps(da.attrs, sort_keys=True, default=str) != json.dumps(db.attrs, sort_keys=True, default=str):
        problems.append("attributes differ")
    return problems


def same_file(a: Path, b: Path) -> list[str]:
    if a.suffix == ".pt":
        sa = torch.load(a, map_location="cpu", weights_only=True)
        sb = torch.load(b, map_location="cpu", weights_only=True)
        wa, wb = sa.get("state_dict", {}), sb.get("state_dict", {})
        if wa.keys() != wb.keys() or any(not torch.equal(wa[k], wb[k]) for k in wa):
            return ["weights differ"]
        return [] if sa.get("hyper") == sb.get("hyper") else ["hyper differs"]
    if a.suffix == ".tsv":
        ta, tb = (pd.read_csv(p, sep="\t") for p in (a, b))
        ta, tb = (t.drop(columns=[c for c in t.columns if c in TIMINGS]) for t in (ta, tb))
        return [] if ta.equals(tb) else ["table differs"]
    if a.suffix == ".json":
        return [] if json.loads(a.read_text()) == json.loads(b.read_text()) else ["content differs"]
    return [] if a.read_bytes() == b.read_bytes() else ["bytes differ"]


def main() -> None:
    warnings.filterwarnings("ignore", message="Consolidated metadata")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args()
    pairs = [(rel, same_dataset) for rel in sorted(set(stores(args.a)) | set(stores(args.b)))]
    pairs += [(rel, same_file) for rel in sorted(set(files(args.a)) | set(files(args.b))) if rel.suffix not in SKIPPED]
    listed = sum(rel.suffix in SKIPPED for rel in set(files(args.a)) | set(files(args.b)))
    differences, compared = 0, 0
    for rel, same in pairs:
        if not (args.a / rel).exists() or not (args.b / rel).exists():
            print(f"{rel}: only in {'b' if (args.b / rel).exists() else 'a'}")
            differences += 1
            continue
        compared += 1
        for problem in same(args.a / rel, args.b / rel):
            print(f"{rel}: {problem}")
            differences += 1
    print(f"{compared} stores and files compared, {listed} figures and texts listed only; {differences} differences")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
