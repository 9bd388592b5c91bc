"""Tables 1-4 on metrics built here: every number must equal the mean/std of the
metrics.json files it came from; the layout follows the paper's where it fits a page."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from report_fixtures import EXPS, LOSS_LABELS, LOSSES, SEEDS, frame, make_metrics
from scipy import stats

from dmlstudy.report import latex, tables


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    ms = [
        make_metrics(e, lo, s, rng, shift=0.5 if e == "synthetic_mlp" else 0.0)
        for e in EXPS
        for lo in LOSSES
        for s in SEEDS
    ]
    return ms, frame(tmp_path, ms)


def values(ms, exp, loss, key):
    return [m[key] for m in ms if m["experiment"] == exp and m["loss"] == loss]


def body_rows(tex):
    """The data rows between \\midrule and \\bottomrule, split into cells (row-group
    headings and spacing left out)."""
    body = tex.split("\\midrule\n", 1)[1].split("\\bottomrule", 1)[0]
    return [
        r.rstrip(" \\").split(" & ")
        for r in body.strip().splitlines()
        if not r.startswith(("\\multicolumn", "\\addlinespace", "\\midrule"))
    ]


def group_titles(tex):
    return re.findall(r"\\multicolumn\{\d+\}\{[cl]\}\{(?:\\emph\{)?([^}]*)\}", tex)


def check_booktabs(tex):
    for cmd in ("\\toprule", "\\bottomrule", "\\begin{tabular}", "\\end{table}"):
        assert tex.count(cmd) == 1, cmd
    assert "resizebox" not in tex and "\\footnotesize" in tex


# --------------------------------------------------------------------------- Table 3
def test_table3_structure_and_values(runs):
    ms, df = runs
    out, tex = tables.table3(df, LOSS_LABELS)
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
    check_booktabs(tex)
    # the paper's layout (a column group per experiment) when it fits, else row groups
    assert group_titles(tex) == [v["label"] for v in EXPS.values()]
    assert "5-NN acc. & Linear probe" in tex
    rows = body_rows(tex)
    assert {r[0] for r in rows} == {"Contrastive", "Triplet", "p (seeds)"}
    assert sum(len(r) - 1 for r in rows) == 3 * 4
    r = out[(out["experiment"] == "mnist_cnn") & (out["loss"] == "triplet")].iloc[0]
    cell = latex.tex_escape(latex.pm(r["knn_accuracy_mean"], r["knn_accuracy_std"], 3))
    assert f"Triplet & {cell}" in tex or f"& {cell} & " in tex
    assert "Welch" in tex


def test_table3_without_linear_probe(tmp_path):
    rng = np.random.default_rng(1)
    ms = [make_metrics("mnist_cnn", lo, s, rng) for lo in LOSSES for s in SEEDS]
    for m in ms:
        del m["linear_probe_accuracy"]
    out, tex = tables.table3(frame(tmp_path, ms), LOSS_LABELS)
    assert "linear_probe_accuracy_mean" not in out
    assert "Linear probe" not in tex
    assert all(len(r) == 2 for r in body_rows(tex))


# --------------------------------------------------------------------------- Table 4
def test_table4_structure_and_values(runs):
    ms, df = runs
    out, tex = tables.table4(df, LOSS_LABELS)
    assert len(out) == 4
    keys = ["recall@1", "recall@5", "recall@10", "map@r"]
    for e in EXPS:
        for lo in LOSSES:
            row = out[(out["experiment"] == e) & (out["loss"] == lo)].iloc[0]
            for key in keys:
                assert row[f"{key}_mean"] == pytest.approx(np.mean(values(ms, e, lo, key)))
                assert row[f"{key}_std"] == pytest.approx(np.std(values(ms, e, lo, key), ddof=1))
    check_booktabs(tex)
    # eight columns do not fit side by side: one row group per experiment
    assert group_titles(tex) == [v["label"] for v in EXPS.values()]
    assert "Loss & R@1 & R@5 & R@10 & MAP@R \\\\" in tex  # by k numerically, then MAP@R
    rows = body_rows(tex)
    assert len(rows) == 6 and all(len(r) == 5 for r in rows)


def test_significance_marker(runs):
    ms, df = runs
    _, tex = tables.table4(df, LOSS_LABELS)
    p_rows = [r for r in body_rows(tex) if r[0] == "p (seeds)"]
    # synthetic_mlp: triplet recall@1 is 0.05 higher with seed noise 0.005 → significant
    p = tables.seed_p(df, "synthetic_mlp", "recall@1", "contrastive", "triplet")
    assert p < 0.05 and p_rows[0][1].endswith("*")
    p = tables.seed_p(df, "mnist_cnn", "map@r", "contrastive", "triplet")
    assert p_rows[1][4] == latex.tex_escape(tables.p_cell(p))


def test_single_seed_has_no_test(tmp_path):
    rng = np.random.default_rng(2)
    df = frame(tmp_path, [make_metrics(e, lo, 0, rng) for e in EXPS for lo in LOSSES])
    for fn in (tables.table1, tables.table2, tables.table3, tables.table4):
        out, tex = fn(df, LOSS_LABELS)
        assert "p (seeds)" not in tex.split("\\bottomrule")[0]
        assert "fewer than 2 seeds per loss" in tex
        assert all(pd.isna(v) for c in out.columns if c.endswith("_p_seeds") for v in out[c])
        assert "$\\pm$" not in tex.split("\\midrule")[1].split("\\bottomrule")[0]


# --------------------------------------------------------------------------- Tables 1, 2
def test_table1_seed_tests(runs):
    ms, df = runs
    out, tex = tables.table1(df, LOSS_LABELS)
    for key in ("intra_mean", "intra_var", "inter_mean", "inter_var"):
        assert f"{key}_p_seeds" in out
    rows = body_rows(tex)
    assert [r[0] for r in rows] == ["Contrastive", "Triplet", "p (seeds)"] * 2
    assert all(len(r) == 5 for r in rows)
    row = out[(out["experiment"] == "synthetic_mlp") & (out["loss"] == "triplet")].iloc[0]
    assert row["intra_mean_mean"] == pytest.approx(
        np.mean(values(ms, "synthetic_mlp", "triplet", "intra_mean"))
    )
    assert "Paired t-test across 4 classes" in tex
    t = tables.class_ttest(df, "mnist_cnn", "contrastive", "triplet")
    assert row["ttest_t"] != t["t"] or math.isnan(t["t"])  # one test per experiment


def test_table1_notes_do_not_repeat_the_label(tmp_path):
    rng = np.random.default_rng(8)
    ms = [make_metrics("synthetic_mlp", lo, s, rng, data_description="Synthetic (§3.1)")
          for lo in LOSSES for s in SEEDS]  # fmt: skip
    _, tex = tables.table1(frame(tmp_path, ms), LOSS_LABELS)
    assert "Synthetic (\\S{}3.1). Paired" in tex and "Synthetic (Synthetic" not in tex


def test_table2_p_column(runs):
    ms, df = runs
    out, tex = tables.table2(df, LOSS_LABELS)
    assert "Metric & Contrastive & Triplet & p (seeds) \\\\" in tex
    rows = body_rows(tex)
    assert [r[0] for r in rows] == ["Active ratio", "Gradient norm", "Loss-decay epoch"] * 2
    assert all(len(r) == 4 for r in rows)
    row = out[(out["experiment"] == "mnist_cnn") & (out["loss"] == "contrastive")].iloc[0]
    assert row["mean_grad_norm_mean"] == pytest.approx(
        np.mean(values(ms, "mnist_cnn", "contrastive", "mean_grad_norm"))
    )
    assert "loss_decay_epoch_p_seeds" in out


def test_table2_zero_variance_is_not_significant(tmp_path):
    """6.0 ± 0 against 2.0 ± 0 over 3 seeds printed p = 0 before; now the exact test."""
    rng = np.random.default_rng(9)
    ms = [make_metrics("mnist_cnn", lo, s, rng, loss_decay_epoch=6 if lo == "triplet" else 2)
          for lo in LOSSES for s in SEEDS]  # fmt: skip
    out, tex = tables.table2(frame(tmp_path, ms), LOSS_LABELS)
    assert out["loss_decay_epoch_p_seeds"].tolist() == pytest.approx([0.1, 0.1])
    assert "2 $\\pm$ 0 & 6 $\\pm$ 0 & 0.100 \\\\" in tex


def test_a_third_loss_is_a_row_of_its_own(tmp_path):
    rng = np.random.default_rng(10)
    labels = {**LOSS_LABELS, "toy": "Toy loss"}
    ms = [make_metrics("mnist_cnn", lo, s, rng) for lo in labels for s in SEEDS]
    for fn in (tables.table1, tables.table3, tables.table4):
        out, tex = fn(frame(tmp_path, ms), labels)
        assert list(out["loss"]) == ["contrastive", "triplet", "toy"]
        firsts = [r[0] for r in body_rows(tex)]
        assert firsts[:3] == ["Contrastive", "Triplet", "Toy loss"]
        assert "p (Triplet vs Contrastive)" in firsts and "p (Toy loss vs Contrastive)" in firsts
    out, _ = tables.table3(frame(tmp_path, ms), labels)
    assert math.isnan(out["knn_accuracy_p_seeds"].iloc[0])  # the reference row: no single p


def test_experiments_in_config_order(tmp_path):
    rng = np.random.default_rng(3)
    df = frame(
        tmp_path, [make_metrics(e, lo, 0, rng) for e in reversed(list(EXPS)) for lo in LOSSES]
    )
    assert list(dict.fromkeys(df["experiment"])) == list(EXPS)


def test_write(tmp_path, runs):
    _, df = runs
    out, tex = tables.table3(df, LOSS_LABELS)
    latex.write(out, tex, tmp_path / "t" / "t3.csv", tmp_path / "t" / "t3.tex")
    back = pd.read_csv(tmp_path / "t" / "t3.csv")
    assert back.shape == out.shape
    assert (tmp_path / "t" / "t3.tex").read_text() == tex


def test_table_groups_name_the_preset(tmp_path):
    rng = np.random.default_rng(11)
    ms = [
        make_metrics(e, lo, s, rng)
        for e in ("paper_exp", "code_exp")
        for lo in LOSSES
        for s in SEEDS
    ]
    exps = {"paper_exp": {"label": "Synthetic", "preset": "paper"},
            "code_exp": {"label": "Synthetic", "preset": "authors_code"}}  # fmt: skip
    df = frame(tmp_path, ms, exps)
    for make in (tables.table1, tables.table2):
        out, tex = make(df, LOSS_LABELS)
        assert "Synthetic [authors\\_code]" in tex
        assert "Synthetic [paper]" not in tex  # the paper reading keeps the bare label
        assert set(out["preset"]) == {"paper", "authors_code"}


def test_one_loss_one_seed(tmp_path):
    """A config that trains only one loss with one seed (tests/config/tiny_head.yaml)."""
    rng = np.random.default_rng(7)
    df = frame(tmp_path, [make_metrics(e, "contrastive", 0, rng) for e in EXPS])
    for fn in (tables.table1, tables.table2, tables.table3, tables.table4):
        out, tex = fn(df, LOSS_LABELS)
        assert set(out["loss"]) == {"contrastive"} and len(out) == 2
        assert "Triplet" not in tex


def test_table5_geometry_values_are_the_runs_means(runs):
    ms, df = runs
    out, tex = tables.table5(df, LOSS_LABELS)
    assert len(out) == 4
    for e in EXPS:
        for lo in LOSSES:
            row = out[(out["experiment"] == e) & (out["loss"] == lo)].iloc[0]
            for key, _ in tables.GEOMETRY_COLUMNS:
                assert row[f"{key}_mean"] == pytest.approx(np.mean(values(ms, e, lo, key)))
    # two panels that each fit a page (the compile test checks the widths)
    assert tex.count("\\toprule") == 2 and tex.count("\\bottomrule") == 2
    assert "Eff. rank" in tex and "CDNV" in tex


# --------------------------------------------------------------------------- issue 24, case 2
def test_an_undefined_value_is_na_with_a_reason_not_a_dropped_column(tmp_path):
    """MAP@R undefined for every seed of a run (no test query has another point of its
    class) keeps its column, shows n/a, and a note says why; so does an undefined
    intra-class variance in Table 1 (never 0.0)."""
    rng = np.random.default_rng(0)
    undefined = {"map@r": math.nan, "intra_mean": math.nan, "intra_var": math.nan}
    ms = [make_metrics("synthetic_mlp", lo, s, rng, **undefined) for lo in LOSSES for s in SEEDS]
    df = frame(tmp_path, ms)
    out, tex = tables.table4(df, LOSS_LABELS)
    assert "Loss & R@1 & R@5 & R@10 & MAP@R \\\\" in tex
    assert all(r[-1] == "n/a" for r in body_rows(tex)[:2])
    assert "n/a: MAP@R is undefined" in tex and "no test query has another point" in tex
    assert out["map@r_mean"].isna().all()
    _, tex1 = tables.table1(df, LOSS_LABELS)
    assert all(r[1] == "n/a" and r[2] == "n/a" for r in body_rows(tex1)[:2])
    assert "n/a: Intra $\\mu$, Intra $\\sigma^2$ are undefined: no class has two evaluation" in tex1


def test_a_config_without_a_test_split_has_na_tables_3_and_4_with_the_reason(tmp_path):
    """Issue 24, case 6: the authors' preset (test_fraction 0) has no k-NN or retrieval
    scores. Table 3 read "None-NN acc." and Table 4 had no column at all; both now show
    n/a under named columns, with a note saying why."""
    rng = np.random.default_rng(0)
    downstream = ("knn_k", "knn_accuracy", "linear_probe_accuracy", "map@r")
    ms = [
        {
            k: v
            for k, v in make_metrics("synthetic_mlp", lo, s, rng).items()
            if k not in downstream and not k.startswith("recall@")
        }
        for lo in LOSSES
        for s in SEEDS
    ]
    df = frame(tmp_path, ms)
    note = "n/a for Synthetic: no test split (test\\_fraction 0)"
    _, tex3 = tables.table3(df, LOSS_LABELS)
    assert "Loss & k-NN acc. \\\\" in tex3 and "None" not in tex3
    assert [r[1] for r in body_rows(tex3)[:2]] == ["n/a", "n/a"] and note in tex3
    _, tex4 = tables.table4(df, LOSS_LABELS)
    assert "Loss & R@k & MAP@R \\\\" in tex4
    assert all(r[1:] == ["n/a", "n/a"] for r in body_rows(tex4)[:2]) and note in tex4
    assert "no test query has another point" not in tex4  # not the reason here
