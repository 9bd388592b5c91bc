"""Stratified subsets and splits (dmlstudy.splits)."""

from __future__ import annotations

import numpy as np

from dmlstudy.splits import stratified_split


def test_stratified_split_helper_is_seeded():
    y = np.repeat(np.arange(3), [7, 11, 13])
    tr1, te1 = stratified_split(y, 0.25, np.random.default_rng(4))
    tr2, te2 = stratified_split(y, 0.25, np.random.default_rng(4))
    np.testing.assert_array_equal(te1, te2)
    assert sorted(np.concatenate([tr1, te1]).tolist()) == list(range(len(y)))
    counts = np.bincount(y[te1])
    assert np.all(np.abs(counts - 0.25 * np.array([7, 11, 13])) <= 1)
