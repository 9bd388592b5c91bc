"""Exact reruns: a config change reruns exactly the jobs it affects.

Every case changes one thing in the config of a completed run (``head_run``: a synthetic
MLP experiment and a frozen-backbone experiment, so data, features, training, evaluation
and aggregation all have up-to-date outputs) and reads the plan of ``snakemake -n``: the
jobs it lists, each with its wildcards. Dry runs change nothing, so all cases share the
one completed run.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import (
    TINY_CONFIG,
    file_mtimes,
    output_of,
    planned_jobs,
    run_snakemake,
    write_config,
)

pytestmark = pytest.mark.slow

STAGES = {"prepare_data", "extract_features", "train_model", "evaluate_run", "all"}
EXPERIMENTS = ("synthetic_mlp", "digits_head")


def runs(jobs, rule) -> set[tuple]:
    """(experiment, loss, seed) of the jobs of a per-run rule."""
    return {(w["experiment"], w["loss"], w["seed"]) for r, w in jobs if r == rule}


def rules(jobs) -> set[str]:
    return {r for r, _ in jobs}


def aggregation(jobs) -> set[str]:
    return rules(jobs) - STAGES


def every_run(cfg, experiments=EXPERIMENTS, seeds=None) -> set[tuple]:
    return {
        (e, loss, str(s))
        for e in experiments
        for loss in cfg["losses"]
        for s in (seeds or cfg["seeds"])
    }


# Each case: (id, change to the config). Expectations are in the tests below.
def _margin(c):
    c["loss"] = {"margin": 0.5}


def _synthetic_noise(c):
    c["datasets"]["synthetic"]["noise_scale"] = 2.0


def _add_seed(c):
    c["seeds"] = [*c["seeds"], 7]


def _knn_k(c):
    c["evaluation"]["knn_k"] = 1


def _experiment_margin(c):
    c["experiments"]["synthetic_mlp"]["loss"] = {"margin": 0.5}


def _label(c):
    c["experiments"]["digits_head"]["label"] = "MNIST head, renamed"


def _backbone_size(c):
    c["backbones"]["tinyvit"]["image_size"] = 16


def _unchanged(c):
    pass


CASES = {
    f.__name__.lstrip("_"): f
    for f in (
        _unchanged,
        _margin,
        _synthetic_noise,
        _add_seed,
        _knn_k,
        _experiment_margin,
        _label,
        _backbone_size,
    )
}


@pytest.fixture(scope="module")
def plans(head_run, head_config, tmp_path_factory):
    """Dry-run plan of every case, two Snakemake processes at a time."""
    root = tmp_path_factory.mktemp("rerun_configs")
    before = file_mtimes(head_run)

    def plan(item):
        name, change = item
        cfg = copy.deepcopy(head_config)
        change(cfg)
        proc = run_snakemake(
            head_run, write_config(root / f"{name}.yaml", cfg), "-n", "all", timeout=300
        )
        assert proc.returncode == 0, output_of(proc)
        return name, (cfg, output_of(proc))

    with ThreadPoolExecutor(max_workers=2) as pool:
        result = dict(pool.map(plan, CASES.items()))
    assert file_mtimes(head_run) == before  # dry runs touched nothing
    return result


def test_completed_run_has_nothing_to_do(plans):
    _, text = plans["unchanged"]
    assert "Nothing to be done" in text, text
    assert planned_jobs(text) == []


def test_completed_tiny_run_has_nothing_to_do(tiny_run):
    proc = run_snakemake(tiny_run, TINY_CONFIG, "-n", "all")
    assert proc.returncode == 0 and "Nothing to be done" in output_of(proc), output_of(proc)


def test_changed_margin_reruns_training_evaluation_aggregation_only(plans):
    cfg, text = plans["margin"]
    jobs = planned_jobs(text)
    assert "prepare_data" not in rules(jobs) and "extract_features" not in rules(jobs)
    assert runs(jobs, "train_model") == every_run(cfg)
    assert runs(jobs, "evaluate_run") == every_run(cfg)
    assert {"make_table", "make_figures"} <= aggregation(jobs)
    assert "Params have changed" in text


def test_changed_synthetic_parameter_reruns_only_the_synthetic_chain(plans):
    cfg, text = plans["synthetic_noise"]
    jobs = planned_jobs(text)
    assert [w for r, w in jobs if r == "prepare_data"] == [{"dataset": "synthetic"}]
    assert "extract_features" not in rules(jobs)
    assert runs(jobs, "train_model") == every_run(cfg, ["synthetic_mlp"])
    assert runs(jobs, "evaluate_run") == every_run(cfg, ["synthetic_mlp"])
    assert {"make_table", "make_figures"} <= aggregation(jobs)


def test_added_seed_runs_only_that_seeds_jobs_and_aggregation(plans):
    cfg, text = plans["add_seed"]
    jobs = planned_jobs(text)
    assert "prepare_data" not in rules(jobs) and "extract_features" not in rules(jobs)
    assert runs(jobs, "train_model") == every_run(cfg, seeds=[7])
    assert runs(jobs, "evaluate_run") == every_run(cfg, seeds=[7])
    assert {"make_table", "make_figures"} <= aggregation(jobs)


def test_changed_knn_k_reruns_evaluation_and_aggregation_not_training(plans):
    cfg, text = plans["knn_k"]
    jobs = planned_jobs(text)
    assert rules(jobs) & {"prepare_data", "extract_features", "train_model"} == set()
    assert runs(jobs, "evaluate_run") == every_run(cfg)
    assert {"make_table", "make_figures"} <= aggregation(jobs)


def test_experiment_override_reruns_only_that_experiment(plans):
    cfg, text = plans["experiment_margin"]
    jobs = planned_jobs(text)
    assert rules(jobs) & {"prepare_data", "extract_features"} == set()
    assert runs(jobs, "train_model") == every_run(cfg, ["synthetic_mlp"])
    assert runs(jobs, "evaluate_run") == every_run(cfg, ["synthetic_mlp"])


def test_changed_label_reruns_only_aggregation(plans):
    _, text = plans["label"]
    jobs = planned_jobs(text)
    assert rules(jobs) & (STAGES - {"all"}) == set()
    assert "make_table" in aggregation(jobs)


def test_changed_backbone_reruns_features_and_head_chain_only(plans):
    cfg, text = plans["backbone_size"]
    jobs = planned_jobs(text)
    assert "prepare_data" not in rules(jobs)
    assert [w for r, w in jobs if r == "extract_features"] == [
        {"dataset": "digits", "backbone": "tinyvit"}
    ]
    assert runs(jobs, "train_model") == every_run(cfg, ["digits_head"])
    assert runs(jobs, "evaluate_run") == every_run(cfg, ["digits_head"])
