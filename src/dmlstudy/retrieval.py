"""Classification and retrieval metrics on embeddings (§4.3, Tables 3 and 4; the metric
learning reality check's P@1, R-Precision and MAP@R).

Numpy arrays in, Python floats or dicts out; importing this module imports numpy only
(no torch). Every metric ranks with the exact search of :mod:`dmlstudy.neighbours`
(brute force in float32, **exact ties by gallery index, lower first**, memory bounded by
``memory_mb`` or ``chunk_size``, ``device="cuda"`` opt-in); :func:`top_k` and
:class:`MetricInputError` live there and are importable from here too.

Conventions, following the authors' released code (public repository ZenzenDatabase/Triplet_Contrastive;
docs/paper_vs_code.md):

* **Classification** (:func:`knn_accuracy`): k-NN fitted on the *train* embeddings and
  scored on the *test* embeddings (k = 5 in the paper), uniform votes. **Vote ties** go to
  the class of the *nearest* neighbour among the tied classes (scikit-learn picks the
  smallest label; both agree without a tie). -1 is an ordinary class here.
  ``metric="euclidean"`` (scikit-learn's default) or ``"cosine"``.
* **Linear probe** (:func:`linear_probe_accuracy`): multinomial logistic regression
  (lbfgs) on the train embeddings, accuracy on the test embeddings.
* **Retrieval** (:func:`recall_at_k`, :func:`map_at_r`, :func:`retrieval_metrics`): the
  test set is query set and gallery, each query excluded from its own ranking, ranking by
  dot product of L2-normalised embeddings. Recall@k: a hit when any of the top k shares
  the query's label. The reality check's metrics (Musgrave et al. 2020) use R = number of
  *other* items with the query's label: MAP@R, AP@R = (1/R) * sum over ranks i <= R of
  P(i) * rel(i); R-Precision = (items sharing the label among the top R) / R; P@1 = 1 if
  the nearest item shares the label. **Outliers** (-1) are not queries by default
  (``query_mask`` = ``y >= 0``) but stay in the gallery, never a hit. A query with no
  other member of its class (R = 0) is a miss for recall@k (as in the authors' code) and
  left out of MAP@R, R-Precision and P@1 (as in pytorch-metric-learning), so P@1 differs
  from recall@1 only by those lone queries.

Memory: queries go in chunks so that the chunk's similarity block and its top-K block fit
in about ``memory_mb``. For the R-based metrics K is the largest R of the chunk; queries
are grouped by class so K follows R.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .neighbours import (
    DEFAULT_MEMORY_MB,
    DEVICES,
    Gallery,
    MetricInputError,
    as_embeddings,
    as_labels,
    check_device,
    check_k,
    chunk_rows,
    top_k,
    unit_rows,
)

__all__ = [
    "MetricInputError",
    "DEVICES",
    "knn_predict",
    "knn_accuracy",
    "linear_probe_accuracy",
    "recall_at_k",
    "map_at_r",
    "retrieval_metrics",
    "top_k",
]

METRICS = ("euclidean", "cosine")


def _check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    ks = tuple(ks)
    if not ks:
        raise MetricInputError("ks: need at least one k for recall@k")
    return tuple(check_k(k, "each k in ks") for k in ks)


# --------------------------------------------------------------------------- k-NN


def knn_predict(
    train_x,
    train_y,
    query_x,
    k: int = 5,
    metric: str = "euclidean",
    chunk_size: int | None = None,
    memory_mb: float = DEFAULT_MEMORY_MB,
    device: str = "cpu",
) -> np.ndarray:
    """Predict a label for each row of ``query_x`` by a uniform vote of its k nearest
    train embeddings. Ties between classes go to the class of the nearest neighbour
    among the tied classes (equally near neighbours: the lower train index counts as
    nearer). Returns an int64 array of shape (n_query,)."""
    train = as_embeddings(train_x, "train_x")
    labels = as_labels(train_y, train.shape[0], "train_y")
    query = as_embeddings(query_x, "query_x")
    if query.shape[1] != train.shape[1]:
        raise MetricInputError(
            f"query_x has dimension {query.shape[1]} but train_x has {train.shape[1]}"
        )
    k = check_k(k)
    if k > train.shape[0]:
        raise MetricInputError(
            f"k={k} is larger than the number of train embeddings ({train.shape[0]})"
        )
    if metric not in METRICS:
        raise MetricInputError(f"metric must be one of {METRICS}, got {metric!r}")
    device = check_device(device)

    if metric == "cosine":
        # Rank by q.t / |t| (|q| is constant per query).
        gallery, queries = unit_rows(train), query
    else:
        # argmin |q - t|^2 == argmax (q.t - |t|^2 / 2): one extra column makes it a
        # single matrix product, [q, 1] . [t, -|t|^2 / 2].
        sq = np.einsum("ij,ij->i", train, train, dtype=np.float64)
        gallery = np.hstack([train, (-0.5 * sq).astype(np.float32)[:, None]])
        queries = np.hstack([query, np.ones((query.shape[0], 1), dtype=np.float32)])
    gal = Gallery(gallery, device)
    step = chunk_rows(chunk_size, 4 * train.shape[0], memory_mb)
    out = np.empty(query.shape[0], dtype=np.int64)
    for start in range(0, query.shape[0], step):
        q = queries[start : start + step]
        _, idx = gal.top(gal.scores(q), k)
        nn = labels[idx]  # (c, k), nearest first
        votes = (nn[:, :, None] == nn[:, None, :]).sum(axis=2)  # votes for nn[:, j]'s class
        first = (votes == votes.max(axis=1, keepdims=True)).argmax(axis=1)
        out[start : start + q.shape[0]] = nn[np.arange(nn.shape[0]), first]
    return out


def knn_accuracy(
    train_x,
    train_y,
    test_x,
    test_y,
    k: int = 5,
    metric: str = "euclidean",
    chunk_size: int | None = None,
    memory_mb: float = DEFAULT_MEMORY_MB,
    device: str = "cpu",
) -> float:
    """Accuracy on the test set of a k-NN classifier on the train embeddings (see
    :func:`knn_predict` for the vote and its tie rule)."""
    test = as_embeddings(test_x, "test_x")
    test_labels = as_labels(test_y, test.shape[0], "test_y")
    pred = knn_predict(train_x, train_y, test, k, metric, chunk_size, memory_mb, device)
    return float(np.mean(pred == test_labels))


# --------------------------------------------------------------------------- linear probe


def linear_probe_accuracy(
    train_x,
    train_y,
    test_x,
    test_y,
    seed: int = 0,
    max_iter: int = 1000,
    C: float = 1.0,
    standardize: bool = False,
) -> float:
    """Test accuracy of a multinomial logistic regression (lbfgs, L2 penalty ``C``)
    fitted on the train embeddings. lbfgs is deterministic; ``seed`` is passed as
    ``random_state`` for completeness. ``standardize`` scales features with statistics
    of the train set first."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train = as_embeddings(train_x, "train_x")
    labels = as_labels(train_y, train.shape[0], "train_y")
    test = as_embeddings(test_x, "test_x")
    test_labels = as_labels(test_y, test.shape[0], "test_y")
    if test.shape[1] != train.shape[1]:
        raise MetricInputError(
            f"test_x has dimension {test.shape[1]} but train_x has {train.shape[1]}"
        )
    if np.unique(labels).size < 2:
        raise MetricInputError("train_y: a linear probe needs at least two classes")
    max_iter = check_k(max_iter, "max_iter")
    if standardize:
        scaler = StandardScaler().fit(train)
        train, test = scaler.transform(train), scaler.transform(test)
    clf = LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter, random_state=seed)
    clf.fit(train, labels)
    return float(np.mean(clf.predict(test) == test_labels))


