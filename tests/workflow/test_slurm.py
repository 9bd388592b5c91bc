"""The workflow on a real one-node SLURM cluster, run as users type it: ``snakemake --profile slurm``.

Opt-in: runs only when selected with ``-m slurm`` (or DMLSTUDY_SLURM_TESTS=1), as root:

    sudo -E .venv/bin/pytest -m slurm tests/workflow/test_slurm.py

The module fixture brings the cluster up with ``tests/slurm/cluster.sh up`` (Debian's
slurmctld/slurmd/slurmdbd/munge and a private MariaDB, so ``sacct`` works as on a real
cluster) and stops it with ``cluster.sh down`` unless it was already up. The project's
profile is installed by ``envs/install_slurm_profile.sh`` into a private
XDG_CONFIG_HOME, so ``--profile slurm`` finds it there and nothing depends on the
machine's own ~/.config. Every subprocess is bounded by ``timeout -s KILL``.

1. The tiny config, with the job arrays and groups of the workflow profile, gives the
   same results as a local run, in fewer sbatch submissions than jobs.
2. A training job cancelled with ``scancel`` is noticed (sacct says "CANCELLED by 0";
   workflow/slurm/sacct makes the executor plugin see it), shown with its log, resubmitted
   (``retries: 1`` in the profile) and resumes from its checkpoint.
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

REPO = Path(__file__).resolve().parents[2]
# The workflow to run; another folder only for developing the harness itself.
SOURCE = Path(os.environ.get("DMLSTUDY_SLURM_SOURCE", REPO)).resolve()
SNAKEFILE = SOURCE / "workflow" / "Snakefile"
TINY = SOURCE / "tests" / "config" / "tiny.yaml"
RESUME = SOURCE / "tests" / "config" / "resume.yaml"
CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
INSTALLER = SOURCE / "envs" / "install_slurm_profile.sh"
TARGET = "all"

# Hard wall-clock limits (seconds); SIGKILL, so a hung executor cannot eat CI's time.
CLUSTER_UP_LIMIT = 420  # includes apt-get install on a bare machine
RUN_LIMIT = int(os.environ.get("DMLSTUDY_SLURM_RUN_LIMIT", "900"))
# seconds from scancel until Snakemake reports the job as failed
NOTICE_LIMIT = int(os.environ.get("DMLSTUDY_SLURM_NOTICE_LIMIT", "240"))

# On top of `--profile slurm`: only what the local test cluster allows (fast polling, a
# local file system) and needs for the checks (SLURM logs of successful jobs kept).
SLURM_TEST_ARGS = [
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--latency-wait",
    "5",
    "--jobs",
    "8",
    "--slurm-keep-successful-logs",
]
LOCAL_ARGS = ["--cores", "2", "--workflow-profile", str(SOURCE / "profiles" / "default")]

ABS_TOL = 1e-6
# Wall-clock measurements differ between any two runs: compared for presence only.
TIMING_KEY = re.compile(r"(seconds|elapsed|duration|wall|_time)$|^(s|h:m:s)$", re.IGNORECASE)
# benchmark summaries (times, memory, I/O, load): compared by their rows' rule and job
TIMING_FILES = {"results/tables/runtime.csv", "results/tables/runtime_totals.csv"}

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


@pytest.fixture(scope="module")
def xdg_config(tmp_path_factory, slurm_cluster) -> Path:
    """A private XDG_CONFIG_HOME holding the profile exactly as the installer puts it."""
    xdg = tmp_path_factory.mktemp("xdg")
    proc = subprocess.run(
        ["timeout", "-s", "KILL", "60", "bash", str(INSTALLER)],
        capture_output=True,
        text=True,
        env=dict(os.environ, XDG_CONFIG_HOME=str(xdg)),
    )
    assert proc.returncode == 0 and "installed" in proc.stdout, proc.stdout + proc.stderr
    assert (xdg / "snakemake" / "slurm" / "config.yaml").is_file()
    return xdg


def _harness(cmd: str, check: bool = True, limit: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["timeout", "-s", "KILL", str(limit), "bash", str(CLUSTER), cmd],
        capture_output=True,
        text=True,
        check=check,
        stdin=subprocess.DEVNULL,
    )


def _env(xdg: Path | None) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("SLURM_CONF", None)  # /etc/slurm/slurm.conf is the only config the jobs see
    if xdg is not None:
        env["XDG_CONFIG_HOME"] = str(xdg)
    return env


def _io(xdg, log) -> dict:
    """Where a Snakemake subprocess runs and writes: the workflow's folder, output to ``log``."""
    return dict(
        cwd=SOURCE, env=_env(xdg), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )


