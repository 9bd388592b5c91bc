"""Stratified subsets and train/test splits, and the outlier label, for the whole package.

Every random choice takes its seed (or generator) from the caller, so the same inputs always
give the same indices; all functions return sorted index arrays.
"""

from __future__ import annotations

import logging

import numpy as np

from .errors import ConfigError

log = logging.getLogger("dmlstudy.splits")

#: Label of the §3.1 outliers (points drawn from N(0, 15² I) that belong to no class).
OUTLIER = -1


def stratified_subset(y: np.ndarray, n: int | None, seed=0) -> np.ndarray:
    """Sorted indices of a stratified random subset of at most ``n`` of the labels ``y``.

    Each class keeps ``floor(n * N_c / N)`` points, and the points left over go to the
    classes with the largest remainders (ties: the smaller class label), so the class
    proportions are kept to within one point and the size is exactly ``n``. Which points a
    class keeps is decided by a generator seeded with ``seed`` (anything
    ``np.random.default_rng`` accepts). ``n`` None or ``>= len(y)``: all indices."""
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


def stratified_split(
    y: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices; each class puts ``round(n_c * test_fraction)`` (halves
    rounded up) of its points, drawn with ``rng``, in test. ``test_fraction`` 0: all in train."""
    y = np.asarray(y)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(np.floor(len(idx) * test_fraction + 0.5))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    empty = [np.zeros(0, dtype=np.int64)]
    return np.sort(np.concatenate(train or empty)), np.sort(np.concatenate(test or empty))


def sklearn_stratified_split(
    y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices from scikit-learn's ``train_test_split(stratify=y)``.

    The synthetic source has always split with it; it stays so that its data files (and every
    result trained on them) remain bit-identical. ``test_fraction`` 0: all points in train,
    none in test (scikit-learn itself refuses a test size of 0).

    A label with a single point (label noise can leave one) cannot be stratified: it stays
    whole in the training split, with a warning naming it, and the other points are split
    as before. Too few points to put one of each class on both sides is a ``ConfigError``
    naming the numbers and the fix."""
    idx = np.arange(len(y))
    if test_fraction == 0:
        return idx, idx[:0]
    from sklearn.model_selection import train_test_split

    from .errors import ConfigError

    labels, counts = np.unique(y, return_counts=True)
    single = labels[counts == 1]
    if len(single):
        names = ", ".join("-1 (outliers)" if c == OUTLIER else str(c) for c in single)
        log.warning(
            "class %s has a single point: it stays in the training split (a class needs 2 "
            "points to be both trained on and scored, and as the only point of its class it "
            "forms no positive pair). Give every class at least 2 points: raise n_per_class "
            "or lower label_noise.",
            names,
        )
    rest = idx[~np.isin(y, single)]
    try:
        train, test = train_test_split(
            rest, test_size=test_fraction, stratify=y[rest], random_state=seed
        )
    except ValueError as exc:
        n_classes = len(labels) - len(single)
        raise ConfigError(
            f"cannot split {len(rest)} points of {n_classes} classes stratified with "
            f"test_fraction {test_fraction} ({exc}). Raise n_per_class (or test_fraction) so "
            f"that each side holds at least one point of every class, or set "
            f"test_fraction: 0 to train on all points (with evaluation.split: train)."
        ) from None
    return np.sort(np.concatenate([train, idx[np.isin(y, single)]])), np.sort(test)


def class_disjoint_split(
    y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices that share no class: ``round(n_classes * test_fraction)``
    of the classes (at least one on each side), drawn with ``seed``, put all their points in
    test, the metric-learning convention of retrieval on unseen classes (CUB-200, Cars196;
    the reality check trains on half the classes and tests on the other half). Outliers
    (-1) belong to no class: ``round(n_outliers * test_fraction)`` of them, drawn with the
    same generator, go to test. ``test_fraction`` 0: everything in train."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    idx = np.arange(len(y))
    if test_fraction == 0:
        return idx, idx[:0]
    classes = np.unique(y[y != OUTLIER])
    if len(classes) < 2:
        raise ConfigError(
            f"a class-disjoint split needs at least 2 classes (one on each side), got {len(classes)}"
        )
    n_test = int(np.floor(len(classes) * test_fraction + 0.5))
    n_test = min(max(n_test, 1), len(classes) - 1)
    test_classes = rng.permutation(classes)[:n_test]
    outliers = np.flatnonzero(y == OUTLIER)
    n_out = int(np.floor(len(outliers) * test_fraction + 0.5))
    is_test = np.isin(y, test_classes) & (y != OUTLIER)
    is_test[rng.permutation(outliers)[:n_out]] = True
    return idx[~is_test], idx[is_test]


def validation_split(
    y_train: np.ndarray, y_test: np.ndarray, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, str]:
    """Sorted (fit, validation) indices into the training split, and the split's kind.

    - ``"stratified"`` when train and test share classes (classification datasets): each
      class (outliers as one more class) puts ``round(n_c * fraction)`` of its points in
      validation (:func:`stratified_split`).
    - ``"class_disjoint"`` when they share none (retrieval datasets, CUB-200 and Cars196,
      test on unseen classes): ``round(n_classes * fraction)`` of the training classes (at
      least 2, leaving at least 2) go to validation with all their points, as the metric
      learning reality check (Musgrave et al. 2020) does. Outliers stay in fit.

    The same labels, fraction and seed always give the same indices."""
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    rng = np.random.default_rng(seed)
    if validation_kind(y_train, y_test) == "class_disjoint":
        classes = _training_classes(y_train)
        if len(classes) < 4:
            raise ValueError(
                f"a class-disjoint validation split needs at least 4 training classes "
                f"(2 to fit, 2 to validate); the training split has {len(classes)}"
            )
        n_val = int(np.floor(len(classes) * fraction + 0.5))
        n_val = min(max(n_val, 2), len(classes) - 2)
        val_classes = rng.permutation(classes)[:n_val]
        is_val = np.isin(y_train, val_classes)
        return np.flatnonzero(~is_val), np.flatnonzero(is_val), "class_disjoint"
    fit, val = stratified_split(y_train, fraction, rng)
    return fit, val, "stratified"


def validation_kind(y_train: np.ndarray, y_test: np.ndarray) -> str:
    """``"class_disjoint"`` when the test split has classes and shares none with the training
    split (retrieval on unseen classes: CUB-200, Cars196), else ``"stratified"``. Outliers
    (-1) count as no class. The rule of :func:`validation_split` and
    :func:`validation_folds`."""
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    train_classes = set(_training_classes(y_train).tolist())
    test_classes = set(np.unique(y_test[y_test != OUTLIER]).tolist())
    if test_classes and not (train_classes & test_classes):
        return "class_disjoint"
    return "stratified"


def _training_classes(y_train: np.ndarray) -> np.ndarray:
    return np.unique(y_train[y_train != OUTLIER])


def validation_folds(
    y_train: np.ndarray, y_test: np.ndarray, folds: int, fraction: float, seed: int = 0
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """``folds`` divisions of the training split into sorted (fit, validation) indices, and
    their kind (:func:`validation_kind`); the k-fold cross-validation of the metric learning
    reality check (config ``sweeps.folds``).

    - ``folds == 1``: ``[validation_split(y_train, y_test, fraction, seed)]`` exactly (same
      indices), so the single-split protocol and its cached runs are unchanged. ``fraction``
      is used only here; with k > 1 each fold validates on about 1/k of the points.
    - ``"class_disjoint"``: the training classes, shuffled by ``seed``, are cut into k groups
      whose sizes differ by at most one (``np.array_split``); fold i validates on every point
      of group i and fits on the rest. Outliers are never validated on: they are in every
      fold's fit, as in :func:`validation_split`. Needs at least 2 classes per fold.
    - ``"stratified"``: each class, outliers as one more class (as in
      :func:`validation_split`, so every fold's fit keeps the training split's share of
      outliers), is shuffled by ``seed`` and dealt round-robin to the folds, continuing
      from where the previous class (in label order) stopped: a class's count differs by at
      most one across folds, and so does a fold's size. Every point is in exactly one
      validation fold. Needs at least ``folds`` points in every class but the outliers.

    Fold i's validation indices are disjoint from fold j's; fit and validation partition
    the training split. The same labels, folds and seed always give the same indices.
    Too few classes or points for k > 1, or ``folds`` not a positive integer: ``ConfigError``
    naming ``sweeps.folds`` (k = 1 raises what :func:`validation_split` raises)."""
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 1:
        raise ConfigError(f"'sweeps.folds' must be a positive integer, got {folds!r}")
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if folds == 1:
        fit, val, kind = validation_split(y_train, y_test, fraction, seed)
        return [(fit, val)], kind
    kind = validation_kind(y_train, y_test)
    rng = np.random.default_rng(seed)
    fold_of = np.full(len(y_train), -1, dtype=np.int64)  # -1: fit in every fold
    if kind == "class_disjoint":
        classes = _training_classes(y_train)
        if len(classes) < 2 * folds:
            raise ConfigError(
                f"'sweeps.folds' = {folds}: class-disjoint folds need at least 2 training "
                f"classes per fold ({2 * folds}), but the training split has {len(classes)}; "
                "lower sweeps.folds"
            )
        for i, group in enumerate(np.array_split(rng.permutation(classes), folds)):
            fold_of[np.isin(y_train, group)] = i
    else:
        classes, counts = np.unique(y_train, return_counts=True)
        small = [(int(c), int(n)) for c, n in zip(classes, counts, strict=True) if c != OUTLIER]
        small = [(c, n) for c, n in small if n < folds]
        if small:
            c, n = small[0]
            raise ConfigError(
                f"'sweeps.folds' = {folds}: stratified folds need at least {folds} training "
                f"points in every class, but class {c} has {n}"
                + (f" ({len(small)} classes have too few)" if len(small) > 1 else "")
                + "; lower sweeps.folds"
            )
        start = 0
        for c in classes:
            idx = rng.permutation(np.flatnonzero(y_train == c))
            fold_of[idx] = (start + np.arange(len(idx))) % folds
            start = (start + len(idx)) % folds
    out = [(np.flatnonzero(fold_of != i), np.flatnonzero(fold_of == i)) for i in range(folds)]
    return out, kind


def validation_fold(
    y_train: np.ndarray,
    y_test: np.ndarray,
    fold: int,
    folds: int,
    fraction: float,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Sorted (fit, validation) indices of fold ``fold`` (0-based) of
    :func:`validation_folds`, and the kind: what one tuning run carves. ``folds == 1,
    fold == 0`` is :func:`validation_split`."""
    all_folds, kind = validation_folds(y_train, y_test, folds, fraction, seed)
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or not 0 <= fold < folds:
        raise ValueError(f"fold must be an integer in [0, {folds}), got {fold!r}")
    fit, val = all_folds[fold]
    return fit, val, kind
