"""dmlstudy.params: what each job depends on. The section lists derive from one declaration,
a point's values reach exactly the runs at that point, and the unswept params are what they
always were."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from conftest import CONFIG_DIR, load_yaml

from dmlstudy import config as C
from dmlstudy import params as P
from dmlstudy.train import TrainSettings

TUNED = load_yaml(CONFIG_DIR / "tiny_tuned.yaml")
TINY = load_yaml(CONFIG_DIR / "tiny.yaml")


def tuned(**grids):
    cfg = copy.deepcopy(TUNED)
    if grids:
        cfg["sweeps"]["grids"] = {"synthetic_mlp": grids}
    return cfg


# --------------------------------------------------------------------------- sections
def test_section_lists_derive_from_one_declaration():
    assert P.OVERRIDABLE == tuple(P.SECTIONS) == ("loss", "sampling", "training", "evaluation")
    assert P.TRAINING_SECTIONS == ("loss", "sampling", "training")
    assert P.SWEEPABLE == (*P.TRAINING_SECTIONS, "model_options")
    assert P.TRAINING_KEYS[-3:] == P.TRAINING_SECTIONS
    assert "evaluation" not in P.TRAINING_KEYS and "label" not in P.TRAINING_KEYS


def test_every_train_setting_comes_from_a_training_section():
    cfg = C.validate(copy.deepcopy(TINY))
    resolved = P.training_params(cfg, "synthetic_mlp")
    s = TrainSettings.from_resolved(resolved, "triplet", seed=4)
    assert (s.loss, s.seed, s.loss_options) == ("triplet", 4, resolved["loss"])
    sections = {k: v for sec in ("sampling", "training") for k, v in resolved[sec].items()}
    for f in dataclasses.fields(TrainSettings)[3:]:
        assert getattr(s, f.name) == sections[f.name], f.name
    del resolved["sampling"]["m_per_class"]
    with pytest.raises(KeyError, match="m_per_class"):
        TrainSettings.from_resolved(resolved, "triplet", seed=4)


def test_experiment_overrides_merge_into_the_global_sections():
    raw = copy.deepcopy(TINY)
    raw["experiments"]["synthetic_mlp"]["loss"] = {"margin": 0.3}
    cfg = C.validate(raw)
    r = P.resolve_experiment(cfg, "synthetic_mlp")
    assert r["loss"]["margin"] == 0.3
    assert r["loss"]["reduction"] == cfg["loss"]["reduction"]  # the rest from the global section
    assert (
        r["training"]["epochs"] == 3
        and P.resolve_experiment(cfg, "digits_cnn")["training"]["epochs"] == 2
    )
    assert cfg["loss"]["margin"] == 1.0  # the config itself is untouched


def test_evaluation_settings_never_reach_training_params():
    cfg = C.validate(copy.deepcopy(TINY))
    before = P.training_params(cfg, "synthetic_mlp")
    cfg["evaluation"]["knn_k"] = 7
    cfg["experiments"]["synthetic_mlp"]["label"] = "another label"
    assert P.training_params(cfg, "synthetic_mlp") == before
    assert P.evaluation_params(cfg, "synthetic_mlp")["evaluation"]["knn_k"] == 7


def test_config_hash_is_stable_and_order_free():
    a = {"b": 1, "a": [1.0, {"c": None}]}
    assert P.config_hash(a) == P.config_hash(dict(reversed(list(a.items()))))
    # sha256 of the canonical JSON {"a": [1.0, {"c": null}], "b": 1}, first 16 hex digits
    assert P.config_hash(a) == "00b6257de28ec624"
    assert P.config_hash({**a, "b": 2}) != P.config_hash(a)


# --------------------------------------------------------------------------- points
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5, "0.5"),
        (1.0, "1.0"),
        (1e-05, "1e-05"),
        (3, "3"),
        (True, "true"),
        ("semihard", "semihard"),
    ],
)
def test_format_value(value, text):
    assert P.format_value(value) == text


def test_grid_is_the_product_in_the_order_written():
    cfg = C.validate(
        tuned(
            contrastive={"loss.margin": [0.5, 1.0], "training.lr": [0.01, 0.001]},
            triplet={"loss.margin": [0.5, 1.0], "training.lr": [0.01, 0.001]},
        )
    )
    segs = [p.segment for p in P.grid(cfg, "synthetic_mlp", "triplet")]
    assert segs == [
        "loss.margin~0.5/training.lr~0.01/",
        "loss.margin~0.5/training.lr~0.001/",
        "loss.margin~1.0/training.lr~0.01/",
        "loss.margin~1.0/training.lr~0.001/",
    ]
    assert P.grid(cfg, "synthetic_mlp", "nothing") == []
    assert P.Point().segment == ""


def test_point_regex_matches_every_segment_and_nothing_else():
    import re

    rx = re.compile(f"^{P.POINT_REGEX}$")
    for seg in ("", "loss.margin~0.5/", "split~validation/loss.margin~1e-05/training.lr~0.1/"):
        assert rx.match(seg), seg
    for seg in ("seed0/", "loss.margin~0.5", "split~validation/", "a~b/c/"):
        assert not rx.match(seg) or seg == "split~validation/", seg


def test_parse_segment_knows_the_grid_and_its_validation_runs():
    cfg = C.validate(tuned())
    point, val = P.parse_segment(cfg, "synthetic_mlp", "triplet", "loss.margin~0.5/")
    assert point.values == {"loss.margin": 0.5} and not val
    point, val = P.parse_segment(
        cfg, "synthetic_mlp", "triplet", "split~validation/loss.margin~1.0/"
    )
    assert point.values == {"loss.margin": 1.0} and val
    assert P.parse_segment(cfg, "synthetic_mlp", "triplet", "") == (P.Point(), False)
    with pytest.raises(ValueError, match="not a grid point.*sweeps.grids.synthetic_mlp.triplet"):
        P.parse_segment(cfg, "synthetic_mlp", "triplet", "loss.margin~3.0/")


def test_apply_sets_nested_keys_and_leaves_the_input_alone():
    resolved = {"loss": {"margin": 1.0, "pml_options": {}}, "training": {"lr": 0.1}}
    point = P.Point((("loss.margin", 0.5), ("loss.pml_options.margin_loss.beta", 1.5)))
    out = P.apply(resolved, point)
    assert out["loss"]["margin"] == 0.5
    assert out["loss"]["pml_options"] == {"margin_loss": {"beta": 1.5}}
    assert resolved == {"loss": {"margin": 1.0, "pml_options": {}}, "training": {"lr": 0.1}}


# --------------------------------------------------------------------------- params
def test_training_params_without_a_point_are_what_they_always_were():
    cfg = C.validate(tuned())
    plain = P.training_params(cfg, "synthetic_mlp")
    assert P.training_params(cfg, "synthetic_mlp", "triplet", "") == plain
    assert "point" not in plain and "validation" not in plain
    assert P.evaluation_params(cfg, "synthetic_mlp", "") == P.evaluation_params(
        cfg, "synthetic_mlp"
    )


def test_training_params_of_a_point_and_of_its_validation_run():
    cfg = C.validate(tuned())
    plain = P.training_params(cfg, "synthetic_mlp")
    p = P.training_params(cfg, "synthetic_mlp", "triplet", "loss.margin~0.5/")
    assert p["loss"]["margin"] == 0.5 and p["point"] == {"loss.margin": 0.5}
    assert {k: v for k, v in p.items() if k not in ("loss", "point")} == {
        k: v for k, v in plain.items() if k != "loss"
    }
    v = P.training_params(cfg, "synthetic_mlp", "triplet", "split~validation/loss.margin~0.5/")
    assert v["validation"] == {"fraction": 0.2, "seed": 0}
    assert {k: x for k, x in v.items() if k != "validation"} == p
    cfg["evaluation"]["split"] = "all"
    ev = P.evaluation_params(cfg, "synthetic_mlp", "split~validation/loss.margin~0.5/")
    assert ev["evaluation"]["split"] == "test" and ev["validation"] is True


def test_fixed_values_are_the_configs_own():
    cfg = C.validate(tuned())
    assert P.fixed_values(cfg, "synthetic_mlp", "triplet") == {"loss.margin": 1.0}


# --------------------------------------------------------------------------- search points
SEARCH = load_yaml(CONFIG_DIR / "tiny_search.yaml")


def searched(**spaces):
    """tiny_search.yaml with the triplet's space (and the contrastive's, for the equal
    budget) replaced by ``spaces``."""
    cfg = copy.deepcopy(SEARCH)
    if spaces:
        cfg["sweeps"]["space"]["synthetic_mlp"] = {"contrastive": spaces, "triplet": spaces}
    return C.validate(cfg)


def test_a_search_segment_is_typed_by_its_space():
    cfg = searched(
        **{
            "loss.margin": {"float": [0.1, 4.0], "log": True},
            "training.epochs": {"int": [2, 6], "step": 2},
            "sampling.sampler": {"choices": ["random", "semihard"]},
        }
    )
    seg = "loss.margin~0.731/training.epochs~4/sampling.sampler~semihard/"
    point, val = P.parse_segment(cfg, "synthetic_mlp", "triplet", seg)
    assert not val and point.segment == seg
    assert point.values == {
        "loss.margin": 0.731,
        "training.epochs": 4,
        "sampling.sampler": "semihard",
    }
    assert [type(v) for v in point.values.values()] == [float, int, str]
    resolved = P.training_params(cfg, "synthetic_mlp", "triplet", seg)
    assert resolved["loss"]["margin"] == 0.731 and resolved["training"]["epochs"] == 4
    assert resolved["sampling"]["sampler"] == "semihard" and resolved["point"] == point.values


@pytest.mark.parametrize(
    "seg",
    [
        "loss.margin~5.0/training.lr~0.001/",  # above the range
        "loss.margin~0.50/training.lr~0.001/",  # not the value's own path text (0.5)
        "training.lr~0.001/loss.margin~0.5/",  # keys out of the space's order
        "loss.margin~0.5/",  # a key missing
        "loss.margin~0.5/training.lr~0.001/x.y~1/",  # one too many
        "split~validation/loss.margin~0.5/training.lr~0.001/",  # trials are no tuning runs
    ],
)
def test_a_segment_outside_the_space_is_refused(seg):
    cfg = searched()
    with pytest.raises(ValueError, match="nor a point of its search space"):
        P.parse_segment(cfg, "synthetic_mlp", "triplet", seg)
    assert P.search_point(cfg, "synthetic_mlp", "triplet", seg) is None


def test_int_steps_and_the_grid_protocol_know_no_search_points():
    cfg = searched(**{"training.epochs": {"int": [2, 6], "step": 2}})
    assert P.search_point(cfg, "synthetic_mlp", "triplet", "training.epochs~3/") is None
    plain = copy.deepcopy(SEARCH)
    plain["sweeps"] = {}
    plain = C.validate(plain)
    assert P.search_spec(plain, "synthetic_mlp", "triplet") == {}
    with pytest.raises(ValueError, match="not a grid point"):
        P.parse_segment(plain, "synthetic_mlp", "triplet", "loss.margin~0.5/training.lr~0.001/")


def test_trial_params_carry_the_point_the_folds_and_the_validation_scoring():
    cfg = searched()
    seg = "loss.margin~0.5/training.lr~0.00123/"
    t = P.trial_params(cfg, "synthetic_mlp", "triplet", seg)
    assert t["resolved"] == P.training_params(cfg, "synthetic_mlp", "triplet", seg)
    assert t["resolved"]["training"]["lr"] == 0.00123 and "validation" not in t["resolved"]
    assert t["folds"] == 2 and t["tuning_seeds"] == [0]
    assert t["validation"] == {"fraction": 0.2, "seed": 0, "folds": 2}
    assert t["evaluation"]["validation"] is True and t["selection_metric"] == "map@r"
    with pytest.raises(ValueError, match="not a point of its search space"):
        P.trial_params(cfg, "synthetic_mlp", "triplet", "loss.margin~9.0/training.lr~0.001/")
