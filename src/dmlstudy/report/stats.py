"""Statistics of the comparison between two losses across seeds.

``compare(a, b)`` is the one entry point: it picks the test (paired t when the runs share
seeds, Welch t otherwise; an exact permutation test when the t statistic is undefined
because both sides have zero variance; an exact rank test for censored values), and returns
the mean difference ``mean(b) - mean(a)`` with its 95% confidence interval, Hedges' g and
the two-sided p. ``adjust`` corrects a family of p-values (Holm 1979 or Benjamini-Hochberg
1995) and ``seeds_for_power`` gives the seeds per loss a t-test needs for a given power.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

#: Tests ``compare`` may report, by name.
PAIRED_T = "paired t"
WELCH_T = "Welch t"
PERMUTATION = "exact permutation"
PAIRED_PERMUTATION = "exact sign-flip"
RANK_CENSORED = "Gehan rank (censored)"
NO_TEST = "none"

#: Above this many relabellings an "exact" test samples them instead (seeded).
MAX_EXACT = 200_000


def finite(values: Sequence) -> np.ndarray:
    """The values that are numbers (None and NaN dropped), as floats."""
    return np.asarray([float(v) for v in values if v is not None and not _isnan(v)], dtype=float)


def _isnan(v) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return True


def mean_std(values: Sequence) -> tuple[float, float, int]:
    """Mean, sample std (ddof 1; NaN with one value) and count of the finite values."""
    v = finite(values)
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan, int(v.size)


@dataclass(frozen=True)
class Comparison:
    """``b`` against ``a``: ``diff = mean(b) - mean(a)`` (positive: b is higher)."""

    test: str
    n_a: int
    n_b: int
    diff: float
    ci_low: float
    ci_high: float
    hedges_g: float
    p: float
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g of ``b`` against ``a``: the mean difference over the pooled sample std,
    times the small-sample correction J = 1 - 3 / (4 (n_a + n_b) - 9) (Hedges 1981).
    NaN when the pooled std is zero or a side has fewer than two values."""
    a, b = finite(a), finite(b)
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return math.nan
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if pooled == 0:
        return math.nan
    return float((b.mean() - a.mean()) / pooled * (1 - 3 / (4 * (na + nb) - 9)))


