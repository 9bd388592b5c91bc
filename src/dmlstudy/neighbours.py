"""Exact nearest-neighbour search on embeddings: the ranking every metric of
:mod:`dmlstudy.retrieval` is computed from.

Numpy arrays in, numpy arrays out; importing this module imports numpy only (no torch).
The search is exact brute force in float32: one BLAS product per query chunk (numpy), then
the top k of the block by faiss' heap (``faiss-cpu``; numpy's introselect when faiss is
missing or K is large, same result). ``device="cuda"`` (asked for explicitly, and only with
a GPU) runs the blocks through torch, imported then. The caller owns the thread count
(``threadpoolctl.threadpool_limits`` covers numpy's BLAS and faiss' OpenMP).

**Exact ties** in similarity (or distance) rank by gallery index, lower first, on every
path: the selection takes one neighbour more than needed, and a row where that one ties
with the last kept is ranked again from its block by (value, index).

Memory: the gallery is held once (float32, on its device); callers split queries into
chunks with :func:`chunk_rows` so that a chunk's similarity block and its top-K block fit
in about ``memory_mb`` (256 MB), or ``chunk_size`` queries when given.

Also here: the input checks shared by the metrics (:class:`MetricInputError`,
:func:`as_embeddings`, :func:`as_labels`, :func:`check_k`, :func:`check_device`).
"""

from __future__ import annotations

import math

import numpy as np

from .errors import DmlStudyError

__all__ = [
    "DEFAULT_MEMORY_MB",
    "DEVICES",
    "Gallery",
    "MetricInputError",
    "as_embeddings",
    "as_labels",
    "check_device",
    "check_k",
    "chunk_rows",
    "top_k",
    "unit_rows",
]

DEFAULT_MEMORY_MB = 256
DEVICES = ("cpu", "cuda")


class MetricInputError(DmlStudyError, ValueError):
    """Inputs to a metric are invalid (shape, NaN, k too large). A ``ValueError``."""


# --------------------------------------------------------------------------- validation


def as_embeddings(x, name: str = "embeddings", dtype=np.float32) -> np.ndarray:
    """``x`` as a C-contiguous ``dtype`` (n, dim) array (float32 for the search, float64
    for the geometry's spectra); :class:`MetricInputError` (a ``ValueError``) naming
    ``name`` if it is not 2-D, empty (at least one row and column), numeric or finite: the
    one check of embeddings every metric module uses."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise MetricInputError(f"{name}: expected a 2-D array (n, dim), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MetricInputError(
            f"{name}: empty array of shape {arr.shape}; need at least one row and column"
        )
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise MetricInputError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
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


def as_labels(y, n: int, name: str) -> np.ndarray:
    """``y`` as an int64 array of ``n`` labels; :class:`MetricInputError` otherwise."""
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


def check_k(k, name: str = "k") -> int:
    """``k`` as an int if it is a positive integer (not a bool), else an error naming it."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise MetricInputError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


def check_device(device: str) -> str:
    """``device`` if it is one of :data:`DEVICES`."""
    if device not in DEVICES:
        raise MetricInputError(f"device must be one of {DEVICES}, got {device!r}")
    return device


def chunk_rows(chunk_size, bytes_per_row: int, memory_mb: float) -> int:
    """Queries per chunk: ``chunk_size`` when given, else as many rows of
    ``bytes_per_row`` as fit in ``memory_mb`` (at least 1)."""
    if chunk_size is not None:
        return check_k(chunk_size, "chunk_size")
    if memory_mb <= 0:
        raise MetricInputError(f"memory_mb must be positive, got {memory_mb!r}")
    return max(1, int(memory_mb * 2**20 // max(bytes_per_row, 1)))


def unit_rows(x: np.ndarray) -> np.ndarray:
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


class Gallery:
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
    q_all = as_embeddings(query_x, "query_x")
    g = as_embeddings(gallery_x, "gallery_x")
    if q_all.shape[1] != g.shape[1]:
        raise MetricInputError(
            f"query_x has dimension {q_all.shape[1]} but gallery_x has {g.shape[1]}"
        )
    k = check_k(k)
    if exclude_self and q_all.shape[0] != g.shape[0]:
        raise MetricInputError("exclude_self needs query_x and gallery_x of the same length")
    if k > g.shape[0] - int(exclude_self):
        raise MetricInputError(f"k={k} is larger than the gallery ({g.shape[0]} items)")
    gal = Gallery(g, check_device(device))
    step = chunk_rows(chunk_size, 4 * g.shape[0] + 24 * k, memory_mb)
    vals = np.empty((q_all.shape[0], k), dtype=np.float32)
    ids = np.empty((q_all.shape[0], k), dtype=np.int64)
    for start in range(0, q_all.shape[0], step):
        q = q_all[start : start + step]
        rows = np.arange(q.shape[0])
        ex = (rows, rows + start) if exclude_self else None
        vals[start : start + len(q)], ids[start : start + len(q)] = gal.top(gal.scores(q), k, ex)
    return vals, ids
