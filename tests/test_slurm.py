"""The tiny config through a real one-node SLURM cluster gives the same results as a local run.

Opt-in: runs only when selected with ``-m slurm`` (or DMLSTUDY_SLURM_TESTS=1), as root:

    sudo -E .venv/bin/pytest -m slurm tests/test_slurm.py

The module fixture brings the cluster up with ``tests/slurm/cluster.sh up`` (installs
Debian's slurmctld/slurmd/slurm-client/munge if missing, starts the daemons, records their
PIDs) and stops it with ``cluster.sh down`` (by those PIDs) unless it was already up.
Every subprocess is bounded: ``timeout -s KILL`` on each Snakemake run and on the harness.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The workflow to run; another folder only for developing the harness itself.
SOURCE = Path(os.environ.get("DMLSTUDY_SLURM_SOURCE", REPO)).resolve()
SNAKEFILE = SOURCE / "Snakefile"
TINY = SOURCE / "tests" / "config" / "tiny.yaml"
WORKFLOW_PROFILE = SOURCE / "profiles" / "default"
CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
TARGET = "all"

# Hard wall-clock limits (seconds); SIGKILL, so a hung executor cannot eat CI's time.
CLUSTER_UP_LIMIT = 420  # includes apt-get install on a bare machine
RUN_LIMIT = int(os.environ.get("DMLSTUDY_SLURM_RUN_LIMIT", "600"))

# Settings for the local test cluster on top of profiles/slurm.  No accounting database
# here, so job states must come from squeue (sacct exists but fails: the plugin would wait
# forever); squeue is trusted because MinJobAge=600 >= 3 x the first status delay.
SLURM_TEST_ARGS = [
    "--profile",
    str(REPO / "profiles" / "slurm"),
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--latency-wait",
    "5",
    "--retries",
    "0",
    "--jobs",
    "8",
    "--slurm-keep-successful-logs",
]
LOCAL_ARGS = ["--cores", "2"]

ABS_TOL = 1e-6
# Wall-clock measurements differ between any two runs: compared for presence only.
TIMING_KEY = re.compile(r"(seconds|elapsed|duration|wall|_time)$|^(s|h:m:s)$", re.IGNORECASE)
TIMING_FILES = {"results/tables/runtime.csv"}  # benchmark summary: times, memory, load

pytestmark = pytest.mark.slurm


def _selected(config) -> bool:
    markexpr = config.getoption("markexpr", default="") or ""
    return "slurm" in markexpr or os.environ.get("DMLSTUDY_SLURM_TESTS") == "1"


@pytest.fixture(scope="module")
def slurm_cluster(request):
    if not _selected(request.config):
        pytest.skip("SLURM test is opt-in: pytest -m slurm (as root)")
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the one-node SLURM cluster needs Linux and root")
    if shutil.which("timeout") is None:
        pytest.skip("coreutils 'timeout' missing")

    status = _harness("status", check=False)
    was_up = "slurmctld: running" in status.stdout
    up = _harness("up", check=False, limit=CLUSTER_UP_LIMIT)
    if up.returncode != 0:
        pytest.fail(f"cluster.sh up failed ({up.returncode}):\n{up.stdout}\n{up.stderr}")
    yield
    if not was_up and os.environ.get("DMLSTUDY_SLURM_KEEP") != "1":
        _harness("down", check=False)


def _harness(cmd: str, check: bool = True, limit: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["timeout", "-s", "KILL", str(limit), "bash", str(CLUSTER), cmd],
        capture_output=True,
        text=True,
        check=check,
        stdin=subprocess.DEVNULL,
    )


def _snakemake(workdir: Path, args: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run the workflow on the tiny config in ``workdir``, as tests/conftest.py does
    (repository Snakefile and workstation profile, ``--directory``), killed after RUN_LIMIT s."""
    workdir.mkdir(parents=True, exist_ok=True)
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [
        "timeout",
        "-s",
        "KILL",
        str(RUN_LIMIT),
        str(snakemake) if snakemake.exists() else "snakemake",
        "-s",
        str(SNAKEFILE),
        "--workflow-profile",
        str(WORKFLOW_PROFILE) if WORKFLOW_PROFILE.is_dir() else "none",
        "--configfile",
        str(TINY),
        "--directory",
        str(workdir),
        "--nocolor",
        *args,
        TARGET,
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("SLURM_CONF", None)  # /etc/slurm/slurm.conf is the only config the jobs see
    t0 = time.monotonic()
    with open(workdir / "snakemake.out", "w") as log:
        proc = subprocess.run(
            cmd,
            cwd=SOURCE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return proc, time.monotonic() - t0


def _cancel_leftovers(workdir: Path) -> None:
    """After a killed run, cancel the SLURM jobs it left behind (by the run's job name)."""
    out = (workdir / "snakemake.out").read_text(errors="replace")
    for run_id in set(re.findall(r"SLURM run ID: (\S+)", out)):
        subprocess.run(["timeout", "15", "scancel", "--name", run_id], capture_output=True)


def _tail(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError as exc:
        return f"<{exc}>"


def _failure_report(workdir: Path, proc: subprocess.CompletedProcess) -> str:
    parts = [
        f"exit {proc.returncode}"
        + (" (killed by timeout)" if proc.returncode in (124, 137, -9) else "")
    ]
    parts.append(_tail(workdir / "snakemake.out"))
    for log in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))[-5:]:
        parts.append(f"--- {log.relative_to(workdir)}\n{_tail(log, 30)}")
    for log in sorted((workdir / "results" / "logs").rglob("*.log"))[-5:]:
        parts.append(f"--- {log.relative_to(workdir)}\n{_tail(log, 30)}")
    squeue = subprocess.run(
        ["timeout", "10", "squeue", "--states=all"], capture_output=True, text=True
    )
    parts.append(f"--- squeue --states=all\n{squeue.stdout}{squeue.stderr}")
    return "\n".join(parts)


def _outputs(workdir: Path) -> list[str]:
    res = workdir / "results"
    files = list(res.glob("tables/*.csv")) + list(res.glob("runs/*/*/seed*/metrics.json"))
    return sorted(str(p.relative_to(workdir)) for p in files)


def _assert_close(a, b, where: str):
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys differ {sorted(a)} vs {sorted(b)}"
        for k in a:
            if not TIMING_KEY.search(str(k)):
                _assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        assert a == b, f"{where}: {a!r} != {b!r}"
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), f"{where}: {a!r} != {b!r}"
        else:
            assert abs(a - b) <= ABS_TOL, f"{where}: {a!r} != {b!r} (tol {ABS_TOL})"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _read_csv(path: Path) -> list[dict]:
    import csv

    def num(v: str):
        try:
            return float(v)
        except ValueError:
            return v

    with open(path, newline="") as fh:
        return [{k: num(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def test_tiny_config_through_slurm_matches_local_run(slurm_cluster, tmp_path):
    if not SNAKEFILE.exists() or not TINY.exists():
        pytest.fail(f"workflow not found: need {SNAKEFILE} and {TINY}")
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"

    # Both runs at once: the local run computes while the executor waits between polls.
    with ThreadPoolExecutor(2) as pool:
        slurm_future = pool.submit(_snakemake, slurm_dir, SLURM_TEST_ARGS)
        local_future = pool.submit(_snakemake, local_dir, LOCAL_ARGS)
        (slurm_proc, slurm_s), (local_proc, local_s) = slurm_future.result(), local_future.result()
    print(f"\nSLURM run {slurm_s:.1f} s, local run {local_s:.1f} s")
    if slurm_proc.returncode != 0:
        _cancel_leftovers(slurm_dir)

    assert local_proc.returncode == 0, "local run failed:\n" + _failure_report(
        local_dir, local_proc
    )
    assert slurm_proc.returncode == 0, "SLURM run failed:\n" + _failure_report(
        slurm_dir, slurm_proc
    )

    # The jobs really went through sbatch and SLURM saw them complete.
    out = (slurm_dir / "snakemake.out").read_text()
    job_ids = re.findall(r"submitted with SLURM jobid (\d+)", out)
    assert job_ids, "no job was submitted to SLURM:\n" + _tail(slurm_dir / "snakemake.out")
    squeue = subprocess.run(
        ["timeout", "10", "squeue", "--states=all", "-h", "-o", "%i|%T", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
    )
    states = dict(line.split("|", 1) for line in squeue.stdout.split())
    assert states and all(s == "COMPLETED" for s in states.values()), states

    # Same outputs as the local run ...
    local_files, slurm_files = _outputs(local_dir), _outputs(slurm_dir)
    assert any(f.endswith("metrics.json") for f in local_files), local_files
    assert any(f.startswith("results/tables/") for f in local_files), local_files
    assert slurm_files == local_files

    # ... with the same numbers (training is deterministic on the CPU).
    for rel in local_files:
        if rel in TIMING_FILES:
            a = [(r.get("rule"), r.get("job")) for r in _read_csv(local_dir / rel)]
            b = [(r.get("rule"), r.get("job")) for r in _read_csv(slurm_dir / rel)]
        elif rel.endswith(".json"):
            a = json.loads((local_dir / rel).read_text())
            b = json.loads((slurm_dir / rel).read_text())
        else:
            a, b = _read_csv(local_dir / rel), _read_csv(slurm_dir / rel)
        _assert_close(a, b, rel)
