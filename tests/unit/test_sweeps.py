"""Sweeps: the config checks of the sweeps section and the selection rule (points and their
paths: tests/unit/test_params.py)."""

from __future__ import annotations

import copy
import math

import pytest
from conftest import CONFIG_DIR, load_yaml

from dmlstudy import config as C
from dmlstudy import sweeps
from dmlstudy.errors import ConfigError

TUNED = load_yaml(CONFIG_DIR / "tiny_tuned.yaml")


def tuned(**grids):
    cfg = copy.deepcopy(TUNED)
    if grids:
        cfg["sweeps"]["grids"] = {"synthetic_mlp": grids}
    return cfg


def problems_of(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        C.validate(cfg)
    return str(info.value)


# --------------------------------------------------------------------------- config checks
def test_tiny_tuned_config_is_valid():
    cfg = C.validate(tuned())
    assert sweeps.experiments(cfg) == ["synthetic_mlp"] and sweeps.is_tuned(cfg)


def test_no_sweeps_section_means_no_grid():
    cfg = copy.deepcopy(TUNED)
    del cfg["sweeps"]
    cfg = C.validate(cfg)
    assert sweeps.experiments(cfg) == [] and not sweeps.is_tuned(cfg)
    assert cfg["sweeps"]["protocol"] == "grid"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["sweeps"]["grids"].update(nope={"triplet": {"loss.margin": [1.0]}}),
            "'sweeps.grids.nope': 'nope' is not an experiment",
        ),
        (
            lambda c: c["sweeps"]["grids"]["synthetic_mlp"].update(supcon={"loss.margin": [1.0]}),
            "'supcon' is not in 'losses'",
        ),
        (
            lambda c: c["sweeps"]["grids"]["synthetic_mlp"]["triplet"].update(
                {"evaluation.knn_k": [1]}
            ),
            "key 'evaluation.knn_k' cannot be swept",
        ),
        (
            lambda c: c["sweeps"]["grids"]["synthetic_mlp"]["triplet"].update({"loss.marg": [1.0]}),
            "'loss' has no key 'marg'; its keys:",
        ),
        (
            lambda c: c["sweeps"]["grids"]["synthetic_mlp"]["triplet"].update(
                {"loss.margin": [0.5, -1.0]}
            ),
            "'sweeps.grids.synthetic_mlp.triplet.loss.margin' value -1.0 is not allowed",
        ),
        (
            lambda c: c["sweeps"]["grids"]["synthetic_mlp"]["triplet"].update(
                {"loss.pml_options.margin.beta": [1.0]}
            ),
            "loss.pml_options.<loss>.<argument>",
        ),
        (
            lambda c: c["sweeps"]["grids"]["synthetic_mlp"]["triplet"].update(
                {"loss.margin": [0.5, 1.0, 2.0]}
            ),
            "same grid size, but the grids have contrastive: 2 points, triplet: 3 points",
        ),
        (lambda c: c.update(seeds=[0, 1]), "at least 5 of them"),
        (
            lambda c: c["sweeps"]["grids"]["synthetic_mlp"]["triplet"].update(
                {"loss.margin": [0.5, 0.5]}
            ),
            "repeats 0.5",
        ),
        (
            lambda c: c["sweeps"]["grids"]["synthetic_mlp"]["triplet"].update(
                {"loss.pml_options.supcon.distance": ["a/b"]}
            ),
            "cannot be part of a path",
        ),
        (
            lambda c: c["sweeps"]["grids"]["synthetic_mlp"]["triplet"].update(
                {"sampling.sampler": ["random", "nosuch"]}
            ),
            "'nosuch' is not a registered sampler",
        ),
    ],
)
def test_bad_sweeps_name_the_key_and_the_fix(change, expected):
    cfg = copy.deepcopy(TUNED)
    change(cfg)
    assert expected in problems_of(cfg)


def test_grid_protocol_has_no_budget_rules():
    cfg = copy.deepcopy(TUNED)
    cfg["sweeps"]["protocol"] = "grid"
    cfg["seeds"] = [0]
    cfg["sweeps"]["grids"]["synthetic_mlp"]["triplet"]["loss.margin"] = [0.5, 1.0, 2.0]
    C.validate(cfg)


def test_sweeping_epochs_needs_the_same_epochs_for_every_loss():
    cfg = copy.deepcopy(TUNED)
    cfg["sweeps"]["grids"]["synthetic_mlp"] = {
        "contrastive": {"training.epochs": [2, 3]},
        "triplet": {"training.epochs": [2, 4]},
    }
    assert "same epochs" in problems_of(cfg)


# --------------------------------------------------------------------------- selection
def test_select_takes_the_highest_mean():
    best, summary = sweeps.select({"a": [0.1, 0.3], "b": [0.5, 0.7], "c": [0.4]}, ["a", "b", "c"])
    assert best == "b"
    assert summary["b"] == {
        "mean": pytest.approx(0.6),
        "std": pytest.approx(math.sqrt(0.02)),
        "n": 2,
    }
    assert summary["c"]["std"] == 0.0


def test_select_breaks_ties_by_std_then_grid_order():
    assert sweeps.select({"a": [0.4, 0.6], "b": [0.5, 0.5]}, ["a", "b"])[0] == "b"
    assert sweeps.select({"a": [0.5, 0.5], "b": [0.5, 0.5]}, ["b", "a"])[0] == "b"


def test_select_skips_nan_and_fails_when_nothing_scored():
    assert sweeps.select({"a": [math.nan], "b": [0.1]}, ["a", "b"])[0] == "b"
    with pytest.raises(ValueError, match="no grid point"):
        sweeps.select({"a": [math.nan]}, ["a"])


def test_selection_metric_defaults_by_split_kind():
    assert sweeps.selection_metric("auto", "stratified") == "knn_accuracy"
    assert sweeps.selection_metric("auto", "class_disjoint") == "map@r"
    assert sweeps.selection_metric("recall@1", "class_disjoint") == "recall@1"
