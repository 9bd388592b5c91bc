"""Embedding geometry: rank, alignment/uniformity, collapse, spectrum.

numpy/scipy only (no torch), float64 throughout, deterministic. Every function takes an
embedding matrix ``z`` of shape (N, D); those that need classes take labels ``y`` (N,).
The per-metric functions use every row they are given; :func:`embedding_geometry`, the entry
point for ``metrics.json``, first drops outliers (label ``OUTLIER`` = -1).

Conventions (each function's docstring gives its source and formula):

* ``effective_rank`` is Roy & Vetterli's effective rank of the embedding **covariance**:
  its eigenvalues, i.e. the squared singular values of the *centred* embeddings.
* ``rankme`` is RankMe (Garrido et al. 2023): the same entropy, but of the singular values
  (not squared) of the *uncentred* embedding matrix, with their epsilon.
* ``spectral_decay`` and :func:`singular_values` / :func:`spectrum` use the singular values of
  the uncentred embedding matrix, as Roth et al.'s code does.

Mathematically undefined values come back as NaN (never an exception); malformed input
(wrong shapes, non-finite values, no rows) raises ``ValueError``:

* all-zero spectrum (every row equal for the centred readings, every row zero for the
  uncentred ones): ``effective_rank``, ``rankme``, ``spectral_decay`` are NaN;
* fewer than two rows: ``uniformity`` is NaN; no same-label pair (every class a single
  point): ``alignment`` is NaN;
* fewer than two classes: ``nc1`` and ``cdnv`` are NaN; all class means equal
  (between-class scatter zero): ``nc1`` is NaN;
* two classes with the same mean: their CDNV term is +inf (0/0, i.e. both classes are the
  same single point, is NaN), and so is the average;
* an exactly zero singular value makes ``spectral_decay`` +inf (KL against a zero mass).

"Zero" means zero up to float64 rounding: singular values, squared distances and variances
within a few ulps of the data's largest entry count as exactly 0, so identical points give
NaN/0 as above rather than rounding noise divided by rounding noise.

Classes with one point are allowed: they have zero (population) variance in ``nc1`` and
``cdnv`` and contribute no positive pair to ``alignment``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from .metrics import class_centroids
from .neighbours import as_embeddings
from .splits import OUTLIER

# Rows of one block of pairwise distances: the block holds at most this many float64s
# (about 32 MB), so a (10,000 x 10,000) distance matrix is never held at once.
_BLOCK_ELEMENTS = 4_000_000

RANKME_EPS = 1e-7


# ---------------------------------------------------------------- input checks, helpers


def _as_embeddings(z) -> np.ndarray:
    return as_embeddings(z, "embeddings", dtype=np.float64)


def _as_labelled(z, y) -> tuple[np.ndarray, np.ndarray]:
    z = _as_embeddings(z)
    y = np.asarray(y)
    if y.shape != (z.shape[0],):
        raise ValueError(
            f"labels must have shape ({z.shape[0]},) to match embeddings, got {y.shape}"
        )
    return z, y


def _rounding(z: np.ndarray) -> float:
    """Size of float64 rounding in one entry derived from ``z`` (a few ulps of its largest
    entry): differences, means and singular values at or below this (times the square root
    of the number of entries involved) are rounding noise and count as exactly zero."""
    return 8.0 * np.finfo(np.float64).eps * float(np.max(np.abs(z)))


def _svdvals(z: np.ndarray, center: bool) -> np.ndarray:
    """Singular values of ``z`` (centred by column means if ``center``), descending; all
    zeros if the largest is rounding noise (e.g. identical rows, centred)."""
    floor = _rounding(z) * math.sqrt(z.size)
    if center:
        z = z - z.mean(axis=0)
    s = np.linalg.svd(z, compute_uv=False)
    return s if s[0] > floor else np.zeros_like(s)


def _entropy_rank(values: np.ndarray, eps: float = 0.0) -> float:
    """exp of the Shannon entropy of p = values / sum(values) + eps (0 log 0 = 0)."""
    total = values.sum()
    if not total > 0:
        return math.nan
    p = values / total + eps
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def _kl_uniform(s: np.ndarray) -> float:
    """KL(U || s / sum(s)) for the discrete uniform U over the len(s) entries."""
    total = s.sum()
    if not total > 0:
        return math.nan
    q = s / total
    if (q <= 0).any():
        return math.inf
    k = len(q)
    return float(np.mean(np.log((1.0 / k) / q)))


def _block_rows(n: int, chunk_size: int | None) -> int:
    if chunk_size is None:
        return max(1, _BLOCK_ELEMENTS // max(n, 1))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of rows, got {chunk_size}")
    return chunk_size


def _pair_reduce(z: np.ndarray, chunk_size: int | None, fn: Callable[[np.ndarray], float]):
    """``fn`` applied to the squared Euclidean distances of all unordered pairs i < j of
    rows, block by block; returns the list of ``fn`` results in a fixed order.

    Distances are exact up to float64 rounding: ||a||^2 + ||b||^2 - 2 a.b, clipped at 0.
    A block is rows [s, e) against rows [s, N): its strict upper triangle (a small copy)
    and its rectangle of columns [e, N) (a view) go to ``fn`` separately, which may
    overwrite its argument. Memory is O(chunk_size * N), never O(N^2)."""
    n = z.shape[0]
    sq = np.einsum("ij,ij->i", z, z)
    rows = _block_rows(n, chunk_size)
    out = []
    for s in range(0, n - 1, rows):
        e = min(s + rows, n)
        d2 = z[s:e] @ z[s:].T
        d2 *= -2.0
        d2 += sq[s:e, None]
        d2 += sq[None, s:]
        np.maximum(d2, 0.0, out=d2)
        w = e - s
        out.append(fn(d2[:, :w][np.triu_indices(w, k=1)]))
        if e < n:
            out.append(fn(d2[:, w:]))
    return out


def _class_stats(z: np.ndarray, y: np.ndarray):
    """Classes, counts, class means (C, D), the class-centred rows (N, D), class index."""
    classes, means, counts, inverse, _ = class_centroids(z, y, include_outliers=True)
    return classes, counts, means, z - means[inverse], inverse


# ---------------------------------------------------------------- spectrum and rank


def singular_values(z, center: bool = False) -> np.ndarray:
    """Normalised singular-value spectrum of the embeddings, sorted descending, summing to 1.

    ``sigma_k / sum_j sigma_j`` for the min(N, D) singular values of the embedding matrix
    (uncentred by default, as in Roth et al. 2020's ``metrics/rho_spectrum.py`` with
    ``rho_spectrum@0``; ``center=True`` centres the columns first, which gives the
    square roots of the covariance spectrum of Jing et al. 2022's collapse plots). This is
    the distribution whose KL divergence from uniform is :func:`spectral_decay`. All zeros
    (a zero matrix) gives an array of NaN."""
    s = _svdvals(_as_embeddings(z), center)
    total = s.sum()
    return s / total if total > 0 else np.full_like(s, math.nan)


def spectrum(z, k: int | None = None) -> list[float]:
    """The first ``k`` (all if None) values of :func:`singular_values` as JSON-ready floats."""
    if k is not None and k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    return [float(v) for v in singular_values(z)[:k]]


def effective_rank(z) -> float:
    """Effective rank of the embedding covariance (Roy & Vetterli 2007).

    Roy, O. & Vetterli, M., "The effective rank: a measure of effective dimensionality",
    EUSIPCO 2007: for a matrix A with singular values sigma_k, p_k = sigma_k / ||sigma||_1
    and erank(A) = exp(-sum_k p_k log p_k) (0 log 0 = 0), a value in [1, rank(A)].

    Here A is the sample covariance Sigma = Zc^T Zc / (N - 1) of the centred embeddings Zc,
    whose singular values are its eigenvalues lambda_k = s_k^2 / (N - 1), s_k the singular
    values of Zc; the 1/(N - 1) cancels in p, so p_k = s_k^2 / sum_j s_j^2. It is computed
    from the SVD of Zc (not by forming Sigma). Isotropic data in D dimensions gives ~D,
    data on a line gives 1. NaN if every row is the same point (zero covariance)."""
    s = _svdvals(_as_embeddings(z), center=True)
    return _entropy_rank(s**2)


def rankme(z, eps: float = RANKME_EPS) -> float:
    """RankMe (Garrido, Balestriero, Najman & LeCun, ICML 2023).

    RankMe(Z) = exp(-sum_k p_k log p_k), p_k = sigma_k / ||sigma||_1 + eps, where sigma_k
    are the singular values of the embedding matrix Z itself (uncentred, not squared; the
    paper's eps, default 1e-7, guards log 0 and is added after normalising, so p sums to
    slightly more than 1). Unlike :func:`effective_rank`, the mean embedding counts as a
    direction: for L2-normalised embeddings it is typically the largest singular value.
    NaN for a zero matrix."""
    s = _svdvals(_as_embeddings(z), center=False)
    return _entropy_rank(s, eps=eps)


def spectral_decay(z, skip: int = 0) -> float:
    """Spectral decay rho of the embeddings (Roth et al., ICML 2020).

    Roth, Milbich, Sinha, Gupta, Ommer & Cohen, "Revisiting Training Strategies and
    Generalization Performance in Deep Metric Learning" (arXiv:2002.08473):
    rho(Phi) = KL(U || S_Phi), with U the discrete uniform distribution and S_Phi the
    sorted, sum-normalised singular value spectrum of the embedding matrix, i.e.
    rho = sum_k (1/K) log((1/K) / q_k), q_k = sigma_k / sum_j sigma_j. Higher means
    fewer directions carry the embedding (stronger compression); 0 means a flat spectrum.

    Definition as in their code, ``metrics/rho_spectrum.py`` (GitHub Confusezius/
    Revisiting_Deep_Metric_Learning_PyTorch at 3883ff4, metric ``rho_spectrum@1``; the
    paper's text was not checked here): singular values of
    the uncentred embeddings, normalised by their sum, ``scipy.stats.entropy(uniform, s)``.
    Their ``rho_spectrum@k`` drops the k-1 largest values first: ``skip`` = k-1 here.
    Differences from that code: all K = min(N, D) singular values from an exact SVD (their
    numpy path uses sklearn's TruncatedSVD with D-1 components, which drops the smallest;
    their torch path, ``torch.svd``, keeps all of them, as here).
    +inf if a singular value is exactly 0, NaN for a zero matrix."""
    if skip < 0:
        raise ValueError(f"skip must be non-negative, got {skip}")
    s = _svdvals(_as_embeddings(z), center=False)
    if skip >= len(s):
        raise ValueError(f"skip={skip} leaves no singular values (there are {len(s)})")
    return _kl_uniform(s[skip:])


# ---------------------------------------------------------------- alignment and uniformity


def alignment(z, y, alpha: float = 2.0, chunk_size: int | None = None) -> float:
    """Alignment of Wang & Isola (ICML 2020), over all same-label pairs.

    Wang, T. & Isola, P., "Understanding Contrastive Representation Learning through
    Alignment and Uniformity on the Hypersphere", ICML 2020; reference code
    ssnl/align_uniform ``align_loss``: L_align = E_{(x, y) ~ p_pos} ||f(x) - f(y)||_2^alpha,
    alpha = 2. Positive pairs here are all unordered pairs i < j of distinct points with
    the same label, each pair weighted equally (large classes weigh more). Lower is better
    aligned; 0 when every class collapses to a point. The embeddings are used as given
    (their reference assumes L2-normalised features, as this project's models produce).

    Exact, computed in blocks of ``chunk_size`` rows (default: about 32 MB per block).
    All labels in ``y`` are classes here; :func:`embedding_geometry` removes outliers
    first. NaN if no class has two points."""
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    z, y = _as_labelled(z, y)

    def power_sum(d2: np.ndarray) -> float:
        return float(np.sum(d2 if alpha == 2 else d2 ** (alpha / 2.0)))

    total, pairs = 0.0, 0
    for c in np.unique(y):
        zc = z[y == c]
        total += math.fsum(_pair_reduce(zc, chunk_size, power_sum))
        pairs += len(zc) * (len(zc) - 1) // 2
    return total / pairs if pairs else math.nan


def uniformity(z, t: float = 2.0, chunk_size: int | None = None) -> float:
    """Uniformity of Wang & Isola (ICML 2020), over all pairs of distinct points.

    Wang & Isola 2020 (see :func:`alignment`); reference code ssnl/align_uniform
    ``uniform_loss``: L_uniform = log E_{x, y ~ p_data} exp(-t ||f(x) - f(y)||_2^2), t = 2,
    the expectation over all unordered pairs i < j (as ``torch.pdist`` there). Lower (more
    negative) is more uniform; for L2-normalised embeddings it lies in [-4t, 0], 0 when
    all points coincide. Labels play no part.

    Exact and memory-bounded: blocks of ``chunk_size`` rows of the pairwise distances, each
    reduced by log-sum-exp (no underflow), combined in a fixed order. NaN if N < 2."""
    if not t > 0:
        raise ValueError(f"t must be positive, got {t}")
    z = _as_embeddings(z)
    n = z.shape[0]
    if n < 2:
        return math.nan

    def log_sum_exp(d2: np.ndarray) -> float:
        # log sum exp(-t d2), shifted by the largest term so that nothing underflows
        if d2.size == 0:
            return -math.inf
        shift = -t * float(d2.min())
        d2 *= -t
        d2 -= shift
        np.exp(d2, out=d2)
        return shift + math.log(float(d2.sum()))

    parts = _pair_reduce(z, chunk_size, log_sum_exp)
    return float(logsumexp(parts) - math.log(n * (n - 1) / 2))


# ---------------------------------------------------------------- within-class collapse


def nc1(z, y) -> float:
    """Neural-collapse NC1 = tr(Sigma_W Sigma_B^+) / C (Papyan, Han & Donoho, PNAS 2020).

    "Prevalence of neural collapse during the terminal phase of deep learning training",
    (the quantity of their Fig. 6): Sigma_W = (1/N) sum_i (z_i - mu_{y_i})(z_i - mu_{y_i})^T (within-class
    covariance, averaged over all points), Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T
    (between-class covariance of the C class means about the global mean mu_G of all
    points), ^+ the Moore-Penrose pseudo-inverse. Lower means more collapsed; 0 when every
    class is a single point.

    Computed without D x D inverses: with M = (mu_c - mu_G) (C x D) = U S V^T, Sigma_B^+ =
    C V S^-2 V^T over the singular values above max(C, D) * eps * s_max (numpy's
    matrix_rank tolerance), so NC1 = sum_r ||W v_r||^2 / (N s_r^2), W the class-centred
    rows. NaN with fewer than two classes or if all class means coincide."""
    z, y = _as_labelled(z, y)
    classes, _, means, within, _ = _class_stats(z, y)
    if len(classes) < 2:
        return math.nan
    m = means - z.mean(axis=0)
    _, s, vt = np.linalg.svd(m, full_matrices=False)
    if not s[0] > _rounding(z) * math.sqrt(m.size):
        return math.nan
    keep = s > s[0] * max(m.shape) * np.finfo(np.float64).eps
    proj = within @ vt[keep].T  # (N, r): W v_r
    return float(np.sum(np.sum(proj**2, axis=0) / (z.shape[0] * s[keep] ** 2)))


def cdnv(z, y) -> float:
    """Class-distance normalised variance, averaged over class pairs (Galanti et al. 2022).

    Galanti, György & Hutter, "On the Role of Neural Collapse in Transfer Learning",
    ICLR 2022: V(Q_i, Q_j) = (Var(Q_i) + Var(Q_j)) / (2 ||mu_i - mu_j||_2^2),
    Var(Q) = E_{x ~ Q} ||f(x) - mu_Q||^2 (total variance, here the population mean over the
    class's points, so a one-point class has variance 0); reported is the average over all
    unordered class pairs i < j. Lower means more collapsed. NaN with fewer than two
    classes; a pair with equal means gives +inf (NaN if both variances are 0 as well)."""
    z, y = _as_labelled(z, y)
    classes, counts, means, within, inverse = _class_stats(z, y)
    c = len(classes)
    if c < 2:
        return math.nan
    noise = _rounding(z) ** 2 * z.shape[1]
    var = np.bincount(inverse, weights=np.einsum("ij,ij->i", within, within)) / counts
    var[var <= noise] = 0.0
    terms = []
    for i in range(c - 1):
        dist2 = np.sum((means[i + 1 :] - means[i]) ** 2, axis=1)
        dist2[dist2 <= noise] = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            terms.append((var[i] + var[i + 1 :]) / (2.0 * dist2))
    return float(np.mean(np.concatenate(terms)))


# ---------------------------------------------------------------- entry point

GEOMETRY_KEYS = (
    "effective_rank",
    "rankme",
    "spectral_decay",
    "alignment",
    "uniformity",
    "nc1",
    "cdnv",
)


def embedding_geometry(z, y, chunk_size: int | None = None) -> dict[str, float]:
    """All geometry metrics of one embedding set, outliers (label -1) removed first.

    Returns a flat dict with the keys of ``GEOMETRY_KEYS``, each a Python float (NaN or
    inf where the docstrings above say so):
    ``effective_rank`` (:func:`effective_rank`, covariance eigenvalues), ``rankme``
    (:func:`rankme`, singular values of the uncentred matrix + 1e-7), ``spectral_decay``
    (:func:`spectral_decay`, skip=0), ``alignment`` (:func:`alignment`, alpha=2, all
    same-label pairs), ``uniformity`` (:func:`uniformity`, t=2, all pairs), ``nc1``
    (:func:`nc1`) and ``cdnv`` (:func:`cdnv`). Each SVD is computed once. Raises
    ValueError if no non-outlier point is left."""
    z, y = _as_labelled(z, y)
    keep = y != OUTLIER
    if not keep.any():
        raise ValueError("no embeddings left after removing outliers (label -1)")
    z, y = z[keep], y[keep]
    s_centred = _svdvals(z, center=True)
    s_raw = _svdvals(z, center=False)
    return {
        "effective_rank": _entropy_rank(s_centred**2),
        "rankme": _entropy_rank(s_raw, eps=RANKME_EPS),
        "spectral_decay": _kl_uniform(s_raw),
        "alignment": alignment(z, y, chunk_size=chunk_size),
        "uniformity": uniformity(z, chunk_size=chunk_size),
        "nc1": nc1(z, y),
        "cdnv": cdnv(z, y),
    }
