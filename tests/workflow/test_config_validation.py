"""Strict config validation.

Each bad config below differs from the valid tests/config/tiny.yaml in one place and must
give exactly one problem whose message names the key, the value and what is allowed,
both from ``dmlstudy.config.validate`` and from the workflow itself (``snakemake -n``
exits non-zero before building any job, prints the message, and prints no traceback).
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from config_cases import SMK_CASES, bad_config
from conftest import (
    SNAKEMAKE,
    output_of,
    run_snakemake,
    snakemake_args,
    snakemake_env,
    write_config,
)


# --------------------------------------------------------------------------- through Snakemake
@pytest.fixture(scope="module")
def snakemake_results(tmp_path_factory):
    """``snakemake -n all`` on every Snakemake case, two at a time (each is only start-up)."""
    root = tmp_path_factory.mktemp("bad_configs")

    def run(case):
        case_id, changes, _, _ = case
        configfile = write_config(root / f"{case_id}.yaml", bad_config(changes))
        return case_id, run_snakemake(root / case_id, configfile, "-n", "all", timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return {**dict(pool.map(run, SMK_CASES)), "_root": root}


@pytest.mark.slow
@pytest.mark.parametrize(
    "case_id, changes, expected, smk", SMK_CASES, ids=[c[0] for c in SMK_CASES]
)
def test_snakemake_stops_with_the_message_and_no_traceback(
    snakemake_results, case_id, changes, expected, smk
):
    proc = snakemake_results[case_id]
    out = output_of(proc)
    assert proc.returncode != 0, out
    for part in expected:
        assert part in proc.stderr, f"{part!r} not in stderr:\n{out}"
    assert "Traceback" not in out, out
    assert 'File "' not in out, out  # no stack lines either
    assert out.count("invalid config (1 problem)") == 1, out  # printed once
    assert "Building DAG" not in out  # stopped before planning any job
    assert not (Path(snakemake_results["_root"]) / case_id / "results").exists()


# --------------------------------------------------------------------------- bad inputs
BROKEN_YAML = {
    # an unclosed flow sequence: the error is found on line 2
    "unclosed": ("seeds: [0, 1\nlosses: [contrastive]\n", 2, "expected ',' or ']'"),
    # a key indented under a scalar
    "indent": ("seeds: [0]\n  losses: [triplet]\n", 2, "expected <block end>"),
    # a tab for indentation
    "tab": ("training:\n\tepochs: 3\n", 2, "found character '\\t'"),
    # valid YAML, but not a mapping of keys
    "list": ("- seeds\n- losses\n", None, "not a mapping of keys"),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, form",
    [(case, "--configfile FILE") for case in BROKEN_YAML] + [("unclosed", "--configfile=FILE")],
)
def test_a_config_file_that_is_not_yaml_is_named_with_its_line(tmp_path, case, form):
    """Snakemake's own message, "Config file is not valid JSON or YAML", names neither the
    file nor the line; the workflow profile checks each --configfile first and does."""
    text, line, problem = BROKEN_YAML[case]
    configfile = tmp_path / f"{case}.yaml"
    configfile.write_text(text)
    args = [a for a in snakemake_args(configfile) if a not in ("--configfile", str(configfile))]
    flag = [f"--configfile={configfile}"] if "=" in form else ["--configfile", str(configfile)]
    proc = subprocess.run(
        [*args, *flag, "--directory", str(tmp_path / "wd"), "-n", "all"],
        capture_output=True,
        text=True,
        env=snakemake_env(),
        timeout=300,
    )
    out = output_of(proc)
    assert args[0] == SNAKEMAKE and proc.returncode != 0, out
    assert str(configfile) in proc.stderr, out
    assert problem in proc.stderr, out
    if line is not None:
        assert f"line {line}" in proc.stderr, out
    assert "dmlstudy-validate" in proc.stderr  # the fix: where to check the file
    assert "Traceback" not in out and "not valid JSON or YAML" not in out, out