# --------------------------------------------------------------------------- retrieval


def _retrieval(
    x,
    y,
    ks: Sequence[int],
    want_r: bool,
    query_mask,
    chunk_size: int | None,
    memory_mb: float,
    device: str,
) -> dict:
    emb = as_embeddings(x, "x")
    labels = as_labels(y, emb.shape[0], "y")
    device = check_device(device)
    n = emb.shape[0]
    if query_mask is None:
        mask = labels >= 0
    else:
        mask = np.asarray(query_mask)
        if mask.shape != (n,) or mask.dtype != np.bool_:
            raise MetricInputError(
                f"query_mask: expected a boolean array of shape ({n},), "
                f"got {mask.dtype} {mask.shape}"
            )
    queries = np.flatnonzero(mask)
    if queries.size == 0:
        raise MetricInputError(
            "no queries: every item is excluded by query_mask (by default, items labelled -1)"
        )
    k_max = max(ks) if ks else 0
    if k_max > n - 1:
        raise MetricInputError(
            f"k={k_max} is larger than the gallery: {n} items, {n - 1} besides the query"
        )

    # R for each query: other items with its label anywhere in the gallery.
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    r_all = counts[inverse] - 1
    if want_r:
        # Group queries by class (larger R first) so each chunk's K follows its own R.
        order = np.lexsort((queries, labels[queries], -r_all[queries]))
        queries = queries[order]
    r_q = r_all[queries] if want_r else np.zeros(queries.size, dtype=np.int64)

    unit = unit_rows(emb)
    gal = Gallery(unit, device)
    hits = dict.fromkeys(ks, 0)
    ap_sum = 0.0
    rp_sum = 0.0  # R-Precision
    p1_hits = 0  # P@1 over the queries with R > 0
    n_map = 0

    # Bytes per query row: similarities (4 n) plus the top-K block (values 4, indices 8,
    # labels 8, relevance/cumsum/precision ~ 20 per entry).
    k_bound = max(k_max, int(r_q.max()) if want_r else 0)
    step = chunk_rows(chunk_size, 4 * n + 40 * k_bound, memory_mb)
    start = 0
    while start < queries.size:
        stop = min(start + step, queries.size)
        if want_r and chunk_size is None:
            # The first query of a chunk has the largest R: re-size chunk to it.
            kk = max(k_max, int(r_q[start]))
            stop = min(start + chunk_rows(None, 4 * n + 40 * kk, memory_mb), queries.size)
        q_idx = queries[start:stop]
        c = q_idx.shape[0]
        r_chunk = r_q[start:stop]
        kk = min(max(k_max, int(r_chunk.max()) if want_r else 0), n - 1)
        if kk == 0:  # only lone queries for MAP@R and no recall asked
            start = stop
            continue

        _, idx = gal.top(gal.scores(unit[q_idx]), kk, exclude=(np.arange(c), q_idx))
        match = labels[idx] == labels[q_idx][:, None]  # (c, kk) bool
        del idx

        for k in ks:
            hits[k] += int(match[:, :k].any(axis=1).sum())

        if want_r:
            valid = r_chunk > 0
            if valid.any():
                rank = np.arange(1, kk + 1)
                rel = match & (rank[None, :] <= r_chunk[:, None])
                cum = rel.cumsum(axis=1, dtype=np.int32)
                prec_sum = (cum / rank * rel).sum(axis=1)
                ap_sum += float((prec_sum[valid] / r_chunk[valid]).sum())
                rp_sum += float((cum[valid, -1] / r_chunk[valid]).sum())
                p1_hits += int(match[valid, 0].sum())
                n_map += int(valid.sum())
        start = stop

    out: dict = {"recall": {k: hits[k] / queries.size for k in ks}}
    if want_r:
        out["map_at_r"] = ap_sum / n_map if n_map else math.nan
        out["r_precision"] = rp_sum / n_map if n_map else math.nan
        out["precision_at_1"] = p1_hits / n_map if n_map else math.nan
    return out


