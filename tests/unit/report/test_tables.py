"""Tables 1-5 on metrics built here: every number is the mean/std of the metrics.json
files it came from, every p the comparison's, one precision per column."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from report_fixtures import EXPS, LOSS_LABELS, LOSSES, SEEDS, context, frame, make_metrics

from dmlstudy.report import comparisons, tables
from dmlstudy.report.doc import to_latex

MAKERS = (tables.table1, tables.table2, tables.table3, tables.table4, tables.table5)


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


def cells(doc, header):
    """``{(group title, row label): cell}`` of the column ``header`` in any panel."""
    out = {}
    for p in doc.panels:
        if header in p.columns:
            j = p.columns.index(header)
            out.update({(g.title, r[0]): r[j] for g in p.groups for r in g.rows})
    return out


def decimals(cell: str) -> int:
    first = cell.split(" ± ")[0].replace("−", "-")
    return len(first.split(".")[1]) if "." in first else 0


@pytest.mark.parametrize("make", MAKERS)
def test_every_cell_is_the_runs_mean_and_std(runs, make):
    ms, df = runs
    ctx = context(df)
    out, doc = make(df, ctx)
    assert len(out) == len(EXPS) * len(LOSSES)
    means = [c for c in out.columns if c.endswith("_mean") and not c.startswith("inter_dist")]
    assert means
    for col in means:
        key = col.removesuffix("_mean")
        for e in EXPS:
            for lo in LOSSES:
                row = out[(out["experiment"] == e) & (out["loss"] == lo)].iloc[0]
                vals = values(ms, e, lo, key)
                if all(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals):
                    continue
                assert row[col] == pytest.approx(np.mean(vals)), (col, e, lo)
                assert row[f"{key}_std"] == pytest.approx(np.std(vals, ddof=1)), (col, e, lo)


@pytest.mark.parametrize("make", MAKERS)
def test_one_precision_per_column_and_real_minus_signs(runs, make):
    _, df = runs
    _, doc = make(df, context(df))
    for p in doc.panels:
        for j in range(1, len(p.columns)):
            col = [r[j] for g in p.groups for r in g.rows if r[0] in LOSS_LABELS.values()]
            col = [c for c in col if "±" in c]
            assert len({decimals(c) for c in col}) <= 1, (p.columns[j], col)
            assert not any(re.search(r"(^|\s)-\d", c) for c in col)


@pytest.mark.parametrize("make", MAKERS)
def test_p_cells_are_the_comparisons(runs, make):
    _, df = runs
    ctx = context(df)
    out, doc = make(df, ctx)
    checked = 0
    for p in doc.panels:
        for g in p.groups:
            exp = next(e for e, v in EXPS.items() if v["label"] == g.title)
            row = next(r for r in g.rows if r[0] == "p")
            for j, header in enumerate(p.columns[1:], start=1):
                key = next(m.key for m in tables._columns(df, p_table(make), p.title or None)
                           if header == m.header or header.startswith(m.header + " ["))  # fmt: skip
                cmp = comparisons.lookup(ctx.comparisons, exp, key, "contrastive", "triplet")
                assert row[j] == tables.p_cell(cmp)
                if cmp is not None and not math.isnan(cmp["p"]):
                    rec = out[(out["experiment"] == exp) & (out["loss"] == "triplet")].iloc[0]
                    assert rec[f"{key}_p_corrected_vs_contrastive"] == pytest.approx(
                        cmp["p_corrected"]
                    )
                checked += 1
    assert checked


def p_table(make):
    return {
        tables.table1: "table1_variance",
        tables.table2: "table2_greediness",
        tables.table3: "table3_classification",
        tables.table4: "table4_retrieval",
        tables.table5: "table5_geometry",
    }[make]


def test_single_seed_has_no_test(tmp_path):
    rng = np.random.default_rng(2)
    df = frame(tmp_path, [make_metrics(e, lo, 0, rng) for e in EXPS for lo in LOSSES])
    for make in MAKERS:
        _, doc = make(df, context(df))
        p_rows = [r for p in doc.panels for g in p.groups for r in g.rows if r[0] == "p"]
        assert p_rows and all(c == "n/a" for r in p_rows for c in r[1:])
        assert "±" not in "".join(
            c for p in doc.panels for g in p.groups for r in g.rows for c in r
        )


def test_event_epochs_print_as_bounds_when_censored(tmp_path):
    rng = np.random.default_rng(4)
    decay = {"contrastive": [None, None, 12], "triplet": [4, 5, 6]}
    ms = [
        make_metrics("mnist_cnn", lo, s, rng, loss_decay_epoch=decay[lo][s], epochs=20,
                     intra_collapse_epoch=None)
        for lo in LOSSES
        for s in SEEDS
    ]  # fmt: skip
    df = frame(tmp_path, ms)
    out, doc = tables.table2(df, context(df))
    decay_cells = cells(doc, "Loss decay")
    assert decay_cells[("MNIST (5k subset)", "Contrastive")] == "> 17.3"  # (20 + 20 + 12) / 3
    assert decay_cells[("MNIST (5k subset)", "Triplet")] == "5.0 ± 1.0"
    assert cells(doc, "Intra halved")[("MNIST (5k subset)", "Triplet")] == "> 20"  # never
    row = out[out["loss"] == "contrastive"].iloc[0]
    assert row["loss_decay_epoch_reached"] == 1 and math.isnan(row["loss_decay_epoch_mean"])
    assert "a lower bound" in " ".join(doc.notes)


def test_active_ratio_by_pair_kind_and_its_floor(runs):
    _, df = runs
    out, doc = tables.table2(df, context(df))
    pos = cells(doc, "Positive pairs")
    assert pos[("Synthetic", "Contrastive")] == "1 ± 0" or pos[
        ("Synthetic", "Contrastive")
    ].startswith("1.0")
    assert pos[("Synthetic", "Triplet")] == "n/a"
    assert "by construction" in " ".join(doc.notes)


def test_a_third_loss_is_a_row_of_its_own(tmp_path):
    rng = np.random.default_rng(10)
    labels = {**LOSS_LABELS, "toy": "Toy loss"}
    ms = [make_metrics("mnist_cnn", lo, s, rng) for lo in labels for s in SEEDS]
    df = frame(tmp_path, ms)
    ctx = context(df, loss_labels=labels)
    for make in (tables.table1, tables.table3, tables.table4):
        out, doc = make(df, ctx)
        assert list(out["loss"]) == ["contrastive", "triplet", "toy"]
        firsts = [r[0] for g in doc.panels[0].groups for r in g.rows]
        assert firsts == ["Contrastive", "Triplet", "Toy loss", "p, Triplet", "p, Toy loss"]
        assert "against the first" in " ".join(doc.notes)


def test_experiments_in_config_order(tmp_path):
    rng = np.random.default_rng(3)
    df = frame(
        tmp_path, [make_metrics(e, lo, 0, rng) for e in reversed(list(EXPS)) for lo in LOSSES]
    )
    assert list(dict.fromkeys(df["experiment"])) == list(EXPS)


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
    ctx = context(df, {e: {**v, "paper_dataset": "synthetic"} for e, v in exps.items()})
    for make in (tables.table1, tables.table2):
        out, doc = make(df, ctx)
        tex = to_latex(doc)
        assert "Synthetic [authors\\_code]" in tex
        assert "Synthetic [paper]" not in tex  # the paper reading keeps the bare label
        assert set(out["preset"]) == {"paper", "authors_code"}


def test_one_loss_one_seed(tmp_path):
    """A config that trains only one loss with one seed (tests/config/tiny_head.yaml)."""
    rng = np.random.default_rng(7)
    df = frame(tmp_path, [make_metrics(e, "contrastive", 0, rng) for e in EXPS])
    for make in MAKERS:
        out, doc = make(df, context(df))
        assert set(out["loss"]) == {"contrastive"} and len(out) == 2
        assert "Triplet" not in to_latex(doc)


def test_table1_reports_the_papers_own_test(runs):
    _, df = runs
    ctx = context(df)
    out, doc = tables.table1(df, ctx)
    c = ctx.comparisons
    test = c[(c["metric"] == comparisons.PER_CLASS) & (c["experiment"] == "mnist_cnn")].iloc[0]
    row = out[(out["experiment"] == "mnist_cnn") & (out["loss"] == "triplet")].iloc[0]
    assert row["class_ttest_p_corrected"] == pytest.approx(test["p_corrected"])
    assert row["class_ttest_n_classes"] == 4
    assert "paired t across classes" in " ".join(doc.notes)
    assert pd.notna(row["inter_dist_mean_mean"])


def test_an_undefined_value_is_na_with_a_reason_not_a_dropped_column(tmp_path):
    """MAP@R undefined for every seed of a run (no test query has another point of its
    class) keeps its column, shows n/a, and a note says why; so does an undefined
    intra-class variance in Table 1 (never 0.0)."""
    rng = np.random.default_rng(0)
    undefined = {"map@r": math.nan, "intra_mean": math.nan, "intra_var": math.nan}
    ms = [make_metrics("synthetic_mlp", lo, s, rng, **undefined) for lo in LOSSES for s in SEEDS]
    df = frame(tmp_path, ms)
    out, doc = tables.table4(df, context(df))
    assert cells(doc, "MAP@R")[("Synthetic", "Contrastive")] == "n/a"
    assert "n/a: MAP@R is undefined" in " ".join(doc.notes)
    assert "no test query has another point" in " ".join(doc.notes)
    assert out["map@r_mean"].isna().all()
    _, doc1 = tables.table1(df, context(df))
    assert cells(doc1, "Intra μ")[("Synthetic", "Triplet")] == "n/a"
    assert "Intra μ, Intra σ² are undefined: no class has two evaluation" in " ".join(doc1.notes)


def test_a_config_without_a_test_split_has_na_tables_3_and_4_with_the_reason(tmp_path):
    """The authors' preset (test_fraction 0) has no k-NN or retrieval scores: Tables 3 and 4
    show n/a under named columns, with a note saying why."""
    rng = np.random.default_rng(0)
    downstream = ("knn_k", "knn_accuracy", "linear_probe_accuracy", "map@r", "r_precision")
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
    note = "n/a for Synthetic: no test split (test_fraction 0)"
    _, doc3 = tables.table3(df, context(df))
    assert cells(doc3, "k-NN acc.")[("Synthetic", "Contrastive")] == "n/a"
    assert note in " ".join(doc3.notes) and "None" not in to_latex(doc3)
    _, doc4 = tables.table4(df, context(df))
    assert cells(doc4, "MAP@R")[("Synthetic", "Triplet")] == "n/a"
    assert note in " ".join(doc4.notes)
    assert "no test query has another point" not in " ".join(doc4.notes)  # not the reason


def test_a_run_whose_health_check_failed_is_marked(tmp_path):
    rng = np.random.default_rng(0)
    bad = {"status": "warning", "problems": [{"check": "collapsed to a point"}]}
    ms = [
        make_metrics(
            "mnist_cnn", lo, s, rng, **({"health": bad} if lo == "triplet" and s == 1 else {})
        )
        for lo in LOSSES
        for s in SEEDS
    ]
    df = frame(tmp_path, ms)
    out, doc = tables.table3(df, context(df))
    labels = [r[0] for g in doc.panels[0].groups for r in g.rows]
    assert "Triplet‡" in labels and "Contrastive" in labels
    assert "seed 1: collapsed to a point" in " ".join(doc.notes)
    assert out.loc[out["loss"] == "triplet", "health"].iloc[0] == "seed 1: collapsed to a point"
