"""Benchmark: Snakemake overhead of the workflow (target 5, docs/benchmarks.md).

1. ``snakemake -n`` (dry run: parse, validate the config, build the DAG, print every job) on
   a config with 6 synthetic experiments (margins 0.25 ... 4) x 2 losses x 5 seeds = 127 jobs.
   Target: under 5 s.
2. The default workflow (``config/config.yaml`` with fewer seeds and a smaller MNIST run, so
   it takes a few minutes) run for real with ``--cores 2`` and with ``--cores 1``, each in a
   fresh temporary directory. Target: ``--cores 2`` at least 1.7x faster. Each job starts a
   Python process that imports torch (measured here too), which bounds the speed-up.
3. Per-rule times from the workflow's own ``benchmark:`` files (``results/benchmarks/**.tsv``
   in each run directory), summarised per rule and copied under ``--out``.

Everything runs from temporary directories via ``snakemake --directory``; the repository's
own ``results/`` is not touched (except ``--out``). Wall-clock and CPU seconds (user + sys
of the child processes) are both reported: on a shared machine the CPU seconds show what
the run itself costs, the wall clock what one waits.

Usage::

    python benchmarks/bench_workflow.py            # about 4-6 min on 2 idle cores
    python benchmarks/bench_workflow.py --quick    # about 2 min
    python benchmarks/bench_workflow.py --skip-run # dry run only (seconds)
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import _common
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
MARGINS = [0.25, 0.5, 1.0, 1.5, 2.0, 4.0]


def machine_info() -> dict:
    snakemake_version = subprocess.run(
        [sys.executable, "-m", "snakemake", "--version"], capture_output=True, text=True
    ).stdout.strip()
    return _common.machine_info(snakemake=snakemake_version)


def summarize_runs(runs: list[dict]) -> dict:
    """Wall and CPU seconds and exit codes of repeated Snakemake runs, with medians."""
    return {
        "wall_s": [r["wall_s"] for r in runs],
        "cpu_s": [r["cpu_s"] for r in runs],
        "rc": [r["rc"] for r in runs],
        "median_wall_s": statistics.median(r["wall_s"] for r in runs),
        "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
    }


def base_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def dry_run_config() -> dict:
    cfg = base_config()
    cfg["seeds"] = [0, 1, 2, 3, 4]
    cfg["losses"] = ["contrastive", "triplet"]
    cfg["datasets"] = {"synthetic": cfg["datasets"]["synthetic"]}
    cfg["experiments"] = {
        f"synthetic_m{i}": {
            "dataset": "synthetic",
            "model": "mlp",
            "label": f"Synthetic, margin {m}",
            "loss": {"margin": m},
        }
        for i, m in enumerate(MARGINS)
    }
    return cfg


def small_default_config(quick: bool) -> dict:
    """config/config.yaml with fewer seeds and a smaller, shorter MNIST CNN run."""
    cfg = base_config()
    cfg["seeds"] = [0] if quick else [0, 1]
    mn = cfg.get("experiments", {}).get("mnist_cnn")
    if mn is not None:
        mn.setdefault("training", {})
        mn["training"]["epochs"] = 1 if quick else 2
        mn["training"]["max_train_samples"] = 300 if quick else 600
    return cfg


def make_workdir(parent: Path, name: str, cfg: dict) -> Path:
    d = parent / name
    (d / "config").mkdir(parents=True)
    (d / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return d


def run_snakemake(workdir: Path, args: list[str], log: Path, timeout: float, env=None) -> dict:
    """Run snakemake in ``workdir``; wall seconds, CPU seconds of the children, rc, log."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        *args,
    ]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as exc:
        rc = 124
        out = (
            (exc.stdout or b"").decode(errors="replace")
            if isinstance(exc.stdout, bytes)
            else (exc.stdout or "")
        )
        out += f"\n[bench_workflow] timed out after {timeout} s\n"
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("$ " + " ".join(cmd) + "\n" + out)
    m = re.search(r"^total\s+(\d+)\s*$", out, re.M)
    return {
        "cmd": " ".join(cmd),
        "wall_s": wall,
        "cpu_s": cpu,
        "rc": rc,
        "jobs": int(m.group(1)) if m else None,
        "log": str(log),
    }


