"""Classification and retrieval metrics on embeddings (§4.3, Tables 3 and 4).

Numpy arrays in, Python floats or dicts out; torch does the heavy lifting on the CPU.
The caller owns ``torch.set_num_threads``. Everything is computed in float32.

Conventions, following the authors' released code (see docs and FACTS.md):

* **Classification** (:func:`knn_accuracy`): a k-nearest-neighbour classifier fitted on
  the *train* embeddings and scored on the *test* embeddings (k = 5 in the paper).
  Votes are uniform. **Ties** between classes with the same number of votes go to the
  class of the *nearest* neighbour among the tied classes (scikit-learn's
  ``KNeighborsClassifier`` picks the smallest label instead; the two agree whenever
  there is no tie). Labels are plain labels here: -1 is an ordinary class.
  ``metric="euclidean"`` (scikit-learn's default) or ``"cosine"``; on L2-normalised
  embeddings both rank neighbours identically.
* **Linear probe** (:func:`linear_probe_accuracy`): multinomial logistic regression
  (lbfgs) on the train embeddings, accuracy on the test embeddings.
* **Retrieval** (:func:`recall_at_k`, :func:`map_at_r`, :func:`retrieval_metrics`): the
  test set is both query set and gallery, each query is excluded from its own ranking,
  embeddings are L2-normalised and ranked by dot product. Recall@k counts a hit when
  any of the top k shares the query's label. MAP@R is Musgrave et al. (2020), "A metric
  learning reality check": R = number of *other* gallery items with the query's label,
  AP@R = (1/R) * sum over ranks i <= R of P(i) * rel(i).
  **Outliers**: by default items labelled -1 (synthetic outliers) are not used as
  queries (``query_mask`` defaults to ``y >= 0``) but stay in the gallery, where they
  are never a hit for any query. A query whose class has no other member ("lone"
  query) counts as a miss for recall@k (as in the authors' code) and is left out of
  MAP@R, where R = 0 makes AP undefined (as in pytorch-metric-learning).

Exact ties in similarity between different gallery items are ordered by
``torch.topk`` (unspecified but deterministic for a given input).

Memory stays bounded: float32 input is used in place (no normalised copy; gallery norms
are applied per chunk), and queries are processed in chunks so that the chunk's
similarity block (chunk x gallery) and its top-K block fit in about ``memory_mb``
(256 MB default).
For MAP@R, K is the largest R among the chunk's queries; queries are grouped by class so
that K follows each class's own size.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from .errors import DmlStudyError

__all__ = [
    "MetricInputError",
    "knn_predict",
    "knn_accuracy",
    "linear_probe_accuracy",
    "recall_at_k",
    "map_at_r",
    "retrieval_metrics",
]

DEFAULT_MEMORY_MB = 256
METRICS = ("euclidean", "cosine")


class MetricInputError(DmlStudyError, ValueError):
    """Inputs to a metric are invalid (shape, NaN, k too large). A ``ValueError``."""


# --------------------------------------------------------------------------- validation


def _as_embeddings(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise MetricInputError(f"{name}: expected a 2-D array (n, dim), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MetricInputError(f"{name}: empty array of shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise MetricInputError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(arr)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        kind = "NaN" if np.isnan(arr).any() else "infinite"
        raise MetricInputError(
            f"{name}: contains {kind} values in {bad_rows.size} row(s) "
            f"(first at row {int(bad_rows[0])}); embeddings must be finite "
            "(a diverged model or a failed extraction?)"
        )
    return arr


def _as_labels(y, n: int, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise MetricInputError(f"{name}: expected a 1-D label array, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise MetricInputError(
            f"{name}: has {arr.shape[0]} labels but the embeddings have {n} rows"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise MetricInputError(f"{name}: labels must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_k(k, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise MetricInputError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


def _check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    ks = tuple(ks)
    if not ks:
        raise MetricInputError("ks: need at least one k for recall@k")
    return tuple(_check_k(k, "each k in ks") for k in ks)


def _chunk_rows(chunk_size, bytes_per_row: int, memory_mb: float) -> int:
    if chunk_size is not None:
        return _check_k(chunk_size, "chunk_size")
    if memory_mb <= 0:
        raise MetricInputError(f"memory_mb must be positive, got {memory_mb!r}")
    return max(1, int(memory_mb * 2**20 // max(bytes_per_row, 1)))


def _tensor(arr: np.ndarray) -> torch.Tensor:
    """Share memory with ``arr``; these tensors are only read, so a read-only array (an
    h5py or memory-mapped read) is fine and needs no copy."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(arr)


