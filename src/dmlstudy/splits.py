"""Labels and stratified subsets shared by every stage: the outlier label and the one
stratified subsampler (diagnostic points, training caps)."""

from __future__ import annotations

import numpy as np

#: Label of the synthetic outliers (§3.1): never a class of its own unless a config says so.
OUTLIER = -1


def stratified_subset(y: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of a stratified random subset of at most ``n`` of the labels ``y``.

    Each class keeps ``floor(n * N_c / N)`` points, and the points left over go to the
    classes with the largest remainders (ties: the smaller class label), so the class
    proportions are kept to within one point and the size is exactly ``n``. Which points a
    class keeps is decided by a generator seeded with ``seed``. ``n`` None or ``>= len(y)``:
    all indices."""
    y = np.asarray(y)
    if n is None or n >= len(y):
        return np.arange(len(y))
    if n < 1:
        raise ValueError(f"subset size must be at least 1, got {n}")
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    exact = n * counts / len(y)
    take = np.floor(exact).astype(np.int64)
    extra = n - int(take.sum())
    take[np.argsort(-(exact - take), kind="stable")[:extra]] += 1
    order = np.random.default_rng(seed).permutation(len(y))
    order = order[np.argsort(inverse[order], kind="stable")]  # grouped by class, random within
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    keep = np.concatenate([order[s : s + t] for s, t in zip(starts, take, strict=True)])
    return np.sort(keep)
