"""One statistical story: one paired test per comparison, two families, censored epochs, and
the same p in every table that prints it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from report_fixtures import (
    EXPS,
    LOSS_LABELS,
    LOSSES,
    PAPER_DATASET,
    SEEDS,
    STATISTICS,
    context,
    frame,
    make_metrics,
)
from scipy import stats as sps

from dmlstudy.report import claims, comparisons, stats, tables
from dmlstudy.report.comparisons import POOLED, compare_runs

INFO = {e: {**v, "paper_dataset": PAPER_DATASET[e]} for e, v in EXPS.items()}


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    ms = [
        make_metrics(e, lo, s, rng, shift=0.5 if e == "synthetic_mlp" else 0.0)
        for e in EXPS
        for lo in LOSSES
        for s in SEEDS
    ]
    df = frame(tmp_path, ms)
    return ms, df, compare_runs(df, INFO, LOSS_LABELS, STATISTICS)


def seeds_of(ms, exp, loss, key):
    return [
        m[key]
        for m in sorted(ms, key=lambda m: m["seed"])
        if (m["experiment"], m["loss"]) == (exp, loss)
    ]


def test_every_comparison_is_one_paired_test(runs):
    ms, _, out = runs
    keys = out[["experiment", "metric", "loss_a", "loss_b"]].astype(str).agg("|".join, axis=1)
    assert keys.is_unique
    row = comparisons.lookup(out, "synthetic_mlp", "intra_mean", "contrastive", "triplet")
    a = seeds_of(ms, "synthetic_mlp", "contrastive", "intra_mean")
    b = seeds_of(ms, "synthetic_mlp", "triplet", "intra_mean")
    ref = sps.ttest_rel(b, a)
    assert row["test"] == stats.PAIRED_T and row["n"] == len(SEEDS)
    assert row["p"] == pytest.approx(ref.pvalue)
    assert row["difference"] == pytest.approx(np.mean(np.subtract(b, a)))
    ci = ref.confidence_interval()
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))


def test_families_and_their_corrections(runs):
    _, _, out = runs
    conf = out[out["family"] == claims.CONFIRMATORY]
    # the paper's claims on the experiments that stand for its datasets, and nothing else
    for _, r in conf.iterrows():
        claim = next(c for c in claims.CLAIMS if c.id == r["claim_id"])
        assert claim.kind == "paper"
        assert r["experiment"] == POOLED or PAPER_DATASET[r["experiment"]] in claim.datasets
    assert set(conf["claim_id"]) >= {"intra_variance", "accuracy", "loss_decay"}
    # synthetic: the paper claims the variances there, not the greediness or accuracy
    syn = out[(out["experiment"] == "synthetic_mlp") & (out["claim_id"] != "")]
    assert set(syn.loc[syn["family"] == claims.CONFIRMATORY, "claim_id"]) == {
        "intra_variance",
        "inter_distance",
    }
    # the question the paper only raises is exploratory everywhere
    assert set(out.loc[out["claim_id"] == "dimensional_collapse", "family"]) == {"exploratory"}
    for family, method in (("confirmatory", "holm"), ("exploratory", "bh")):
        part = out[out["family"] == family]
        expected = stats.adjust(part["p"].to_numpy(float), method)
        np.testing.assert_allclose(part["p_corrected"].to_numpy(float), expected)
        assert (part["family_size"] == part["p"].notna().sum()).all()


def test_verdicts_need_corrected_significance_in_the_claims_direction(runs):
    _, _, out = runs
    rows = out[out["claim_id"] != ""]
    for _, r in rows.iterrows():
        if r["verdict"] in ("supported", "contradicted"):
            assert r["p_corrected"] < STATISTICS["alpha"]
    # synthetic: triplet's intra-class variance is 0.5 higher with seed noise 0.01
    r = comparisons.lookup(out, "synthetic_mlp", "intra_mean", "contrastive", "triplet")
    assert r["verdict"] == "supported"
    # every loss-decay epoch is 5 + seed for both losses: ties, no order, no test
    r = comparisons.lookup(out, "mnist_cnn", "loss_decay_epoch", "contrastive", "triplet")
    assert r["test"] == stats.NO_TEST and r["verdict"] == "inconclusive"


def _decay_frame(tmp_path, epochs_c, epochs_t, exps=("mnist_cnn",)):
    rng = np.random.default_rng(5)
    ms = []
    for e in exps:
        for s, (ec, et) in enumerate(zip(epochs_c, epochs_t, strict=True)):
            ms.append(make_metrics(e, "contrastive", s, rng, loss_decay_epoch=ec, epochs=20))
            ms.append(make_metrics(e, "triplet", s, rng, loss_decay_epoch=et, epochs=20))
    return frame(tmp_path, ms, {e: EXPS.get(e, {"label": e, "preset": "paper"}) for e in exps})


def test_censored_epochs_get_the_paired_sign_test(tmp_path):
    """Contrastive never reaches the threshold in 3 of 5 seeds (censored at 20): the order
    of every pair is still known, triplet first in all 5."""
    df = _decay_frame(tmp_path, [None, None, None, 12, 15], [4, 5, 6, 5, 4])
    info = {"mnist_cnn": {"label": "MNIST", "paper_dataset": "mnist"}}
    out = compare_runs(df, info, LOSS_LABELS, STATISTICS)
    r = comparisons.lookup(out, "mnist_cnn", "loss_decay_epoch", "contrastive", "triplet")
    assert r["test"] == stats.SIGN_TEST
    assert (r["b_first"], r["a_first"], r["ties"]) == (5, 0, 0)
    assert r["p"] == pytest.approx(sps.binomtest(5, 5).pvalue) == pytest.approx(2 / 32)
    assert math.isnan(r["difference"])  # no mean difference with censored seeds
    assert r["p_min"] == pytest.approx(2 / 32) and not r["reachable"]
    # the claim says contrastive decays first: the evidence is the other way, so no power
    assert r["verdict"] == "inconclusive" and pd.isna(r["seeds_needed"])
    frame_ = claims.claims_frame(out)
    row = frame_[frame_["claim_id"] == "loss_decay"].iloc[0]
    assert (row["lower_first"], row["higher_first"]) == (0, 5)
    assert claims.delta_cell(row) == "C first 0 of 5"
    assert claims.verdict_cell(row) == "inconclusive†"


def test_both_censored_and_equal_epochs_carry_no_order(tmp_path):
    df = _decay_frame(tmp_path, [None, 7, 3], [None, 7, 9])
    res = stats.compare_paired([math.nan, 7, 3], [math.nan, 7, 9], event=True)
    assert (res.b_first, res.a_first, res.ties) == (0, 1, 2)
    assert res.p == pytest.approx(1.0) and res.p_min == pytest.approx(1.0)
    info = {"mnist_cnn": {"label": "MNIST", "paper_dataset": "mnist"}}
    r = comparisons.lookup(
        compare_runs(df, info, LOSS_LABELS, STATISTICS),
        "mnist_cnn",
        "loss_decay_epoch",
        "contrastive",
        "triplet",
    )
    assert (r["b_first"], r["a_first"], r["ties"]) == (0, 1, 2)


def test_pooled_sign_test_counts_every_pair_of_the_family(tmp_path):
    """Triplet first in every pair of two experiments: 10 of 10 pairs, p = 2/1024, which
    one experiment's 5 pairs (p >= 1/16) could never give."""
    exps = ("mnist_cnn", "mnist_effnet")
    df = _decay_frame(tmp_path, [9, 9, 8, 10, 11], [2, 3, 2, 2, 3], exps)
    info = {e: {"label": e, "paper_dataset": "mnist"} for e in exps}
    out = compare_runs(df, info, LOSS_LABELS, STATISTICS)
    pooled = out[(out["experiment"] == POOLED) & (out["metric"] == "loss_decay_epoch")]
    assert len(pooled) == 1
    r = pooled.iloc[0]
    assert r["family"] == "confirmatory" and r["n"] == 10
    # oriented as the claim: a = contrastive (lower), b = triplet (higher); triplet first
    assert (r["loss_a"], r["b_first"], r["a_first"]) == ("contrastive", 10, 0)
    assert r["p"] == pytest.approx(2 / 1024)
    assert r["verdict"] == "contradicted"  # the paper says contrastive decays earlier


