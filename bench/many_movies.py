"""How long Snakemake takes to plan a group of many movies (issue #18, point 5): the DAG of 100 and
1,000 samples (target: under 30 s for 1,000), and its job counts.

For each size N, a samples table of N simulated STEM movies in one group (``many``) is written to
a temporary folder (``--stub npy``: N ``.npy`` files instead, one tiny movie each, so no
simulate_stem jobs), with the shipped config (``config/config.yaml``: the rVAE and the VAE) and
``groups.movie_outputs`` both ways:

- ``true``: every movie also gets the outputs of a sample of its own (figures, explorer pages,
  exports, scores against the simulator's truth), about 30 jobs per movie;
- ``false``: only what the group's comparison reads (atoms, patches, latents, tracks, kinetics),
  10 jobs per simulated movie with the two models (9 for files).

Then times, in a fresh process each (Python start and parsing included):

- ``dag_s``: ``snakemake --rulegraph``: parse the workflow, read the samples table and build the
  whole DAG (every job, its inputs, outputs and parameters), printing only the rules;
- ``dry_run_s``: ``snakemake --dry-run``: the same, and every job listed as a run would start it.

and prints the job counts: the total, the group's training jobs (one per model), the encode jobs
(one per movie and model) and per-sample training jobs (none for a grouped movie). Prints numbers
(a table, and JSON with ``--json``), never pass/fail.

Usage: ``python bench/many_movies.py [--sizes 100 1000] [--stub simulate|npy] [--workdir DIR] [--json]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COUNTED = ("train_group_model", "encode_patches", "train_model")


def write_table(folder: Path, n: int, stub: str) -> Path:
    """A samples table of ``n`` STEM movies in group ``many``: simulated, or one tiny .npy each."""
    lines = ["sample\tpath\tmodality\tpixel_size_nm\tspacing_nm\tgroup"]
    for i in range(n):
        path = "simulate"
        if stub == "npy":
            path = f"movies/m{i:04d}.npy"
            np.save(folder / path, np.zeros((2, 32, 32), np.float32))
        lines.append(f"m{i:04d}\t{path}\tstem\t{'' if stub == 'simulate' else 0.01}\t0.142\tmany")
    table = folder / "samples.tsv"
    table.write_text("\n".join(lines) + "\n")
    return table


def snakemake(folder: Path, config: Path, *args: str) -> tuple[float, str]:
    """Wall time and output of one Snakemake call in ``folder``."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--configfile",
               str(config), "--cores", "2", *args]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return seconds, result.stdout


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Rule -> jobs of a dry run's "Job stats" table."""
    table = dry_run_output.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    return {name: int(count) for name, count in (line.split() for line in table if line.strip())}


def measure(workdir: Path, n: int, stub: str, movie_outputs: bool) -> dict:
    folder = workdir / f"{stub}_{n}_{'all' if movie_outputs else 'analysis'}"
    (folder / "movies").mkdir(parents=True, exist_ok=True)
    table = write_table(folder, n, stub)
    shipped = (ROOT / "config" / "config.yaml").read_text()
    config = folder / "config.yaml"
    config.write_text(shipped.replace("samples: config/samples.tsv", f"samples: {table}")
                      + f"\ngroups:\n  movie_outputs: {str(movie_outputs).lower()}\n")
    dag_s, _ = snakemake(folder, config, "--rulegraph")
    dry_run_s, output = snakemake(folder, config, "--dry-run")
    counts = job_counts(output)
    return {"samples": n, "stub": stub, "movie_outputs": movie_outputs, "dag_s": round(dag_s, 1),
            "dry_run_s": round(dry_run_s, 1), "jobs": counts["total"],
            **{rule: counts.get(rule, 0) for rule in COUNTED}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--stub", choices=("simulate", "npy"), default="simulate")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="many-movies-") as tmp:
        workdir = args.workdir or Path(tmp)
        rows = []
        header = f"{'samples':>8} {'movie_outputs':>13} {'dag_s':>6} {'dry_run_s':>9} {'jobs':>7} " + " ".join(
            f"{rule:>17}" for rule in COUNTED)
        print(header, flush=True)
        for n in args.sizes:
            for movie_outputs in (True, False):
                row = measure(workdir, n, args.stub, movie_outputs)
                rows.append(row)
                print(f"{n:>8} {str(movie_outputs).lower():>13} {row['dag_s']:>6} {row['dry_run_s']:>9} "
                      f"{row['jobs']:>7} " + " ".join(f"{row[rule]:>17}" for rule in COUNTED), flush=True)
        if args.json:
            print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
