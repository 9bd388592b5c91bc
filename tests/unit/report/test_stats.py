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


def test_sign_flip_p_by_enumeration():
    a, b = [1.0, 2.0, 4.0, 3.0], [2.0, 2.5, 5.5, 2.9]
    d = np.subtract(b, a)
    obs = abs(d.mean())
    flips = list(itertools.product((1, -1), repeat=4))
    hits = sum(abs(np.mean(np.multiply(f, d))) >= obs - 1e-12 for f in flips)
    assert stats.permutation_p(a, b) == pytest.approx(hits / len(flips))
    # every difference in one direction: the smallest p, 2 / 2**n
    assert stats.permutation_p([2.0] * 3, [6.0] * 3) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="paired"):
        stats.permutation_p(a, b, paired=False)


def test_compare_paired_picks_the_test():
    a, b = [1.0, 2.0, 4.0], [3.0, 5.0, 8.0]
    res = stats.compare_paired(a, b)
    assert res.test == stats.PAIRED_T and res.p == pytest.approx(sps.ttest_rel(b, a).pvalue)
    assert res.diff == pytest.approx(np.mean(b) - np.mean(a)) and res.n == 3 and res.p_min == 0
    d = np.subtract(b, a)
    assert res.d_z == pytest.approx(d.mean() / d.std(ddof=1))
    one = stats.compare_paired([1.0], [3.0])
    assert one.test == stats.NO_TEST and math.isnan(one.p)
    # a pair with a missing value is left out, not the whole comparison
    res = stats.compare_paired([1.0, 2.0, None, 4.0], [3.0, 5.0, 7.0, 8.0])
    assert res.n == 3 and res.p == pytest.approx(sps.ttest_rel(b, a).pvalue)


def test_equal_differences_get_the_exact_sign_flip_test():
    """6 ± 0 against 2 ± 0 over 5 seeds: every difference 4, the t statistic undefined;
    the sign-flip p is 2 / 32, which no 5 pairs can go below."""
    res = stats.compare_paired([2.0] * 5, [6.0] * 5)
    assert res.test == stats.PAIRED_PERMUTATION and res.p == pytest.approx(0.0625)
    assert res.p_min == pytest.approx(0.0625) and math.isnan(res.ci_low)
    assert stats.compare_paired([2.0, 2.0], [2.0, 2.0]).p == pytest.approx(1.0)
    res = stats.compare_paired([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert res.test == stats.PAIRED_PERMUTATION and res.p == pytest.approx(0.25)


def test_event_epochs_get_the_sign_test():
    # contrastive reached the loss-decay epoch in every seed, triplet in none (censored)
    res = stats.compare_paired([3.0, 4.0, 5.0], [None, None, float("nan")], event=True)
    assert res.test == stats.SIGN_TEST and (res.a_first, res.b_first, res.ties) == (3, 0, 0)
    assert res.p == pytest.approx(0.25) == pytest.approx(sps.binomtest(0, 3).pvalue)
    assert math.isnan(res.diff)  # no mean with censored seeds
    done = stats.compare_paired([3.0, 4.0, 6.0], [5.0, 7.0, 6.0], event=True)
    assert (done.a_first, done.b_first, done.ties) == (2, 0, 1)
    assert done.diff == pytest.approx(5 / 3) and done.p_min == pytest.approx(0.5)
    none = stats.compare_paired([None, None], [None, None], event=True)
    assert none.test == stats.NO_TEST and none.ties == 0 and "no pair" in none.note


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
    assert stats.seeds_for_exact(0.05) == 6  # 2 / 64 = 0.031; 5 gives 0.0625
    assert stats.seeds_for_exact(0.05 / 14) == 10  # 2 / 1024 = 0.002 < 0.0036


def test_mean_ci_is_the_t_interval_of_the_mean():
    from dmlstudy.report.stats import mean_ci

    v = [0.81, 0.79, 0.84, 0.80, None, float("nan"), 0.83]
    m, lo, hi, n = mean_ci(v)
    x = np.array([0.81, 0.79, 0.84, 0.80, 0.83])
    want = sps.t.interval(0.95, 4, loc=x.mean(), scale=sps.sem(x))
    assert n == 5 and m == pytest.approx(x.mean())
    assert (lo, hi) == pytest.approx(want)
    m1, lo1, hi1, n1 = mean_ci([0.5])
    assert (m1, n1) == (0.5, 1) and np.isnan(lo1) and np.isnan(hi1)
    assert mean_ci([])[3] == 0
