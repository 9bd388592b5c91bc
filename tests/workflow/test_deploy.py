"""The workflow used from another folder as a Snakemake module, as config/README.md
("Using the workflow from another folder") documents it.

Each test writes what ``snakedeploy deploy-workflow`` writes (a copy of ``config/`` and
``profiles/`` and a ``workflow/Snakefile``), with the Snakefile taken from config/README.md,
and runs ``snakemake`` in that folder exactly as a user does: no ``-s``, no
``--workflow-profile``, and without this checkout's ``src/`` on PYTHONPATH (each job's log
names the copy of the package it imported).

- From a local clone (this checkout): the tiny config runs to completion and gives the same
  results as a run in the clone; the default config plans the same jobs as in the clone.
- From a git URL with a branch: ``github("someone/dmlstudy", ..., branch="release")``, the
  form snakedeploy writes for a GitHub URL. No network: git's ``url.<base>.insteadOf``
  sends Snakemake's clone of https://github.com/someone/dmlstudy to a local repository made
  from this checkout's files, which has that branch only. The package is copied out of
  Snakemake's source cache (workflow/rules/package.smk) and the jobs import that copy.
- The workflow profile (``profiles/default``) reaches a deployed SLURM run: its job arrays
  show in the ``sbatch`` calls, captured by a stand-in ``sbatch``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import (
    REPO,
    SNAKEMAKE,
    TINY_CONFIG,
    output_of,
    planned_jobs,
    require_success,
    run_snakemake,
    snakemake_env,
)

pytestmark = pytest.mark.slow

DOCS = REPO / "config" / "README.md"
GITHUB_LINE = 'github("OWNER/dmlstudy", path="workflow/Snakefile", branch="main")'
PROFILE_LINE = "Using workflow specific profile profiles/default"
LOG_LINE = re.compile(r"dmlstudy \S+ from (\S+)")


def documented_snakefile(snakefile: str) -> str:
    """The deployment's workflow/Snakefile as config/README.md gives it, with the module's
    ``snakefile:`` replaced by ``snakefile`` (a quoted path or a ``github(...)`` call)."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    [block] = [b for b in blocks if "module dmlstudy:" in b]
    assert block.count(GITHUB_LINE) == 1, block
    return block.replace(GITHUB_LINE, snakefile)


def deploy(dest: Path, snakefile: str) -> Path:
    """What snakedeploy writes into ``dest`` (config/, profiles/, workflow/Snakefile, the
    latter as documented), plus the tiny config copied to config/tiny.yaml as the docs say."""
    shutil.copytree(REPO / "config", dest / "config")
    shutil.copytree(REPO / "profiles", dest / "profiles")
    (dest / "workflow").mkdir()
    (dest / "workflow" / "Snakefile").write_text(documented_snakefile(snakefile))
    shutil.copy(TINY_CONFIG, dest / "config" / "tiny.yaml")
    return dest


def user_env(tmp_path: Path) -> dict:
    """The tests' environment without this checkout's src/ on PYTHONPATH and with a private
    Snakemake source cache."""
    env = snakemake_env()
    src = str(REPO / "src")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in env["PYTHONPATH"].split(os.pathsep) if p and p != src
    )
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


