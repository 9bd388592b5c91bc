"""Metrics in dmlstudy.retrieval against independent brute-force computations
(full float64 similarity matrix, Python loops over queries), faiss,
pytorch-metric-learning and scikit-learn."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from dmlstudy.retrieval import (
    MetricInputError,
    knn_accuracy,
    knn_predict,
    linear_probe_accuracy,
    map_at_r,
    recall_at_k,
    retrieval_metrics,
    top_k,
)

SEEDS = (0, 1, 2)

# The metrics compute in float32, the brute force in float64: a near-tie (similarities
# within ~1e-7) can swap two neighbours. One swap moves recall by at most one query and
# MAP@R by about 1e-6 at these sizes (seen: 1.1e-6); a real bug moves them far more.
MAP_TOL = 1e-5


def assert_recall_close(got, want, n_queries):
    assert set(got) == set(want)
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1.01 / n_queries), k


def clustered(seed, n=240, dim=16, n_classes=5, spread=1.0, outliers=0):
    """Gaussian clusters (overlapping, so metrics are neither 0 nor 1), plus outliers
    labelled -1. Classes have unequal sizes."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    p = rng.dirichlet(np.full(n_classes, 3.0))
    y = rng.choice(n_classes, size=n, p=p)
    x = centres[y] + spread * rng.normal(size=(n, dim))
    if outliers:
        x = np.vstack([x, 4.0 * rng.normal(size=(outliers, dim))])
        y = np.concatenate([y, np.full(outliers, -1)])
    return x.astype(np.float32), y.astype(np.int64)


# ----------------------------------------------------------------- brute-force references


def _unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _rankings(x):
    """For each item, the other items sorted by decreasing cosine similarity."""
    u = _unit(x)
    s = u @ u.T
    out = []
    for i in range(len(x)):
        order = np.argsort(-s[i], kind="stable")
        out.append(order[order != i])
    return out


def brute_recall(x, y, ks, query_mask=None):
    mask = (y >= 0) if query_mask is None else query_mask
    ranks = _rankings(x)
    res = {}
    for k in ks:
        hits = [np.any(y[ranks[i][:k]] == y[i]) for i in range(len(x)) if mask[i]]
        res[k] = float(np.mean(hits))
    return res


def brute_map_at_r(x, y, query_mask=None):
    mask = (y >= 0) if query_mask is None else query_mask
    ranks = _rankings(x)
    aps = []
    for i in range(len(x)):
        if not mask[i]:
            continue
        r = int(np.sum(y == y[i])) - 1
        if r == 0:
            continue
        top = y[ranks[i][:r]] == y[i]
        total, found = 0.0, 0
        for rank, rel in enumerate(top, start=1):
            if rel:
                found += 1
                total += found / rank
        aps.append(total / r)
    return float(np.mean(aps)) if aps else math.nan


