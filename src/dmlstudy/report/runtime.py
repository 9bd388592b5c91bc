"""The runtime tables: one row per job from Snakemake's ``benchmark:`` TSVs
(``runtime.csv``), and one total row per rule (``runtime_totals.csv``), kept apart so that a
column of either sums to what it says."""

from __future__ import annotations

import pandas as pd


def runtime_table(jobs: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(jobs, totals)``: one row per job (wall time ``s``, memory ``max_rss`` in MB, I/O,
    CPU time), and one row per rule (time summed, memory the maximum, ``n_jobs``). ``jobs``
    maps each TSV path to ``{"rule": ..., "job": ...}``."""
    frames = []
    for path, meta in jobs.items():
        b = pd.read_csv(path, sep="\t")
        b.insert(0, "rule", meta.get("rule", ""))
        b.insert(1, "job", meta.get("job", ""))
        b["benchmark_file"] = str(path)
        frames.append(b)
    if not frames:
        empty = pd.DataFrame(columns=["rule", "job", "s", "max_rss", "cpu_time", "benchmark_file"])
        return empty, pd.DataFrame(columns=["rule", "n_jobs", "s", "cpu_time", "max_rss"])
    df = pd.concat(frames, ignore_index=True)
    totals = []
    for rule, g in df.groupby("rule", sort=False):
        row = {"rule": rule, "n_jobs": len(g)}
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
    return df, pd.DataFrame(totals)
