"""Sweeps and the tuned protocol as Snakemake runs them.

One completed run of tests/config/tiny_tuned.yaml (a 2-value margin grid per loss, tuned on
a validation split, 5 final seeds) is shared by every test, read-only; the rerun semantics
are dry-run plans of changed configs on it, and one real rerun on a copy.
"""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
from conftest import (
    CONFIG_DIR,
    copy_run,
    file_mtimes,
    load_yaml,
    output_of,
    planned_jobs,
    require_success,
    run_snakemake,
    write_config,
)

from dmlstudy.report.claims import VERDICTS

pytestmark = pytest.mark.slow

CONFIG = CONFIG_DIR / "tiny_tuned.yaml"
BASE = load_yaml(CONFIG)
EXP = "synthetic_mlp"
LOSSES = BASE["losses"]
VALIDATION = "split~validation/"
RUN_RULES = ("train_model", "evaluate_run")
SWEEP_AGGREGATION = {"select_points", "sweep_summary", "tuned_comparison", "collect_runtime"}


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tuned_run")
    require_success(run_snakemake(workdir, CONFIG, "all"), "the tiny tuned workflow run")
    return workdir


@pytest.fixture(scope="module")
def selected(tuned_run) -> dict:
    """loss -> its selected point segment."""
    table = pd.read_csv(tuned_run / "results/tables/selected_points.csv")
    return dict(zip(table["loss"], table["segment"], strict=True))


def plan(workdir, tmp_path, cfg) -> list[tuple[str, dict]]:
    proc = run_snakemake(workdir, write_config(tmp_path / "c.yaml", cfg), "-n", "all")
    assert proc.returncode == 0, output_of(proc)
    return planned_jobs(output_of(proc))


def runs_of(jobs, rule) -> set[tuple]:
    return {(w["experiment"], w["loss"], w["point"], w["seed"]) for r, w in jobs if r == rule}


def with_margins(**margins) -> dict:
    cfg = copy.deepcopy(BASE)
    cfg["sweeps"]["grids"][EXP] = {lo: {"loss.margin": m} for lo, m in margins.items()}
    return cfg


# --------------------------------------------------------------------------- outputs
def test_tuned_run_writes_every_output(tuned_run, selected):
    res = tuned_run / "results"
    for name in ("sweep_points.csv", "selected_points.csv", "tuned_gains.csv"):
        assert (res / "tables" / name).stat().st_size > 0
    for name in ("tuned_comparison.csv", "tuned_comparison.tex"):
        assert (res / "tables" / name).stat().st_size > 0
    for ext in ("pdf", "png"):
        assert (res / f"figures/fig_sensitivity.{ext}").stat().st_size > 0
    assert set(selected) == set(LOSSES)
    table = pd.read_csv(res / "tables/tuned_comparison.csv")
    assert set(table["setting"]) == {"fixed", "tuned"}
    assert set(table["verdict"]) <= set(VERDICTS)
    assert set(table["n_contrastive"]) == {5} and set(table["n_triplet"]) == {5}
    sweep = pd.read_csv(res / "tables/sweep_points.csv")
    assert len(sweep) == 4 and set(sweep["scored_on"]) == {"validation"}
    assert set(sweep["n_seeds"]) == {len(BASE["sweeps"]["tuning_seeds"])}


def test_runs_live_under_their_point_and_record_it(tuned_run, selected):
    runs = tuned_run / "results/runs" / EXP
    for lo in LOSSES:
        for s in BASE["seeds"]:  # the fixed setting: today's path
            assert (runs / lo / f"seed{s}" / "metrics.json").exists()
            final = json.loads((runs / lo / selected[lo] / f"seed{s}/config.json").read_text())
            assert final["point"] == final["resolved"]["point"]
            assert final["resolved"]["loss"]["margin"] == final["point"]["loss.margin"]
            assert "validation" not in final
        for m in ("0.5", "1.0"):
            for s in BASE["sweeps"]["tuning_seeds"]:
                folder = runs / lo / f"{VALIDATION}loss.margin~{m}" / f"seed{s}"
                cfg = json.loads((folder / "config.json").read_text())
                assert cfg["point"] == {"loss.margin": float(m)}
                assert cfg["validation"]["kind"] == "stratified"
                metrics = json.loads((folder / "metrics.json").read_text())
                assert metrics["evaluation_split"] == "validation"
                assert metrics["n_eval_points"] == cfg["validation"]["n_validation"]
        plain = json.loads((runs / lo / "seed0/config.json").read_text())
        assert "point" not in plain and "point" not in plain["resolved"]


