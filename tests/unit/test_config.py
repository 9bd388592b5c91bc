"""dmlstudy.config: validation names the key, the value and what is allowed, every problem at
once; the schema is parsed once and completed from the registries."""

from __future__ import annotations

import copy

import pytest
from config_cases import BASE, CASES, HEAD, SMK_CASES, _s, _with_backbone, bad_config
from conftest import REPO, load_yaml

from dmlstudy import config as C
from dmlstudy.errors import ConfigError


def test_enough_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 20
    assert len(SMK_CASES) >= 20


@pytest.mark.parametrize(
    "valid", ["tests/config/tiny.yaml", "tests/config/tiny_head.yaml", "tests/config/resume.yaml"]
)
def test_test_configs_are_valid(valid):
    cfg = C.validate(load_yaml(REPO / valid))
    assert cfg["experiments"]


def test_base_config_is_valid():
    C.validate(copy.deepcopy(BASE))
    # ... also with the backbone that some cases add
    C.validate(bad_config(_with_backbone(_s("experiments.digits_head", HEAD))))


@pytest.mark.parametrize("case_id, changes, expected, smk", CASES, ids=[c[0] for c in CASES])
def test_validate_names_key_value_and_allowed(case_id, changes, expected, smk):
    with pytest.raises(ConfigError) as info:
        C.validate(bad_config(changes))
    msg = str(info.value)
    assert "(1 problem)" in msg, f"expected exactly one problem:\n{msg}"
    for part in expected:
        assert part in msg, f"{part!r} not in:\n{msg}"


def test_every_problem_is_reported_at_once():
    cfg = bad_config([_s("epochs", 5), _s("training.lr", 0), _s("losses", ["quadruplet"])])
    with pytest.raises(ConfigError) as info:
        C.validate(cfg)
    msg = str(info.value)
    assert "(3 problems)" in msg
    for part in ("'epochs'", "'training.lr' = 0", "'losses' names 'quadruplet'"):
        assert part in msg


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        C.validate([1, 2])


# --------------------------------------------------------------------------- the schema
def test_schema_file_is_parsed_once(monkeypatch):
    C.load_schema()
    calls = []
    monkeypatch.setattr(C.yaml, "safe_load", lambda *a: calls.append(a))
    for _ in range(3):
        C.validate(copy.deepcopy(BASE))
        C.with_defaults("training")
    assert calls == []
    assert C.load_schema() is C.load_schema()


def test_registered_backbone_becomes_a_valid_kind(monkeypatch):
    from dmlstudy import backbones

    cfg = copy.deepcopy(BASE)
    cfg["backbones"] = {"mine": {"kind": "toy_backbone"}}
    with pytest.raises(ConfigError, match="'backbones.mine.kind' = 'toy_backbone' is not allowed"):
        C.validate(cfg)
    monkeypatch.setitem(
        backbones.BACKBONES,
        "toy_backbone",
        backbones.BackboneSpec("toy_backbone", "a toy", load=lambda spec: None),
    )
    assert C.validate(cfg)["backbones"]["mine"]["kind"] == "toy_backbone"


def test_a_backbone_entry_is_checked_by_its_registry_entry():
    cfg = copy.deepcopy(BASE)
    cfg["backbones"] = {"tv": {"kind": "torchvision_vit_b_32", "image_size": 256}}
    with pytest.raises(ConfigError, match="backbones.tv.image_size = 256: torchvision's vit_b_32"):
        C.validate(cfg)


def test_main_validates_a_file(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text((REPO / "tests/config/tiny.yaml").read_text())
    assert C.main([str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeds: [0\n")
    assert C.main([str(bad)]) == 1
    assert "bad.yaml is not valid YAML" in capsys.readouterr().err
