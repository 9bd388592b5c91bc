"""Invariants of the vectorised pair/triplet sampler (§3.2)."""

import numpy as np
import pytest

from dmlstudy.sampling import LabelIndex, epoch_rng, sample_pairs, sample_triplets


def _labels(seed=0, n=600, classes=6, outliers=40):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return np.concatenate([y, np.full(outliers, -1)])


@pytest.mark.parametrize("seed", range(4))
def test_pairs_invariants(seed):
    y = _labels(seed)
    idx = LabelIndex(y)
    pairs = sample_pairs(idx, epoch_rng(seed, 1))
    a, b, pos = pairs.anchor, pairs.partner, pairs.is_positive
    assert sorted(a.tolist()) == list(range(len(y)))  # every anchor exactly once
    assert np.all(y[a][pos] == y[b][pos])  # positives share the label
    assert np.all(y[b][pos] != -1) and np.all(y[a][pos] != -1)  # outliers never positive
    assert np.all(a[pos] != b[pos])  # never itself by default
    assert np.all(y[a][~pos] != y[b][~pos])  # negatives never share it
    inliers = y[a] != -1
    assert abs(pos[inliers].mean() - 0.5) < 0.08
    assert not pos[~inliers].any()  # an outlier anchor always gets a negative


@pytest.mark.parametrize("seed", range(4))
def test_triplet_invariants(seed):
    y = _labels(seed)
    t = sample_triplets(LabelIndex(y), epoch_rng(seed, 3))
    assert np.all(y[t.anchor] == y[t.positive])
    assert np.all(y[t.anchor] != y[t.negative])
    assert np.all(y[t.positive] != -1)
    assert np.all(t.anchor != t.positive)
    # every non-outlier anchor once, outlier anchors skipped
    assert sorted(t.anchor.tolist()) == np.nonzero(y != -1)[0].tolist()
    assert np.any(y[t.negative] == -1)  # outliers still serve as negatives


def test_draws_are_uniform_within_and_outside_class():
    y = np.repeat(np.arange(4), 50)
    idx = LabelIndex(y)
    rng = np.random.default_rng(0)
    pos_counts = np.zeros(len(y))
    neg_counts = np.zeros(len(y))
    for _ in range(200):
        p, has = idx.draw_positive(rng, allow_self=False)
        assert has.all()
        np.add.at(pos_counts, p, 1)
        np.add.at(neg_counts, idx.draw_negative(rng), 1)
    # each point is drawn as a positive ~200 times and as a negative ~200 times
    assert abs(pos_counts.mean() - 200) < 1e-9 and pos_counts.std() / 200 < 0.15
    assert neg_counts.std() / neg_counts.mean() < 0.15


def test_same_seed_same_epoch_is_reproducible_and_epochs_differ():
    y = _labels(1)
    idx = LabelIndex(y)
    p1 = sample_pairs(idx, epoch_rng(7, 2))
    p2 = sample_pairs(idx, epoch_rng(7, 2))
    p3 = sample_pairs(idx, epoch_rng(7, 3))
    assert np.array_equal(p1.partner, p2.partner) and np.array_equal(p1.anchor, p2.anchor)
    assert not np.array_equal(p1.anchor, p3.anchor)


def test_singleton_class_has_no_positive_and_as_class_mode():
    y = np.array([0, 0, 1, -1, -1])
    idx = LabelIndex(y)
    _, has = idx.draw_positive(np.random.default_rng(0), allow_self=False)
    assert has.tolist() == [True, True, False, False, False]
    idx2 = LabelIndex(y, outliers="as_class")
    _, has2 = idx2.draw_positive(np.random.default_rng(0), allow_self=False)
    assert has2.tolist() == [True, True, False, True, True]


def test_single_label_cannot_draw_negatives():
    with pytest.raises(ValueError, match="no negatives"):
        LabelIndex(np.zeros(5, dtype=int)).draw_negative(np.random.default_rng(0))
