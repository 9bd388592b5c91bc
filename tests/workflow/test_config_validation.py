"""Strict config validation (issue #6, item 5).

Each bad config below differs from the valid tests/config/tiny.yaml in one place and must
give exactly one problem whose message names the key, the value and what is allowed,
both from ``dmlstudy.config.validate`` and from the workflow itself (``snakemake -n``
exits non-zero before building any job, prints the message, and prints no traceback).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from config_cases import SMK_CASES, bad_config
from conftest import output_of, run_snakemake, write_config


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
