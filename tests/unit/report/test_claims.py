"""Three-way verdicts on constructed cases whose answer is known."""

import math

import numpy as np
import pandas as pd
import pytest
from report_fixtures import EXPS, LOSSES, PAPER, SEEDS, STATISTICS, frame, info, make_metrics
from scipy import stats as sps

from dmlstudy.report import claims

MNIST = {"mnist_cnn": info("torchvision_mnist", "cnn", "mnist", label="MNIST")}


def claim_runs(tmp_path, held: bool, seeds=SEEDS, exp="mnist_cnn", spread=0.001):
    """Metrics where every claim of the paper holds (or, with held=False, is reversed),
    clearly: the seeds differ by ``spread`` steps."""
    rng = np.random.default_rng(4)
    ms = []
    for lo in LOSSES:
        good = (lo == "triplet") if held else (lo != "triplet")
        for s in seeds:
            k = spread * ((s * 7 + (lo == "triplet") * 3) % 5)
            ms.append(make_metrics(
                exp, lo, s, rng,
                intra_mean=(0.3 if good else 0.1) + k, inter_mean=(1.4 if good else 1.2) + k,
                mean_active_ratio=(0.4 if good else 0.65) + k,
                mean_grad_norm=(0.27 if good else 0.12) + k,
                loss_decay_epoch=(43 if good else 27) + s * (2 if lo == "triplet" else 1),
                knn_accuracy=(0.99 if good else 0.98) + k / 10,
                effective_rank=(12.0 if good else 9.0) + k,
                **{"recall@1": (0.92 if good else 0.84) + k},
            ))  # fmt: skip
    return ms, frame(tmp_path, ms)


@pytest.mark.parametrize("held, verdict", [(True, "supported"), (False, "contradicted")])
def test_significant_same_and_opposite_sign(tmp_path, held, verdict):
    _, df = claim_runs(tmp_path, held, seeds=tuple(range(8)))
    cl = claims.evaluate_claims(df, MNIST, PAPER, STATISTICS)
    assert set(cl["claim_id"]) == {c.id for c in claims.CLAIMS}
    assert (cl["verdict"] == verdict).all(), cl[["claim_id", "verdict", "p_corrected"]]
    assert (cl["test"] == "paired t").all() and cl["paired"].all()
    assert (cl["p_corrected"] < 0.05).all() and (cl["correction"] == "Holm").all()
    assert cl["seeds_for_80_power"].isna().all()  # only inconclusive claims get one
    row = cl[cl["claim_id"] == "accuracy"].iloc[0]
    assert np.sign(row["difference"]) == (1 if held else -1)
    assert row["ci_low"] < row["difference"] < row["ci_high"]
    assert row["n_contrastive"] == 8 and row["n_triplet"] == 8
    assert bool(row["paper_claims_it_here"]) is True
    assert bool(cl[cl["claim_id"] == "recall_at_1"]["paper_claims_it_here"].iloc[0]) is False


def test_paired_test_against_scipy_and_holm_by_hand(tmp_path):
    ms, df = claim_runs(tmp_path, True, seeds=(0, 1, 2, 3), spread=0.02)
    cl = claims.evaluate_claims(df, MNIST, PAPER, STATISTICS).set_index("claim_id")
    c = [m["knn_accuracy"] for m in ms if m["loss"] == "contrastive"]
    t = [m["knn_accuracy"] for m in ms if m["loss"] == "triplet"]
    assert cl.loc["accuracy", "p_seeds"] == pytest.approx(sps.ttest_rel(t, c).pvalue)
    assert cl.loc["accuracy", "difference"] == pytest.approx(np.mean(t) - np.mean(c))
    p = cl["p_seeds"].to_numpy()
    order = np.argsort(p)
    holm = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    assert cl["p_corrected"].to_numpy()[order] == pytest.approx(np.minimum(holm, 1))


def test_not_significant_is_inconclusive_with_seeds_needed(tmp_path):
    rng = np.random.default_rng(12)
    ms = [make_metrics("mnist_cnn", lo, s, rng) for lo in LOSSES for s in SEEDS]  # no shift
    cl = claims.evaluate_claims(frame(tmp_path, ms), MNIST, PAPER, STATISTICS)
    row = cl[cl["claim_id"] == "accuracy"].iloc[0]
    assert row["verdict"] == "inconclusive"
    assert pd.isna(row["seeds_for_80_power"]) or row["seeds_for_80_power"] > 3
    assert row["power_level"] == pytest.approx(0.05 / cl["p_seeds"].notna().sum())


def test_unpaired_when_the_seeds_differ(tmp_path):
    rng = np.random.default_rng(13)
    ms = [make_metrics("mnist_cnn", "contrastive", s, rng) for s in (0, 1, 2)]
    ms += [make_metrics("mnist_cnn", "triplet", s, rng) for s in (3, 4, 5)]
    cl = claims.evaluate_claims(frame(tmp_path, ms), MNIST, PAPER, STATISTICS)
    assert (cl[cl["claim_id"] != "loss_decay"]["test"] == "Welch t").all()


