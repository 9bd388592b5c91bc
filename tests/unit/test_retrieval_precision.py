"""P@1 and R-Precision (Musgrave et al. 2020) in dmlstudy.retrieval.retrieval_metrics,
against a brute-force implementation (float64 similarities, a stable sort per query, Python
loops), hand-computed values and pytorch-metric-learning's AccuracyCalculator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dmlstudy.retrieval import map_at_r, recall_at_k, retrieval_metrics

# float32 ranking vs the float64 brute force: a near-tie can swap two neighbours, which moves
# one query's R-Precision by 1/R and P@1 by one query (see test_retrieval.py's MAP_TOL).
TOL = 1e-5


def brute_precisions(x, y, query_mask=None):
    """(P@1, R-Precision) by the definitions: R = other items with the query's label, the
    query excluded from its ranking, equal similarities by lower index (stable sort),
    queries with R = 0 left out; NaN when no query is left."""
    mask = (y >= 0) if query_mask is None else query_mask
    u = np.asarray(x, dtype=np.float64)
    u = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    sim = u @ u.T
    p1, rp = [], []
    for i in range(len(y)):
        if not mask[i]:
            continue
        r = int(np.sum(y == y[i])) - 1
        if r == 0:
            continue
        order = np.argsort(-sim[i], kind="stable")
        order = order[order != i]
        p1.append(float(y[order[0]] == y[i]))
        rp.append(float(np.sum(y[order[:r]] == y[i])) / r)
    if not p1:
        return math.nan, math.nan
    return float(np.mean(p1)), float(np.mean(rp))


def clustered(seed, n=240, dim=16, n_classes=5, spread=2.5, outliers=0, singletons=0):
    """Overlapping Gaussian clusters of unequal sizes, optional outliers (-1) and classes of
    one item (labels 100, 101, ...)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    y = rng.choice(n_classes, size=n, p=rng.dirichlet(np.full(n_classes, 3.0)))
    x = centres[y] + spread * rng.normal(size=(n, dim))
    if singletons:
        y[:singletons] = 100 + np.arange(singletons)
    if outliers:
        x = np.vstack([x, 4.0 * rng.normal(size=(outliers, dim))])
        y = np.concatenate([y, np.full(outliers, -1)])
    return x.astype(np.float32), y.astype(np.int64)


def tied(seed, n=150, dim=16, n_classes=4, n_distinct=8):
    """Items copied from a few +-1 vectors: normalised dot products are multiples of 1/16,
    exact in float32, so many similarities tie exactly and the tie rule decides hits."""
    rng = np.random.default_rng(seed)
    base = rng.choice([-1.0, 1.0], size=(n_distinct, dim))
    x = base[rng.integers(0, n_distinct, size=n)].astype(np.float32)
    y = rng.integers(0, n_classes, size=n).astype(np.int64)
    y[:3] = [50, 51, 52]  # three lone queries
    y[3:6] = -1  # outliers: gallery only
    return x, y


# ----------------------------------------------------------------- by hand


def test_hand_example():
    # Points on the unit circle; similarity order follows the angle difference.
    ang = np.array([0.0, 0.1, 0.25, 0.4, 3.0, 1.5])
    x = np.stack([np.cos(ang), np.sin(ang)], axis=1).astype(np.float32)
    y = np.array([0, 0, 1, 0, 1, 7])
    # Angular distances decide the rankings (lone label 7 at 1.5 is in the gallery only):
    # query 0 (label 0, R = 2): 1 (0, 0.1), 2 (1, 0.25)      -> P@1 1, R-Prec 1/2
    # query 1 (label 0, R = 2): 0 (0, 0.1), 2 (1, 0.15)      -> P@1 1, R-Prec 1/2
    # query 2 (label 1, R = 1): 1 or 3 (both 0, 0.15)        -> P@1 0, R-Prec 0
    # query 3 (label 0, R = 2): 2 (1, 0.15), 1 (0, 0.3)      -> P@1 0, R-Prec 1/2
    # query 4 (label 1, R = 1): 5 (7, 1.5)                   -> P@1 0, R-Prec 0
    # query 5 (label 7) has R = 0: left out of both.
    got = retrieval_metrics(x, y, ks=(1,), precision=True)
    assert got["precision@1"] == pytest.approx(2 / 5)
    assert got["r_precision"] == pytest.approx((0.5 + 0.5 + 0.5 + 0 + 0) / 5)
    # recall@1 counts the lone query 5 as a miss over 6 queries: same 2 hits.
    assert got["recall@1"] == pytest.approx(2 / 6)
    assert (got["precision@1"], got["r_precision"]) == pytest.approx(brute_precisions(x, y))


def test_perfect_clusters_score_one():
    x = np.array([[1, 0], [0.99, 0.1], [0.98, -0.1], [0, 1], [0.1, 0.99]], dtype=np.float32)
    y = np.array([0, 0, 0, 1, 1])
    got = retrieval_metrics(x, y, ks=(1,), precision=True)
    assert got["precision@1"] == 1.0 and got["r_precision"] == 1.0 and got["map@r"] == 1.0


# ----------------------------------------------------------------- brute force


@pytest.mark.parametrize("seed", (0, 1, 2))
@pytest.mark.parametrize("chunk_size", [1, 13, None])
def test_match_brute_force_with_outliers_and_singletons(seed, chunk_size):
    x, y = clustered(seed, outliers=10, singletons=4)
    got = retrieval_metrics(x, y, ks=(1, 5), chunk_size=chunk_size, precision=True)
    p1, rp = brute_precisions(x, y)
    assert got["precision@1"] == pytest.approx(p1, abs=1.01 / len(y))
    assert got["r_precision"] == pytest.approx(rp, abs=TOL)
    assert 0.05 < got["r_precision"] < got["precision@1"] < 1.0  # not a trivial case