# --------------------------------------------------------------------------- rerun semantics
def test_completed_tuned_run_has_nothing_to_do(tuned_run, tmp_path):
    assert plan(tuned_run, tmp_path, BASE) == []


def test_adding_a_grid_value_plans_exactly_that_points_jobs(tuned_run, tmp_path):
    before = file_mtimes(tuned_run)
    jobs = plan(
        tuned_run, tmp_path, with_margins(contrastive=[0.5, 1.0, 2.0], triplet=[0.5, 1.0, 2.0])
    )
    new = {
        (EXP, lo, f"{VALIDATION}loss.margin~2.0/", str(s))
        for lo in LOSSES
        for s in BASE["sweeps"]["tuning_seeds"]
    }
    for rule in RUN_RULES:
        assert runs_of(jobs, rule) == new, rule
    assert {r for r, _ in jobs} - set(RUN_RULES) <= SWEEP_AGGREGATION | {"all"}
    assert file_mtimes(tuned_run) == before


def test_changing_a_value_outside_the_sweep_reruns_every_run_of_it(tuned_run, tmp_path):
    cfg = copy.deepcopy(BASE)
    cfg["training"]["lr"] = 0.01
    jobs = plan(tuned_run, tmp_path, cfg)
    every = {(EXP, lo, "", str(s)) for lo in LOSSES for s in BASE["seeds"]} | {
        (EXP, lo, f"{VALIDATION}loss.margin~{m}/", str(s))
        for lo in LOSSES
        for m in ("0.5", "1.0")
        for s in BASE["sweeps"]["tuning_seeds"]
    }
    assert runs_of(jobs, "train_model") == every  # the final runs follow their checkpoint


def test_grid_protocol_reuses_the_tuned_points_runs(tuned_run, tmp_path, selected):
    cfg = copy.deepcopy(BASE)
    cfg["sweeps"]["protocol"] = "grid"
    jobs = plan(tuned_run, tmp_path, cfg)
    every = {
        (EXP, lo, f"loss.margin~{m}/", str(s))
        for lo in LOSSES
        for m in ("0.5", "1.0")
        for s in BASE["seeds"]
    }
    cached = {(EXP, lo, selected[lo], str(s)) for lo in LOSSES for s in BASE["seeds"]}
    assert runs_of(jobs, "train_model") == every - cached


def test_without_sweeps_no_run_and_no_paper_table_is_redone(tuned_run, tmp_path):
    cfg = copy.deepcopy(BASE)
    del cfg["sweeps"]
    jobs = plan(tuned_run, tmp_path, cfg)
    # only the runtime table follows its (shorter) list of benchmarked jobs
    assert {r for r, _ in jobs} <= {"collect_runtime", "all"}


def test_removing_a_value_trains_nothing(tuned_run, tmp_path, selected):
    """Keep only each loss's selected margin: the plan has no run, and a real rerun trains
    nothing, keeps every run file as it was and selects the same points."""
    work = copy_run(tuned_run, tmp_path / "work")
    keep = {lo: [float(seg.split("~")[1].rstrip("/"))] for lo, seg in selected.items()}
    cfg = with_margins(**keep)
    jobs = plan(work, tmp_path, cfg)
    for rule in RUN_RULES:
        assert runs_of(jobs, rule) == set(), rule
    runs_before = {k: v for k, v in file_mtimes(work).items() if k.startswith("results/runs/")}
    proc = run_snakemake(work, tmp_path / "c.yaml", "all")
    require_success(proc, "the rerun with fewer grid values")
    text = output_of(proc)
    assert "rule train_model:" not in text and "rule evaluate_run:" not in text
    runs_after = {k: v for k, v in file_mtimes(work).items() if k.startswith("results/runs/")}
    assert runs_after == runs_before
    table = pd.read_csv(work / "results/tables/selected_points.csv")
    assert dict(zip(table["loss"], table["segment"], strict=True)) == selected
    assert len(pd.read_csv(work / "results/tables/sweep_points.csv")) == len(LOSSES)
