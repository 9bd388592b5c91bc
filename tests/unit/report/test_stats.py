"""Each statistic against scipy or a hand computation."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from dmlstudy.report import stats


def test_mean_std_drops_missing_values():
    assert stats.mean_std([1.0, None, 3.0, float("nan")]) == (2.0, pytest.approx(math.sqrt(2)), 2)
    m, s, n = stats.mean_std([4.0])
    assert (m, n) == (4.0, 1) and math.isnan(s)
    assert stats.mean_std([])[2] == 0


def test_welch_against_scipy_and_hand():
    a, b = [1.0, 2.0, 4.0], [3.0, 5.0, 8.0, 9.0]
    res = stats.welch_test(a, b)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert res["p"] == pytest.approx(ref.pvalue) and res["t"] == pytest.approx(ref.statistic)
    # Welch-Satterthwaite by hand
    va, vb = np.var(a, ddof=1) / 3, np.var(b, ddof=1) / 4
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)
    half = sps.t.ppf(0.975, df) * math.sqrt(va + vb)
    diff = np.mean(b) - np.mean(a)
    assert res["df"] == pytest.approx(df)
    assert res["ci"] == pytest.approx((diff - half, diff + half))


def test_paired_against_scipy_and_hand():
    a, b = [1.0, 2.0, 4.0, 3.0], [2.0, 2.5, 5.5, 3.1]
    res = stats.paired_test(a, b)
    d = np.subtract(b, a)
    se = d.std(ddof=1) / 2
    assert res["t"] == pytest.approx(d.mean() / se)
    assert res["p"] == pytest.approx(sps.ttest_rel(b, a).pvalue)
    half = sps.t.ppf(0.975, 3) * se
    assert res["ci"] == pytest.approx((d.mean() - half, d.mean() + half))


def test_hedges_g_by_hand():
    a, b = [1.0, 2.0, 3.0], [3.0, 4.0, 5.0]
    # pooled sd 1, d = 2, J = 1 - 3 / (4 * 6 - 9) = 0.8
    assert stats.hedges_g(a, b) == pytest.approx(1.6)
    assert math.isnan(stats.hedges_g([1.0, 1.0], [2.0, 2.0]))


def test_permutation_p_by_enumeration():
    a, b = [1.0, 2.0, 3.5], [3.0, 4.0, 6.0]
    pooled = a + b
    obs = abs(np.mean(b) - np.mean(a))
    hits = 0
    combos = list(itertools.combinations(range(6), 3))
    for idx in combos:
        bb = [pooled[i] for i in idx]
        aa = [pooled[i] for i in range(6) if i not in idx]
        hits += abs(np.mean(bb) - np.mean(aa)) >= obs - 1e-12
    assert stats.permutation_p(a, b) == pytest.approx(hits / len(combos))
    ref = sps.permutation_test((b, a), lambda x, y: np.mean(x) - np.mean(y),
                               n_resamples=np.inf, alternative="two-sided")  # fmt: skip
    assert stats.permutation_p(a, b) == pytest.approx(ref.pvalue)
    # separated groups: the smallest p the test can give
    assert stats.permutation_p([2.0, 2.0, 2.0], [6.0, 6.0, 6.0]) == pytest.approx(0.1)
    assert stats.permutation_p([2.0] * 3, [6.0] * 3, paired=True) == pytest.approx(0.25)


def test_compare_picks_the_test():
    a, b = [1.0, 2.0, 4.0], [3.0, 5.0, 8.0]
    assert stats.compare(a, b).test == stats.WELCH_T
    paired = stats.compare(a, b, paired=True)
    assert paired.test == stats.PAIRED_T and paired.p == pytest.approx(sps.ttest_rel(b, a).pvalue)
    assert paired.diff == pytest.approx(np.mean(b) - np.mean(a))
    one = stats.compare([1.0], b)
    assert one.test == stats.NO_TEST and math.isnan(one.p)


def test_compare_zero_variance_is_not_p_zero():
    """6.0 ± 0 against 2.0 ± 0 over 3 seeds: the exact test, p = 0.1, no CI."""
    res = stats.compare([2.0, 2.0, 2.0], [6.0, 6.0, 6.0])
    assert res.test == stats.PERMUTATION and res.p == pytest.approx(0.1)
    assert res.diff == 4.0 and math.isnan(res.ci_low) and res.note == "zero variance"
    assert stats.compare([2.0] * 5, [6.0] * 5).p == pytest.approx(2 / 252)
    same = stats.compare([2.0, 2.0], [2.0, 2.0])
    assert same.p == pytest.approx(1.0)
    # paired with constant differences
    res = stats.compare([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], paired=True)
    assert res.test == stats.PAIRED_PERMUTATION and res.p == pytest.approx(0.25)


def test_compare_censored_is_a_rank_test():
    # contrastive reached the loss-decay epoch in every seed, triplet in none of 10 epochs
    res = stats.compare([3.0, 4.0, 5.0], [None, None, float("nan")], censored_at=10)
    assert res.test == stats.RANK_CENSORED
    assert res.p == pytest.approx(0.1)  # complete separation of 3 and 3
    assert res.diff == pytest.approx(11 - 4)  # censored counted as E + 1
    ranks = sps.rankdata([3, 4, 5, 11, 11, 11])
    assert res.p == pytest.approx(stats.permutation_p(ranks[:3], ranks[3:]))
    mixed = stats.compare([3.0, 4.0, None], [5.0, None, None], censored_at=10)
    assert mixed.test == stats.RANK_CENSORED and 0 < mixed.p <= 1
    none = stats.compare([None, None], [None, None], censored_at=10)
    assert none.test == stats.NO_TEST and none.note == "every seed censored"
    # nothing censored: the ordinary test
    assert stats.compare([3.0, 4.0, 6.0], [5.0, 7.0, 9.0], censored_at=10).test == stats.WELCH_T


def test_holm_by_hand():
    p = [0.01, 0.04, 0.03, float("nan"), 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    out = stats.adjust(p, "holm")
    assert out[[4, 0, 2, 1]] == pytest.approx([0.02, 0.03, 0.06, 0.06])
    assert math.isnan(out[3])


def test_bh_against_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5, 0.2])
    assert stats.adjust(p, "bh") == pytest.approx(sps.false_discovery_control(p, method="bh"))
    with pytest.raises(ValueError, match="holm"):
        stats.adjust(p, "bonferroni")


def test_power_against_cohens_tables():
    # Cohen (1988): two-sided alpha 0.05, power 0.8: d = 0.5 needs 64 per group, d = 0.8 26
    assert stats.seeds_for_power(0.5, 0.05) == 64
    assert stats.seeds_for_power(0.8, 0.05) == 26
    # paired, d_z = 0.5: 34 pairs
    assert stats.seeds_for_power(0.5, 0.05, paired=True) == 34
    assert stats.seeds_for_power(0.0, 0.05) is None
    assert stats.seeds_for_power(float("nan"), 0.05) is None


def test_power_by_simulation():
    rng = np.random.default_rng(0)
    n, d = 10, 1.3
    hits = sum(
        sps.ttest_ind(rng.normal(d, 1, n), rng.normal(0, 1, n)).pvalue < 0.05 for _ in range(4000)
    )
    assert stats.t_power(d, n, 0.05, paired=False) == pytest.approx(hits / 4000, abs=0.025)


def test_seeds_for_exact():
    assert stats.seeds_for_exact(0.05) == 4  # 2 / C(8, 4) = 0.029; 3 gives 0.1
    assert stats.seeds_for_exact(0.05, paired=True) == 6  # 2 / 64 = 0.031
    assert stats.seeds_for_exact(0.05 / 14) == 6  # 2 / C(12, 6) = 0.0022


def test_standardized_effect():
    a, b = [1.0, 2.0, 3.0], [3.0, 4.0, 5.0]
    assert stats.standardized_effect(a, b, paired=False) == pytest.approx(2.0)
    d = np.array([1.0, 2.0, 4.0])
    assert stats.standardized_effect([0, 0, 0], d, paired=True) == pytest.approx(
        d.mean() / d.std(ddof=1)
    )