def _command(workdir: Path, configs: list[Path], args: list[str], xdg, target=TARGET):
    """``snakemake --profile slurm ...`` (or a local run when ``xdg`` is None), in an
    empty ``--directory`` as tests/conftest.py runs the tiny workflow, killed after RUN_LIMIT s."""
    workdir.mkdir(parents=True, exist_ok=True)
    head = ["snakemake", "--profile", "slurm"] if xdg is not None else ["snakemake"]
    return [
        "timeout",
        "-s",
        "KILL",
        str(RUN_LIMIT),
        *head,
        "-s",
        str(SNAKEFILE),
        "--configfile",
        *map(str, configs),
        "--directory",
        str(workdir),
        "--nocolor",
        *args,
        target,
    ]


def _snakemake(workdir: Path, args: list[str], xdg) -> tuple[subprocess.CompletedProcess, float]:
    cmd = _command(workdir, [TINY], args, xdg)
    t0 = time.monotonic()
    with open(workdir / "snakemake.out", "w") as log:
        proc = subprocess.run(cmd, **_io(xdg, log))
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


def _failure_report(workdir: Path, proc) -> str:
    rc = proc.returncode if proc is not None else None
    parts = [f"exit {rc}" + (" (killed by timeout)" if rc in (124, 137, -9) else "")]
    parts.append(_tail(workdir / "snakemake.out"))
    for log in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))[-5:]:
        parts.append(f"--- {log.relative_to(workdir)}\n{_tail(log, 30)}")
    for log in sorted((workdir / "results" / "logs").rglob("*.log"))[-5:]:
        parts.append(f"--- {log.relative_to(workdir)}\n{_tail(log, 30)}")
    sacct = subprocess.run(
        ["timeout", "10", "sacct", "-X", "--format=JobIdRaw,JobID,JobName%12,State"],
        capture_output=True,
        text=True,
    )
    parts.append(f"--- sacct\n{sacct.stdout}{sacct.stderr}")
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


def _slurm_ids(out: str) -> list[str]:
    """SLURM job ids of every sbatch call (an array submission counts once)."""
    single = re.findall(r"submitted with SLURM jobid (\d+)", out)
    arrays = re.findall(r"Submitted array job with Snakemake IDs .*? SLURM job ID (\d+)\.", out)
    return single + arrays