def slurm_probe() -> dict | None:
    """snakemake-executor-plugin-slurm runs ``scontrol show config`` whenever Snakemake loads
    its plugins, i.e. at every start. With SLURM's client tools installed but no controller
    answering, that call takes ~9 s before failing. Time it, so the dry run can be read."""
    exe = shutil.which("scontrol")
    if exe is None:
        return None
    t0 = time.perf_counter()
    try:
        rc = subprocess.run([exe, "show", "config"], capture_output=True, timeout=30).returncode
    except subprocess.TimeoutExpired:
        rc = 124
    return {"scontrol": exe, "wall_s": time.perf_counter() - t0, "rc": rc}


def fail_fast_scontrol_path(tmp: Path) -> str:
    """PATH with a stand-in ``scontrol`` that fails at once (what the plugin sees on a machine
    without SLURM, minus the lookup), to measure Snakemake without the probe's wait."""
    d = tmp / "noslurm_bin"
    d.mkdir(exist_ok=True)
    f = d / "scontrol"
    f.write_text("#!/bin/sh\nexit 1\n")
    f.chmod(0o755)
    return f"{d}{os.pathsep}{os.environ.get('PATH', '')}"


def import_cost(reps: int) -> dict:
    """What every job pays before it does anything: Python start-up + torch + dmlstudy."""
    walls, cpus = [], []
    for _ in range(reps):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, dmlstudy.train"], check=True)
        walls.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "reps": reps}


def parse_jobs(log_text: str) -> list[tuple[str, str | None]]:
    """(rule, benchmark file or None) of every job Snakemake printed."""
    jobs = []
    for block in re.split(r"^(?=\s*(?:localrule|rule) \w+:)", log_text, flags=re.M):
        m = re.match(r"\s*(?:localrule|rule) (\w+):", block)
        if m and m.group(1) != "all":
            b = re.search(r"^\s*benchmark: (\S+)", block, re.M)
            jobs.append((m.group(1), b.group(1) if b else None))
    return jobs


def rule_times(workdir: Path, jobs: list[tuple[str, str | None]]) -> list[dict]:
    """One row per job from the workflow's benchmark TSVs (results/benchmarks/**.tsv)."""
    rule_of = {bench: rule for rule, bench in jobs if bench}
    rows = []
    root = workdir / "results" / "benchmarks"
    for tsv in sorted(root.rglob("*.tsv")):
        rel = str(tsv.relative_to(workdir))
        rule = rule_of.get(rel, tsv.relative_to(root).parts[0])
        with tsv.open() as fh:
            for rec in csv.DictReader(fh, delimiter="\t"):

                def num(key, rec=rec):
                    try:
                        return float(rec.get(key, "nan"))
                    except ValueError:
                        return float("nan")

                rows.append(
                    {
                        "rule": rule,
                        "job": str(tsv.relative_to(root)),
                        "s": num("s"),
                        "cpu_time": num("cpu_time"),
                        "max_rss_mb": num("max_rss"),
                    }
                )
    return rows


def summarise(rows: list[dict]) -> dict:
    by = defaultdict(list)
    for r in rows:
        by[r["rule"]].append(r)
    out = {}
    for rule, rs in sorted(by.items()):
        s = [r["s"] for r in rs]
        out[rule] = {
            "jobs": len(rs),
            "total_s": sum(s),
            "median_s": statistics.median(s),
            "max_s": max(s),
            "median_cpu_s": statistics.median([r["cpu_time"] for r in rs]),
            "max_rss_mb": max(r["max_rss_mb"] for r in rs),
        }
    return out