def welch_test(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """Welch's t-test of ``mean(b) - mean(a)``: t, df, two-sided p and the CI."""
    a, b = finite(a), finite(b)
    return _t_result(stats.ttest_ind(b, a, equal_var=False), level)


def _t_result(res, level: float) -> dict:
    ci = res.confidence_interval(level)
    p = float(res.pvalue)
    return {
        "t": float(res.statistic),
        "df": float(res.df),
        "p": p,
        "ci": (float(ci.low), float(ci.high)),
    }


def paired_test(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """Paired t-test of the differences ``b_i - a_i`` (aligned by position)."""
    return _t_result(stats.ttest_rel(np.asarray(b, float), np.asarray(a, float)), level)


def permutation_p(a: Sequence[float], b: Sequence[float], paired: bool = False) -> float:
    """Exact two-sided permutation p of the mean difference: every relabelling of the
    pooled values (unpaired) or every sign flip of the differences (paired). The smallest
    p it can give is 2 / C(n_a + n_b, n_a) (unpaired; 0.1 for 3 and 3) or 2 / 2**n
    (paired; 0.25 for 3 pairs)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired:
        d = b - a
        observed = abs(d.mean())
        signs = _all_or_sampled(itertools.product((1, -1), repeat=len(d)), 2 ** len(d), len(d))
        means = np.abs((np.asarray(signs) * d).mean(axis=1))
    else:
        pooled = np.concatenate([a, b])
        n, k = len(pooled), len(b)
        observed = abs(b.mean() - a.mean())
        total = math.comb(n, k)
        picks = _all_or_sampled(itertools.combinations(range(n), k), total, n, k)
        mask = np.zeros((len(picks), n), dtype=bool)
        for i, idx in enumerate(picks):
            mask[i, list(idx)] = True
        sum_b = (mask * pooled).sum(axis=1)
        means = np.abs(sum_b / k - (pooled.sum() - sum_b) / (n - k))
    return float(np.mean(means >= observed - 1e-12 * max(1.0, abs(observed))))


def _all_or_sampled(iterator, total: int, n: int, k: int | None = None) -> list:
    if total <= MAX_EXACT:
        return list(iterator)
    rng = np.random.default_rng(0)
    if k is None:  # sign flips
        return [tuple(rng.choice((1, -1), size=n)) for _ in range(MAX_EXACT)]
    return [tuple(rng.choice(n, size=k, replace=False)) for _ in range(MAX_EXACT)]


def compare(
    a: Sequence,
    b: Sequence,
    *,
    paired: bool = False,
    censored_at: float | None = None,
    level: float = 0.95,
) -> Comparison:
    """Compare ``b`` with ``a`` across seeds.

    - ``paired``: ``a[i]`` and ``b[i]`` come from the same seed (same data, same start);
      then a paired t-test on the differences.
    - otherwise Welch's t-test (unequal variances).
    - Zero variance (every value of each side equal, or every paired difference equal):
      the t statistic is undefined, and n seeds that agree exactly say nothing about the
      spread a new seed would show. The p is then the exact permutation p, which cannot
      fall below 2 / C(n_a + n_b, n_a) (0.1 for 3 seeds a side, 0.008 for 5), and the CI
      is undefined (NaN).
    - ``censored_at``: a NaN/None value is a seed whose event did not happen within
      ``censored_at`` (the loss-decay epoch of a run that never reached 10% of its initial
      loss). With any censored value the test is Gehan's rank test (Mann-Whitney with
      every censored value tied above every observed one; exact permutation p), the
      difference counts censored seeds at ``censored_at + 1`` (a lower bound) and the CI
      and g are NaN.
    Fewer than two values a side: no test (NaN p).
    """
    raw_a, raw_b = list(a), list(b)
    if censored_at is not None and (_has_nan(raw_a) or _has_nan(raw_b)):
        return _censored(raw_a, raw_b, censored_at)
    if paired:
        keep = [
            i
            for i in range(min(len(raw_a), len(raw_b)))
            if not _isnan(raw_a[i]) and not _isnan(raw_b[i])
        ]
        fa = np.asarray([float(raw_a[i]) for i in keep])
        fb = np.asarray([float(raw_b[i]) for i in keep])
    else:
        fa, fb = finite(raw_a), finite(raw_b)
    na, nb = fa.size, fb.size
    diff = float(fb.mean() - fa.mean()) if na and nb else math.nan
    if na < 2 or nb < 2:
        return Comparison(
            NO_TEST,
            na,
            nb,
            diff,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            "fewer than 2 seeds a side",
        )
    g = hedges_g(fa, fb)
    spread = np.ptp(fb - fa) if paired else max(np.ptp(fa), np.ptp(fb))
    if spread == 0:
        test = PAIRED_PERMUTATION if paired else PERMUTATION
        return Comparison(
            test,
            na,
            nb,
            diff,
            math.nan,
            math.nan,
            g,
            permutation_p(fa, fb, paired),
            "zero variance",
        )
    with warnings.catch_warnings():  # near-constant samples: scipy warns, the p is usable
        warnings.simplefilter("ignore", RuntimeWarning)
        res = paired_test(fa, fb, level) if paired else welch_test(fa, fb, level)
    return Comparison(PAIRED_T if paired else WELCH_T, na, nb, diff, *res["ci"], g, res["p"])


def _has_nan(values) -> bool:
    return any(_isnan(v) for v in values)


def _censored(a: list, b: list, censored_at: float) -> Comparison:
    fill = float(censored_at) + 1
    fa = np.asarray([fill if _isnan(v) else float(v) for v in a])
    fb = np.asarray([fill if _isnan(v) else float(v) for v in b])
    na, nb = fa.size, fb.size
    diff = float(fb.mean() - fa.mean()) if na and nb else math.nan
    note = f"censored seeds counted as {fill:g}"
    if na < 2 or nb < 2 or np.all(np.concatenate([fa, fb]) == fill):
        why = "fewer than 2 seeds a side" if na < 2 or nb < 2 else "every seed censored"
        diff = math.nan if why == "every seed censored" else diff
        return Comparison(NO_TEST, na, nb, diff, math.nan, math.nan, math.nan, math.nan, why)
    ranks = stats.rankdata(np.concatenate([fa, fb]))
    p = permutation_p(ranks[:na], ranks[na:])
    return Comparison(RANK_CENSORED, na, nb, diff, math.nan, math.nan, math.nan, p, note)


# --------------------------------------------------------------------------- families
CORRECTIONS = ("holm", "bh")
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def adjust(p: Sequence[float], method: str) -> np.ndarray:
    """p-values corrected across the family ``p`` (NaN entries are not part of it).

    ``holm``: Holm's step-down (controls the family-wise error rate);
    ``bh``: Benjamini-Hochberg step-up (controls the false discovery rate)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, math.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    ps = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ps)
    elif method == "bh":
        adj = np.minimum.accumulate((m / np.arange(1, m + 1) * ps)[::-1])[::-1]
    else:
        raise ValueError(f"unknown correction {method!r}; allowed: {', '.join(CORRECTIONS)}")
    out[order] = np.minimum(adj, 1.0)
    return out


