"""How much of a tuning run's job is per-job overhead, and what running a trial's k folds in
one process saves (the reality check: one job per fold, or one job per trial?).

For each config (``tests/config/tiny.yaml`` and ``config/config.yaml``, experiment
``synthetic_mlp``, loss ``triplet``) it trains ``--folds`` tuning runs, each with
``runs.train_run`` on the training split minus a validation split of ``1 / folds`` of it
(validation seed = fold number: the sizes of k-fold folds), three ways, interleaved round by
round (``--reps`` rounds):

* ``processes``: one fresh ``python -c`` per fold (a job's Python start, ``import
  dmlstudy.runs`` with torch, data load, training, writing);
* ``one_process``: one ``python -c`` that imports once and trains every fold;
* ``snakemake`` (unless ``--no-snakemake``): a two-rule Snakefile run with ``snakemake
  --cores 1``, once as one ``script:`` job per fold and once as one job training every fold
  (what the workflow would do; includes Snakemake's own start-up, the same in both).

Reported per config and way: median wall and CPU seconds (of the children) over the rounds;
inside the children the time to import, ``train_run``'s time and the training loop's own
time (the history's ``seconds``), so that per-job overhead = wall - train_run time. The
ratio is (wall of k jobs) / (wall of one job training k folds).

Usage::

    python benchmarks/bench_fold_jobs.py [--reps 3] [--folds 4] [--configs tiny default]
                                         [--no-snakemake] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
CONFIGS = {"tiny": ROOT / "tests/config/tiny.yaml", "default": ROOT / "config/config.yaml"}
EXPERIMENT, LOSS = "synthetic_mlp", "triplet"

# The module every child runs: import (timed), then train the given folds of the job spec.
# ``python child.py SPEC FOLD...`` prints its timings as JSON; a Snakemake job imports it.
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from dmlstudy.runs import train_run
import pandas as pd
T_IMPORT = time.perf_counter() - t0
NAMES = {"model": "model.pt", "history": "history.csv", "embeddings": "embeddings.h5",
         "config": "config.json"}


def train_folds(spec_path, folds):
    spec = json.load(open(spec_path))
    runs = []
    for fold in folds:
        out = {k: f"{spec['out']}/fold{fold}/{v}" for k, v in NAMES.items()}
        resolved = {**spec["resolved"], "validation": {"fraction": 1 / spec["folds"], "seed": fold}}
        t = time.perf_counter()
        train_run(spec["data"], resolved, spec["loss"], 0, out, f"{spec['out']}/fold{fold}/ck.pt")
        runs.append({"train_run": time.perf_counter() - t,
                     "loop": float(pd.read_csv(out["history"])["seconds"].sum())})
    return {"import": T_IMPORT, "runs": runs}


if __name__ == "__main__":
    print(json.dumps(train_folds(sys.argv[1], [int(f) for f in sys.argv[2:]])))
"""

SNAKEFILE = r"""
import json
FOLDS = list(range(json.load(open("spec.json"))["folds"]))

rule all:
    input: [f"jobs/fold{f}.done" for f in FOLDS] if config["mode"] == "jobs" else "one/all.done"

rule one_fold:
    output: "jobs/fold{fold}.done"
    threads: 1
    script: "fold_job.py"

rule all_folds:
    output: "one/all.done"
    threads: 1
    script: "fold_job.py"
"""

SCRIPT = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path.cwd()))
from child import train_folds
snakemake = globals()["snakemake"]
wildcards = dict(snakemake.wildcards.items())
folds = [int(wildcards["fold"])] if "fold" in wildcards else list(
    range(json.load(open("spec.json"))["folds"]))
train_folds("spec.json", folds)
Path(snakemake.output[0]).write_text("done")
"""


def env() -> dict:
    """Children import this checkout's package; one BLAS/OpenMP thread, like a job."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), e.get("PYTHONPATH")) if p)
    e.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return e


