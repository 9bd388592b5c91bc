"""The claims: where each one is the paper's (the confirmatory family), its orientation, the
verdict rule, and the table a reader gets."""

from __future__ import annotations

import numpy as np
import pytest
from report_fixtures import (
    EXPS,
    LOSS_LABELS,
    LOSSES,
    PAPER_DATASET,
    SEEDS,
    STATISTICS,
    frame,
    make_metrics,
)

from dmlstudy import catalog
from dmlstudy.report import claims
from dmlstudy.report.comparisons import compare_runs
from dmlstudy.report.doc import to_html, to_latex

INFO = {e: {**v, "paper_dataset": PAPER_DATASET[e]} for e, v in EXPS.items()}


def test_every_claim_names_its_sentence_and_a_catalogued_metric():
    for c in claims.CLAIMS:
        assert c.quote and c.source and c.short
        assert catalog.get(c.metric).key == c.metric
        assert {c.higher, c.lower} == {claims.C, claims.T}
    paper = [c for c in claims.CLAIMS if c.kind == "paper"]
    assert {c.id for c in paper} >= {"intra_variance", "loss_decay", "intra_collapse", "accuracy"}
    # nothing is put in the paper's mouth: the collapse is a question it raises
    collapse = next(c for c in claims.CLAIMS if c.id == "dimensional_collapse")
    assert collapse.kind == "question" and collapse.datasets == ()
    assert "potentially" in collapse.quote


def test_family_and_direction():
    c = next(c for c in claims.CLAIMS if c.id == "accuracy")
    assert c.family("mnist") == "confirmatory" and c.family("synthetic") == "exploratory"
    assert c.family(None) == "exploratory"
    assert (
        c.direction("contrastive", "triplet") == 1 and c.direction("triplet", "contrastive") == -1
    )
    assert c.direction("contrastive", "supcon") == 0
    assert claims.claim_for("knn_accuracy", "triplet", "contrastive") is c
    assert claims.claim_for("knn_accuracy", "contrastive", "supcon") is None


@pytest.mark.parametrize(
    "p, signed, verdict",
    [
        (0.01, 0.3, "supported"),
        (0.01, -0.3, "contradicted"),
        (0.2, 0.3, "inconclusive"),
        (float("nan"), 0.3, "inconclusive"),
        (0.01, 0.0, "inconclusive"),
    ],
)
def test_verdict_rule(p, signed, verdict):
    assert claims.verdict(p, signed, 0.05) == verdict


@pytest.fixture
def checked(tmp_path):
    rng = np.random.default_rng(0)
    ms = [
        make_metrics(e, lo, s, rng, shift=0.5 if e == "synthetic_mlp" else 0.0)
        for e in EXPS
        for lo in LOSSES
        for s in SEEDS
    ]
    out = compare_runs(frame(tmp_path, ms), INFO, LOSS_LABELS, STATISTICS)
    return claims.claims_frame(out, {"mnist_cnn": "epochs 10 (paper 50)"})


def test_claims_frame_is_oriented_as_the_claims(checked):
    r = checked[(checked["claim_id"] == "grad_norm") & (checked["experiment"] == "synthetic_mlp")]
    r = r.iloc[0]
    # the claim: contrastive has the lower gradient norm, i.e. triplet - contrastive > 0
    assert (r["higher"], r["lower"]) == ("triplet", "contrastive")
    assert r["difference_claimed"] == pytest.approx(r["higher_mean"] - r["lower_mean"])
    assert r["difference_claimed"] > 0  # the fixture's triplet has the larger norm
    assert r["ci_low_claimed"] <= r["difference_claimed"] <= r["ci_high_claimed"]
    ar = checked[(checked["claim_id"] == "active_ratio")].iloc[0]
    # the claim: contrastive higher; the comparison is triplet - contrastive: flipped
    assert (ar["higher"], ar["lower"]) == ("contrastive", "triplet")
    assert ar["difference_claimed"] == pytest.approx(ar["higher_mean"] - ar["lower_mean"])
    # confirmatory rows first, then exploratory, each in the claims' order
    assert list(dict.fromkeys(checked["family"])) == ["confirmatory", "exploratory"]
    assert set(checked.loc[checked["experiment"] == "mnist_cnn", "setup_differences"]) == {
        "epochs 10 (paper 50)"
    }


def test_claims_docs_one_table_per_family(checked):
    docs = claims.claims_docs(checked, INFO)
    assert [d.label for d in docs] == ["tab:claims-confirmatory", "tab:claims-exploratory"]
    conf = docs[0].panels[0]
    assert conf.columns == ["Experiment", "Δ ± 95% CI", "g", "p", "Verdict"]
    titles = [g.title for g in conf.groups]
    assert titles[0].startswith("intra-class variance: T > C")
    assert all(len(r) == 5 for g in conf.groups for r in g.rows)
    tex = to_latex(docs[0])
    assert "Holm-corrected over the" in tex and "\\setlength{\\tabcolsep}" not in tex
    assert "synthetic\\_mlp" not in tex  # readable names, not identifiers
    assert "Synthetic" in tex
    html = to_html(docs[1])
    assert "<table" in html and "Benjamini-Hochberg" in html and "a question" in html


def test_effect_sizes_beyond_ten_print_as_a_bound(checked):
    from dmlstudy.report.latex import effect_text

    assert effect_text(34.0) == "> 10" and effect_text(-506.0) == "< −10"
    assert effect_text(2.456) == "2.5" and effect_text(-0.0063) == "−0.0063"
    docs = claims.claims_docs(checked, INFO)
    cells = [r[2] for d in docs for g in d.panels[0].groups for r in g.rows]
    assert all(
        c in ("n/a", "> 10", "< −10") or abs(float(c.replace("−", "-"))) <= 10 for c in cells
    )


def test_summary_counts_the_verdicts(checked):
    html = claims.summary_html(checked)
    conf = checked[checked["family"] == "confirmatory"]
    n = int((conf["verdict"] == "supported").sum())
    tested = int(conf["p"].notna().sum())
    assert (
        f"<b>Confirmatory</b> ({len(conf)} comparisons, {tested} tested, Holm): {n} supported"
        in html
    )
    assert html.count("<li>") == len(conf)
