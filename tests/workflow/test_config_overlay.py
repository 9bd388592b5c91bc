"""Overrides as config/README.md ("Changing a few values: an overlay file") documents them.

An overlay YAML given as a second ``--configfile`` after the main config is merged into it
key by key at every depth (lists replaced whole), and the Snakefile's "``--configfile``
replaces config/config.yaml" logic keeps it that way; ``--config`` with a nested or list
value fails as documented. The plans are read from dry runs on the completed tiny run
(``tiny_run``; dry runs change nothing).
"""

from __future__ import annotations

import subprocess

import pytest
from conftest import (
    PROFILE,
    SNAKEFILE,
    SNAKEMAKE,
    TINY_CONFIG,
    output_of,
    planned_jobs,
    require_success,
    run_snakemake,
    snakemake_env,
)

pytestmark = pytest.mark.slow


def dry_run(workdir, *configfiles) -> subprocess.CompletedProcess:
    """``snakemake -n all --configfile CONFIGFILES...`` in ``workdir``, as documented."""
    cmd = [SNAKEMAKE, "-s", SNAKEFILE, "--workflow-profile", PROFILE, "--nocolor"]
    cmd += ["--directory", workdir, "-n", "all", "--configfile", *configfiles]
    return subprocess.run(
        list(map(str, cmd)), capture_output=True, text=True, env=snakemake_env(), timeout=600
    )


def runs(jobs, rule) -> set[tuple[str, str, str]]:
    return {(w["experiment"], w["loss"], w["seed"]) for r, w in jobs if r == rule}


def test_overlay_changes_the_nested_key_it_sets_and_nothing_else(tiny_run, tmp_path):
    """training.epochs 5 over tests/config/tiny.yaml: synthetic_mlp (which takes the
    top-level training) retrains; digits_cnn sets its own epochs (2) and keeps the
    top-level batch_size (32), so it does not: the overlay replaced one key, not the
    whole `training` mapping (that would bring back the schema's batch_size 64)."""
    overlay = tmp_path / "quick.yaml"
    overlay.write_text("training: {epochs: 5}\n")
    proc = dry_run(tiny_run, TINY_CONFIG, overlay)
    require_success(proc, "a dry run with an overlay")
    jobs = planned_jobs(output_of(proc))
    expected = {
        ("synthetic_mlp", loss, seed) for loss in ("contrastive", "triplet") for seed in "01"
    }
    assert runs(jobs, "train_model") == expected
    assert runs(jobs, "evaluate_run") == expected
    assert not any(rule == "prepare_data" for rule, _ in jobs)


def test_overlay_replaces_a_list_whole(tmp_path):
    overlay = tmp_path / "one_seed.yaml"
    overlay.write_text("seeds: [1]\n")
    proc = dry_run(tmp_path, TINY_CONFIG, overlay)
    require_success(proc, "a dry run with a seeds overlay")
    trained = runs(planned_jobs(output_of(proc)), "train_model")
    assert {seed for _, _, seed in trained} == {"1"} and len(trained) == 4


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("seeds=[0]", "'seeds.0' = '0' has the wrong type; expected integer"),
        ('training={"epochs": 5}', "'training.epochs' = '5' has the wrong type; expected integer"),
        ("training.epochs=5", "Config entry must start with a valid identifier"),
    ],
)
def test_nested_values_on_the_command_line_fail_as_documented(tmp_path, value, message):
    proc = run_snakemake(tmp_path, TINY_CONFIG, "-n", "all", "--config", value)
    assert proc.returncode != 0
    assert message in output_of(proc)