def timed(cmd, cwd=None) -> tuple[float, float, str]:
    """(wall s, CPU s of the child tree, stdout) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode:
        raise RuntimeError(f"{cmd[:3]} failed:\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, res.stdout


def prepare(name: str, work: Path, folds: int) -> dict:
    """The data file and the job spec of one config, written under ``work``."""
    sys.path.insert(0, str(SRC))
    from dmlstudy import config
    from dmlstudy.sources import prepare_to_file

    cfg = config.validate(config.load_file(CONFIGS[name]))
    resolved = config.training_params(cfg, EXPERIMENT)
    data = work / f"{name}.h5"
    prepare_to_file(cfg["datasets"][resolved["dataset"]], resolved["dataset"], data)
    (work / "child.py").write_text(CHILD)
    return {"data": str(data), "resolved": resolved, "loss": LOSS, "folds": folds}


def run_children(spec: dict, work: Path, one: bool) -> dict:
    """Train every fold in one child (``one``) or in one child per fold."""
    out = work / "runs"
    shutil.rmtree(out, ignore_errors=True)
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps({**spec, "out": str(out)}))
    folds = [str(f) for f in range(spec["folds"])]
    groups = [folds] if one else [[f] for f in folds]
    wall = cpu = 0.0
    imports, train_runs, loops = [], [], []
    for group in groups:
        w, c, stdout = timed([sys.executable, str(work / "child.py"), str(spec_path), *group])
        wall, cpu = wall + w, cpu + c
        report = json.loads(stdout.strip().splitlines()[-1])
        imports.append(report["import"])
        train_runs += [r["train_run"] for r in report["runs"]]
        loops += [r["loop"] for r in report["runs"]]
    return {
        "wall": wall,
        "cpu": cpu,
        "import": sum(imports),
        "train_run": sum(train_runs),
        "loop": sum(loops),
    }


def run_snakemake(spec: dict, work: Path, mode: str) -> dict:
    """``snakemake --cores 1`` of the fold Snakefile, one job per fold or one in all."""
    wf = work / f"snakemake_{mode}"
    shutil.rmtree(wf, ignore_errors=True)
    wf.mkdir()
    (wf / "Snakefile").write_text(SNAKEFILE)
    (wf / "fold_job.py").write_text(SCRIPT)
    (wf / "child.py").write_text(CHILD)
    (wf / "spec.json").write_text(json.dumps({**spec, "out": str(wf / "runs")}))
    snakemake = Path(sys.executable).parent / "snakemake"
    cmd = [str(snakemake), "--cores", "1", "--config", f"mode={mode}", "--quiet", "all"]
    wall, cpu, _ = timed(cmd, cwd=wf)
    return {"wall": wall, "cpu": cpu}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--no-snakemake", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    info = _common.machine_info()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_fold_jobs_") as tmp:
        work = Path(tmp)
        for name in args.configs:
            spec = prepare(name, work, args.folds)
            ways = {"processes": [], "one_process": []}
            if not args.no_snakemake:
                ways |= {"snakemake_jobs": [], "snakemake_one": []}
            for rep in range(args.reps):  # interleaved: a slow phase hits every way alike
                ways["processes"].append(run_children(spec, work, one=False))
                ways["one_process"].append(run_children(spec, work, one=True))
                if not args.no_snakemake:
                    ways["snakemake_jobs"].append(run_snakemake(spec, work, "jobs"))
                    ways["snakemake_one"].append(run_snakemake(spec, work, "one"))
                print(f"{name}: round {rep + 1}/{args.reps} done", file=sys.stderr)
            results[name] = {
                way: {k: statistics.median(r[k] for r in reps) for k in reps[0]}
                for way, reps in ways.items()
            }
            results[name]["ratios"] = {
                "processes / one_process (wall)": statistics.median(
                    a["wall"] / b["wall"]
                    for a, b in zip(ways["processes"], ways["one_process"], strict=True)
                )
            }
            if not args.no_snakemake:
                results[name]["ratios"]["snakemake jobs / one job (wall)"] = statistics.median(
                    a["wall"] / b["wall"]
                    for a, b in zip(ways["snakemake_jobs"], ways["snakemake_one"], strict=True)
                )
    info["loadavg_end"] = list(os.getloadavg())
    report = {"machine": info, "folds": args.folds, "reps": args.reps, "results": results}
    print(json.dumps(report, indent=2))
    for name, res in results.items():
        p, o = res["processes"], res["one_process"]
        per_job = (p["wall"] - p["train_run"]) / args.folds
        print(
            f"{name}: {args.folds} folds as {args.folds} processes {p['wall']:.1f} s wall "
            f"({p['cpu']:.1f} s CPU), in one process {o['wall']:.1f} s ({o['cpu']:.1f} s CPU); "
            f"per-job overhead {per_job:.2f} s of which import {p['import'] / args.folds:.2f} s; "
            f"train_run {p['train_run'] / args.folds:.2f} s a fold "
            f"(training loop {p['loop'] / args.folds:.2f} s)",
            file=sys.stderr,
        )
        for k, v in res["ratios"].items():
            print(f"  {k}: {v:.2f}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