def markdown(res: dict) -> str:
    mi = res["machine"]
    out = [
        f"Machine: {mi['cpu_model']}, nproc {mi['nproc']}, Snakemake {mi['snakemake']}, "
        f"Python {mi['python']}; date {mi['date']}; load average {mi['loadavg_start'][0]:.1f} "
        f"at start, {res['loadavg_end'][0]:.1f} at end.",
        f"Command: `{res['command']}`\n",
    ]
    ic = res["import_cost"]
    out.append(
        f"Start-up of one job's Python (`import torch, dmlstudy.train`): "
        f"{ic['wall_s']:.2f} s wall, {ic['cpu_s']:.2f} s CPU (median of {ic['reps']}).\n"
    )
    d = res["dry_run"]
    out.append("### `snakemake -n`, 6 experiments x 2 losses x 5 seeds (target < 5 s)\n")
    out.append(
        f"{d['jobs']} jobs. Wall: median {d['median_wall_s']:.2f} s (runs: "
        + ", ".join(f"{x:.2f}" for x in d["wall_s"])
        + f"); CPU: median {d['median_cpu_s']:.2f} s "
        "(runs: " + ", ".join(f"{x:.2f}" for x in d["cpu_s"]) + ").\n"
    )
    sp = res.get("slurm_probe")
    if sp:
        dn = res["dry_run_no_slurm_probe"]
        out.append(
            f"`{sp['scontrol']} show config` (run by snakemake-executor-plugin-slurm every time Snakemake "
            f"starts) took {sp['wall_s']:.1f} s here (exit {sp['rc']}). The same dry run with a stand-in "
            f"`scontrol` that fails at once: wall median {dn['median_wall_s']:.2f} s (runs: "
            + ", ".join(f"{x:.2f}" for x in dn["wall_s"])
            + f"); CPU median {dn['median_cpu_s']:.2f} s.\n"
        )
    if res.get("runs"):
        out.append("### Default workflow, `--cores 2` vs `--cores 1` (target >= 1.7x)\n")
        out.append(
            "| cores | jobs | rc | wall | CPU (children) | sum of benchmarked job times | job-seconds / wall |"
        )
        out.append("|---|---|---|---|---|---|---|")
        for r in res["runs"]:
            tot = sum(v["total_s"] for v in r["per_rule"].values())
            out.append(
                f"| {r['cores']} | {r['jobs']} | {r['rc']} | {r['wall_s']:.1f} s | {r['cpu_s']:.1f} s | "
                f"{tot:.1f} s | {tot / r['wall_s']:.2f} |"
            )
        sp = res.get("speedup")
        if sp:
            out.append(
                f"\nSpeed-up `--cores 2` over `--cores 1`: wall {sp['wall']:.2f}x "
                f"(median over {sp['pairs']} pair(s)).\n"
            )
        out.append("### Per-rule times (from the `benchmark:` TSVs)\n")
        out.append(
            "| cores | run | rule | jobs | total s | median s | max s | median CPU s | max RSS MB |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in res["runs"]:
            for rule, v in r["per_rule"].items():
                out.append(
                    f"| {r['cores']} | {r['rep']} | {rule} | {v['jobs']} | {v['total_s']:.1f} | {v['median_s']:.2f} | "
                    f"{v['max_s']:.2f} | {v['median_cpu_s']:.2f} | {v['max_rss_mb']:.0f} |"
                )
        if res.get("rules_without_benchmark"):
            out.append(
                "\nRules with no `benchmark:` directive (no TSV): "
                + ", ".join(res["rules_without_benchmark"])
                + "."
            )
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller run config, fewer repeats")
    ap.add_argument("--dry-reps", type=int, help="dry runs to time (default 5, quick 3)")
    ap.add_argument("--repeats", type=int, default=1, help="pairs of real runs (cores 2, cores 1)")
    ap.add_argument("--skip-run", action="store_true", help="only the dry run")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per real run")
    ap.add_argument("--out", default="results/benchmarks/suite", help="folder for json, md, TSVs")
    ap.add_argument("--keep", action="store_true", help="keep the temporary run directories")
    args = ap.parse_args(argv)
    dry_reps = args.dry_reps or (3 if args.quick else 5)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res = {
        "machine": machine_info(),
        "command": "python "
        + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
    }
    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="dmlstudy_bench_wf_"))
    try:
        res["import_cost"] = import_cost(3)
        print(
            f"[workflow] job start-up (python + torch + dmlstudy): {res['import_cost']['wall_s']:.2f} s wall, "
            f"{res['import_cost']['cpu_s']:.2f} s CPU",
            flush=True,
        )
        wd = make_workdir(tmp, "dry", dry_run_config())
        runs = [
            run_snakemake(wd, ["-n", "--cores", "1"], out / "workflow_logs" / f"dry_{i}.log", 300)
            for i in range(dry_reps)
        ]
        bad = [r for r in runs if r["rc"] != 0]
        if bad:
            print(f"[workflow] dry run failed, see {bad[0]['log']}", file=sys.stderr)
        res["dry_run"] = {"jobs": runs[0]["jobs"], **summarize_runs(runs)}
        print(
            f"[workflow] snakemake -n, {runs[0]['jobs']} jobs: median {res['dry_run']['median_wall_s']:.2f} s wall, "
            f"{res['dry_run']['median_cpu_s']:.2f} s CPU",
            flush=True,
        )
        res["slurm_probe"] = slurm_probe()
        if res["slurm_probe"] is not None:
            env = dict(os.environ, PATH=fail_fast_scontrol_path(tmp))
            runs = [
                run_snakemake(
                    wd,
                    ["-n", "--cores", "1"],
                    out / "workflow_logs" / f"dry_noprobe_{i}.log",
                    300,
                    env=env,
                )
                for i in range(dry_reps)
            ]
            res["dry_run_no_slurm_probe"] = summarize_runs(runs)
            print(
                f"[workflow] `scontrol show config` took {res['slurm_probe']['wall_s']:.1f} s (rc "
                f"{res['slurm_probe']['rc']}); snakemake -n with a fail-fast scontrol: median "
                f"{res['dry_run_no_slurm_probe']['median_wall_s']:.2f} s wall",
                flush=True,
            )

        if not args.skip_run:
            cfg = small_default_config(args.quick)
            res["run_config"] = cfg
            res["runs"] = []
            seen_rules: set[str] = set()
            for rep in range(args.repeats):
                for cores in (2, 1):
                    name = f"cores{cores}_rep{rep}"
                    wd = make_workdir(tmp, name, copy.deepcopy(cfg))
                    r = run_snakemake(
                        wd,
                        ["--cores", str(cores)],
                        out / "workflow_logs" / f"{name}.log",
                        args.timeout,
                    )
                    jobs = parse_jobs(Path(r["log"]).read_text())
                    rows = rule_times(wd, jobs)
                    r.update(
                        {"cores": cores, "rep": rep, "per_rule": summarise(rows), "job_rows": rows}
                    )
                    seen_rules |= {rule for rule, bench in jobs if not bench}
                    dest = out / "workflow_benchmarks" / name
                    if dest.exists():
                        shutil.rmtree(dest)
                    if (wd / "results" / "benchmarks").exists():
                        shutil.copytree(wd / "results" / "benchmarks", dest)
                    res["runs"].append(r)
                    print(
                        f"[workflow] --cores {cores}: {r['jobs']} jobs, rc {r['rc']}, {r['wall_s']:.1f} s wall, "
                        f"{r['cpu_s']:.1f} s CPU",
                        flush=True,
                    )
                    if r["rc"] != 0:
                        print(f"[workflow] run failed, see {r['log']}", file=sys.stderr)
            pairs = [
                (a, b)
                for a in res["runs"]
                for b in res["runs"]
                if a["cores"] == 2
                and b["cores"] == 1
                and a["rep"] == b["rep"]
                and a["rc"] == 0
                and b["rc"] == 0
            ]
            if pairs:
                res["speedup"] = {
                    "wall": statistics.median(b["wall_s"] / a["wall_s"] for a, b in pairs),
                    "pairs": len(pairs),
                }
            res["rules_without_benchmark"] = sorted(seen_rules)
            with (out / "workflow_rule_times.tsv").open("w") as fh:
                fh.write("cores\trep\trule\tjob\ts\tcpu_time\tmax_rss_mb\n")
                for r in res["runs"]:
                    for row in r["job_rows"]:
                        fh.write(
                            f"{r['cores']}\t{r['rep']}\t{row['rule']}\t{row['job']}\t{row['s']:.3f}\t"
                            f"{row['cpu_time']:.3f}\t{row['max_rss_mb']:.1f}\n"
                        )
    finally:
        if args.keep:
            print(f"[workflow] kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    res["loadavg_end"] = list(os.getloadavg())
    res["total_seconds"] = time.perf_counter() - t_start
    (out / "bench_workflow.json").write_text(json.dumps(res, indent=1, default=str))
    md = markdown(res)
    (out / "bench_workflow.md").write_text(md)
    print()
    print(md)
    print(f"total {res['total_seconds']:.0f} s; written {out / 'bench_workflow.md'} and .json")
    failed = [r for r in res.get("runs", []) if r["rc"] != 0] or [
        x for x in res["dry_run"]["rc"] if x != 0
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
