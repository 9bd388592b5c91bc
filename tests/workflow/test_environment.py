"""The jobs' environment: a job imports the package from the workflow's own
tree, and the conda environment of ``--sdm conda`` installs that package.

conda cannot be installed on these machines (docs/slurm.md), so the conda side is tested as
far as it can be: the environment file parses, lists exactly envs/requirements.txt's pins,
and its pip entry for the project resolves, through pip itself, to the workflow's own tree
from wherever conda writes pip's requirements (Snakemake copies the environment file to
``.snakemake/conda/<hash>.yaml`` before ``conda env create``, so a path relative to envs/,
such as the ``-r requirements.txt`` it used to hold, would not be found there).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, TINY_CONFIG, output_of, require_success, snakemake_env

ENV_FILE = REPO / "envs" / "environment.yaml"
REQUIREMENTS = REPO / "envs" / "requirements.txt"
PROJECT = "-e ${DMLSTUDY_ROOT}"


def pip_entries() -> list[str]:
    env = yaml.safe_load(ENV_FILE.read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    (pip,) = [d["pip"] for d in deps if isinstance(d, dict)]
    return pip


def test_the_environment_file_lists_the_pinned_packages_and_the_project():
    pins = [
        line.strip()
        for line in REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pip = pip_entries()
    assert pip.count(PROJECT) == 1
    assert sorted(e for e in pip if e != PROJECT) == sorted(pins)
    # nothing relative to envs/: the file is used from a copy under .snakemake/conda/
    assert not [e for e in pip if e.startswith(("-r", "--requirement", "-e .", "-c"))]


def test_pip_resolves_the_project_entry_to_the_workflows_tree(tmp_path):
    """What conda does with the pip section: write it to a requirements file beside the
    (copied) environment file and run pip there. With DMLSTUDY_ROOT as the workflow sets it
    (common.smk), pip installs this checkout, editable, whatever the current folder."""
    copy = tmp_path / ".snakemake" / "conda"
    copy.mkdir(parents=True)
    requirements = copy / "condaenv.requirements.txt"
    requirements.write_text(PROJECT + "\n")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index"]
        + ["--no-build-isolation", "--quiet", "--report", str(report), "-r", requirements.name],
        cwd=copy,
        env={**os.environ, "DMLSTUDY_ROOT": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (item,) = json.loads(report.read_text())["install"]
    assert item["metadata"]["name"] == "dmlstudy"
    assert item["download_info"]["url"] == REPO.as_uri()
    assert item["download_info"]["dir_info"] == {"editable": True}


RECORD = """
# test_environment: record which copy of the package each process imported
import os as _os
import sys as _sys

if _os.environ.get("DMLSTUDY_IMPORT_RECORD"):
    with open(_os.environ["DMLSTUDY_IMPORT_RECORD"], "a") as _fh:
        _fh.write(f"{_sys.argv[0]}\\t{__file__}\\t{_os.environ.get('DMLSTUDY_ROOT')}\\n")
"""


@pytest.mark.slow
def test_a_job_imports_the_package_from_the_workflows_own_tree(tmp_path):
    """A copy of the workflow, run from elsewhere with no PYTHONPATH: Snakemake's process and
    the job's script both import the copy's src/dmlstudy (not the installed checkout), and
    the job sees DMLSTUDY_ROOT = the copy, the path the conda environment installs."""
    copy = tmp_path / "workflow_copy"
    copy.mkdir()
    for name in ("workflow", "src", "profiles", "envs"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, copy / name)
    init = copy / "src" / "dmlstudy" / "__init__.py"
    init.write_text(init.read_text() + RECORD)
    record = tmp_path / "imports.tsv"
    env = {k: v for k, v in snakemake_env().items() if k != "PYTHONPATH"}
    env["DMLSTUDY_IMPORT_RECORD"] = str(record)
    cmd = [
        str(Path(sys.executable).with_name("snakemake")),
        "-s",
        str(copy / "workflow" / "Snakefile"),
    ]
    cmd += ["--workflow-profile", str(copy / "profiles" / "default"), "--cores", "1"]
    cmd += ["--configfile", str(TINY_CONFIG), "--directory", str(tmp_path / "wd")]
    proc = subprocess.run(
        [*cmd, "results/data/synthetic.h5"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    require_success(proc, "the copied workflow")
    rows = [line.split("\t") for line in record.read_text().splitlines()]
    jobs = [r for r in rows if "prepare_data" in r[0]]
    assert jobs and len(rows) > len(jobs), output_of(proc)  # Snakemake itself, and the job
    for argv0, module, _ in rows:
        assert Path(module).is_relative_to(copy / "src"), (argv0, module)
    assert {r[2] for r in jobs} == {str(copy)}
