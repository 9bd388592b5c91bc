"""The reality check's table: each study's best trial, its reproductions' test metrics with
95% CIs, and triplet against contrastive paired and corrected as a family of its own; its
LaTeX compiles at the default column spacing without an overfull box."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from report_fixtures import LOSS_LABELS, STATISTICS, frame, make_metrics

from dmlstudy.report import doc, reality
from dmlstudy.report.latex import std_decimals
from dmlstudy.report.stats import compare_paired, mean_ci

EXPS = {
    "synthetic_mlp": {"label": "Synthetic", "preset": "paper"},
    "synthetic_disjoint": {"label": "Synthetic, 100 classes, class-disjoint", "preset": "paper"},
}
LABELS = {**LOSS_LABELS, "margin_loss": "Margin", "proxy_anchor": "ProxyAnchor"}
SEGMENT = {
    "contrastive": "loss.margin~3.17/training.lr~0.00123/",
    "triplet": "loss.margin~0.412/training.lr~0.000871/",
    "margin_loss": "loss.pml_options.margin_loss.margin~0.0731/training.lr~0.00456/",
    "proxy_anchor": "loss.pml_options.proxy_anchor.margin~0.119/training.lr~0.00999/",
}


def best_of(exp, loss):
    values = {p.split("~")[0]: float(p.split("~")[1]) for p in SEGMENT[loss].split("/")[:-1]}
    label = ", ".join(f"{k.split('.')[-1]} = {v!r}" for k, v in values.items())
    return {
        "experiment": exp, "loss": loss, "number": 17, "round": 3, "segment": SEGMENT[loss],
        "values": values, "label": label, "metric": "map@r",
        "validation_kind": "class_disjoint" if exp == "synthetic_disjoint" else "stratified",
        "mean": 0.61, "fold_std": 0.034, "fold_means": [0.6] * 4, "folds": 4,
        "tuning_seeds": [0], "n_trials": 20, "n_failed": 2,
        "space": "; ".join(f"{k}: float [0.01, 8.0] log" for k in values),
    }  # fmt: skip


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    rng = np.random.default_rng(3)
    ms = []
    for exp in EXPS:
        for lo in LABELS:
            for s in range(10):
                m = make_metrics(exp, lo, s, rng, shift=0.3 if exp == "synthetic_mlp" else 0.0)
                m["precision@1"] = m["recall@1"]
                m["r_precision"] = m["map@r"] + 0.1 + rng.normal(0, 0.005)
                if exp == "synthetic_disjoint":
                    m["knn_accuracy"] = float("nan")  # unseen test classes
                ms.append(m)
    runs = frame(tmp_path_factory.mktemp("reality"), ms, EXPS)
    best = [best_of(e, lo) for e in EXPS for lo in LABELS]
    out, docs = reality.reality_check(best, runs, EXPS, LABELS, STATISTICS, INPUTS)
    return out, docs, runs


#: The input's metrics (``evaluate.input_metrics``): k-NN accuracy is NaN on unseen classes.
INPUTS = {
    "synthetic_mlp": {"precision@1": 0.725, "r_precision": 0.21, "map@r": 0.182,
                      "knn_accuracy": 0.75, "recall@1": 0.725},
    "synthetic_disjoint": {"precision@1": 0.606, "r_precision": 0.12, "map@r": 0.082,
                           "knn_accuracy": float("nan")},
}  # fmt: skip


def test_one_row_per_loss_with_its_search_and_its_reproductions(table):
    out, _, runs = table
    losses = out[out["kind"] == "loss"]
    assert list(zip(losses["experiment"], losses["loss"], strict=True)) == [
        (e, lo) for e in EXPS for lo in LABELS
    ]
    row = losses.iloc[1]
    assert row["segment"] == SEGMENT["triplet"] and row["validation_mean"] == 0.61
    assert (row["n_trials"], row["n_failed"], row["folds"], row["n_reproductions"]) == (
        20, 2, 4, 10,
    )  # fmt: skip
    for m in reality.TEST_METRICS:
        vals = runs[(runs["experiment"] == row["experiment"]) & (runs["loss"] == "triplet")][m]
        mean, lo, hi, n = mean_ci(vals)
        assert (row[f"{m}_mean"], row[f"{m}_ci_low"], row[f"{m}_ci_high"]) == pytest.approx(
            (mean, lo, hi)
        )
    disjoint = losses[losses["experiment"] == "synthetic_disjoint"]
    assert disjoint["knn_accuracy_mean"].isna().all()
    # k-NN accuracy is NaN on every seed there, yet all 10 reproductions ran
    assert set(disjoint["n_reproductions"]) == {10}


def test_one_input_row_per_experiment_with_its_single_value(table):
    out, docs, _ = table
    rows = out[out["kind"] == "input"]
    assert list(rows["experiment"]) == list(EXPS) and set(rows["loss"]) == {reality.INPUT}
    assert set(rows["loss_label"]) == {reality.INPUT_LABEL}
    for _, r in rows.iterrows():
        for m in reality.TEST_METRICS:
            want = INPUTS[r["experiment"]][m]
            assert r[f"{m}_mean"] == pytest.approx(want, nan_ok=True)
            assert pd.isna(r[f"{m}_ci_low"]) and pd.isna(r[f"{m}_ci_high"])
    # loss rows first, then input rows, then the tests; an input is never in a comparison
    assert list(dict.fromkeys(out["kind"])) == ["loss", "input", "comparison"]
    text = doc.to_latex(docs[1])
    # in the test panel below the losses: a plain value (no interval) at the finest decimals
    # of the losses' column (at least 3), and explained; the class-disjoint table is two
    # panels wide (P@1 and R-Prec., then MAP@R and k-NN)
    cells = {}
    for m in ("precision@1", "r_precision", "map@r"):
        r = out[(out["experiment"] == "synthetic_disjoint") & (out["kind"] == "loss")]
        d = max(
            max(std_decimals((h - lo) / 2), 3)
            for lo, h in zip(r[f"{m}_ci_low"], r[f"{m}_ci_high"], strict=True)
        )
        cells[m] = f"{INPUTS['synthetic_disjoint'][m]:.{d}f}"
    assert f"Input, untrained & {cells['precision@1']} & {cells['r_precision']} \\\\" in text
    assert f"Input, untrained & {cells['map@r']} & n/a" in text
    assert "Input, untrained: the same metrics of the models' input" in text
    assert text.index("ProxyAnchor &") < text.index("Input, untrained &")


def test_no_inputs_no_input_rows(table):
    _, _, runs = table
    best = [best_of(e, lo) for e in EXPS for lo in LABELS]
    out, docs = reality.reality_check(best, runs, EXPS, LABELS, STATISTICS)
    assert "input" not in set(out["kind"]) and "Input, untrained" not in doc.to_latex(docs[0])


def test_triplet_against_contrastive_is_paired_and_corrected_as_its_own_family(table):
    out, _, runs = table
    tests = out[out["kind"] == "comparison"]
    # 4 metrics on the synthetic data, 3 on the class-disjoint one (no k-NN accuracy)
    assert len(tests) == 7 and set(tests["family"]) == {reality.REALITY_FAMILY}
    assert set(tests["family_size"]) == {7} and set(tests["correction"]) == {"Holm"}
    r = tests[(tests["experiment"] == "synthetic_mlp") & (tests["metric"] == "precision@1")]
    r = r.iloc[0]
    sub = runs[runs["experiment"] == "synthetic_mlp"].sort_values("seed")
    c = sub[sub["loss"] == "contrastive"]["precision@1"].to_list()
    t = sub[sub["loss"] == "triplet"]["precision@1"].to_list()
    res = compare_paired(c, t)
    assert r["difference"] == pytest.approx(res.diff) and r["p"] == pytest.approx(res.p)
    ps = sorted(tests["p"])
    assert r["p_corrected"] == pytest.approx(
        min(1.0, max((len(ps) - i) * p for i, p in enumerate(ps) if p <= r["p"]))
    )
    assert r["verdict"] == ("supported" if r["p_corrected"] < 0.05 and res.diff > 0 else
                            "contradicted" if r["p_corrected"] < 0.05 else "inconclusive")  # fmt: skip
    assert r["verdict"] == "supported"  # the fixture's triplet is higher by construction
    assert set(tests.loc[tests["experiment"] == "synthetic_disjoint", "verdict"]) == {
        "inconclusive"
    }
    assert pd.api.types.is_integer_dtype(out["n_trials"])


def test_the_document_names_the_points_cis_and_verdicts(table, tmp_path):
    out, docs, _ = table
    assert [d.label for d in docs] == [f"tab:reality_{e}" for e in EXPS]
    text = doc.to_latex(docs[0])
    assert "margin = 0.412, lr = 0.000871" in text and "0.610 $\\pm$ 0.034" in text
    assert "supported" in text and "Holm-corrected over the 7 tests" in text
    # each test's row names its metric as the table's header does
    assert "\nP@1 & " in text and "\nR-Precision & " in text
    assert "training.lr: float [0.01, 8.0] log" in text  # the spaces, in the notes
    assert "k-NN accuracy: n/a" in doc.to_latex(docs[1])
    assert all("over 10 reproductions" in doc.to_latex(d) for d in docs)
    assert all(doc.fits(p) for d in docs for p in d.panels)
    doc.write(docs, tmp_path / "r.tex", tmp_path / "r.html", "Reality check")
    html = (tmp_path / "r.html").read_text()
    assert html.count("<table") == sum(len(d.panels) for d in docs) and "ProxyAnchor" in html
    # the same tables write the same bytes, and no two tables on the page share an id
    doc.write(docs, tmp_path / "r2.tex", tmp_path / "r2.html", "Reality check")
    assert (tmp_path / "r2.html").read_text() == html
    ids = re.findall(r'<table id="([^"]+)"', html)
    assert len(ids) == html.count("<table") and len(set(ids)) == len(ids)
    row = out[(out["kind"] == "loss") & (out["loss"] == "margin_loss")].iloc[0]
    cell = reality.ci_cell(row["map@r_mean"], row["map@r_ci_low"], row["map@r_ci_high"])
    assert cell in text and cell.count("[") == 1
    assert reality.ci_cell(0.5, math.nan, math.nan) == "0.5"


PDFLATEX = shutil.which("pdflatex")


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")
def test_the_reality_check_compiles_at_the_default_column_spacing(table, tmp_path):
    _, docs, _ = table
    text = doc.latex_document([doc.to_latex(d) for d in docs])
    assert text.isascii() and "resizebox" not in text and "tabcolsep" not in text
    (tmp_path / "t.tex").write_text(text)
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    bad = [ln for ln in log.splitlines() if "Overfull \\hbox" in ln or "Float too large" in ln]
    assert not bad, bad