def _inv_norms(x: torch.Tensor) -> torch.Tensor:
    """1 / ||row||, so the gallery is normalised on the fly without a full copy. A zero
    vector keeps similarity 0 to everything instead of becoming NaN."""
    return torch.linalg.vector_norm(x, dim=1).clamp_min_(1e-12).reciprocal_()


# --------------------------------------------------------------------------- k-NN


def knn_predict(
    train_x,
    train_y,
    query_x,
    k: int = 5,
    metric: str = "euclidean",
    chunk_size: int | None = None,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> np.ndarray:
    """Predict a label for each row of ``query_x`` by a uniform vote of its k nearest
    train embeddings. Ties between classes go to the class of the nearest neighbour
    among the tied classes. Returns an int64 array of shape (n_query,)."""
    train = _as_embeddings(train_x, "train_x")
    labels = _as_labels(train_y, train.shape[0], "train_y")
    query = _as_embeddings(query_x, "query_x")
    if query.shape[1] != train.shape[1]:
        raise MetricInputError(
            f"query_x has dimension {query.shape[1]} but train_x has {train.shape[1]}"
        )
    k = _check_k(k)
    if k > train.shape[0]:
        raise MetricInputError(
            f"k={k} is larger than the number of train embeddings ({train.shape[0]})"
        )
    if metric not in METRICS:
        raise MetricInputError(f"metric must be one of {METRICS}, got {metric!r}")

    g = _tensor(train)
    q_all = _tensor(query)
    if metric == "cosine":
        # Rank by q.t / |t| (|q| is constant per query): no normalised copy of train.
        scale, bias = _inv_norms(g), None
    else:
        # argmin |q - t|^2 == argmax (2 q.t - |t|^2): |q|^2 is constant per query.
        scale, bias = None, torch.linalg.vector_norm(g, dim=1).square_()
    lab = _tensor(labels)
    step = _chunk_rows(chunk_size, 4 * train.shape[0], memory_mb)
    out = np.empty(query.shape[0], dtype=np.int64)
    for start in range(0, query.shape[0], step):
        q = q_all[start : start + step]
        sims = q @ g.T
        if scale is not None:
            sims.mul_(scale)
        else:
            sims.mul_(2.0).sub_(bias)
        _, idx = torch.topk(sims, k, dim=1, largest=True, sorted=True)
        del sims
        nn = lab[idx]  # (c, k), nearest first
        votes = (nn.unsqueeze(2) == nn.unsqueeze(1)).sum(dim=2)  # votes for nn[:, j]'s class
        winner = votes == votes.max(dim=1, keepdim=True).values
        first = winner.to(torch.int8).argmax(dim=1)  # first (nearest) winning position
        out[start : start + q.shape[0]] = nn.gather(1, first.unsqueeze(1)).squeeze(1).numpy()
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
) -> float:
    """Accuracy on the test set of a k-NN classifier on the train embeddings (see
    :func:`knn_predict` for the vote and its tie rule)."""
    test = _as_embeddings(test_x, "test_x")
    test_labels = _as_labels(test_y, test.shape[0], "test_y")
    pred = knn_predict(train_x, train_y, test, k, metric, chunk_size, memory_mb)
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

    train = _as_embeddings(train_x, "train_x")
    labels = _as_labels(train_y, train.shape[0], "train_y")
    test = _as_embeddings(test_x, "test_x")
    test_labels = _as_labels(test_y, test.shape[0], "test_y")
    if test.shape[1] != train.shape[1]:
        raise MetricInputError(
            f"test_x has dimension {test.shape[1]} but train_x has {train.shape[1]}"
        )
    if np.unique(labels).size < 2:
        raise MetricInputError("train_y: a linear probe needs at least two classes")
    max_iter = _check_k(max_iter, "max_iter")
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
    want_map: bool,
    query_mask,
    chunk_size: int | None,
    memory_mb: float,
) -> dict:
    emb = _as_embeddings(x, "x")
    labels = _as_labels(y, emb.shape[0], "y")
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
    if want_map:
        # Group queries by class (larger R first) so each chunk's K follows its own R.
        order = np.lexsort((queries, labels[queries], -r_all[queries]))
        queries = queries[order]
    r_q = r_all[queries] if want_map else np.zeros(queries.size, dtype=np.int64)

    # Similarity = (q / |q|) . (g / |g|); the gallery's norms are applied per chunk, so
    # no normalised copy of the whole set is held.
    g = _tensor(emb)
    inv_norm = _inv_norms(g)
    lab = _tensor(labels)
    hits = dict.fromkeys(ks, 0)
    ap_sum = 0.0
    n_map = 0

    # Bytes per query row: similarities (4 n) plus the top-K block (values 4, indices 8,
    # labels 8, relevance/cumsum/precision ~ 20 per entry).
    k_bound = max(k_max, int(r_q.max()) if want_map else 0)
    step = _chunk_rows(chunk_size, 4 * n + 40 * k_bound, memory_mb)
    start = 0
    while start < queries.size:
        stop = min(start + step, queries.size)
        if want_map and chunk_size is None:
            # The first query of a chunk has the largest R: re-size chunk to it.
            kk = max(k_max, int(r_q[start]))
            stop = min(start + _chunk_rows(None, 4 * n + 40 * kk, memory_mb), queries.size)
        q_idx = torch.from_numpy(queries[start:stop])
        c = q_idx.shape[0]
        r_chunk = torch.from_numpy(r_q[start:stop])
        kk = max(k_max, int(r_chunk.max()) if want_map else 0)

        sims = (g[q_idx] * inv_norm[q_idx].unsqueeze(1)) @ g.T
        sims.mul_(inv_norm)
        sims[torch.arange(c), q_idx] = float("-inf")  # exclude the query itself
        _, idx = torch.topk(sims, kk, dim=1, largest=True, sorted=True)
        del sims
        match = lab[idx] == lab[q_idx].unsqueeze(1)  # (c, kk) bool
        del idx

        if ks:
            # first_hit[i] = 0-based rank of the first hit, kk if none.
            any_hit = match[:, :k_max].any(dim=1)
            first_hit = torch.where(
                any_hit, match[:, :k_max].to(torch.int8).argmax(dim=1), torch.tensor(kk)
            )
            for k in ks:
                hits[k] += int((first_hit < k).sum())

        if want_map:
            valid = r_chunk > 0
            if bool(valid.any()):
                rank = torch.arange(1, kk + 1)
                rel = match & (rank.unsqueeze(0) <= r_chunk.unsqueeze(1))
                cum = rel.cumsum(dim=1, dtype=torch.int32)
                prec_sum = cum.to(torch.float64).div_(rank).mul_(rel).sum(dim=1)
                ap = prec_sum[valid] / r_chunk[valid].to(torch.float64)
                ap_sum += float(ap.sum())
                n_map += int(valid.sum())
        start = stop

    out: dict = {"recall": {k: hits[k] / queries.size for k in ks}}
    if want_map:
        out["map_at_r"] = ap_sum / n_map if n_map else math.nan
    return out


