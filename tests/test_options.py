"""Every paper-vs-code option: the paper's value is the default, and the other value changes
behaviour the way the authors' released code does (docs/paper_vs_code.md lists them all).

Each test builds its input by hand, small enough that the whole file runs in seconds.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from dmlstudy import config as C
from dmlstudy import h5io, losses
from dmlstudy import paper_settings as PS
from dmlstudy import params as P
from dmlstudy.evaluate import evaluate_run
from dmlstudy.losses import triplet_loss
from dmlstudy.metrics import variance_statistics
from dmlstudy.sampling import LabelIndex, epoch_rng, sample_pairs, sample_triplets
from dmlstudy.sources import prepare_dataset
from dmlstudy.train import TrainSettings, train

ROOT = Path(__file__).resolve().parents[1]

#: The released code's value of each option this file covers (the paper's value is the
#: schema's x-paper annotation, read by dmlstudy.config.paper_settings()).
CODE_VALUES = {
    ("loss", "triplet_distance"): "euclidean",
    ("training", "weight_decay"): 0.0,
    ("training", "epochs"): 100,
    ("sampling", "outliers"): "as_class",
    ("sampling", "allow_self_positive"): True,
    ("evaluation", "split"): "all",
    ("evaluation", "include_outliers"): True,
}
PAPER = PS.paper_settings()
#: (section, key, paper value, code value)
OPTIONS = [(s, k, PAPER[f"{s}.{k}"], code) for (s, k), code in CODE_VALUES.items()]


_SCHEMA = C.load_schema()


@pytest.fixture(autouse=True)
def _parse_schema_once(monkeypatch):
    """validate() re-reads the YAML schema on every call; these tests call it often."""
    monkeypatch.setattr(C, "load_schema", lambda: copy.deepcopy(_SCHEMA))


def _config(experiment: dict | None = None, **top) -> dict:
    """A minimal valid config: one synthetic dataset, one MLP experiment."""
    cfg = {
        "datasets": {"synthetic": {"source": "synthetic"}},
        "experiments": {"exp": {"dataset": "synthetic", "model": "mlp", **(experiment or {})}},
        **top,
    }
    return C.validate(cfg)


# --------------------------------------------------------------------------- defaults
@pytest.mark.parametrize("section, key, paper, code", OPTIONS)
def test_paper_value_is_the_default(section, key, paper, code):
    resolved = P.resolve_experiment(_config(), "exp")
    assert resolved[section][key] == paper
    assert resolved["preset"] == "paper"


def test_synthetic_input_normalization_default_is_none():
    cfg = _config()
    assert cfg["datasets"]["synthetic"]["input_normalization"] == "none"


@pytest.mark.parametrize("section, key, paper, code", OPTIONS)
def test_experiment_override_reaches_training_and_evaluation_params(section, key, paper, code):
    cfg = _config({section: {key: code}})
    resolved = P.resolve_experiment(cfg, "exp")
    assert resolved[section][key] == code
    # and only that key moved: the rest of the section keeps the global value
    base = P.resolve_experiment(_config(), "exp")
    rest = {k: v for k, v in resolved[section].items() if k != key}
    assert rest == {k: v for k, v in base[section].items() if k != key}
    params = (
        P.evaluation_params(cfg, "exp")
        if section == "evaluation"
        else P.training_params(cfg, "exp")
    )
    assert params[section][key] == code


def test_invalid_option_values_are_rejected():
    with pytest.raises(C.ConfigError, match="triplet_distance"):
        _config(loss={"triplet_distance": "cosine"})
    with pytest.raises(C.ConfigError, match="outliers"):
        _config(sampling={"outliers": "drop"})
    with pytest.raises(C.ConfigError, match="input_normalization"):
        C.validate(
            {
                "datasets": {"s": {"source": "synthetic", "input_normalization": "l1"}},
                "experiments": {"e": {"dataset": "s", "model": "mlp"}},
            }
        )


# --------------------------------------------------------------------------- triplet distance
def test_triplet_distance_by_hand():
    # a = (0, 0), p = (3, 4): ||a-p|| = 5; n = (0, 1): ||a-n|| = 1; margin 1
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[3.0, 4.0], [0.6, 0.8]])
    n = torch.tensor([[0.0, 1.0], [0.0, 2.0]])
    squared = triplet_loss(a, p, n, margin=1.0, squared=True)
    euclid = triplet_loss(a, p, n, margin=1.0, squared=False)
    # row 0: Eq. 2 [25 - 1 + 1]_+ = 25; code [5 - 1 + 1]_+ = 5
    # row 1: Eq. 2 [1 - 4 + 1]_+ = 0;   code [1 - 2 + 1]_+ = 0 (satisfied either way)
    assert squared.tolist() == pytest.approx([25.0, 0.0])
    assert euclid.tolist() == pytest.approx([5.0, 0.0], abs=1e-5)
    # a case where the two readings disagree on whether the triplet is active:
    # d(a,p) = 1, d(a,n) = 1.6; squared: 1 - 2.56 + 1 < 0 (inactive); plain: 1 - 1.6 + 1 = 0.4
    a1, p1, n1 = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.6]])
    assert triplet_loss(a1, p1, n1, 1.0, squared=True).item() == 0.0
    assert triplet_loss(a1, p1, n1, 1.0, squared=False).item() == pytest.approx(0.4, abs=1e-5)


@pytest.mark.parametrize(
    "distance, expected", [("squared", [25.0, 0.0]), ("euclidean", [5.0, 0.0])]
)
def test_triplet_distance_reaches_the_training_step(distance, expected):
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [0.6, 0.8], [0.0, 2.0]])
    a, p, n = x[[0, 0]], x[[1, 3]], x[[2, 4]]
    cfg = _config({"loss": {"triplet_distance": distance}})
    s = TrainSettings.from_resolved(P.resolve_experiment(cfg, "exp"), "triplet", seed=0)
    per_item = losses.get(s.loss).per_item(a, p, n, s.loss_options)
    assert per_item.tolist() == pytest.approx(expected, abs=1e-5)


# --------------------------------------------------------------------------- weight decay, epochs
def _tiny_training(tmp_path, training: dict, loss="triplet"):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 8)
    x = torch.from_numpy((rng.standard_normal((24, 6)) + 3 * y[:, None]).astype(np.float32))
    cfg = _config({"training": {"batch_size": 8, **training}})
    s = TrainSettings.from_resolved(P.resolve_experiment(cfg, "exp"), loss, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4))
    ckpt = tmp_path / f"ckpt_{s.weight_decay}_{s.epochs}.pt"
    hist = train(model, x, y, s, checkpoint=ckpt)
    state = torch.load(ckpt, weights_only=False)
    return s, hist, state, model


@pytest.mark.parametrize("wd", [1e-5, 0.0, 0.5])
def test_weight_decay_reaches_adam(tmp_path, wd, monkeypatch):
    made = []
    real_adam = torch.optim.Adam

    class RecordingAdam(real_adam):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    s, _, state, _ = _tiny_training(tmp_path, {"weight_decay": wd, "epochs": 1})
    assert s.weight_decay == wd
    assert len(made) == 1 and isinstance(made[0], real_adam)
    assert [g["weight_decay"] for g in made[0].param_groups] == [wd]
    assert made[0].param_groups[0]["lr"] == pytest.approx(1e-3)
    # the checkpoint a resumed run restores carries it too
    assert [g["weight_decay"] for g in state["optimizer"]["param_groups"]] == [wd]


def test_weight_decay_changes_the_trained_weights(tmp_path):
    *_, m0 = _tiny_training(tmp_path, {"weight_decay": 0.0, "epochs": 2})
    *_, m1 = _tiny_training(tmp_path, {"weight_decay": 0.5, "epochs": 2})
    w0, w1 = m0[0].weight.detach(), m1[0].weight.detach()
    assert not torch.allclose(w0, w1)


@pytest.mark.parametrize("epochs", [1, 3])
def test_epochs_sets_the_number_of_updates(tmp_path, epochs):
    s, hist, state, _ = _tiny_training(tmp_path, {"epochs": epochs})
    assert s.epochs == epochs
    assert hist["epoch"].tolist() == list(range(epochs + 1))  # row 0 = before any update
    assert state["epoch"] == epochs


# --------------------------------------------------------------------------- outliers
def _outlier_labels():
    return np.array([0] * 6 + [1] * 6 + [2] * 6 + [-1] * 5)


def test_outliers_excluded_from_positives_by_default():
    y = _outlier_labels()
    idx = LabelIndex(y)  # default: exclude_from_positives
    out = np.nonzero(y == -1)[0]
    for e in range(200):
        p = sample_pairs(idx, epoch_rng(0, e))
        assert not np.any(y[p.partner][p.is_positive] == -1)
        assert not np.any(p.is_positive[np.isin(p.anchor, out)])
        t = sample_triplets(idx, epoch_rng(0, e))
        assert not np.isin(t.anchor, out).any()  # an outlier anchor has no positive: skipped
        assert not np.any(y[t.positive] == -1)
    # outliers are still drawn as negatives of other anchors
    negs = np.concatenate([sample_triplets(idx, epoch_rng(1, e)).negative for e in range(50)])
    assert np.isin(negs, out).any()


def test_outliers_as_class_form_positives():
    y = _outlier_labels()
    idx = LabelIndex(y, outliers="as_class")
    out = np.nonzero(y == -1)[0]
    n_pos_outlier = 0
    for e in range(200):
        t = sample_triplets(idx, epoch_rng(0, e))
        assert sorted(t.anchor.tolist()) == list(range(len(y)))  # every anchor, outliers too
        mask = np.isin(t.anchor, out)
        assert np.all(y[t.positive][mask] == -1)  # an outlier's positive is another outlier
        assert np.all(y[t.negative][mask] != -1)
        p = sample_pairs(idx, epoch_rng(0, e))
        n_pos_outlier += int((p.is_positive & np.isin(p.anchor, out)).sum())
        assert np.all(y[p.partner][p.is_positive & np.isin(p.anchor, out)] == -1)
    # ~ half of 5 outlier anchors x 200 epochs get an outlier positive
    assert 350 < n_pos_outlier < 650


# --------------------------------------------------------------------------- self as positive
@pytest.mark.parametrize("outliers", ["exclude_from_positives", "as_class"])
def test_self_positive_never_by_default_sometimes_when_allowed(outliers):
    y = np.repeat(np.arange(4), 3)  # classes of 3: self is 1 of 3 candidates when allowed
    idx = LabelIndex(y, outliers=outliers)
    same = {False: [0, 0], True: [0, 0]}  # [triplets, pairs] with anchor == positive
    total = {False: [0, 0], True: [0, 0]}
    for allow in (False, True):
        for e in range(300):
            t = sample_triplets(idx, epoch_rng(0, e), allow_self_positive=allow)
            same[allow][0] += int((t.anchor == t.positive).sum())
            total[allow][0] += len(t.anchor)
            p = sample_pairs(idx, epoch_rng(0, e), allow_self_positive=allow)
            same[allow][1] += int((p.anchor[p.is_positive] == p.partner[p.is_positive]).sum())
            total[allow][1] += int(p.is_positive.sum())
    assert same[False] == [0, 0]
    # allowed: uniform over the whole class, self included -> about 1/3 of positives
    assert same[True][0] / total[True][0] == pytest.approx(1 / 3, abs=0.03)
    assert same[True][1] / total[True][1] == pytest.approx(1 / 3, abs=0.04)


def test_self_positive_setting_reaches_the_training_sampler():
    cfg = _config({"sampling": {"allow_self_positive": True, "outliers": "as_class"}})
    s = TrainSettings.from_resolved(P.resolve_experiment(cfg, "exp"), "triplet", seed=0)
    assert s.allow_self_positive is True and s.outliers == "as_class"


# --------------------------------------------------------------------------- input normalisation
SMALL = {"n_classes": 3, "n_per_class": 20, "dim": 8, "test_fraction": 0.25, "seed": 3}


def test_l2_input_normalization_gives_unit_rows_and_same_split():
    spec = C.validate_dataset({"source": "synthetic", **SMALL})
    plain = prepare_dataset({**spec, "input_normalization": "none"}, "s", spec["seed"])
    l2 = prepare_dataset({**spec, "input_normalization": "l2"}, "s", spec["seed"])
    assert plain.attrs["input_normalization"] == "none" and l2.attrs["input_normalization"] == "l2"
    for split in ("train", "test"):
        xp, xl = plain.splits[split]["x"], l2.splits[split]["x"]
        norms = np.linalg.norm(xl, axis=1)
        assert norms == pytest.approx(np.ones(len(xl)), abs=1e-5)
        assert np.linalg.norm(xp, axis=1).min() > 2.0  # §3.1's data is far from unit norm
        # same points, same labels, same split: only the scale of each row differs
        np.testing.assert_array_equal(plain.splits[split]["y"], l2.splits[split]["y"])
        np.testing.assert_allclose(
            xl, xp / np.linalg.norm(xp, axis=1, keepdims=True), rtol=1e-5, atol=1e-6
        )


# --------------------------------------------------------------------------- evaluation split, outliers
def _write_run(tmp_path, n_train=40, n_test=12):
    rng = np.random.default_rng(0)

    def split(n):
        y = np.concatenate(
            [np.repeat(np.arange(3), (n - 3) // 3), np.full(n - 3 * ((n - 3) // 3), -1)]
        )
        z = rng.standard_normal((len(y), 4)) + 2.0 * np.eye(4)[y % 4]
        return {"x": (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32), "y": y}

    emb = tmp_path / "embeddings.h5"
    tr, te = split(n_train), split(n_test)
    h5io.write_splits(
        emb,
        {"train": tr, "test": te},
        {
            "kind": "vectors",
            "loss": "triplet",
            "loss_label": "Triplet",
            "seed": 0,
            "data_description": "d",
        },
    )
    hist = tmp_path / "history.csv"
    pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "loss": [1.0, 0.5, 0.05],
            "active_ratio": [1.0, 0.6, 0.3],
            "grad_norm": [0.3, 0.2, 0.1],
            "intra_class_distance": [0.5, 0.4, 0.3],
            "inter_class_distance": [1.0, 1.1, 1.2],
            "n_items": [40, 40, 40],
            "seconds": [0.1, 0.1, 0.1],
        }
    ).to_csv(hist, index=False)
    return emb, hist, tr, te


def _evaluate(tmp_path, evaluation: dict, name: str):
    emb, hist, tr, te = _write_run(tmp_path)
    cfg = _config(
        {"evaluation": {"knn_k": 3, "recall_ks": [1, 2], "linear_probe": False, **evaluation}}
    )
    m = evaluate_run(emb, hist, P.evaluation_params(cfg, "exp"), tmp_path / f"{name}.json")
    return m, tr, te


def test_evaluation_split_test_vs_all(tmp_path):
    m_test, tr, te = _evaluate(tmp_path, {}, "test")
    m_all, _, _ = _evaluate(tmp_path, {"split": "all"}, "all")
    assert m_test["evaluation_split"] == "test" and m_all["evaluation_split"] == "all"
    assert m_test["n_eval_points"] == len(te["y"])
    assert m_all["n_eval_points"] == len(tr["y"]) + len(te["y"])
    z = np.concatenate([tr["x"], te["x"]]).astype(np.float64)
    y = np.concatenate([tr["y"], te["y"]])
    assert m_all["intra_mean"] == pytest.approx(variance_statistics(z, y)["intra_mean"])
    assert m_test["intra_mean"] == pytest.approx(
        variance_statistics(te["x"], te["y"])["intra_mean"]
    )
    # classification/retrieval keep train -> test whatever the split of the statistics
    assert m_all["knn_accuracy"] == m_test["knn_accuracy"]


def test_evaluation_split_train_with_an_empty_test_split(tmp_path):
    """test_fraction 0 and evaluation.split train: statistics on the points trained on, and
    no k-NN / retrieval scores (they need held-out points)."""
    emb, hist, tr, _ = _write_run(tmp_path)
    empty = {"x": tr["x"][:0], "y": tr["y"][:0]}
    h5io.write_splits(emb, {"train": tr, "test": empty}, h5io.read_attrs(emb))
    cfg = _config({"evaluation": {"split": "train"}})
    m = evaluate_run(emb, hist, P.evaluation_params(cfg, "exp"), tmp_path / "m.json")
    assert m["evaluation_split"] == "train" and m["n_eval_points"] == len(tr["y"]) == 40
    assert m["intra_mean"] == pytest.approx(variance_statistics(tr["x"], tr["y"])["intra_mean"])
    assert not [k for k in m if k.startswith(("knn", "recall@", "map@", "linear_probe"))]


def test_training_on_every_point_then_scoring_those_points(tmp_path):
    """The authors'-code preset end to end: test_fraction 0, a training run, evaluation on
    the training split; the empty test split keeps its (0, D) shape through every file."""
    from conftest import run_outputs

    from dmlstudy.runs import train_run
    from dmlstudy.sources import prepare_to_file

    small = {"source": "synthetic", "n_classes": 3, "n_per_class": 10, "dim": 8, "test_fraction": 0}
    cfg = _config(
        {"training": {"epochs": 2}, "evaluation": {"split": "train"}}, datasets={"synthetic": small}
    )
    data = tmp_path / "data.h5"
    prepare_to_file(cfg["datasets"]["synthetic"], "synthetic", data)
    out = run_outputs(tmp_path)
    train_run(data, P.training_params(cfg, "exp"), "triplet", 0, out, tmp_path / "ck.pt")
    assert h5io.read_split(out["embeddings"], "test")["x"].shape == (0, 32)
    assert len(h5io.read_split(out["embeddings"], "train")["y"]) == 31  # 30 + 1 outlier
    m = evaluate_run(
        out["embeddings"], out["history"], P.evaluation_params(cfg, "exp"), tmp_path / "m.json"
    )
    assert m["evaluation_split"] == "train" and m["n_eval_points"] == 31


def test_include_outliers_adds_class_minus_one(tmp_path):
    m_off, _, te = _evaluate(tmp_path, {}, "off")
    m_on, _, _ = _evaluate(tmp_path, {"include_outliers": True}, "on")
    assert "-1" not in m_off["per_class_intra_variance"] and -1 not in m_off["classes"]
    assert "-1" in m_on["per_class_intra_variance"] and -1 in m_on["classes"]
    assert len(m_on["classes"]) == len(m_off["classes"]) + 1
    out = te["x"][te["y"] == -1].astype(np.float64)
    by_hand = float(((out - out.mean(0)) ** 2).sum(1).mean())
    assert m_on["per_class_intra_variance"]["-1"] == pytest.approx(by_hand, rel=1e-5)
    # the other classes are untouched; the averages over classes change
    for c, v in m_off["per_class_intra_variance"].items():
        assert m_on["per_class_intra_variance"][c] == pytest.approx(v)
    assert m_on["intra_mean"] != pytest.approx(m_off["intra_mean"])


# --------------------------------------------------------------------------- inter-class statistic
def test_inter_class_statistic_eq3_and_code_reading_by_hand():
    # three classes with centroids (0,0), (3,0), (0,4): distances 3, 4, 5; squared 9, 16, 25
    z = np.array([[-1.0, 0.0], [1.0, 0.0], [3.0, -1.0], [3.0, 1.0], [0.0, 4.0], [0.0, 4.0]])
    y = np.array([0, 0, 1, 1, 2, 2])
    s = variance_statistics(z, y)
    # Eq. 3: 1/(C(C-1)) sum over c != c' of ||mu_c - mu_c'||^2
    ordered = [9, 9, 16, 16, 25, 25]
    assert s["inter_class_variance"] == pytest.approx(sum(ordered) / (3 * 2))
    assert s["inter_mean"] == pytest.approx(50 / 3)
    assert s["inter_var"] == pytest.approx(np.var([9, 16, 25]))
    # the authors' metric.py: mean and torch .std() (ddof 1) of the plain distances
    assert s["inter_dist_mean"] == pytest.approx(4.0)
    assert s["inter_dist_std"] == pytest.approx(1.0)
    assert s["inter_dist_std"] == pytest.approx(torch.tensor([3.0, 4.0, 5.0]).std().item())
    # intra-class: variances 1, 1, 0 -> mean 2/3, variance across classes (ddof 0) 2/9
    assert s["intra_mean"] == pytest.approx(2 / 3)
    assert s["intra_var"] == pytest.approx(2 / 9)


def test_inter_class_statistic_matches_authors_metric_function():
    """The authors' compute_inter_class_variance, re-typed: L2-normalise, centroids of every
    label (outliers included), upper-triangle torch.cdist, mean and std."""
    rng = np.random.default_rng(1)
    z = torch.nn.functional.normalize(torch.from_numpy(rng.standard_normal((90, 5))), dim=1)
    y = torch.from_numpy(np.concatenate([np.repeat(np.arange(4), 20), np.full(10, -1)]))
    cents = torch.stack([z[y == c].mean(0) for c in y.unique()])
    d = torch.cdist(cents, cents)
    iu = torch.triu_indices(len(cents), len(cents), offset=1)
    ref_mean, ref_std = d[iu[0], iu[1]].mean().item(), d[iu[0], iu[1]].std().item()
    s = variance_statistics(z.numpy(), y.numpy(), include_outliers=True)
    assert s["inter_dist_mean"] == pytest.approx(ref_mean, rel=1e-6)
    assert s["inter_dist_std"] == pytest.approx(ref_std, rel=1e-6)
    # and the authors' compute_intra_class_variance (per class, outliers as a class)
    ref_intra = {
        int(c): float(((z[y == c] - z[y == c].mean(0)) ** 2).sum(1).mean()) for c in y.unique()
    }
    assert s["per_class_intra_variance"] == pytest.approx(ref_intra)


# --------------------------------------------------------------------------- presets and configs
def test_preset_top_level_and_per_experiment():
    cfg = _config({"preset": "authors_code"}, preset="paper")
    assert cfg["experiments"]["exp"]["preset"] == "authors_code"
    assert _config()["experiments"]["exp"]["preset"] == "paper"
    assert _config(preset="mine")["experiments"]["exp"]["preset"] == "mine"


def _load(name: str) -> dict:
    path = ROOT / "config" / name
    assert path.exists(), f"{path} is part of the project and must exist"
    return C.validate(C.load_file(path))


CODE_CHOICES = CODE_VALUES


def test_authors_code_config_holds_the_code_choices():
    """The notebook's run: all 2,100 points trained on, the statistics on those same points."""
    cfg = _load("authors_code.yaml")
    assert cfg["preset"] == "authors_code"
    assert len(cfg["seeds"]) >= 2
    choices = {**CODE_CHOICES, ("evaluation", "split"): "train"}
    for name, exp in cfg["experiments"].items():
        r = P.resolve_experiment(cfg, name)
        assert r["preset"] == "authors_code"
        for (section, key), value in choices.items():
            assert r[section][key] == value, (name, section, key)
        ds = cfg["datasets"][exp["dataset"]]
        if ds["source"] == "synthetic":
            assert ds["input_normalization"] == "l2"
            assert ds["test_fraction"] == 0


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_paper_configs_hold_the_paper_choices(name):
    cfg = _load(name)
    assert cfg["preset"] == "paper"
    for exp_name, exp in cfg["experiments"].items():
        r = P.resolve_experiment(cfg, exp_name)
        for section, key, paper, _ in OPTIONS:
            if key == "epochs":
                continue  # the offline default shortens some runs, documented in the config
            assert r[section][key] == paper, (exp_name, section, key)
        ds = cfg["datasets"][exp["dataset"]]
        if ds["source"] == "synthetic":
            assert ds["input_normalization"] == "none"


def test_side_by_side_config_differs_only_where_the_readings_differ():
    cfg = _load("paper_vs_code.yaml")
    paper = P.resolve_experiment(cfg, "synthetic_paper")
    code = P.resolve_experiment(cfg, "synthetic_code")
    assert (paper["preset"], code["preset"]) == ("paper", "authors_code")
    assert paper["label"] == code["label"]  # one label; the preset tells the rows apart
    for section, key, p, c in OPTIONS:
        assert (paper[section][key], code[section][key]) == (p, c), (section, key)
    for section in P.OVERRIDABLE:
        rest_p = {k: v for k, v in paper[section].items() if (section, k) not in CODE_CHOICES}
        rest_c = {k: v for k, v in code[section].items() if (section, k) not in CODE_CHOICES}
        assert rest_p == rest_c, section
    dp, dc = cfg["datasets"][paper["dataset"]], cfg["datasets"][code["dataset"]]
    assert (dp["input_normalization"], dc["input_normalization"]) == ("none", "l2")
    assert {k: v for k, v in dp.items() if k != "input_normalization"} == {
        k: v for k, v in dc.items() if k != "input_normalization"
    }
