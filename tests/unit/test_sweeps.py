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


# --------------------------------------------------------------------------- search (tpe)
SEARCH = load_yaml(CONFIG_DIR / "tiny_search.yaml")
SPACE = {
    "loss.margin": {"float": [0.1, 4.0], "log": True},
    "training.lr": {"float": [0.0003, 0.01], "log": True},
}


def search_config(**change) -> dict:
    cfg = copy.deepcopy(SEARCH)
    cfg["sweeps"].update(change)
    return cfg


def test_tiny_search_config_is_valid_and_searches_every_loss():
    cfg = C.validate(search_config())
    assert sweeps.search_experiments(cfg) == ["synthetic_mlp"]
    assert sweeps.experiments(cfg) == [] and not sweeps.is_tuned(cfg)  # no grid
    assert sweeps.space_of(cfg, "synthetic_mlp", "triplet").keys == list(SPACE)
    b = sweeps.budget(cfg, "synthetic_mlp", "triplet")
    assert (b.rounds, b.trials_per_round, b.epochs, b.folds, b.tuning_seeds) == (2, 2, 2, 2, (0,))


def test_defaults_are_todays_single_split_and_grid():
    cfg = C.validate(tuned())
    sw = cfg["sweeps"]
    assert (sw["search"], sw["folds"], sw["space"]) == ("grid", 1, {})
    assert sweeps.search_experiments(cfg) == []


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({"rounds": 5}, True),  # more rounds: the same study, grown
        ({"folds": 3}, True),  # what a trial trains on: its job's params, not the study's
        ({"seed": 1}, False),
        ({"trials_per_round": 3}, False),
        ({"n_startup_trials": 4}, False),
        (
            {
                "space": {
                    "synthetic_mlp": {
                        "contrastive": SPACE,
                        "triplet": {**SPACE, "loss.margin": {"float": [0.1, 2.0]}},
                    }
                }
            },
            False,
        ),  # fmt: skip
    ],
)
def test_a_studys_identity_is_its_space_seed_and_round_sizes(change, same):
    base = sweeps.study(C.validate(search_config()), "synthetic_mlp", "triplet")
    other = sweeps.study(C.validate(search_config(**change)), "synthetic_mlp", "triplet")
    assert (base == other) is same
    assert base["space"][0]["key"] == "loss.margin" and base["space"][0]["log"] is True


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["sweeps"].update(search="grid"),
            "'sweeps.space' is set but sweeps.search is 'grid'",
        ),
        (
            lambda c: c["sweeps"].update(search="grid", space={}),
            "'sweeps.folds' = 2: folds cross-validate the trials of a search",
        ),
        (
            lambda c: c["sweeps"].update(protocol="grid"),
            "'sweeps.search' = 'tpe' tunes every loss on validation folds",
        ),
        (
            lambda c: c["sweeps"].update(
                grids={"synthetic_mlp": {"triplet": {"loss.margin": [1.0]}}}
            ),  # fmt: skip
            "'sweeps.grids': with sweeps.search: tpe the search space",
        ),
        (lambda c: c["sweeps"].update(space={}), "'sweeps.space': sweeps.search: tpe needs"),
        (
            lambda c: c["sweeps"]["space"].update(nope={"triplet": SPACE}),
            "'sweeps.space.nope': 'nope' is not an experiment",
        ),
        (
            lambda c: c["sweeps"]["space"]["synthetic_mlp"].update(supcon=SPACE),
            "'sweeps.space.synthetic_mlp.supcon': 'supcon' is not in 'losses'",
        ),
        (
            lambda c: c["sweeps"]["space"]["synthetic_mlp"]["triplet"].update(
                {"loss.margin": {"float": [0.0, 4.0]}}
            ),
            "'sweeps.space.synthetic_mlp.triplet.loss.margin' value 0.0: not allowed",
        ),
        (
            lambda c: c["sweeps"]["space"]["synthetic_mlp"]["triplet"].update(
                {"loss.pml_options.margin_loss.margin": {"float": [0.01, 1.0]}}
            ),
            "triplet does not read loss.pml_options.margin_loss",
        ),
        (
            lambda c: c["sweeps"]["space"]["synthetic_mlp"]["triplet"].update(
                {"evaluation.knn_k": {"int": [1, 5]}}
            ),
            "'sweeps.space.synthetic_mlp.triplet.evaluation.knn_k': a searched key is a dotted key",
        ),
        (
            lambda c: c["sweeps"]["space"]["synthetic_mlp"]["triplet"].update(
                {"training.lr": {"float": [0.01, 0.001]}}
            ),
            "low 0.01 must be below high 0.001",
        ),
        (
            lambda c: c.update(seeds=[0, 1, 2, 3, 4]),
            "'seeds' = [0, 1, 2, 3, 4]: the search reproduces each loss's best trial",
        ),
    ],
)
def test_bad_search_keys_name_the_key_and_the_fix(change, expected):
    cfg = search_config()
    change(cfg)
    assert expected in problems_of(cfg)


def test_equal_budget_every_loss_needs_a_space():
    cfg = search_config()
    del cfg["sweeps"]["space"]["synthetic_mlp"]["contrastive"]
    msg = problems_of(cfg)
    assert (
        "'sweeps.space.synthetic_mlp': the search gives every loss the same budget, but "
        "contrastive has no search space (0 trials); give every loss in 'losses' a search space"
    ) in msg


def test_equal_budget_searched_epochs_must_match_across_losses():
    cfg = search_config()
    cfg["sweeps"]["space"]["synthetic_mlp"]["triplet"]["training.epochs"] = {"int": [1, 4]}
    msg = problems_of(cfg)
    assert "'sweeps.space.synthetic_mlp': the search gives every loss the same epochs, but " in msg
    assert "contrastive: 2, triplet: training.epochs: int [1, 4]" in msg
    assert "set training.epochs the same for every loss of the experiment" in msg
    cfg["sweeps"]["space"]["synthetic_mlp"]["contrastive"]["training.epochs"] = {"int": [1, 4]}
    C.validate(cfg)  # the same searched range for both: an equal budget