def recall_at_k(
    x,
    y,
    ks: Iterable[int] = (1, 5, 10),
    chunk_size: int | None = None,
    query_mask=None,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> dict[int, float]:
    """Recall@k for each k in ``ks`` with ``x`` as both queries and gallery.

    ``x`` is L2-normalised inside, ranking is by dot product, the query itself is
    excluded, and a query scores a hit at k if any of its top k shares its label.
    ``query_mask`` (bool, shape (n,)) selects the queries; by default all items with a
    label >= 0, so outliers (-1) stay in the gallery but are not queries.
    Returns ``{k: recall}``.
    """
    ks = _check_ks(ks)
    return _retrieval(x, y, ks, False, query_mask, chunk_size, memory_mb)["recall"]


def map_at_r(
    x,
    y,
    chunk_size: int | None = None,
    query_mask=None,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> float:
    """MAP@R (Musgrave et al. 2020) with ``x`` as both queries and gallery, same ranking
    and query selection as :func:`recall_at_k`. Queries without any other item of their
    class are skipped; returns NaN if no query remains."""
    return _retrieval(x, y, (), True, query_mask, chunk_size, memory_mb)["map_at_r"]


def retrieval_metrics(
    x,
    y,
    ks: Iterable[int] = (1, 5, 10),
    chunk_size: int | None = None,
    query_mask=None,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> dict[str, float]:
    """Recall@k for each k and MAP@R from one top-K search per query chunk,
    K = max(max(ks), R). Returns ``{"recall@1": ..., "recall@5": ..., "map@r": ...}``."""
    ks = _check_ks(ks)
    res = _retrieval(x, y, ks, True, query_mask, chunk_size, memory_mb)
    out = {f"recall@{k}": v for k, v in res["recall"].items()}
    out["map@r"] = res["map_at_r"]
    return out
