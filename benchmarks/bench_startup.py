"""Start-up cost of a workflow job: ``python -c "import NAME"`` for the modules that jobs
without training import, against ``import torch`` (target 2, docs/benchmarks.md).

Each import runs in a fresh interpreter, ``--runs`` times, interleaved round by round
(one run of every name per round, so slow phases of a shared machine hit all alike).
Reported per name: median wall seconds and median CPU seconds (user + system of the
child, from ``resource.getrusage(RUSAGE_CHILDREN)``), and whether the import pulled in
torch. ``python -c pass`` is the interpreter's own floor. A name that does not exist
(yet) is skipped with a message.

Usage::

    python benchmarks/bench_startup.py [--runs 7] [--names dmlstudy.evaluate ...] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import _common

DEFAULT_NAMES = (
    "dmlstudy.retrieval",
    "dmlstudy.evaluate",
    "dmlstudy.pipeline",
    "dmlstudy.report",
    "dmlstudy.metrics",
    "numpy",
    "faiss",
    "torch",
)
PROBE = (
    "import importlib.util, sys; name = sys.argv[1]; "
    "sys.exit(0 if importlib.util.find_spec(name) else 3)"
)
IMPORT = (
    "import importlib, sys; importlib.import_module(sys.argv[1]); print('torch' in sys.modules)"
)


def exists(name: str) -> bool:
    """True if ``name`` can be found (checked in a child, so nothing is imported here)."""
    try:
        return (
            subprocess.run([sys.executable, "-c", PROBE, name], capture_output=True).returncode == 0
        )
    except OSError:
        return False


def one_run(code: str, name: str | None) -> tuple[float, float, bool | None]:
    """(wall s, CPU s, torch imported?) of one fresh interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    args = [sys.executable, "-c", code] + ([name] if name else [])
    proc = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: import failed:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    torch_loaded = proc.stdout.strip() == "True" if name else None
    return wall, cpu, torch_loaded


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--names", nargs="+", default=list(DEFAULT_NAMES))
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    names = []
    for name in args.names:
        if exists(name):
            names.append(name)
        else:
            print(f"skipped {name}: no such module in this checkout (not written yet, or removed)")
    info = _common.machine_info()
    print(f"python {info['python']}, {info['nproc']} CPUs, load {info['loadavg_start']}")
    print(f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}; {args.runs} runs per name, interleaved")

    entries = [("(python -c pass)", "pass", None)] + [(n, IMPORT, n) for n in names]
    times: dict[str, list[tuple[float, float, bool | None]]] = {e[0]: [] for e in entries}
    for _label, code, name in entries:  # warm the file cache once
        one_run(code, name)
    for _ in range(args.runs):
        for label, code, name in entries:
            times[label].append(one_run(code, name))

    rows = []
    print(f"\n{'import':<22} {'median wall s':>13} {'median CPU s':>12} {'min CPU s':>9}  torch?")
    for label, _, _ in entries:
        runs = times[label]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        torch_loaded = runs[0][2]
        rows.append(
            {
                "import": label,
                "median_wall_s": wall,
                "median_cpu_s": cpu,
                "min_cpu_s": min(r[1] for r in runs),
                "imports_torch": torch_loaded,
                "runs": runs,
            }
        )
        flag = "" if torch_loaded is None else ("yes" if torch_loaded else "no")
        print(f"{label:<22} {wall:>13.3f} {cpu:>12.3f} {min(r[1] for r in runs):>9.3f}  {flag}")
    print(f"load average at the end: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