# --------------------------------------------------------------------------- power
def t_power(effect: float, n: int, alpha: float, paired: bool) -> float:
    """Power of a two-sided t-test at level ``alpha`` with ``n`` seeds per loss for a
    standardised effect ``effect`` (Cohen's d unpaired, d_z = mean/std of the differences
    paired), from the noncentral t distribution."""
    df = n - 1 if paired else 2 * n - 2
    nc = effect * math.sqrt(n if paired else n / 2)
    crit = stats.t.ppf(1 - alpha / 2, df)
    power = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
    return 1.0 if math.isnan(power) and nc > crit else power  # far tail: nct gives NaN


def seeds_for_power(
    effect: float, alpha: float, power: float = 0.8, paired: bool = False, max_n: int = 10_000
) -> int | None:
    """Smallest number of seeds per loss with which a two-sided t-test at level ``alpha``
    detects the standardised effect ``effect`` with probability ``power``; None when the
    effect is zero or not a number, or more than ``max_n`` seeds would be needed."""
    if effect is None or _isnan(effect) or effect == 0 or math.isinf(effect):
        return None
    effect = abs(effect)
    hi = 2
    while t_power(effect, hi, alpha, paired) < power:  # doubling, then bisection
        if hi >= max_n:
            return None
        hi = min(2 * hi, max_n)
    lo = max(2, hi // 2)
    while lo < hi:  # power grows with n
        mid = (lo + hi) // 2
        if t_power(effect, mid, alpha, paired) >= power:
            hi = mid
        else:
            lo = mid + 1
    return lo


def standardized_effect(a: Sequence, b: Sequence, paired: bool) -> float:
    """The effect ``seeds_for_power`` needs: d_z (mean over std of the paired differences)
    or Cohen's d (pooled std), NaN when the std is zero."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired:
        d = b - a
        sd = d.std(ddof=1) if d.size > 1 else math.nan
        return float(d.mean() / sd) if sd and not math.isnan(sd) else math.nan
    g = hedges_g(a, b)
    n = a.size + b.size
    return g / (1 - 3 / (4 * n - 9)) if not math.isnan(g) else math.nan


def seeds_for_exact(alpha: float, paired: bool = False, max_n: int = 1000) -> int | None:
    """Seeds per loss an exact permutation test needs before perfectly separated values
    (every seed of one loss above every seed of the other) can reach p < ``alpha``:
    2 / C(2n, n) < alpha unpaired, 2 / 2**n < alpha paired."""
    for n in range(2, max_n + 1):
        smallest = 2 / 2**n if paired else 2 / math.comb(2 * n, n)
        if smallest < alpha:
            return n
    return None
