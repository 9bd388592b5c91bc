"""The SLURM set-up without a cluster: the profile installer, GPU requests, the sacct shim.

- ``envs/install_slurm_profile.sh`` installs ``profiles/slurm`` where
  ``snakemake --profile slurm`` finds it and never overwrites an existing profile.
- With ``device: cuda`` the training and extraction jobs ask SLURM for a GPU and no other
  job does: in the dry run's resources and in the real ``sbatch`` command line, captured
  by a stand-in ``sbatch`` (no cluster needed).
- ``workflow/slurm/sacct`` reports "CANCELLED by <uid>" as "CANCELLED".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, SNAKEFILE, snakemake_env

INSTALLER = REPO / "envs" / "install_slurm_profile.sh"
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
SHIM = REPO / "workflow" / "slurm" / "sacct"
HEAD_CONFIG = REPO / "tests" / "config" / "tiny_head.yaml"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
GPU_RULES = {"train_model", "extract_features"}


def _install(xdg: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CONFIG_HOME=str(xdg))
    return subprocess.run(
        ["bash", str(INSTALLER), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_installer_puts_the_profile_where_snakemake_finds_it(tmp_path):
    proc = _install(tmp_path)
    assert proc.returncode == 0, proc.stderr
    installed = tmp_path / "snakemake" / "slurm" / "config.yaml"
    assert installed.read_text() == PROFILE.read_text()
    # the same lookup `snakemake --profile slurm` does
    code = "from snakemake.cli import get_profile_dir; print(get_profile_dir('slurm')[1])"
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert found.stdout.strip() == str(installed), found.stderr
    again = _install(tmp_path)
    assert again.returncode == 0 and "already this project's profile" in again.stdout


def test_installer_never_overwrites_an_existing_profile(tmp_path):
    mine = tmp_path / "snakemake" / "slurm" / "config.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("executor: slurm\njobs: 7\n")
    proc = _install(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert mine.read_text() == "executor: slurm\njobs: 7\n"
    assert "already exists" in proc.stdout and "To merge" in proc.stdout
    assert "+retries: 1" in proc.stdout  # the diff shows what the project's profile adds
    assert _install(tmp_path, "--check").returncode == 0


def _jobs_by_rule(dry_run_output: str) -> dict[str, list[str]]:
    """rule name -> the `resources:` lines of its jobs in a dry run."""
    jobs: dict[str, list[str]] = {}
    for block in re.split(r"\n\s*\n", dry_run_output):
        rule = re.search(r"^\s*(?:local)?rule (\w+):", block, re.MULTILINE)  # indented: group
        res = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE)
        if rule and res:
            jobs.setdefault(rule.group(1), []).append(res.group(1))
    return jobs


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_dry_run_requests_gpus_only_for_training_and_extraction(tmp_path, device):
    cmd = [
        SNAKEMAKE,
        "-s",
        str(SNAKEFILE),
        "--configfile",
        str(HEAD_CONFIG),
        "--config",
        f"device={device}",
        "--directory",
        str(tmp_path),
        "--executor",
        "slurm",
        "--jobs",
        "10",
        "--dry-run",
        "--nocolor",
        "all",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=snakemake_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = _jobs_by_rule(proc.stdout)
    assert GPU_RULES <= set(jobs), sorted(jobs)
    assert {"evaluate_run", "make_table", "prepare_data"} <= set(jobs), sorted(jobs)
    for rule, resources in jobs.items():
        for res in resources:
            has_gpu = re.search(r"\bgpu=1\b", res) is not None
            assert has_gpu == (rule in GPU_RULES), f"{rule}: {res}"


def test_device_cpu_requests_no_gpu(tmp_path):
    extra = tmp_path / "gpus.yaml"
    extra.write_text("device: cpu\nresources: {train: {gpus: 2}, extract: {gpus: 1}}\n")
    cmd = [SNAKEMAKE, "-s", str(SNAKEFILE), "--configfile", str(HEAD_CONFIG), str(extra)]
    cmd += ["--directory", str(tmp_path), "--executor", "slurm", "--jobs", "10"]
    cmd += ["-n", "--nocolor", "all"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=snakemake_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gpu=" not in proc.stdout


FAKE_SLURM = {
    # records every submission, then refuses it: the plugin reports the full sbatch call
    "sbatch": 'printf "%s\\n" "$*" >> "$FAKE_SBATCH_LOG"; echo "fake sbatch: refused" >&2; exit 1',
    "sinfo": 'echo "PARTITION"; echo "debug*"',
    "scontrol": "exit 1",
    "sacct": "exit 1",
    "squeue": "exit 0",
}


def test_sbatch_command_line_asks_for_gpus_only_for_gpu_rules(tmp_path):
    """The real submission path of the executor plugin, up to sbatch itself."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in FAKE_SLURM.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    work = tmp_path / "work"
    # Inputs in place so that one job of each kind is ready at once: extraction (digits
    # data exists), training (synthetic seed 1) and evaluation (synthetic seed 0 trained).
    ready = [
        "results/data/synthetic.h5",
        "results/data/digits.h5",
        "results/benchmarks/prepare_data/synthetic.tsv",
        "results/benchmarks/prepare_data/digits.tsv",
        *(
            f"results/runs/synthetic_mlp/contrastive/seed0/{f}"
            for f in ("model.pt", "history.csv", "embeddings.h5", "config.json")
        ),
        "results/benchmarks/train/synthetic_mlp/contrastive/seed0.tsv",
    ]
    start = time.time() - 60
    for i, rel in enumerate(ready):  # in order: each file newer than the ones it is made from
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        os.utime(path, (start + i, start + i))
    env = snakemake_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["FAKE_SBATCH_LOG"] = str(tmp_path / "sbatch.log")
    extra = tmp_path / "cuda.yaml"
    extra.write_text("device: cuda\nseeds: [0, 1]\n")
    cmd = [SNAKEMAKE, "-s", str(SNAKEFILE), "--configfile", str(HEAD_CONFIG), str(extra)]
    cmd += ["--directory", str(work)]
    cmd += ["--executor", "slurm", "--jobs", "10", "--keep-going", "--nocolor"]
    cmd += ["--slurm-init-seconds-before-status-checks", "1", "--retries", "0", "all"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0  # every submission was refused
    log = tmp_path / "sbatch.log"
    assert log.exists(), proc.stdout + proc.stderr
    calls = log.read_text().splitlines()
    by_rule = {}
    for call in calls:
        rule = re.search(r"--comment[= ]'?rule_(\w+?)_wildcards", call)
        assert rule, call
        by_rule[rule.group(1)] = call
    assert set(by_rule) == {"train_model", "extract_features", "evaluate_run"}, calls
    for rule, call in by_rule.items():
        assert ("--gpus=1" in call) == (rule in GPU_RULES), call


def _fake_sacct(tmp_path: Path, output: str) -> dict:
    """Environment with the shim first on PATH and, after it, a "real" sacct that records
    its arguments, prints ``output`` and exits 3."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "out.txt").write_text(output)
    script = '#!/bin/sh\necho "$*" > "$0.args"\ncat "$(dirname "$0")/out.txt"\nexit 3\n'
    (real / "sacct").write_text(script)
    (real / "sacct").chmod(0o755)
    return dict(os.environ, PATH=f"{SHIM.parent}{os.pathsep}{real}{os.pathsep}/usr/bin:/bin")


def test_sacct_shim_reports_cancelled_by_uid_as_cancelled(tmp_path):
    env = _fake_sacct(tmp_path, "1|COMPLETED\n2|CANCELLED by 0\n4|CANCELLED\n")
    proc = subprocess.run(
        ["sacct", "-X", "--parsable2", "--name", "x y"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 3  # the real sacct's exit status
    assert proc.stdout.split() == ["1|COMPLETED", "2|CANCELLED", "4|CANCELLED"]
    assert (tmp_path / "real" / "sacct.args").read_text().strip() == "-X --parsable2 --name x y"


def test_sacct_shim_reports_array_tasks_under_their_own_ids(tmp_path):
    # sacct -o JobIdRaw,JobID,State for: a plain job 7, array 10 whose tasks 10_1/10_2 have
    # raw ids 11/12 and whose raw id 10 is the pending rest 10_[3-4,6]
    rows = "7|7|RUNNING\n11|10_1|COMPLETED\n12|10_2|CANCELLED by 0\n10|10_[3-4,6%2]|PENDING\n"
    env = _fake_sacct(tmp_path, rows)
    query = ["sacct", "-X", "--parsable2", "--noheader", "--format=JobIdRaw,State"]
    proc = subprocess.run(query, capture_output=True, text=True, env=env)
    assert proc.returncode == 3
    assert proc.stdout.split() == [
        "7|RUNNING",
        "10_1|COMPLETED",
        "10_2|CANCELLED",
        "10_3|PENDING",
        "10_4|PENDING",
        "10_6|PENDING",
    ]
    args = (tmp_path / "real" / "sacct.args").read_text().split()
    assert "--format=JobIdRaw,JobID,State" in args
