"""Median and total CPU time per rule from a workflow run's ``benchmark:`` TSVs.

Usage: python benchmarks/summarize_job_cpu.py RESULTS_DIR [--tsv OUT.tsv]

RESULTS_DIR is the workflow's results folder (the one holding ``benchmarks/``) or its
``benchmarks/`` folder itself. Each job's TSV (Snakemake's ``benchmark:``: s, cpu_time,
max_rss, ...) lands in a group named after its first folder under ``benchmarks/``
(``evaluate/<experiment>/<loss>/seed0.tsv`` -> ``evaluate``); files directly in a
folder of single-job rules (``aggregate/make_tables.tsv``) are named ``aggregate/<stem>``.
A job run several times (``repeat``) contributes each line. Prints one row per rule and
a total; ``--tsv`` also writes the table.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def rule_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).parts
    if len(parts) == 2 and parts[0] == "aggregate":
        return f"aggregate/{Path(parts[1]).stem}"
    return parts[0] if len(parts) > 1 else Path(parts[0]).stem


def read_jobs(root: Path) -> dict[str, list[dict]]:
    jobs: dict[str, list[dict]] = defaultdict(list)
    for tsv in sorted(root.rglob("*.tsv")):
        with open(tsv, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                try:
                    jobs[rule_of(tsv, root)].append(
                        {
                            "s": float(row["s"]),
                            "cpu_time": float(row["cpu_time"]),
                            "max_rss": float(row["max_rss"]) if row.get("max_rss") else 0.0,
                        }
                    )
                except (KeyError, ValueError):
                    print(f"skipped (not a benchmark TSV line): {tsv}", file=sys.stderr)
    return jobs


def summarize(jobs: dict[str, list[dict]]) -> list[dict]:
    rows = []
    for rule in sorted(jobs):
        js = jobs[rule]
        cpu = [j["cpu_time"] for j in js]
        wall = [j["s"] for j in js]
        rows.append(
            {
                "rule": rule,
                "jobs": len(js),
                "median_cpu_s": statistics.median(cpu),
                "total_cpu_s": sum(cpu),
                "median_s": statistics.median(wall),
                "total_s": sum(wall),
                "max_rss_mb": max(j["max_rss"] for j in js),
            }
        )
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("results_dir", type=Path)
    p.add_argument("--tsv", type=Path, help="also write the table here")
    args = p.parse_args(argv)
    root = args.results_dir
    if (root / "benchmarks").is_dir():
        root = root / "benchmarks"
    if not root.is_dir():
        print(f"no such folder: {root}", file=sys.stderr)
        return 1
    rows = summarize(read_jobs(root))
    if not rows:
        print(f"no benchmark TSVs under {root}", file=sys.stderr)
        return 1
    cols = list(rows[0])
    print(f"{root}")
    print(
        f"{'rule':<28} {'jobs':>4} {'median CPU s':>12} {'total CPU s':>11} "
        f"{'median s':>9} {'total s':>8} {'max RSS MB':>10}"
    )
    for r in rows:
        print(
            f"{r['rule']:<28} {r['jobs']:>4} {r['median_cpu_s']:>12.2f} {r['total_cpu_s']:>11.1f} "
            f"{r['median_s']:>9.2f} {r['total_s']:>8.1f} {r['max_rss_mb']:>10.0f}"
        )
    n = sum(r["jobs"] for r in rows)
    cpu = sum(r["total_cpu_s"] for r in rows)
    wall = sum(r["total_s"] for r in rows)
    print(f"{'all jobs':<28} {n:>4} {'':>12} {cpu:>11.1f} {'':>9} {wall:>8.1f}")
    if args.tsv:
        with open(args.tsv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, delimiter="\t")
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