@pytest.mark.parametrize("seed", (0, 1, 2))
@pytest.mark.parametrize("chunk_size", [1, 7, None])
def test_exact_ties_ranked_by_lower_index(seed, chunk_size):
    # Similarities are exact here, so the stable sort is the reference with no tolerance.
    x, y = tied(seed)
    got = retrieval_metrics(x, y, ks=(1,), chunk_size=chunk_size, precision=True)
    p1, rp = brute_precisions(x, y)
    assert got["precision@1"] == pytest.approx(p1, abs=1e-12)
    assert got["r_precision"] == pytest.approx(rp, abs=1e-12)


def test_query_mask_and_only_lone_queries():
    x, y = clustered(3, n=120, outliers=6, singletons=2)
    mask = np.zeros(len(y), dtype=bool)
    mask[::4] = True  # includes two outliers and a lone item: -1 is an ordinary label now
    got = retrieval_metrics(x, y, ks=(1,), query_mask=mask, chunk_size=5, precision=True)
    p1, rp = brute_precisions(x, y, mask)
    assert got["precision@1"] == pytest.approx(p1, abs=1.01 / mask.sum())
    assert got["r_precision"] == pytest.approx(rp, abs=TOL)
    lone = np.zeros(len(y), dtype=bool)
    lone[[0, 1]] = True  # the two singletons
    got = retrieval_metrics(x, y, ks=(1,), query_mask=lone, precision=True)
    assert math.isnan(got["precision@1"]) and math.isnan(got["r_precision"])
    assert math.isnan(got["map@r"]) and got["recall@1"] == 0.0


# ----------------------------------------------------------------- relations


@pytest.mark.parametrize("seed", (4, 5))
def test_existing_values_unchanged_and_key_order(seed):
    x, y = clustered(seed, n=300, outliers=9, singletons=3)
    plain = retrieval_metrics(x, y, (1, 5, 10), chunk_size=17)
    full = retrieval_metrics(x, y, (1, 5, 10), chunk_size=17, precision=True)
    assert list(full) == [
        "recall@1",
        "recall@5",
        "recall@10",
        "map@r",
        "precision@1",
        "r_precision",
    ]
    assert {k: full[k] for k in plain} == plain  # bit for bit
    assert full["map@r"] == pytest.approx(map_at_r(x, y, chunk_size=17), rel=1e-12)


@pytest.mark.parametrize("seed", (6, 7))
def test_precision_at_1_is_recall_at_1_without_the_lone_queries(seed):
    x, y = clustered(seed, n=200, outliers=5, singletons=3)
    got = retrieval_metrics(x, y, ks=(1,), precision=True)
    n_queries = int(np.sum(y >= 0))
    n_counted = n_queries - 3  # the singletons are queries for recall, never hits
    assert got["precision@1"] * n_counted == pytest.approx(got["recall@1"] * n_queries)
    keep = ~np.isin(np.arange(len(y)), [0, 1, 2])
    mask = keep & (y >= 0)
    assert got["precision@1"] == recall_at_k(x, y, (1,), query_mask=mask)[1]


def test_map_at_r_at_most_r_precision_at_most_one():
    # R-Precision counts the hits in the top R; AP@R weighs each by its precision <= 1, so
    # AP@R <= R-Precision query by query, and so on average.
    for seed in range(3):
        x, y = clustered(seed, n=150, spread=3.0)
        got = retrieval_metrics(x, y, ks=(1,), precision=True)
        assert got["map@r"] <= got["r_precision"] + 1e-12 <= 1.0 + 1e-12


# ----------------------------------------------------------------- pytorch-metric-learning


def _pml(x, y):
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    calc = AccuracyCalculator(
        include=("precision_at_1", "r_precision", "mean_average_precision_at_r"),
        k="max_bin_count",
    )
    u = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return calc.get_accuracy(u.astype(np.float32), y)


@pytest.mark.parametrize("seed", (0, 1, 2))
def test_match_pytorch_metric_learning(seed):
    # Where the definitions agree: continuous data (no exact ties: PML ranks by faiss L2
    # distance and leaves the order of exact ties unspecified, we rank them by index), every
    # item a query (PML has no notion of outliers: -1 is one more class there, so we pass an
    # all-True query_mask), lone queries left out (both do). Singletons included on purpose.
    x, y = clustered(seed, n=300, dim=24, n_classes=6, outliers=8, singletons=3)
    pml = _pml(x, y)
    ours = retrieval_metrics(
        x, y, ks=(1,), chunk_size=37, query_mask=np.ones(len(y), bool), precision=True
    )
    n = len(y) - 3
    assert ours["precision@1"] == pytest.approx(pml["precision_at_1"], abs=1.01 / n)
    assert ours["r_precision"] == pytest.approx(pml["r_precision"], abs=TOL)
    assert ours["map@r"] == pytest.approx(pml["mean_average_precision_at_r"], abs=TOL)


def test_outliers_are_where_pytorch_metric_learning_differs():
    # By default our outliers (-1) are gallery items, not queries; PML scores them as a
    # class of their own, which here (scattered outliers, far from each other) lowers its
    # averages. Dropping them from the queries is the only difference.
    x, y = clustered(9, n=200, dim=24, outliers=30)
    pml = _pml(x, y)
    ours = retrieval_metrics(x, y, ks=(1,), precision=True)
    assert ours["r_precision"] > pml["r_precision"] + 0.01
    everything = retrieval_metrics(x, y, ks=(1,), query_mask=np.ones(len(y), bool), precision=True)
    assert everything["r_precision"] == pytest.approx(pml["r_precision"], abs=TOL)
