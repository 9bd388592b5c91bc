"""Stratified subsets and splits (dmlstudy.splits)."""

import numpy as np
import pytest

from dmlstudy.splits import stratified_split, stratified_subset


@pytest.mark.parametrize("n", [1, 7, 100, 999])
def test_stratified_subset_invariants(n):
    y = np.repeat(np.array([5, -1, 0, 3]), [500, 30, 270, 200])  # 1,000 points, unsorted labels
    np.random.default_rng(0).shuffle(y)
    keep = stratified_subset(y, n, seed=3)
    assert len(keep) == n and len(np.unique(keep)) == n
    assert np.all(np.diff(keep) > 0) and keep.min() >= 0 and keep.max() < len(y)
    for c in np.unique(y):  # each class within one point of its share
        assert abs((y[keep] == c).sum() - n * (y == c).mean()) < 1
    assert np.array_equal(keep, stratified_subset(y, n, seed=3))  # seeded
    if n > 1:
        assert not np.array_equal(keep, stratified_subset(y, n, seed=4))


def test_stratified_subset_all_points():
    y = np.array([1, 1, 2])
    assert np.array_equal(stratified_subset(y, None), [0, 1, 2])
    assert np.array_equal(stratified_subset(y, 3), [0, 1, 2])
    assert np.array_equal(stratified_subset(y, 50), [0, 1, 2])


def test_stratified_split_helper_is_seeded():
    y = np.repeat(np.arange(3), [7, 11, 13])
    tr1, te1 = stratified_split(y, 0.25, np.random.default_rng(4))
    tr2, te2 = stratified_split(y, 0.25, np.random.default_rng(4))
    np.testing.assert_array_equal(te1, te2)
    assert sorted(np.concatenate([tr1, te1]).tolist()) == list(range(len(y)))
    counts = np.bincount(y[te1])
    assert np.all(np.abs(counts - 0.25 * np.array([7, 11, 13])) <= 1)


# --------------------------------------------------------------------------- validation split
def _labels():
    rng = np.random.default_rng(3)
    return np.concatenate([np.repeat(np.arange(6), [30, 20, 25, 40, 15, 10]), [-1] * 12])[
        rng.permutation(152)
    ]


def test_stratified_validation_split_partitions_each_class():
    from dmlstudy.splits import validation_split

    y = _labels()
    fit, val, kind = validation_split(y, np.arange(6), 0.2, seed=0)
    assert kind == "stratified"
    assert np.array_equal(np.sort(np.concatenate([fit, val])), np.arange(len(y)))
    assert not set(fit) & set(val)
    for c in np.unique(y):
        n_c = int((y == c).sum())
        assert int((y[val] == c).sum()) == int(np.floor(n_c * 0.2 + 0.5)), c
    again = validation_split(y, np.arange(6), 0.2, seed=0)
    assert np.array_equal(again[1], val)
    assert not np.array_equal(validation_split(y, np.arange(6), 0.2, seed=1)[1], val)


def test_class_disjoint_validation_split_holds_out_whole_classes():
    from dmlstudy.splits import validation_split

    y = _labels()
    fit, val, kind = validation_split(y, np.array([10, 11, 12]), 0.34, seed=0)
    assert kind == "class_disjoint"
    assert np.array_equal(np.sort(np.concatenate([fit, val])), np.arange(len(y)))
    held = set(y[val].tolist())
    assert len(held) == 2 and -1 not in held  # round(6 * 0.34) = 2 classes; outliers fit
    assert not held & set(y[fit].tolist())
    for c in held:  # every point of a held-out class is in validation
        assert int((y[val] == c).sum()) == int((y == c).sum())
    # at least 2 classes each side, whatever the fraction
    assert len(set(y[validation_split(y, np.array([10]), 0.01)[1]].tolist())) == 2
    assert len(set(y[validation_split(y, np.array([10]), 0.99)[0]].tolist()) - {-1}) == 2


def test_class_disjoint_validation_split_needs_four_classes():
    from dmlstudy.splits import validation_split

    with pytest.raises(ValueError, match="at least 4 training classes"):
        validation_split(np.array([0, 0, 1, 1, 2, 2]), np.array([5, 6]), 0.5)


# --------------------------------------------------------------------------- k folds
def _split_before_folds(y_train, y_test, fraction, seed=0):
    """validation_split as it was before sweeps.folds existed (main, 2026-12-06), verbatim:
    k = 1 must reproduce it, so the tuning runs already computed keep their splits."""
    from dmlstudy.splits import OUTLIER, stratified_split

    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    rng = np.random.default_rng(seed)
    train_classes = set(np.unique(y_train[y_train != OUTLIER]).tolist())
    test_classes = set(np.unique(y_test[y_test != OUTLIER]).tolist())
    if test_classes and not (train_classes & test_classes):
        classes = np.array(sorted(train_classes))
        n_val = int(np.floor(len(classes) * fraction + 0.5))
        n_val = min(max(n_val, 2), len(classes) - 2)
        val_classes = rng.permutation(classes)[:n_val]
        is_val = np.isin(y_train, val_classes)
        return np.flatnonzero(~is_val), np.flatnonzero(is_val), "class_disjoint"
    fit, val = stratified_split(y_train, fraction, rng)
    return fit, val, "stratified"


