"""The runtime table: one row per job from Snakemake's ``benchmark:`` TSVs, then one total
row per rule."""

from __future__ import annotations

import pandas as pd


def runtime_table(jobs: dict) -> pd.DataFrame:
    """One row per job (wall time ``s``, memory ``max_rss`` in MB, I/O, CPU time), then a
    total row per rule (time summed, memory the maximum). ``jobs`` maps each TSV path to
    ``{"rule": ..., "job": ...}``."""
    frames = []
    for path, meta in jobs.items():
        b = pd.read_csv(path, sep="\t")
        b.insert(0, "rule", meta.get("rule", ""))
        b.insert(1, "job", meta.get("job", ""))
        b["benchmark_file"] = str(path)
        frames.append(b)
    if not frames:
        return pd.DataFrame(columns=["rule", "job", "s", "max_rss", "cpu_time", "benchmark_file"])
    df = pd.concat(frames, ignore_index=True)
    totals = []
    for rule, g in df.groupby("rule", sort=False):
        row = {"rule": rule, "job": f"TOTAL ({len(g)} jobs)"}
        for col in ("s", "cpu_time", "io_in", "io_out"):
            if col in g:
                row[col] = round(float(pd.to_numeric(g[col], errors="coerce").sum()), 2)
        for col in ("max_rss", "max_vms", "max_uss", "max_pss"):
            if col in g:
                row[col] = pd.to_numeric(g[col], errors="coerce").max()
        if "s" in row:
            secs = int(round(row["s"]))
            row["h:m:s"] = f"{secs // 3600}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
        totals.append(row)
    return pd.concat([df, pd.DataFrame(totals)], ignore_index=True)