def snakemake_in(folder: Path, env: dict, *args, timeout: float = 900):
    """``snakemake ARGS`` typed in ``folder``."""
    return subprocess.run(
        [SNAKEMAKE, "--nocolor", *map(str, args)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def package_dirs_in_logs(folder: Path) -> set[str]:
    """The package folders that the jobs' logs say they imported."""
    found = set()
    for log in (folder / "results" / "logs").rglob("*.log"):
        found |= set(LOG_LINE.findall(log.read_text()))
    return found


def same_metrics(a: Path, b: Path) -> bool:
    """Two runs' metrics.json agree in every value but the measured training time (CPU runs
    are deterministic)."""
    first, second = (json.loads(p.read_text()) for p in (a, b))
    first.pop("train_seconds"), second.pop("train_seconds")
    return first == second


def result_files(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix() for p in (folder / "results").rglob("*") if p.is_file()
    }


def test_deployed_from_a_local_clone_runs_the_tiny_config(tmp_path, tiny_run):
    dest = deploy(tmp_path / "my-study", f'"{REPO}/workflow/Snakefile"')
    proc = snakemake_in(
        dest, user_env(tmp_path), "--cores", 2, "all", "--configfile", "config/tiny.yaml"
    )
    require_success(proc, "the tiny config in a folder deployed from a local clone")
    assert PROFILE_LINE in output_of(proc)
    assert result_files(dest) == result_files(tiny_run)
    # the same workflow: CPU runs are deterministic, so the per-run metrics are the same
    for metrics in sorted((tiny_run / "results" / "runs").rglob("metrics.json")):
        assert same_metrics(dest / metrics.relative_to(tiny_run), metrics), metrics
    assert package_dirs_in_logs(dest) == {str(REPO / "src" / "dmlstudy")}
    # the report finds the captions in the module's workflow/report/
    report = snakemake_in(
        dest, user_env(tmp_path), "--report", "report.html", "--configfile", "config/tiny.yaml"
    )
    require_success(report, "the report of the deployed run")
    html = (dest / "report.html").read_text()
    for caption in ("workflow.rst", "fig1.rst"):
        first_line = (REPO / "workflow" / "report" / caption).read_text().splitlines()[0]
        assert first_line.rstrip(",") in html, caption


def test_deployed_default_config_plans_the_jobs_of_a_clone(tmp_path):
    dest = deploy(tmp_path / "my-study", f'"{REPO}/workflow/Snakefile"')
    proc = snakemake_in(dest, user_env(tmp_path), "-n", "all")
    require_success(proc, "a dry run of the default config in a deployed folder")
    clone = run_snakemake(tmp_path / "clone", REPO / "config" / "config.yaml", "-n", "all")
    require_success(clone, "a dry run of the default config in the clone")
    deployed_jobs = planned_jobs(output_of(proc))
    assert {rule for rule, _ in deployed_jobs} >= {"train_model", "extract_features", "all"}
    assert sorted(map(repr, deployed_jobs)) == sorted(map(repr, planned_jobs(output_of(clone))))


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def fake_github(tmp_path: Path, branch: str) -> dict:
    """A git repository ``someone/dmlstudy`` holding this checkout's files (tracked and
    untracked, not ignored) on ``branch`` only, and an environment in which git fetches
    https://github.com/someone/dmlstudy from it."""
    remote = tmp_path / "remote"
    repo = remote / "someone" / "dmlstudy"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for rel in filter(None, listed.split("\0")):
        src = REPO / rel
        if not (src.is_file() or src.is_symlink()):  # deleted in the work tree
            continue
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, repo / rel, follow_symlinks=False)
    _git(repo, "init", "-q", "-b", branch)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "the checkout under test")
    env = user_env(tmp_path)
    env.update(
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"url.file://{remote}/.insteadOf",
        GIT_CONFIG_VALUE_0="https://github.com/",
    )
    return env


