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
