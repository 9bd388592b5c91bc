"""Classification and retrieval metrics on embeddings (§4.3, Tables 3 and 4).

Numpy arrays in, Python floats or dicts out; importing this module imports numpy only
(no torch). The neighbour search is exact brute force in float32: one BLAS product per
query chunk (numpy), then the top k of the block by faiss' heap (``faiss-cpu``; numpy's
introselect when faiss is missing or K is large, same result). ``device="cuda"`` (asked
for explicitly, and only with a GPU) runs the blocks through torch, imported then. The
caller owns the thread count (``threadpoolctl.threadpool_limits`` covers numpy's BLAS and
faiss' OpenMP).

Conventions, following the authors' released code (see docs and FACTS.md):

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
  the query's label. MAP@R (Musgrave et al. 2020): R = number of *other* items with the
  query's label, AP@R = (1/R) * sum over ranks i <= R of P(i) * rel(i). **Outliers** (-1)
  are not queries by default (``query_mask`` = ``y >= 0``) but stay in the gallery, never
  a hit. A query with no other member of its class is a miss for recall@k (as in the
  authors' code) and left out of MAP@R (as in pytorch-metric-learning).

**Exact ties** in similarity (or distance) rank by gallery index, lower first, on every
path: the selection takes one neighbour more than needed, and a row where that one ties
with the last kept is ranked again from its block by (value, index).

Memory: the gallery is held once more (normalised, or with one extra column for the
euclidean k-NN); queries go in chunks so that the chunk's similarity block and its top-K
block fit in about ``memory_mb`` (256 MB), or ``chunk_size`` queries when given. For
MAP@R, K is the largest R of the chunk; queries are grouped by class so K follows R.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .errors import DmlStudyError

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

DEFAULT_MEMORY_MB = 256
METRICS = ("euclidean", "cosine")
DEVICES = ("cpu", "cuda")


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


def _check_device(device: str) -> str:
    if device not in DEVICES:
        raise MetricInputError(f"device must be one of {DEVICES}, got {device!r}")
    return device


def _chunk_rows(chunk_size, bytes_per_row: int, memory_mb: float) -> int:
    if chunk_size is not None:
        return _check_k(chunk_size, "chunk_size")
    if memory_mb <= 0:
        raise MetricInputError(f"memory_mb must be positive, got {memory_mb!r}")
    return max(1, int(memory_mb * 2**20 // max(bytes_per_row, 1)))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """A float32 copy with L2-normalised rows; a zero row stays zero (similarity 0 to
    everything instead of NaN)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
    return (x / np.maximum(norms, 1e-12)[:, None]).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- exact top k


def _faiss():
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is in the pinned environment
        return None
    return faiss


HEAP_MAX_K = 64  # above this, numpy's introselect beats a heap (MAP@R asks for K = R)