def test_deployed_from_a_git_url_with_a_branch(tmp_path, tiny_run):
    env = fake_github(tmp_path, branch="release")
    dest = deploy(
        tmp_path / "my-study",
        'github("someone/dmlstudy", path="workflow/Snakefile", branch="release")',
    )
    # the plan is the clone's
    dry = snakemake_in(dest, env, "-n", "all", "--configfile", "config/tiny.yaml")
    require_success(dry, "a dry run of the tiny config deployed from a git URL")
    assert PROFILE_LINE in output_of(dry)
    clone = run_snakemake(tmp_path / "clone", TINY_CONFIG, "-n", "all")
    require_success(clone, "a dry run of the tiny config in the clone")
    assert sorted(map(repr, planned_jobs(output_of(dry)))) == sorted(
        map(repr, planned_jobs(output_of(clone)))
    )
    # the package was copied out of the source cache, file for file
    [tree] = (dest / ".snakemake" / "dmlstudy-workflow").iterdir()
    package = REPO / "src" / "dmlstudy"
    copied = tree / "src" / "dmlstudy"
    originals = [p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for original in originals:
        copy = copied / original.relative_to(package)
        # git show (Snakemake's reader) drops a file's final newline
        assert copy.read_text().rstrip("\n") == original.read_text().rstrip("\n"), copy
    assert (copied / "schemas" / "config.schema.yaml").is_symlink()
    assert os.access(tree / "workflow" / "slurm" / "sacct", os.X_OK)
    # one training run and its evaluation: the jobs import the copy, with the clone's results
    target = "results/runs/synthetic_mlp/contrastive/seed0/metrics.json"
    run = snakemake_in(dest, env, "--cores", 2, target, "--configfile", "config/tiny.yaml")
    require_success(run, "one run of the tiny config deployed from a git URL")
    assert same_metrics(dest / target, tiny_run / target)
    assert package_dirs_in_logs(dest) == {str(copied)}
    assert not (dest / "src").exists()


FAKE_SLURM = {
    # records every submission, then refuses it (no cluster needed)
    "sbatch": 'printf "%s\\n" "$*" >> "$FAKE_SBATCH_LOG"; echo "fake sbatch: refused" >&2; exit 1',
    "sinfo": 'echo "PARTITION"; echo "debug*"',
    "scontrol": "exit 1",
    "sacct": "exit 1",
    "squeue": "exit 0",
}


def _sbatch_calls(tmp_path: Path, dest: Path, name: str, *args: str) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool, body in FAKE_SLURM.items():
        (bin_dir / tool).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / tool).chmod(0o755)
    env = user_env(tmp_path)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["FAKE_SBATCH_LOG"] = str(tmp_path / f"{name}.log")
    proc = snakemake_in(
        dest,
        env,
        *("all", "--executor", "slurm", "--jobs", "10", "--retries", "0"),
        *("--slurm-init-seconds-before-status-checks", "1", *args),
        *("--configfile", "config/tiny.yaml"),  # last: --configfile takes every word after it
        timeout=300,
    )
    assert proc.returncode != 0, output_of(proc)  # every submission was refused
    log = Path(env["FAKE_SBATCH_LOG"])
    assert log.exists(), output_of(proc)
    return log.read_text().splitlines()


def test_workflow_profile_reaches_a_deployed_slurm_run(tmp_path):
    """profiles/default's slurm-array-jobs: the two prepare_data jobs of the tiny config go
    out as one array job; without the workflow profile, one by one."""
    dest = deploy(tmp_path / "my-study", f'"{REPO}/workflow/Snakefile"')
    with_profile = _sbatch_calls(tmp_path, dest, "with")
    prepare = [c for c in with_profile if "rule_prepare_data" in c]
    assert len(prepare) == 1 and "--array=1-2" in prepare[0], with_profile
    shutil.rmtree(dest / ".snakemake")
    without = _sbatch_calls(tmp_path, dest, "without", "--workflow-profile", "none")
    prepare = [c for c in without if "rule_prepare_data" in c]
    assert len(prepare) == 2 and not any("--array" in c for c in prepare), without


def test_workflow_profile_is_found_from_the_root_of_a_clone(tmp_path):
    """`snakemake ...` typed in the root of a clone finds workflow/Snakefile and the workflow
    profile profiles/default beside it."""
    proc = snakemake_in(
        REPO, snakemake_env(), "-n", "--configfile", TINY_CONFIG, "--directory", tmp_path, "all"
    )
    require_success(proc, "a dry run from the root of the clone")
    assert PROFILE_LINE in output_of(proc)
    assert not (tmp_path / ".snakemake" / "dmlstudy-workflow").exists()  # src/ used in place