def test_censored_loss_decay_epoch(tmp_path):
    rng = np.random.default_rng(5)
    ms = []
    for lo in LOSSES:
        for s in range(5):
            m = make_metrics("mnist_cnn", lo, s, rng)
            # contrastive reaches 10% of its initial loss in every seed, triplet never
            m["loss_decay_epoch"] = 3 + s if lo == "contrastive" else None
            ms.append(m)
    cl = claims.evaluate_claims(frame(tmp_path, ms), MNIST, PAPER, STATISTICS)
    row = cl[cl["claim_id"] == "loss_decay"].iloc[0]
    assert row["test"] == "Gehan rank (censored)" and row["paired"] == False  # noqa: E712
    assert row["p_seeds"] == pytest.approx(2 / 252)  # complete separation, 5 and 5
    assert row["difference"] > 0 and math.isnan(row["ci_low"])
    assert "5/5 contrastive, 0/5 triplet" in row["evidence"]
    if row["verdict"] == "inconclusive":  # the exact rank test's floor: 2 / C(2n, n) < alpha / m
        n = int(row["seeds_for_80_power"])
        assert 2 / math.comb(2 * n, n) < row["power_level"] <= 2 / math.comb(2 * n - 2, n - 1)
    # neither loss reaches it: no test, inconclusive
    for m in ms:
        m["loss_decay_epoch"] = None
    cl = claims.evaluate_claims(frame(tmp_path / "b", ms), MNIST, PAPER, STATISTICS)
    row = cl[cl["claim_id"] == "loss_decay"].iloc[0]
    assert row["verdict"] == "inconclusive" and row["test"] == "none"


def test_two_zero_variance_groups_are_not_significant_with_three_seeds(tmp_path):
    """6.0 ± 0 against 2.0 ± 0: p is the exact test's 0.25 (paired, 3 seeds), never 0."""
    rng = np.random.default_rng(14)
    ms = [make_metrics("mnist_cnn", lo, s, rng, loss_decay_epoch=6 if lo == "triplet" else 2)
          for lo in LOSSES for s in SEEDS]  # fmt: skip
    cl = claims.evaluate_claims(frame(tmp_path, ms), MNIST, PAPER, STATISTICS)
    row = cl[cl["claim_id"] == "loss_decay"].iloc[0]
    assert row["test"] == "exact sign-flip" and row["p_seeds"] == pytest.approx(0.25)
    assert row["verdict"] == "inconclusive" and row["difference"] == 4
    m = int(cl["p_seeds"].notna().sum())
    need = int(row["seeds_for_80_power"])
    assert 2 / 2**need < 0.05 / m <= 2 / 2 ** (need - 1)


def test_bh_is_an_option(tmp_path):
    _, df = claim_runs(tmp_path, True, seeds=(0, 1, 2), spread=0.05)
    holm = claims.evaluate_claims(df, MNIST, PAPER, STATISTICS)
    bh = claims.evaluate_claims(df, MNIST, PAPER, {"correction": "bh", "alpha": 0.05})
    assert (bh["p_corrected"] <= holm["p_corrected"] + 1e-12).all()
    assert (bh["correction"] == "Benjamini-Hochberg").all()


def test_a_loss_not_run_is_inconclusive(tmp_path):
    rng = np.random.default_rng(7)
    df = frame(tmp_path, [make_metrics(e, "contrastive", 0, rng) for e in EXPS])
    experiments = {"synthetic_mlp": info("synthetic", "mlp", "synthetic"), **MNIST}
    cl = claims.evaluate_claims(df, experiments, PAPER, STATISTICS)
    assert (cl["verdict"] == "inconclusive").all()
    assert (cl["evidence"] == "a loss was not run").all()
    out, tex = claims.claims_table(cl, experiments)
    assert len(out) == len(claims.CLAIMS) * 2 and "\\begin{table}" in tex


def test_verdict_rule():
    assert claims.verdict(0.01, 0.3, 0.05) == "supported"
    assert claims.verdict(0.01, -0.3, 0.05) == "contradicted"
    assert claims.verdict(0.2, 0.3, 0.05) == "inconclusive"
    assert claims.verdict(float("nan"), 0.3, 0.05) == "inconclusive"


def test_claims_table(tmp_path):
    _, df = claim_runs(tmp_path, True, seeds=(0, 1, 2))
    cl = claims.evaluate_claims(df, MNIST, PAPER, STATISTICS)
    out, tex = claims.claims_table(cl, MNIST)
    for col in ("verdict", "difference", "ci_low", "ci_high", "p_corrected", "correction",
                "test", "seeds_for_80_power", "hedges_g"):  # fmt: skip
        assert col in out
    assert "p (Holm)" in tex and "resizebox" not in tex
    assert tex.count("\\emph{") == len(claims.CLAIMS)