def _sacct_states(job_ids: list[str]) -> dict[str, str]:
    """JobID (1234 or 1234_5 for array tasks) -> state, from the accounting database."""
    proc = subprocess.run(
        ["timeout", "20", "sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
    )
    return dict(line.split("|", 1) for line in proc.stdout.split("\n") if "|" in line)


def test_tiny_config_through_slurm_profile_matches_local_run(xdg_config, tmp_path):
    if not SNAKEFILE.exists() or not TINY.exists():
        pytest.fail(f"workflow not found: need {SNAKEFILE} and {TINY}")
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"

    # Both runs at once: the local run computes while the executor waits between polls.
    with ThreadPoolExecutor(2) as pool:
        slurm_future = pool.submit(_snakemake, slurm_dir, SLURM_TEST_ARGS, xdg_config)
        local_future = pool.submit(_snakemake, local_dir, LOCAL_ARGS, None)
        (slurm_proc, slurm_s), (local_proc, local_s) = slurm_future.result(), local_future.result()
    if slurm_proc.returncode != 0:
        _cancel_leftovers(slurm_dir)

    assert local_proc.returncode == 0, "local run failed:\n" + _failure_report(
        local_dir, local_proc
    )
    assert slurm_proc.returncode == 0, "SLURM run failed:\n" + _failure_report(
        slurm_dir, slurm_proc
    )

    # The jobs went through sbatch, in arrays and groups, and SLURM saw them complete.
    out = (slurm_dir / "snakemake.out").read_text()
    assert re.search(r"--profile slurm\b", out), "not run with --profile slurm"
    job_ids = _slurm_ids(out)
    n_jobs = int(re.search(r"^total\s+(\d+)", out, re.MULTILINE).group(1)) - 1  # minus `all`
    print(
        f"\nSLURM run {slurm_s:.1f} s ({len(job_ids)} sbatch for {n_jobs} jobs), local {local_s:.1f} s"
    )
    assert "Submitted array job" in out, "no job array was submitted"
    assert "group_" in out, "no group job was submitted"
    assert 0 < len(job_ids) < n_jobs, (len(job_ids), n_jobs)
    states = _sacct_states(job_ids)
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


def _wait_for(predicate, limit: float, proc: subprocess.Popen, step: float = 0.5):
    """predicate() -> value or None; polled until a value, ``limit`` seconds or proc's end."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            return predicate()
        time.sleep(step)
    return None


def test_cancelled_training_job_is_noticed_retried_and_resumes(xdg_config, tmp_path):
    """scancel a running training job: Snakemake must see the failure (sacct reports
    "CANCELLED by 0", which plugin 2.8.0 alone never matches), print the job's log,
    resubmit it, and the retry must resume from the checkpoint."""
    work = tmp_path / "resume"
    long_training = tmp_path / "long.yaml"
    long_training.write_text("training: {epochs: 400}\n")  # long enough to cancel mid-way
    run = "results/runs/synthetic_mlp/contrastive/seed0"
    target = f"{run}/model.pt"
    args = [*SLURM_TEST_ARGS, "--retries", "1"]
    cmd = _command(work, [RESUME, long_training], args, xdg_config, target=target)
    out_path = work / "snakemake.out"
    with open(out_path, "w") as log:
        proc = subprocess.Popen(cmd, **_io(xdg_config, log))
    try:
        text = lambda: out_path.read_text(errors="replace")  # noqa: E731
        train_ids = lambda: re.findall(  # noqa: E731
            r"submitted with SLURM jobid (\d+) \(log: \S*/(?:rule|group)_\w*train_model", text()
        )
        # 1. the training job runs and has written a checkpoint
        first = _wait_for(lambda: train_ids() and train_ids()[0], RUN_LIMIT / 2, proc)
        assert first, "training job never submitted:\n" + _failure_report(work, None)
        ckpt = work / run / "checkpoint.pt"
        assert _wait_for(ckpt.exists, RUN_LIMIT / 2, proc), (
            "no checkpoint written:\n" + _failure_report(work, None)
        )
        subprocess.run(["timeout", "15", "scancel", first], check=True)
        cancelled_at = time.monotonic()
        states = _wait_for(lambda: "CANCELLED" in _sacct_states([first]).get(first, ""), 30, proc)
        assert states, _sacct_states([first])

        # 2. Snakemake notices within a bounded time and resubmits the job
        retry = _wait_for(lambda: len(train_ids()) > 1 and train_ids()[1], NOTICE_LIMIT, proc)
        noticed_s = time.monotonic() - cancelled_at
        assert retry, (
            f"cancelled job {first} not noticed within {NOTICE_LIMIT} s "
            f"(sacct: {_sacct_states([first])}):\n" + _failure_report(work, None)
        )
        out = text()
        assert re.search(rf"SLURM-job '{first}' failed, SLURM status is: 'CANCELLED'", out), out
        assert "Logfile results/logs/train/synthetic_mlp/contrastive/seed0.log:" in out, out

        # 3. the retry resumes from the checkpoint and finishes
        proc.wait(timeout=RUN_LIMIT)
        assert proc.returncode == 0, _failure_report(work, proc)
        train_log = (work / "results/logs/train/synthetic_mlp/contrastive/seed0.log").read_text()
        assert re.search(r"resuming from \S*checkpoint\.pt after epoch \d+", train_log), train_log
        assert (work / target).exists()
        print(f"\ncancelled job {first} noticed after {noticed_s:.0f} s; retry {retry} resumed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.returncode != 0:
            _cancel_leftovers(work)