def _select_cpu(block: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """The kk largest entries of each row of a C-contiguous float32 block, in any order
    among ties: faiss' heap (what its flat index uses, parallel over rows) for small kk
    when faiss is installed, else numpy's introselect (about 2.5 ns an entry on one
    core, whatever kk; a heap costs 1.5 ns at kk = 11 but 25 ns at kk = 2,000)."""
    c, n = block.shape
    faiss = _faiss() if kk <= HEAP_MAX_K else None
    if faiss is not None:
        val = np.empty((c, kk), dtype=np.float32)
        ids = np.empty((c, kk), dtype=np.int64)
        heap = faiss.float_minheap_array_t()  # a min-heap keeps the largest values
        heap.nh, heap.k = c, kk
        heap.val, heap.ids = faiss.swig_ptr(val), faiss.swig_ptr(ids)
        heap.heapify()
        heap.addn(n, faiss.swig_ptr(block), 0, 0, c)
        return val, ids
    return _select_numpy(block, kk)


def _select_numpy(block: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    c, n = block.shape
    val = np.empty((c, kk), dtype=np.float32)
    ids = np.empty((c, kk), dtype=np.int64)
    step = max(1, 2**21 // n)  # rows per call: argpartition's index array stays ~16 MB
    for s in range(0, c, step):
        part = block[s : s + step]
        idx = np.argpartition(part, n - kk, axis=1)[:, n - kk :]
        ids[s : s + step] = idx
        val[s : s + step] = np.take_along_axis(part, idx, axis=1)
    return val, ids


def _sort_rows(val: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by decreasing value, then increasing index, with one integer sort:
    key = (order-preserving int32 of -value) << 32 | index (indices < 2**31)."""
    neg = (-val + np.float32(0.0)).view(np.int32)  # + 0.0 turns -0.0 into 0.0
    key = (neg ^ ((neg >> 31) & 0x7FFFFFFF)).astype(np.int64) << 32
    key |= ids
    key.sort(axis=1)
    hi = (key >> 32).astype(np.int32)
    val = -(hi ^ ((hi >> 31) & 0x7FFFFFFF)).view(np.float32)
    return val, key & 0xFFFFFFFF


class _Gallery:
    """A float32 gallery on its device: similarity blocks for query chunks and their
    exact top k with the tie rule of this module (lower gallery index first)."""

    def __init__(self, g: np.ndarray, device: str):
        self.n = g.shape[0]
        self.device = device
        if device == "cuda":
            import torch  # only here: CPU evaluation never imports torch

            if not torch.cuda.is_available():
                raise MetricInputError('device="cuda" requested, but torch sees no GPU')
            self.torch = torch
            self.g = torch.from_numpy(g).to("cuda")
        else:
            self.g = g
            self.buf = None

    def scores(self, q: np.ndarray):
        """q @ gallery.T, (len(q), n) float32 (a torch tensor on the GPU)."""
        if self.device == "cuda":
            torch = self.torch
            prev = torch.backends.cuda.matmul.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = False  # exact float32, as on the CPU
            try:
                return torch.from_numpy(q).to("cuda") @ self.g.T
            finally:
                torch.backends.cuda.matmul.allow_tf32 = prev
        if self.buf is None or self.buf.shape[0] < q.shape[0]:
            self.buf = np.empty((q.shape[0], self.n), dtype=np.float32)
        return np.matmul(q, self.g.T, out=self.buf[: q.shape[0]])

    def top(self, block, k: int, exclude=None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top k of each row of ``block``: (values, indices), both (c, k), sorted by
        decreasing value and, among equal values, increasing index. ``exclude`` =
        (rows, cols) entries never returned (the query itself)."""
        n_valid = self.n - (1 if exclude is not None else 0)
        if exclude is not None:
            if self.device == "cuda":
                exclude = tuple(self.torch.from_numpy(e).to("cuda") for e in exclude)
            block[exclude] = -math.inf
        kk = min(k + 1, n_valid)  # one more than needed, to see a tie at the boundary
        if self.device == "cuda":
            v, i = self.torch.topk(block, kk, dim=1, largest=True, sorted=False)
            val, ids = v.cpu().numpy(), i.cpu().numpy()
        else:
            val, ids = _select_cpu(block, kk)
        val, ids = _sort_rows(val, ids)
        if kk > k:
            tied = np.flatnonzero(val[:, k - 1] == val[:, k])
            for r in tied:  # rare: rank the whole row again by (value, index)
                row = block[r].cpu().numpy() if self.device == "cuda" else block[r]
                cand = np.flatnonzero(row >= val[r, k - 1])
                cand = cand[np.lexsort((cand, -row[cand]))[:k]]
                val[r, :k], ids[r, :k] = row[cand], cand
        return val[:, :k], ids[:, :k]


def top_k(
    query_x,
    gallery_x,
    k: int,
    exclude_self: bool = False,
    chunk_size: int | None = None,
    memory_mb: float = DEFAULT_MEMORY_MB,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k gallery items by dot product for each query: (similarities, indices),
    each (n_query, k), best first, equal similarities by increasing gallery index.
    ``exclude_self`` (query i is gallery item i) leaves each query out of its own list.
    The building block of the metrics here, public for benchmarks and tests."""
    q_all = _as_embeddings(query_x, "query_x")
    g = _as_embeddings(gallery_x, "gallery_x")
    if q_all.shape[1] != g.shape[1]:
        raise MetricInputError(
            f"query_x has dimension {q_all.shape[1]} but gallery_x has {g.shape[1]}"
        )
    k = _check_k(k)
    if exclude_self and q_all.shape[0] != g.shape[0]:
        raise MetricInputError("exclude_self needs query_x and gallery_x of the same length")
    if k > g.shape[0] - int(exclude_self):
        raise MetricInputError(f"k={k} is larger than the gallery ({g.shape[0]} items)")
    gal = _Gallery(g, _check_device(device))
    step = _chunk_rows(chunk_size, 4 * g.shape[0] + 24 * k, memory_mb)
    vals = np.empty((q_all.shape[0], k), dtype=np.float32)
    ids = np.empty((q_all.shape[0], k), dtype=np.int64)
    for start in range(0, q_all.shape[0], step):
        q = q_all[start : start + step]
        rows = np.arange(q.shape[0])
        ex = (rows, rows + start) if exclude_self else None
        vals[start : start + len(q)], ids[start : start + len(q)] = gal.top(gal.scores(q), k, ex)
    return vals, ids


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
    device = _check_device(device)

    if metric == "cosine":
        # Rank by q.t / |t| (|q| is constant per query).
        gallery, queries = _unit_rows(train), query
    else:
        # argmin |q - t|^2 == argmax (q.t - |t|^2 / 2): one extra column makes it a
        # single matrix product, [q, 1] . [t, -|t|^2 / 2].
        sq = np.einsum("ij,ij->i", train, train, dtype=np.float64)
        gallery = np.hstack([train, (-0.5 * sq).astype(np.float32)[:, None]])
        queries = np.hstack([query, np.ones((query.shape[0], 1), dtype=np.float32)])
    gal = _Gallery(gallery, device)
    step = _chunk_rows(chunk_size, 4 * train.shape[0], memory_mb)
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
    test = _as_embeddings(test_x, "test_x")
    test_labels = _as_labels(test_y, test.shape[0], "test_y")
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
    device: str,
) -> dict:
    emb = _as_embeddings(x, "x")
    labels = _as_labels(y, emb.shape[0], "y")
    device = _check_device(device)
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

    unit = _unit_rows(emb)
    gal = _Gallery(unit, device)
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
        q_idx = queries[start:stop]
        c = q_idx.shape[0]
        r_chunk = r_q[start:stop]
        kk = min(max(k_max, int(r_chunk.max()) if want_map else 0), n - 1)
        if kk == 0:  # only lone queries for MAP@R and no recall asked
            start = stop
            continue

        _, idx = gal.top(gal.scores(unit[q_idx]), kk, exclude=(np.arange(c), q_idx))
        match = labels[idx] == labels[q_idx][:, None]  # (c, kk) bool
        del idx

        for k in ks:
            hits[k] += int(match[:, :k].any(axis=1).sum())

        if want_map:
            valid = r_chunk > 0
            if valid.any():
                rank = np.arange(1, kk + 1)
                rel = match & (rank[None, :] <= r_chunk[:, None])
                cum = rel.cumsum(axis=1, dtype=np.int32)
                prec_sum = (cum / rank * rel).sum(axis=1)
                ap_sum += float((prec_sum[valid] / r_chunk[valid]).sum())
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
) -> dict[str, float]:
    """Recall@k for each k and MAP@R from one top-K search per query chunk,
    K = max(max(ks), R). Returns ``{"recall@1": ..., "recall@5": ..., "map@r": ...}``."""
    ks = _check_ks(ks)
    res = _retrieval(x, y, ks, True, query_mask, chunk_size, memory_mb, device)
    out = {f"recall@{k}": v for k, v in res["recall"].items()}
    out["map@r"] = res["map_at_r"]
    return out