def test_power_only_in_the_claimed_direction_and_exact_tests_say_what_they_need(runs):
    _, _, out = runs
    for _, r in out[out["verdict"] == "inconclusive"].iterrows():
        if pd.notna(r["seeds_needed"]):
            signed = r["difference"] * r["claim_direction"]
            assert r["test"] == stats.SIGN_TEST or signed > 0
    # a sign-flip test of 5 equal differences: p_min 1/16 > 0.05, needs 6 pairs at 0.05
    res = stats.compare_paired([2.0] * 5, [6.0] * 5)
    assert res.test == stats.PAIRED_PERMUTATION and res.p == pytest.approx(1 / 16)
    assert stats.seeds_for_exact(0.05) == 6 and stats.seeds_for_exact(0.05 / 16) == 10


def test_a_table_and_a_claim_print_the_same_p(runs, tmp_path):
    _, df, _ = runs
    ctx = context(df)
    frame_ = claims.claims_frame(ctx.comparisons)
    _, doc = tables.table1(df, ctx)
    seen = 0
    for panel in doc.panels:
        if "Intra μ" not in panel.columns:
            continue
        j = panel.columns.index("Intra μ")
        for g in panel.groups:
            exp = next(e for e, v in EXPS.items() if v["label"] == g.title)
            claim = frame_[(frame_["claim_id"] == "intra_variance") & (frame_["experiment"] == exp)]
            cell = next(r for r in g.rows if r[0] == "p")[j]
            p = float(claim["p_corrected"].iloc[0])
            assert cell.rstrip("ˢᶜ*") == ("<0.001" if p < 1e-3 else f"{p:.3f}")
            assert cell.endswith("ˢ") == (claim["verdict"].iloc[0] == "supported")
            seen += 1
    assert seen == len(EXPS)


def test_comparisons_csv_reads_back(runs, tmp_path):
    _, _, out = runs
    out.to_csv(tmp_path / "c.csv", index=False)
    back = comparisons.read(tmp_path / "c.csv")
    assert (back["claim_id"] == out["claim_id"]).all()
    np.testing.assert_allclose(back["p_corrected"], out["p_corrected"], equal_nan=True)
