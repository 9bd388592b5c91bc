"""Per rule and dataset: jobs, wall and CPU seconds, peak memory against ``mem_mb``, and output
size on disk, from a finished workflow run (docs/benchmarks.md, "Rehearsal").

Usage: python benchmarks/summarize_rehearsal.py WORKDIR --config config/rehearsal.yaml
       [--markdown OUT.md] [--json OUT.json]

WORKDIR holds ``results/`` (Snakemake's ``--directory``). Times and peak memory come from the
jobs' ``benchmark:`` TSVs (columns ``s``, ``cpu_time``, ``max_rss``; Snakemake samples them
with psutil, so a job's last seconds can be missed: CPU is a lower bound, and ``max_rss``
adds up the RSS of a job's processes, counting memory shared with a DataLoader worker
twice). A job's output size is what its rule writes (for training also ``checkpoint.pt``,
which stays beside the outputs). ``mem_mb`` is the rule's resource in the config.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

#: benchmark folder -> (rule, resources key of the config)
RULES = {
    "prepare_data": ("prepare_data", "prepare"),
    "extract_features": ("extract_features", "extract"),
    "train": ("train_model", "train"),
    "evaluate": ("evaluate_run", "evaluate"),
    "aggregate": ("aggregation", "aggregate"),
}
TRAIN_FILES = ("model.pt", "history.csv", "embeddings.h5", "config.json", "checkpoint.pt")


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def job_rows(work: Path, cfg: dict) -> list[dict]:
    results = work / "results"
    bench = results / "benchmarks"
    experiments = cfg["experiments"]
    rows = []
    for tsv in sorted(bench.rglob("*.tsv")):
        parts = tsv.relative_to(bench).parts
        folder = parts[0]
        if folder not in RULES:
            continue
        with open(tsv, newline="") as f:
            line = list(csv.DictReader(f, delimiter="\t"))[-1]
        stem = tsv.stem
        if folder == "prepare_data":
            group, out = stem, results / "data" / f"{stem}.h5"
            outputs = [out]
        elif folder == "extract_features":
            group = f"{parts[1]} ({stem})"
            outputs = [results / "features" / parts[1] / f"{stem}.h5"]
        elif folder in ("train", "evaluate"):
            experiment = parts[1]
            group = f"{experiments[experiment]['dataset']} ({experiment})"
            run = results / "runs" / Path(*parts[1:-1]) / stem
            names = TRAIN_FILES if folder == "train" else ("metrics.json",)
            outputs = [run / n for n in names]
        else:
            group = stem
            outputs = []
        rows.append(
            {
                "rule": RULES[folder][0],
                "resources": RULES[folder][1],
                "group": group,
                "s": float(line["s"]),
                "cpu_time": float(line["cpu_time"]),
                "max_rss": float(line["max_rss"] or 0),
                "bytes": sum(size(p) for p in outputs),
            }
        )
    if any(r["resources"] == "aggregate" for r in rows):
        agg = [results / "tables", results / "figures"]
        total = sum(size(p) for p in agg)
        for r in rows:
            if r["resources"] == "aggregate":
                r["bytes"] = total / sum(1 for x in rows if x["resources"] == "aggregate")
    return rows


def summarize(rows: list[dict], cfg: dict) -> list[dict]:
    from dmlstudy import config as C

    resolved = C.validate(cfg)["resources"]
    by = defaultdict(list)
    for r in rows:
        by[(r["rule"], r["group"], r["resources"])].append(r)
    out = []
    for (rule, group, res), js in by.items():
        out.append(
            {
                "rule": rule,
                "dataset": group,
                "jobs": len(js),
                "wall_s": sum(j["s"] for j in js),
                "cpu_s": sum(j["cpu_time"] for j in js),
                "cpu_s_per_job": sum(j["cpu_time"] for j in js) / len(js),
                "peak_rss_mb": max(j["max_rss"] for j in js),
                "mem_mb": resolved[res]["mem_mb"],
                "output_mb": sum(j["bytes"] for j in js) / 1e6,
            }
        )
    order = [v[0] for v in RULES.values()]
    out.sort(key=lambda r: (order.index(r["rule"]), r["dataset"]))
    return out


def markdown(table: list[dict]) -> str:
    head = (
        "| rule | dataset (experiment) | jobs | wall s | CPU s (per job) | peak RSS MB "
        "| mem_mb | output MB |\n|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in table:
        flag = " **over**" if r["peak_rss_mb"] > r["mem_mb"] else ""
        lines.append(
            f"| {r['rule']} | {r['dataset']} | {r['jobs']} | {r['wall_s']:,.0f} "
            f"| {r['cpu_s']:,.0f} ({r['cpu_s_per_job']:,.1f}) | {r['peak_rss_mb']:,.0f}{flag} "
            f"| {r['mem_mb']:,} | {r['output_mb']:,.1f} |"
        )
    total = {k: sum(r[k] for r in table) for k in ("jobs", "wall_s", "cpu_s", "output_mb")}
    lines.append(
        f"| **total** | | {total['jobs']} | {total['wall_s']:,.0f} | {total['cpu_s']:,.0f} | "
        f"| | {total['output_mb']:,.1f} |"
    )
    return head + "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workdir", type=Path)
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--markdown", type=Path)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    cfg = yaml.safe_load(args.config.read_text())
    table = summarize(job_rows(args.workdir, cfg), cfg)
    text = markdown(table)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
