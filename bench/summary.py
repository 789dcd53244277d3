"""Print the wall time of every rule of a finished run, from Snakemake's benchmark files.

Usage: python bench/summary.py [results]     (default: results)
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def read_benchmarks(results: Path) -> list[dict]:
    """One row per (rule, sample): seconds, max RSS (MB), from results/benchmarks/<rule>/<sample>.tsv."""
    rows = []
    for path in sorted(results.glob("benchmarks/*/*.tsv")):
        with path.open() as f:
            record = next(csv.DictReader(f, delimiter="\t"))
        rows.append(
            {
                "rule": path.parent.name,
                "sample": path.stem,
                "seconds": float(record["s"]),
                "max_rss_mb": float(record["max_rss"]) if record.get("max_rss", "NA") != "NA" else float("nan"),
            }
        )
    return rows


def main(argv: list[str]) -> int:
    results = Path(argv[1]) if len(argv) > 1 else Path("results")
    rows = read_benchmarks(results)
    if not rows:
        print(f"no benchmark files under {results}/benchmarks; run the workflow first")
        return 1
    print(f"{'rule':<20} {'sample':<20} {'seconds':>9} {'max RSS MB':>11}")
    for row in sorted(rows, key=lambda r: (r["sample"], -r["seconds"])):
        print(f"{row['rule']:<20} {row['sample']:<20} {row['seconds']:>9.1f} {row['max_rss_mb']:>11.0f}")
    for sample in sorted({r["sample"] for r in rows}):
        total = sum(r["seconds"] for r in rows if r["sample"] == sample)
        print(f"{'total (sum of rules)':<20} {sample:<20} {total:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