def brute_knn_predict(train_x, train_y, query_x, k, metric, return_ties=False):
    """Uniform vote; a tie goes to the tied class whose first neighbour is nearest."""
    if metric == "cosine":
        a, b = _unit(train_x), _unit(query_x)
        d = -(b @ a.T)
    else:
        a, b = np.asarray(train_x, np.float64), np.asarray(query_x, np.float64)
        d = ((b[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    pred, ties = [], 0
    for i in range(len(query_x)):
        nn = train_y[np.argsort(d[i], kind="stable")[:k]]
        counts = {c: int(np.sum(nn == c)) for c in set(nn.tolist())}
        best = max(counts.values())
        ties += sum(v == best for v in counts.values()) > 1
        pred.append(next(c for c in nn.tolist() if counts[c] == best))
    return (np.array(pred), ties) if return_ties else np.array(pred)


# ----------------------------------------------------------------- recall@k


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("chunk_size", [1, 7, 64, None])
def test_recall_matches_brute_force(seed, chunk_size):
    x, y = clustered(seed, n_classes=4, spread=2.5, outliers=12)
    ks = (1, 2, 5, 10)
    got = recall_at_k(x, y, ks, chunk_size=chunk_size)
    want = brute_recall(x, y, ks)
    assert set(got) == set(ks)
    assert_recall_close(got, want, int(np.sum(y >= 0)))
    for k in ks:
        assert isinstance(got[k], float)
    assert 0.0 < got[1] < got[10] <= 1.0  # the data is neither trivial nor hopeless


def test_recall_independent_of_chunking_and_memory_budget():
    x, y = clustered(3, n=500, n_classes=7, spread=2.0)
    ref = recall_at_k(x, y, (1, 5, 10), chunk_size=500)
    for kwargs in ({"chunk_size": 1}, {"chunk_size": 33}, {"memory_mb": 0.01}, {}):
        assert recall_at_k(x, y, (1, 5, 10), **kwargs) == ref


def test_recall_query_mask_and_outliers():
    x, y = clustered(4, n=150, n_classes=3, spread=2.0, outliers=20)
    # Default: outliers are not queries but stay in the gallery.
    default = recall_at_k(x, y, (1, 3))
    assert_recall_close(default, brute_recall(x, y, (1, 3), query_mask=y >= 0), 150)
    # Dropping outliers from the gallery too gives a different (higher or equal) result.
    keep = y >= 0
    without = recall_at_k(x[keep], y[keep], (1, 3))
    assert without[1] >= default[1]
    # An explicit mask picks exactly those queries; -1 is then an ordinary label.
    mask = np.zeros(len(y), dtype=bool)
    mask[::3] = True
    got = recall_at_k(x, y, (1, 3), query_mask=mask, chunk_size=5)
    assert_recall_close(got, brute_recall(x, y, (1, 3), query_mask=mask), int(mask.sum()))


def test_recall_lone_query_counts_as_miss():
    x, y = clustered(5, n=60, n_classes=3)
    y = y.copy()
    y[0] = 99  # the only item of its class
    got = recall_at_k(x, y, (1, 5))
    want = brute_recall(x, y, (1, 5))
    assert_recall_close(got, want, 60)
    only_lone = np.zeros(len(y), dtype=bool)
    only_lone[0] = True
    assert recall_at_k(x, y, (1, 59), query_mask=only_lone) == {1: 0.0, 59: 0.0}


@pytest.mark.parametrize("seed", SEEDS)
def test_recall_matches_faiss_neighbours(seed):
    import faiss

    x, y = clustered(seed, n=400, dim=32, n_classes=10, spread=2.5)
    u = _unit(x).astype(np.float32)
    index = faiss.IndexFlatIP(u.shape[1])
    index.add(u)
    _, nbr = index.search(u, 11)
    hits = {k: [] for k in (1, 5, 10)}
    for i in range(len(u)):
        others = nbr[i][nbr[i] != i][:10]
        for k in hits:
            hits[k].append(np.any(y[others[:k]] == y[i]))
    want = {k: float(np.mean(v)) for k, v in hits.items()}
    assert_recall_close(recall_at_k(x, y, (1, 5, 10), chunk_size=50), want, len(y))


def test_recall_scale_invariant_and_float64_input():
    x, y = clustered(6, n=120)
    scaled = x.astype(np.float64) * np.random.default_rng(0).uniform(0.1, 10, size=(len(x), 1))
    assert recall_at_k(scaled, y) == recall_at_k(x, y)


def test_recall_zero_vector_is_not_nan():
    x, y = clustered(7, n=50)
    x[3] = 0.0
    got = recall_at_k(x, y, (1, 5))
    assert all(0.0 <= v <= 1.0 for v in got.values())


def test_recall_perfect_and_hand_example():
    # Two tight, well-separated clusters: every nearest neighbour shares the label.
    x = np.array([[1, 0], [0.99, 0.1], [0.98, -0.1], [0, 1], [0.1, 0.99]], dtype=np.float32)
    y = np.array([0, 0, 0, 1, 1])
    assert recall_at_k(x, y, (1, 4)) == {1: 1.0, 4: 1.0}
    # Flip one label: item 4 (label 0 now) has neighbour 3 (label 1) first -> miss at 1;
    # item 3's nearest is item 4 (label 0) -> miss at 1 as well.
    y2 = np.array([0, 0, 0, 1, 0])
    r = recall_at_k(x, y2, (1, 2))
    assert r[1] == pytest.approx(3 / 5)
    assert r == pytest.approx(brute_recall(x, y2, (1, 2)))


# ----------------------------------------------------------------- MAP@R


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("chunk_size", [1, 13, None])
def test_map_at_r_matches_brute_force(seed, chunk_size):
    x, y = clustered(seed, n_classes=5, spread=2.5, outliers=10)
    got = map_at_r(x, y, chunk_size=chunk_size)
    assert isinstance(got, float)
    assert got == pytest.approx(brute_map_at_r(x, y), abs=MAP_TOL)
    assert 0.05 < got < 0.95


def test_map_at_r_hand_example():
    # Query 0 (label 0) has R = 2; its ranking is 1 (label 0), 2 (label 1), 3 (label 0).
    # Top R = [hit, miss] -> AP@R = (1/1) / 2 = 0.5.
    ang = np.array([0.0, 0.1, 0.25, 0.4, 3.0])
    x = np.stack([np.cos(ang), np.sin(ang)], axis=1).astype(np.float32)
    y = np.array([0, 0, 1, 0, 1])
    mask = np.zeros(5, dtype=bool)
    mask[0] = True
    assert map_at_r(x, y, query_mask=mask) == pytest.approx(0.5)
    assert map_at_r(x, y) == pytest.approx(brute_map_at_r(x, y), abs=MAP_TOL)


def test_map_at_r_skips_lone_queries():
    x, y = clustered(8, n=80, n_classes=3)
    y = y.copy()
    y[5] = 42
    y[9] = 43
    got = map_at_r(x, y, chunk_size=4)
    assert got == pytest.approx(brute_map_at_r(x, y), abs=MAP_TOL)
    only_lone = np.zeros(len(y), dtype=bool)
    only_lone[[5, 9]] = True
    assert math.isnan(map_at_r(x, y, query_mask=only_lone))


@pytest.mark.parametrize("seed", SEEDS)
def test_map_at_r_and_precision_at_1_match_pytorch_metric_learning(seed):
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    x, y = clustered(seed, n=300, dim=24, n_classes=6, spread=2.5)
    calc = AccuracyCalculator(
        include=("mean_average_precision_at_r", "precision_at_1"), k="max_bin_count"
    )
    pml = calc.get_accuracy(_unit(x).astype(np.float32), y)
    ours = retrieval_metrics(x, y, ks=(1,), chunk_size=37)
    # PML ranks by float32 L2 distance in faiss; near-ties as above.
    assert ours["map@r"] == pytest.approx(pml["mean_average_precision_at_r"], abs=MAP_TOL)
    assert ours["map@r"] == pytest.approx(brute_map_at_r(x, y), abs=MAP_TOL)
    assert ours["recall@1"] == pytest.approx(pml["precision_at_1"], abs=1.01 / len(y))


# ----------------------------------------------------------------- one pass


@pytest.mark.parametrize("seed", SEEDS)
def test_retrieval_metrics_one_pass_equals_separate_calls(seed):
    x, y = clustered(seed, n=300, n_classes=4, spread=2.5, outliers=9)
    for chunk_size in (1, 17, None):
        got = retrieval_metrics(x, y, (1, 5, 10), chunk_size=chunk_size)
        assert list(got) == ["recall@1", "recall@5", "recall@10", "map@r"]
        rec = recall_at_k(x, y, (1, 5, 10))
        for k in (1, 5, 10):
            assert got[f"recall@{k}"] == rec[k]
        assert got["map@r"] == pytest.approx(map_at_r(x, y), rel=1e-9)
        assert got["map@r"] == pytest.approx(brute_map_at_r(x, y), abs=MAP_TOL)


def test_retrieval_metrics_small_memory_budget():
    # K (max R ~ 180) is far larger than max(ks); a tiny budget forces one query per chunk.
    x, y = clustered(9, n=400, n_classes=2, spread=3.0)
    ref = retrieval_metrics(x, y, chunk_size=400)
    got = retrieval_metrics(x, y, memory_mb=0.001)
    assert got["map@r"] == pytest.approx(ref["map@r"], rel=1e-9)
    assert {k: v for k, v in got.items() if k != "map@r"} == {
        k: v for k, v in ref.items() if k != "map@r"
    }


# ----------------------------------------------------------------- k-NN


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("k", [1, 4, 5, 6])
def test_knn_matches_brute_force_with_ties(seed, metric, k):
    # Three overlapping classes and even k: vote ties are frequent.
    x, y = clustered(seed, n=300, n_classes=3, spread=3.0)
    tr, te = slice(0, 200), slice(200, None)
    want, ties = brute_knn_predict(x[tr], y[tr], x[te], k, metric, return_ties=True)
    if k in (4, 6):
        assert ties > 0  # the tie rule is exercised
    for chunk_size in (1, 9, None):
        pred = knn_predict(x[tr], y[tr], x[te], k=k, metric=metric, chunk_size=chunk_size)
        np.testing.assert_array_equal(pred, want)
    acc = knn_accuracy(x[tr], y[tr], x[te], y[te], k=k, metric=metric, chunk_size=9)
    assert isinstance(acc, float)
    assert acc == pytest.approx(float(np.mean(want == y[te])))


def test_knn_tie_goes_to_nearest_neighbours_class():
    # Query at 0; neighbours by distance: 1 (label 2), 2 (label 1), 3 (label 1), 4 (label 2).
    # k = 4: two votes each; label 2 owns the nearest neighbour. sklearn would pick 1.
    train = np.array([[1.0], [2.0], [3.0], [4.0], [10.0]], dtype=np.float32)
    labels = np.array([2, 1, 1, 2, 0])
    pred = knn_predict(train, labels, np.zeros((1, 1), np.float32), k=4)
    assert pred.tolist() == [2]
    from sklearn.neighbors import KNeighborsClassifier

    sk = KNeighborsClassifier(n_neighbors=4, algorithm="brute").fit(train, labels)
    assert sk.predict(np.zeros((1, 1))).tolist() == [1]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_knn_matches_sklearn_without_ties(seed, metric):
    from sklearn.neighbors import KNeighborsClassifier

    # Two classes and odd k: a vote tie is impossible.
    x, y = clustered(seed, n=400, dim=8, n_classes=2, spread=3.0)
    tr, te = slice(0, 300), slice(300, None)
    sk = KNeighborsClassifier(n_neighbors=5, algorithm="brute", metric=metric)
    sk.fit(x[tr], y[tr])
    np.testing.assert_array_equal(
        knn_predict(x[tr], y[tr], x[te], k=5, metric=metric, chunk_size=16), sk.predict(x[te])
    )
    assert knn_accuracy(x[tr], y[tr], x[te], y[te], k=5, metric=metric) == pytest.approx(
        sk.score(x[te], y[te])
    )
    # Many classes, k = 1: no tie either.
    x, y = clustered(seed, n=300, n_classes=12, spread=2.0)
    sk = KNeighborsClassifier(n_neighbors=1, algorithm="brute", metric=metric).fit(x[:200], y[:200])
    np.testing.assert_array_equal(
        knn_predict(x[:200], y[:200], x[200:], k=1, metric=metric), sk.predict(x[200:])
    )


def test_knn_labels_are_returned_not_codes():
    x, y = clustered(10, n=120, n_classes=3, spread=0.2)
    y = np.array([-1, 7, 1000])[y]
    pred = knn_predict(x[:80], y[:80], x[80:], k=3)
    assert set(pred.tolist()) <= {-1, 7, 1000}
    assert knn_accuracy(x[:80], y[:80], x[80:], y[80:], k=3) == 1.0


# ----------------------------------------------------------------- linear probe


def test_linear_probe_separable_blobs():
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=600, centers=4, n_features=10, cluster_std=1.0, random_state=0)
    x = x.astype(np.float32)
    acc = linear_probe_accuracy(x[:400], y[:400], x[400:], y[400:], seed=0)
    assert isinstance(acc, float)
    assert acc >= 0.95
    assert acc == linear_probe_accuracy(x[:400], y[:400], x[400:], y[400:], seed=0)
    assert linear_probe_accuracy(x[:400], y[:400], x[400:], y[400:], standardize=True) >= 0.95


def test_linear_probe_validates():
    x, y = clustered(11, n=50)
    with pytest.raises(ValueError, match="two classes"):
        linear_probe_accuracy(x, np.zeros(50, dtype=int), x, y)
    with pytest.raises(ValueError, match="dimension"):
        linear_probe_accuracy(x, y, x[:, :3], y)


# ----------------------------------------------------------------- validation


def test_nan_and_inf_are_rejected_with_clear_message():
    x, y = clustered(12, n=40)
    bad = x.copy()
    bad[7, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"x: contains NaN values in 1 row\(s\) \(first at row 7\)"
    ):
        recall_at_k(bad, y)
    with pytest.raises(ValueError, match="NaN"):
        map_at_r(bad, y)
    with pytest.raises(ValueError, match="test_x: contains NaN"):
        knn_accuracy(x, y, bad, y)
    with pytest.raises(ValueError, match="train_x: contains NaN"):
        knn_accuracy(bad, y, x, y)
    with pytest.raises(ValueError, match="train_x: contains NaN"):
        linear_probe_accuracy(bad, y, x, y)
    bad[7, 2] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        retrieval_metrics(bad, y)


def test_k_larger_than_gallery():
    x, y = clustered(13, n=10)
    with pytest.raises(ValueError, match=r"k=10 is larger than the gallery: 10 items, 9 besides"):
        recall_at_k(x, y, (1, 10))
    assert recall_at_k(x, y, (9,))[9] <= 1.0
    with pytest.raises(ValueError, match=r"k=11 is larger than the number of train embeddings"):
        knn_accuracy(x, y, x, y, k=11)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, y: recall_at_k(x[0], y), "2-D"),
        (lambda x, y: recall_at_k(x[:0], y[:0]), "empty"),
        (lambda x, y: recall_at_k(x, y[:-1]), "has 39 labels but the embeddings have 40"),
        (lambda x, y: recall_at_k(x, y.astype(float)), "integers"),
        (lambda x, y: recall_at_k(x, y[:, None]), "1-D"),
        (lambda x, y: recall_at_k(x.astype(str), y), "numeric"),
        (lambda x, y: recall_at_k(x, y, ()), "at least one k"),
        (lambda x, y: recall_at_k(x, y, (0,)), "positive integer"),
        (lambda x, y: recall_at_k(x, y, (1.5,)), "positive integer"),
        (lambda x, y: recall_at_k(x, y, chunk_size=0), "chunk_size"),
        (lambda x, y: recall_at_k(x, y, memory_mb=0), "memory_mb"),
        (lambda x, y: recall_at_k(x, y, query_mask=np.ones(3, bool)), "query_mask"),
        (lambda x, y: recall_at_k(x, y, query_mask=np.ones(40)), "boolean"),
        (lambda x, y: recall_at_k(x, np.full(40, -1)), "no queries"),
        (lambda x, y: knn_accuracy(x, y, x[:, :4], y), "dimension"),
        (lambda x, y: knn_accuracy(x, y, x, y, metric="manhattan"), "metric"),
        (lambda x, y: knn_accuracy(x, y, x, y, k=0), "positive integer"),
        (lambda x, y: knn_accuracy(x, y, x, y[:5]), "test_y"),
    ],
)
def test_invalid_inputs_raise_value_error(call, message):
    x, y = clustered(14, n=40)
    with pytest.raises(ValueError, match=message):
        call(x, y)
    with pytest.raises(MetricInputError):
        call(x, y)