def recall_at_k(
    x,
    y,
    ks: Iterable[int] = (1, 5, 10),
    chunk_size: int | None = None,
    query_mask=None,
    memory_mb: float = DEFAULT_MEMORY_MB,
    device: str = "cpu",
) -> dict[int, float]:
    """Recall@k for each k in ``ks`` with ``x`` as both queries and gallery.

    ``x`` is L2-normalised inside, ranking is by dot product, the query itself is
    excluded, and a query scores a hit at k if any of its top k shares its label.
    ``query_mask`` (bool, shape (n,)) selects the queries; by default all items with a
    label >= 0, so outliers (-1) stay in the gallery but are not queries.
    Returns ``{k: recall}``.
    """
    ks = _check_ks(ks)
    return _retrieval(x, y, ks, False, query_mask, chunk_size, memory_mb, device)["recall"]


def map_at_r(
    x,
    y,
    chunk_size: int | None = None,
    query_mask=None,
    memory_mb: float = DEFAULT_MEMORY_MB,
    device: str = "cpu",
) -> float:
    """MAP@R (Musgrave et al. 2020) with ``x`` as both queries and gallery, same ranking
    and query selection as :func:`recall_at_k`. Queries without any other item of their
    class are skipped; returns NaN if no query remains."""
    return _retrieval(x, y, (), True, query_mask, chunk_size, memory_mb, device)["map_at_r"]


def retrieval_metrics(
    x,
    y,
    ks: Iterable[int] = (1, 5, 10),
    chunk_size: int | None = None,
    query_mask=None,
    memory_mb: float = DEFAULT_MEMORY_MB,
    device: str = "cpu",
    precision: bool = False,
) -> dict[str, float]:
    """Recall@k for each k and MAP@R from one top-K search per query chunk,
    K = max(max(ks), R). Returns ``{"recall@1": ..., "recall@5": ..., "map@r": ...}``.

    ``precision``: also the reality check's ``"precision@1"`` (P@1) and ``"r_precision"``
    (R-Precision), from the same rankings, after ``"map@r"``. Like MAP@R they average over
    the queries with R > 0 (NaN if there is none); the other values are identical either
    way. Off by default so the dict keeps the keys it always had."""
    ks = _check_ks(ks)
    res = _retrieval(x, y, ks, True, query_mask, chunk_size, memory_mb, device)
    out = {f"recall@{k}": v for k, v in res["recall"].items()}
    out["map@r"] = res["map_at_r"]
    if precision:
        out["precision@1"] = res["precision_at_1"]
        out["r_precision"] = res["r_precision"]
    return out
