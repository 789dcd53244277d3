"""Print the wall time of every rule of a finished run, from Snakemake's benchmark files.

Three tables: every job (rule, sample) with its seconds and peak memory; the seconds summed per
rule with their share of all rule time; and the run's own wall time from the newest Snakemake
log under ``.snakemake/log`` that ran more than one job (on 2 cores two jobs run at once, so the
wall time is less than the sum).

Usage: python bench/summary.py [results]     (default: results; the log is looked for beside it)
"""

from __future__ import annotations

import csv
import re
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


def last_run(log_folder: Path) -> dict | None:
    """The newest Snakemake log that ran more than one job: its file, command, steps and wall time."""
    for path in sorted(log_folder.glob("*.snakemake.log"), reverse=True):  # names are start times
        text = path.read_text(errors="replace")
        elapsed = re.search(r"^Elapsed time: (\S+)", text, re.M)
        steps = re.findall(r"^(\d+) of (\d+) steps \((\d+)%\) done", text, re.M)
        if elapsed and steps and int(steps[-1][1]) > 1:
            h, m, sec = elapsed.group(1).split(":")
            command = re.search(r"^\s*Command: (.*)$", text, re.M)
            return {
                "log": path,
                "command": command.group(1) if command else "?",
                "steps": f"{steps[-1][0]} of {steps[-1][1]} steps",
                "seconds": 3600 * int(h) + 60 * int(m) + float(sec),
            }
    return None


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

    all_seconds = sum(r["seconds"] for r in rows)
    print(f"\n{'rule':<20} {'jobs':>5} {'seconds':>9} {'share':>7}")
    by_rule = {}
    for row in rows:
        jobs, seconds = by_rule.get(row["rule"], (0, 0.0))
        by_rule[row["rule"]] = (jobs + 1, seconds + row["seconds"])
    for rule, (jobs, seconds) in sorted(by_rule.items(), key=lambda item: -item[1][1]):
        print(f"{rule:<20} {jobs:>5} {seconds:>9.1f} {100 * seconds / all_seconds:>6.1f}%")
    print(f"{'all rules':<20} {len(rows):>5} {all_seconds:>9.1f}")

    run = last_run(results.resolve().parent / ".snakemake" / "log")
    if run:
        print(f"\nwall time of the last run: {run['seconds']:.0f} s ({run['steps']}; {run['command']}; {run['log'].name})")
    else:
        print("\nno Snakemake log of a run with more than one job under .snakemake/log")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
