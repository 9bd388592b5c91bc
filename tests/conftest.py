"""Shared fixtures: Snakemake command lines and finished tiny workflow runs.

A finished run is made once per test session (``tiny_run``, ``head_run``) and must be
treated as read-only: a test that changes files works on a copy (``copy_run``, which keeps
modification times, so Snakemake sees the copy exactly as up to date as the original).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
PROFILE = REPO / "profiles" / "default"
CONFIG_DIR = REPO / "tests" / "config"
TINY_CONFIG = CONFIG_DIR / "tiny.yaml"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def _no_slurm_probe_dir() -> str:
    """A folder with an ``scontrol`` that fails at once. Importing Snakemake loads the SLURM
    executor plugin, which runs ``scontrol show config`` to word its help text; where the
    SLURM client is installed but no controller runs, that waits about 9 s on every
    ``snakemake`` start. These tests only run Snakemake locally, so they skip the wait."""
    folder = Path(tempfile.gettempdir()) / "dmlstudy-tests-no-slurm-probe"
    folder.mkdir(exist_ok=True)
    shim = folder / "scontrol"
    if not shim.exists():  # written atomically: parallel test sessions may share it
        tmp = folder / f".scontrol.{os.getpid()}"
        tmp.write_text("#!/bin/sh\n# local test runs: no SLURM controller to ask\nexit 1\n")
        tmp.chmod(0o755)
        os.replace(tmp, shim)
    return str(folder)


def snakemake_env() -> dict:
    """Environment of every subprocess a test starts (Snakemake or Python): offline model hub,
    the venv first on PATH, this checkout's ``src/`` first on PYTHONPATH (never another
    installed copy of the package), no SLURM probe (see ``_no_slurm_probe_dir``)."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    src = str(REPO / "src")
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    env["PYTHONPATH"] = os.pathsep.join([src, *rest])
    path = [_no_slurm_probe_dir(), str(Path(sys.executable).parent), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    return env


def snakemake_args(configfile, cores: int = 2) -> list[str]:
    """``snakemake`` with this repository's Snakefile and workstation profile and ``configfile``."""
    return [
        SNAKEMAKE,
        "-s",
        str(SNAKEFILE),
        "--workflow-profile",
        str(PROFILE),
        "--configfile",
        str(configfile),
        "--cores",
        str(cores),
        "--nocolor",
    ]


def run_snakemake(
    workdir, configfile, *args, timeout: float = 600, **kwargs
) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir`` (created if needed); returns the finished process with
    ``stdout``/``stderr`` as text. Never raises on a non-zero exit status."""
    cmd = [*snakemake_args(configfile), "--directory", str(workdir), *map(str, args)]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=snakemake_env(), **kwargs
    )


def output_of(proc: subprocess.CompletedProcess) -> str:
    return (proc.stdout or "") + (proc.stderr or "")


def require_success(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        pytest.fail(f"{what} failed (exit {proc.returncode}):\n{output_of(proc)[-6000:]}")


def copy_run(src, dst) -> Path:
    """Copy a finished run (results and .snakemake metadata), keeping modification times."""
    shutil.copytree(src, dst, symlinks=True)
    return Path(dst)


def run_outputs(folder) -> dict[str, str]:
    """The result files of one training run in ``folder``, as ``runs.train_run`` takes them."""
    folder = Path(folder)
    names = {
        "model": "model.pt",
        "history": "history.csv",
        "embeddings": "embeddings.h5",
        "config": "config.json",
    }
    return {k: str(folder / v) for k, v in names.items()}


def write_config(path, cfg: dict) -> Path:
    path = Path(path)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def load_yaml(path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def file_mtimes(root) -> dict[str, int]:
    """Relative path -> mtime_ns of every file under ``root/results``."""
    root = Path(root)
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in sorted((root / "results").rglob("*"))
        if p.is_file()
    }


def planned_jobs(text: str) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job in a dry run's output, checked against its job stats."""
    jobs: list[tuple[str, dict]] = []
    for line in text.splitlines():
        m = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line)
        if m:
            jobs.append((m.group(1), {}))
        elif jobs and line.strip().startswith("wildcards:"):
            for item in line.split(":", 1)[1].split(","):
                key, value = item.strip().split("=", 1)
                jobs[-1][1][key] = value
    stats = {}
    if "Job stats:" in text:
        table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
        for row in table.splitlines():
            parts = row.split()
            if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
                stats[parts[0]] = int(parts[1])
    assert Counter(rule for rule, _ in jobs) == Counter(stats), (jobs, stats, text)
    return jobs


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def restore_registries():
    """The registries (losses, samplers, sources, backbones) and the plugins loaded in this
    process put back as they were after the test: a test may register or load plugins."""
    from dmlstudy import plugins

    saved, loaded = plugins.snapshot(), dict(plugins._LOADED)
    yield
    plugins.restore(saved)
    plugins._LOADED.clear()
    plugins._LOADED.update(loaded)


@pytest.fixture(scope="session")
def snakemake_cmd() -> list[str]:
    """Snakemake on the tiny config; add ``--directory DIR`` and targets or flags."""
    return snakemake_args(TINY_CONFIG)


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    return load_yaml(TINY_CONFIG)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Folder in which ``snakemake --cores 2 all`` completed on tests/config/tiny.yaml.
    Read-only: copy it (``copy_run``) before changing anything."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    proc = run_snakemake(workdir, TINY_CONFIG, "all")
    require_success(proc, "the tiny workflow run")
    return workdir


@pytest.fixture
def tiny_run_copy(tiny_run, tmp_path) -> Path:
    """A private, writable copy of ``tiny_run``."""
    return copy_run(tiny_run, tmp_path / "run")


@pytest.fixture(scope="session")
def tiny_vit_dir(tmp_path_factory) -> Path:
    """A tiny randomly initialised HF ViT saved with ``save_pretrained`` (loads offline)."""
    import torch
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        image_size=32,
        patch_size=16,
    )
    folder = tmp_path_factory.mktemp("tiny_vit")
    ViTModel(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def head_config(tiny_vit_dir) -> dict:
    """tests/config/tiny_head.yaml with its backbone pointed at ``tiny_vit_dir``."""
    cfg = load_yaml(CONFIG_DIR / "tiny_head.yaml")
    cfg["backbones"]["tinyvit"]["model"] = str(tiny_vit_dir)
    return cfg


@pytest.fixture(scope="session")
def head_run(tmp_path_factory, head_config) -> Path:
    """Folder in which ``all`` completed on tests/config/tiny_head.yaml: a vector, an image
    and a frozen-backbone (head) experiment, so every stage has up-to-date outputs.
    The config used is ``head_run / 'config.yaml'`` (outside ``results``). Read-only."""
    root = tmp_path_factory.mktemp("head_run")
    configfile = write_config(root / "config.yaml", head_config)
    proc = run_snakemake(root, configfile, "all")
    require_success(proc, "the tiny head workflow run")
    return root