def test_read_only_inputs_need_no_copy_and_warn_nothing(recwarn):
    # Arrays read from HDF5 or memory maps can be read-only.
    x, y = clustered(15, n=60)
    x.flags.writeable = False
    y.flags.writeable = False
    want = brute_recall(x, y, (1, 5))
    assert_recall_close(recall_at_k(x, y, (1, 5)), want, 60)
    assert knn_accuracy(x, y, x, y, k=1) == 1.0
    assert not [w for w in recwarn if "writable" in str(w.message)]


# ----------------------------------------------------------------- exact ties


def tied(seed, n=120, dim=16, n_classes=4, n_distinct=9):
    """Items drawn from a few distinct +-1 vectors: every norm is 4, so normalised
    coordinates (+-1/4) and all dot products (multiples of 1/16) are exact in float32,
    and many similarities are exactly equal. Labels are random, so a tie decides hits."""
    rng = np.random.default_rng(seed)
    base = rng.choice([-1.0, 1.0], size=(n_distinct, dim))
    x = base[rng.integers(0, n_distinct, size=n)].astype(np.float32)
    y = rng.integers(0, n_classes, size=n).astype(np.int64)
    return x, y


@pytest.fixture(params=["faiss", "numpy"])
def selection(request, monkeypatch):
    """Run a test with faiss' heap selection and with the numpy fallback (faiss hidden)."""
    if request.param == "numpy":
        monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` raises ImportError
    return request.param


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("chunk_size", [1, 7, None])
def test_ties_broken_by_lower_index_like_a_stable_sort(seed, chunk_size, selection):
    x, y = tied(seed)
    ks = (1, 2, 5, 10, 50)
    # Exact values: the stable float64 sort of the brute force is the reference, no tolerance.
    assert recall_at_k(x, y, ks, chunk_size=chunk_size) == brute_recall(x, y, ks)
    assert map_at_r(x, y, chunk_size=chunk_size) == pytest.approx(brute_map_at_r(x, y), abs=1e-12)
    u = _unit(x)
    want = np.argsort(-(u @ u.T), axis=1, kind="stable")
    for k in (1, 3, 40, 119):
        sims, idx = top_k(x / 4, x / 4, k, chunk_size=chunk_size)
        np.testing.assert_array_equal(idx, want[:, :k])
        assert np.all(np.diff(sims, axis=1) <= 0)
    # Self excluded: the stable order with the item itself removed.
    _, idx = top_k(x / 4, x / 4, 30, exclude_self=True, chunk_size=chunk_size)
    ranks = _rankings(x)
    np.testing.assert_array_equal(idx, np.stack([r[:30] for r in ranks]))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("k", [1, 4, 5])
def test_knn_distance_ties_like_a_stable_sort(seed, metric, k, selection):
    # Integer points: squared distances (and q.t - |t|^2/2) are exact; many are equal.
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=(200, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=200).astype(np.int64)
    if metric == "cosine":
        x, _ = tied(seed, n=200)
    tr, te = slice(0, 150), slice(150, None)
    want = brute_knn_predict(x[tr], y[tr], x[te], k, metric)
    for chunk_size in (1, 9, None):
        pred = knn_predict(x[tr], y[tr], x[te], k=k, metric=metric, chunk_size=chunk_size)
        np.testing.assert_array_equal(pred, want)


def test_faiss_and_numpy_selection_agree(monkeypatch):
    x, y = clustered(16, n=400, n_classes=6, spread=2.5, outliers=5)
    with_faiss = retrieval_metrics(x, y, (1, 5, 10))
    knn = knn_predict(x[:300], y[:300], x[300:], k=5)
    monkeypatch.setitem(sys.modules, "faiss", None)
    assert retrieval_metrics(x, y, (1, 5, 10)) == with_faiss
    np.testing.assert_array_equal(knn_predict(x[:300], y[:300], x[300:], k=5), knn)


def test_top_k_validates():
    x, _ = clustered(17, n=20)
    with pytest.raises(MetricInputError, match="larger than the gallery"):
        top_k(x, x, 20, exclude_self=True)
    with pytest.raises(MetricInputError, match="same length"):
        top_k(x[:5], x, 2, exclude_self=True)
    with pytest.raises(MetricInputError, match="dimension"):
        top_k(x[:, :3], x, 2)
    with pytest.raises(MetricInputError, match="device"):
        recall_at_k(x, np.arange(20) % 2, device="tpu")


def test_cpu_evaluation_does_not_import_torch():
    code = (
        "import sys, numpy as np; from dmlstudy import retrieval as r; "
        "x = np.random.default_rng(0).normal(size=(200, 8)).astype('float32'); "
        "y = np.arange(200) % 4; r.retrieval_metrics(x, y); r.knn_accuracy(x, y, x, y); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cuda_path_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    x, y = clustered(18, n=500, n_classes=5, spread=2.5)
    assert retrieval_metrics(x, y, device="cuda") == pytest.approx(retrieval_metrics(x, y))
    xt, yt = tied(0)
    assert recall_at_k(xt, yt, (1, 5), device="cuda") == recall_at_k(xt, yt, (1, 5))
    np.testing.assert_array_equal(
        knn_predict(x[:400], y[:400], x[400:], device="cuda"),
        knn_predict(x[:400], y[:400], x[400:]),
    )
