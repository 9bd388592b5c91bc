"""Statistics of the comparison between two losses across seeds: one paired test per
comparison.

Runs of two losses with the same seed share their data split and initial weights, so every
comparison is paired by seed (only the seeds both losses ran count). ``compare_paired`` is
the one entry point:

- a metric measured on every run: the paired t-test on the per-seed differences, with the
  95% CI of the mean difference; when every difference is the same (the t statistic is
  undefined) the exact sign-flip test, whose p cannot fall below 2 / 2**n;
- an *event* metric (an epoch at which something happens, which a run may never reach within
  its epochs: censored): the paired sign test (Gehan's paired test for censored data), on
  the pairs whose order is known: both observed, or one observed before the other's
  censoring; pairs that tie or are both censored carry no information. Its p cannot fall
  below 2 / 2**k for k informative pairs.

Each result carries ``p_min``, the smallest p its test could give with these seeds, so a
comparison that cannot reach significance at this n says so. ``adjust`` corrects a family of
p-values (Holm 1979 or Benjamini-Hochberg 1995); ``seeds_for_power`` and ``seeds_for_exact``
give the seeds a test would need.
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
PAIRED_PERMUTATION = "exact sign-flip"
SIGN_TEST = "paired sign (censored)"
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


def mean_ci(values: Sequence, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean, the ``level`` t-interval of the mean (``mean ± t · s / sqrt(n)``) and count of
    the finite values; the interval is NaN with fewer than two (the reproductions of a
    point: the reality check)."""
    v = finite(values)
    if v.size == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan, 1
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, m - half, m + half, int(v.size)


@dataclass(frozen=True)
class Comparison:
    """``b`` against ``a`` over ``n`` paired seeds: ``diff`` = mean of ``b_i - a_i``
    (positive: b is higher; NaN for an event metric with a censored run)."""

    test: str
    n: int
    diff: float
    ci_low: float
    ci_high: float
    hedges_g: float
    d_z: float  #: mean over std of the paired differences (the effect a power analysis uses)
    p: float
    p_min: float  #: the smallest p this test can give with these pairs
    b_first: int = 0  #: event metrics: pairs in which b's event came first
    a_first: int = 0
    ties: int = 0  #: event metrics: pairs with the same epoch or both censored
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
    with warnings.catch_warnings():  # near-constant differences: scipy warns, the p is usable
        warnings.simplefilter("ignore", RuntimeWarning)
        return _t_result(stats.ttest_rel(np.asarray(b, float), np.asarray(a, float)), level)


def permutation_p(a: Sequence[float], b: Sequence[float], paired: bool = True) -> float:
    """Exact two-sided sign-flip p of the mean paired difference ``b_i - a_i``: every sign
    flip of the differences (sampled, seeded, above ``MAX_EXACT`` of them). Its smallest
    value is 2 / 2**n (0.0625 for 5 pairs)."""
    if not paired:
        raise ValueError("only the paired (sign-flip) permutation test is used")
    d = np.asarray(b, float) - np.asarray(a, float)
    observed = abs(d.mean())
    if len(d) and 2 ** len(d) <= MAX_EXACT:
        signs = np.asarray(list(itertools.product((1, -1), repeat=len(d))))
    else:
        signs = np.random.default_rng(0).choice((1, -1), size=(MAX_EXACT, len(d)))
    means = np.abs((signs * d).mean(axis=1))
    return float(np.mean(means >= observed - 1e-12 * max(1.0, observed)))


def sign_test(b_first: int, a_first: int) -> float:
    """Exact two-sided sign (binomial) test of ``b_first`` against ``a_first`` informative
    pairs under H0: either loss's event comes first with probability 1/2."""
    k = b_first + a_first
    if k == 0:
        return math.nan
    return float(stats.binomtest(b_first, k, 0.5).pvalue)


def _event_pairs(a: Sequence[float], b: Sequence[float]) -> tuple[int, int, int]:
    """(b first, a first, ties) of paired event epochs; ``inf`` = censored (never reached)."""
    b_first = a_first = ties = 0
    for x, y in zip(a, b, strict=True):
        if x == y:  # the same epoch, or both censored: no order
            ties += 1
        elif y < x:
            b_first += 1
        else:
            a_first += 1
    return b_first, a_first, ties


def _none(n: int, diff: float = math.nan, note: str = "") -> Comparison:
    nan = math.nan
    return Comparison(NO_TEST, n, diff, nan, nan, nan, nan, nan, nan, note=note)


def compare_paired(a: Sequence, b: Sequence, *, event: bool = False, level: float = 0.95):
    """Compare ``b`` with ``a``, aligned by seed (``a[i]`` and ``b[i]`` ran the same seed).

    ``event``: the values are epochs at which an event happened, ``None``/NaN/``inf`` when
    it never did (censored); they are compared with the paired sign test. Otherwise a
    pair with a missing value is left out, and the test is the paired t-test (exact
    sign-flip when every difference is the same). Fewer than two pairs: no test."""
    if event:
        fa = [math.inf if _isnan(v) else float(v) for v in a]
        fb = [math.inf if _isnan(v) else float(v) for v in b]
        n = len(fa)
        b_first, a_first, ties = _event_pairs(fa, fb)
        k = b_first + a_first
        finite_pairs = all(
            math.isfinite(x) and math.isfinite(y) for x, y in zip(fa, fb, strict=True)
        )
        diff = float(np.mean(np.subtract(fb, fa))) if finite_pairs and n else math.nan
        if k == 0:
            return _none(n, diff, "no pair in which one event came first")
        nan = math.nan
        return Comparison(
            SIGN_TEST,
            n,
            diff,
            nan,
            nan,
            nan,
            nan,
            sign_test(b_first, a_first),
            2 / 2**k,
            b_first,
            a_first,
            ties,
        )
    keep = [i for i in range(len(a)) if not _isnan(a[i]) and not _isnan(b[i])]
    fa = np.asarray([float(a[i]) for i in keep])
    fb = np.asarray([float(b[i]) for i in keep])
    n = len(keep)
    if n < 2:
        return _none(n, float((fb - fa).mean()) if n else math.nan, "fewer than 2 paired seeds")
    d = fb - fa
    g = hedges_g(fa, fb)
    sd = float(d.std(ddof=1))
    d_z = float(d.mean() / sd) if sd > 0 else math.nan
    if np.ptp(d) == 0:
        p = 1.0 if d[0] == 0 else permutation_p(fa, fb)
        nan = math.nan
        return Comparison(
            PAIRED_PERMUTATION,
            n,
            float(d.mean()),
            nan,
            nan,
            g,
            d_z,
            p,
            2 / 2**n,
            note="every paired difference equal",
        )
    res = paired_test(fa, fb, level)
    return Comparison(PAIRED_T, n, float(d.mean()), *res["ci"], g, d_z, res["p"], 0.0)


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


def seeds_for_exact(alpha: float, max_n: int = 1000) -> int | None:
    """Pairs an exact sign-flip or sign test needs before its smallest p, 2 / 2**n, can
    fall below ``alpha`` (every pair in the same direction)."""
    for n in range(2, max_n + 1):
        if 2 / 2**n < alpha:
            return n
    return None