def _many_classes(n_classes=11, seed=5):
    """Unequal classes (3 to 17 points), 9 outliers, shuffled."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.repeat(np.arange(n_classes), rng.integers(4, 18, n_classes)), [-1] * 9])
    return y[rng.permutation(len(y))]


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("fraction", [0.2, 0.34, 0.5])
@pytest.mark.parametrize("test_labels", [np.arange(6), np.array([10, 11, 12])])
def test_one_fold_is_todays_validation_split(seed, fraction, test_labels):
    from dmlstudy.splits import validation_fold, validation_folds, validation_split

    y = _labels()
    want = _split_before_folds(y, test_labels, fraction, seed)
    folds, kind = validation_folds(y, test_labels, 1, fraction, seed)
    assert kind == want[2] and len(folds) == 1
    np.testing.assert_array_equal(folds[0][0], want[0])
    np.testing.assert_array_equal(folds[0][1], want[1])
    for got in (
        validation_split(y, test_labels, fraction, seed),
        validation_fold(y, test_labels, 0, 1, fraction, seed),
    ):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[2] == want[2]


def _check_partition(y, folds):
    """Fit and validation partition the training split in every fold; validation folds are
    pairwise disjoint. Returns how many validation folds each point is in."""
    seen = np.zeros(len(y), dtype=np.int64)
    for fit, val in folds:
        assert np.all(np.diff(fit) > 0) and np.all(np.diff(val) > 0)  # sorted, unique
        np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), np.arange(len(y)))
        seen[val] += 1
    return seen


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 3])
def test_class_disjoint_folds(k, seed):
    from dmlstudy.splits import validation_folds

    y = _many_classes()
    folds, kind = validation_folds(y, np.array([50, 51]), k, 0.2, seed)
    assert kind == "class_disjoint" and len(folds) == k
    seen = _check_partition(y, folds)
    assert np.all(seen[y != -1] == 1)  # every class point in exactly one validation fold
    assert np.all(seen[y == -1] == 0)  # outliers are fitted on in every fold
    held = [set(y[val].tolist()) for _, val in folds]
    for i, classes in enumerate(held):
        assert -1 not in classes
        assert not classes & set(y[folds[i][0]].tolist())  # whole classes held out
        for j in range(i):
            assert not classes & held[j]
    assert set().union(*held) == set(range(11))
    assert max(map(len, held)) - min(map(len, held)) <= 1  # 11 classes: 4/4/3, 3/3/3/2, ...
    again, _ = validation_folds(y, np.array([50, 51]), k, 0.2, seed)
    for (f1, v1), (f2, v2) in zip(folds, again, strict=True):
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(v1, v2)
    other, _ = validation_folds(y, np.array([50, 51]), k, 0.2, seed + 1)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(folds, other, strict=True))


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 3])
def test_stratified_folds(k, seed):
    from dmlstudy.splits import validation_fold, validation_folds

    y = _many_classes()
    folds, kind = validation_folds(y, np.arange(11), k, 0.2, seed)
    assert kind == "stratified" and len(folds) == k
    seen = _check_partition(y, folds)
    assert np.all(seen == 1)  # every point, outliers included, in exactly one fold
    for c in np.unique(y):
        counts = [int((y[val] == c).sum()) for _, val in folds]
        assert max(counts) - min(counts) <= 1, (c, counts)
        assert sum(counts) == int((y == c).sum())
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= 1
    for i in range(k):  # one fold on its own is the same fold
        fit, val, kind1 = validation_fold(y, np.arange(11), i, k, 0.2, seed)
        np.testing.assert_array_equal(val, folds[i][1])
        np.testing.assert_array_equal(fit, folds[i][0])
        assert kind1 == "stratified"
    again, _ = validation_folds(y, np.arange(11), k, 0.2, seed)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    other, _ = validation_folds(y, np.arange(11), k, 0.2, seed + 1)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(folds, other, strict=True))


def test_stratified_folds_by_hand():
    from dmlstudy.splits import validation_folds

    # class 0: 5 points, class 1: 3 points; 2 folds. Dealt round-robin: class 0 gives
    # folds 0,1,0,1,0 (3 and 2), class 1 continues at fold 1: 1,0,1 (1 and 2). Sizes 4 / 4.
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    folds, _ = validation_folds(y, np.array([0, 1]), 2, 0.5, seed=0)
    assert [int((y[v] == 0).sum()) for _, v in folds] == [3, 2]
    assert [int((y[v] == 1).sum()) for _, v in folds] == [1, 2]


def test_fold_errors_name_the_key():
    from dmlstudy.errors import ConfigError
    from dmlstudy.splits import validation_fold, validation_folds

    y = _many_classes(n_classes=7)  # 7 classes: 3 class-disjoint folds of >= 2 classes
    assert len(validation_folds(y, np.array([50]), 3, 0.2)[0]) == 3
    with pytest.raises(
        ConfigError,
        match=r"'sweeps.folds' = 4: .*at least 2 training classes "
        r"per fold \(8\), but the training split has 7",
    ):
        validation_folds(y, np.array([50]), 4, 0.2)
    y = np.array([0] * 5 + [1] * 3 + [2] * 9 + [-1])  # the lone outlier does not count
    assert len(validation_folds(y, np.array([0]), 3, 0.2)[0]) == 3
    with pytest.raises(ConfigError, match=r"'sweeps.folds' = 4: .*class 1 has 3; lower"):
        validation_folds(y, np.array([0]), 4, 0.2)
    with pytest.raises(ConfigError, match=r"class 0 has 5 \(2 classes have too few\)"):
        validation_folds(y, np.array([0]), 6, 0.2)
    for bad in (0, -2, 2.0, True, "4"):
        with pytest.raises(ConfigError, match="'sweeps.folds' must be a positive integer"):
            validation_folds(y, np.array([0]), bad, 0.2)
    with pytest.raises(ValueError, match=r"fold must be an integer in \[0, 3\)"):
        validation_fold(y, np.array([0]), 3, 3, 0.2)


# --------------------------------------------------------------------------- bad inputs: tiny classes
def test_sklearn_split_keeps_a_one_point_class_in_train_with_a_warning(caplog):
    """scikit-learn refuses to stratify a class of one point; that class stays whole in the
    training split (it cannot be both trained on and scored), named in a warning, and the
    other classes are split as before."""
    from dmlstudy.splits import sklearn_stratified_split

    y = np.repeat(np.array([0, 1, 2, 3]), [1, 30, 29, 20])
    with caplog.at_level("WARNING", logger="dmlstudy"):
        train, test = sklearn_stratified_split(y, 0.25, seed=0)
    assert 0 in train and 0 not in test
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(y)))
    for c in (1, 2, 3):
        assert (y[test] == c).sum() == pytest.approx(0.25 * (y == c).sum(), abs=1)
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "class 0 has a single point" in warning and "training split" in warning
    assert "n_per_class" in warning  # the fix


def test_sklearn_split_without_one_point_classes_is_unchanged():
    from sklearn.model_selection import train_test_split

    from dmlstudy.splits import sklearn_stratified_split

    y = np.repeat(np.array([0, 1, 2, -1]), [40, 35, 30, 5])
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.2, stratify=y, random_state=3)
    got = sklearn_stratified_split(y, 0.2, seed=3)
    assert np.array_equal(got[0], np.sort(tr)) and np.array_equal(got[1], np.sort(te))


def test_sklearn_split_too_small_to_stratify_is_a_clear_error():
    """8 points in 4 classes with test_fraction 0.2: 2 test points cannot hold one of each
    of 4 classes; a config error names the numbers and the fix, not sklearn's traceback."""
    from dmlstudy.errors import ConfigError
    from dmlstudy.splits import sklearn_stratified_split

    y = np.repeat(np.arange(4), 2)
    with pytest.raises(ConfigError) as info:
        sklearn_stratified_split(y, 0.2, seed=0)
    text = str(info.value)
    assert "8 points" in text and "4 classes" in text and "test_fraction 0.2" in text
    assert "n_per_class" in text and "test_fraction: 0" in text


def test_class_disjoint_split_by_hand():
    from dmlstudy.splits import class_disjoint_split

    y = np.array([0, 0, 1, 1, 2, 2, 3, 3, -1, -1, -1, -1])
    train, test = class_disjoint_split(y, 0.5, seed=0)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    tr_c, te_c = set(y[train]) - {-1}, set(y[test]) - {-1}
    assert len(tr_c) == len(te_c) == 2 and not tr_c & te_c
    assert (y[test] == -1).sum() == 2
    assert np.array_equal(class_disjoint_split(y, 0.5, seed=0)[1], test)
    # at least one class on each side, whatever the fraction
    assert len(set(y[class_disjoint_split(y, 0.99, 1)[0]]) - {-1}) == 1
    assert len(set(y[class_disjoint_split(y, 0.01, 1)[1]]) - {-1}) == 1
    assert len(class_disjoint_split(y, 0.0, 1)[1]) == 0
    with pytest.raises(Exception, match="at least 2 classes"):
        class_disjoint_split(np.array([0, 0, -1]), 0.5, 0)
