"""Eq. 3 statistics and the loss-decay epoch against brute-force loops."""

import itertools

import numpy as np
import pytest

from dmlstudy.metrics import (
    ClassDistances,
    class_sums,
    loss_decay_epoch,
    mean_class_distances,
    variance_statistics,
)


def _brute(z, y):
    classes = sorted(set(y.tolist()) - {-1})
    mus, per = {}, {}
    for c in classes:
        pts = [z[i] for i in range(len(y)) if y[i] == c]
        mu = sum(pts) / len(pts)
        mus[c] = mu
        per[c] = sum(float(np.sum((p - mu) ** 2)) for p in pts) / len(pts)
    ordered = [float(np.sum((mus[a] - mus[b]) ** 2)) for a, b in itertools.permutations(classes, 2)]
    pairs = [float(np.sum((mus[a] - mus[b]) ** 2)) for a, b in itertools.combinations(classes, 2)]
    return per, ordered, pairs


@pytest.mark.parametrize("seed", range(3))
def test_variance_statistics_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((120, 5))
    y = rng.integers(-1, 6, 120)
    s = variance_statistics(z, y)
    per, ordered, pairs = _brute(z, y)
    assert s["per_class_intra_variance"] == pytest.approx(per)
    v = np.array(list(per.values()))
    assert s["intra_class_variance"] == pytest.approx(v.mean())  # Eq. 3, sigma^2_intra
    assert s["intra_var"] == pytest.approx(v.var())
    # Eq. 3: 1/(C(C-1)) sum over c != c'
    assert s["inter_class_variance"] == pytest.approx(sum(ordered) / len(ordered))
    assert s["inter_mean"] == pytest.approx(np.mean(pairs))
    assert s["inter_var"] == pytest.approx(np.var(pairs))
    assert s["inter_dist_mean"] == pytest.approx(np.mean(np.sqrt(pairs)))
    assert -1 not in s["classes"]
    with_out = variance_statistics(z, y, include_outliers=True)
    assert -1 in with_out["classes"]


def test_mean_class_distances_brute_force():
    rng = np.random.default_rng(5)
    z, y = rng.standard_normal((60, 3)), rng.integers(0, 4, 60)
    intra, inter = mean_class_distances(z, y)
    per = []
    mus = {c: z[y == c].mean(0) for c in range(4)}
    for c in range(4):
        per.append(np.mean([np.linalg.norm(p - mus[c]) for p in z[y == c]]))
    assert intra == pytest.approx(np.mean(per))
    d = [np.linalg.norm(mus[a] - mus[b]) for a, b in itertools.combinations(range(4), 2)]
    assert inter == pytest.approx(np.mean(d))


def test_loss_decay_epoch():
    assert loss_decay_epoch([1.0, 0.5, 0.2, 0.1, 0.05]) == 3  # first e with L(e) <= 0.1 L(0)
    assert loss_decay_epoch([1.0, 0.5, 0.2]) is None  # never reached: no number
    assert loss_decay_epoch([2.0, 0.19]) == 1
    assert loss_decay_epoch([]) is None


def test_intra_collapse_epoch_is_the_first_epoch_at_half_the_start():
    from dmlstudy.metrics import intra_collapse_epoch

    assert intra_collapse_epoch([0.8, 0.6, 0.41, 0.4, 0.1]) == 3  # 0.4 <= 0.5 * 0.8
    assert intra_collapse_epoch([0.8, 0.7, 0.6]) is None  # censored: not within 2 epochs
    assert intra_collapse_epoch([0.8, 0.9, 0.3], fraction=0.25) is None


def test_needs_two_classes():
    with pytest.raises(ValueError, match="two classes"):
        variance_statistics(np.zeros((3, 2)), np.array([0, 0, -1]))


def testclass_sums_are_those_of_add_at_bit_for_bit():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2000, 24))
    inverse = rng.integers(0, 7, size=2000)
    ref = np.zeros((7, 24))
    np.add.at(ref, inverse, z)
    assert np.array_equal(class_sums(z, inverse, 7), ref)
    ref1 = np.zeros(7)
    np.add.at(ref1, inverse, z[:, 0])
    assert np.array_equal(class_sums(z[:, 0], inverse, 7), ref1)


def test_class_distances_brute_force_with_outliers():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((300, 5)).astype(np.float32)
    y = rng.integers(-1, 4, size=300)
    intra, inter = ClassDistances(y)(z)
    classes = [c for c in np.unique(y) if c != -1]
    cents = {c: z[y == c].astype(np.float64).mean(0) for c in classes}
    want_intra = np.mean([np.linalg.norm(z[y == c] - cents[c], axis=1).mean() for c in classes])
    want_inter = np.mean(
        [
            np.linalg.norm(cents[a] - cents[b])
            for i, a in enumerate(classes)
            for b in classes[i + 1 :]
        ]
    )
    assert intra == pytest.approx(want_intra, rel=1e-9)
    assert inter == pytest.approx(want_inter, rel=1e-9)
    assert (intra, inter) == mean_class_distances(z, y)


def test_a_one_point_class_has_no_intra_class_variance():
    """Bad inputs: a class with one evaluation point has no spread to measure; its
    variance is undefined (NaN), not 0.0, and Eq. 3 averages over the classes that have one.
    With no class of two points the statistic itself is undefined."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 3))
    y = np.array([0, 0, 0, 1, 1, 2, 3])
    s = variance_statistics(z, y)
    per = s["per_class_intra_variance"]
    assert np.isnan(per[2]) and np.isnan(per[3])
    expect = [np.mean(np.sum((z[y == c] - z[y == c].mean(0)) ** 2, 1)) for c in (0, 1)]
    assert s["intra_class_variance"] == pytest.approx(np.mean(expect))
    assert s["intra_var"] == pytest.approx(np.var(expect))
    single = variance_statistics(z[[0, 3, 5, 6]], y[[0, 3, 5, 6]])
    assert np.isnan(single["intra_mean"]) and np.isnan(single["intra_var"])
    assert np.isfinite(single["inter_mean"])
