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


# --------------------------------------------------------------------------- issue 24, case 1
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
