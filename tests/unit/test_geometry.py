"""Embedding geometry (dmlstudy.geometry): each metric against brute force or a hand value."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from dmlstudy import geometry as g


def random_orthogonal(d: int, rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def labelled(n_per_class=(6, 4, 5), d=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    z = rng.normal(size=(len(y), d)) + 3.0 * rng.normal(size=(len(n_per_class), d))[y]
    return z, y


# ---------------------------------------------------------------- brute-force references


def brute_alignment(z, y, alpha=2.0):
    vals = [
        np.linalg.norm(z[i] - z[j]) ** alpha
        for i, j in itertools.combinations(range(len(z)), 2)
        if y[i] == y[j]
    ]
    return float(np.mean(vals))


def brute_uniformity(z, t=2.0):
    vals = [
        math.exp(-t * float(np.sum((z[i] - z[j]) ** 2)))
        for i, j in itertools.combinations(range(len(z)), 2)
    ]
    return math.log(np.mean(vals))


def brute_cdnv(z, y):
    classes = np.unique(y)
    mu = {c: z[y == c].mean(axis=0) for c in classes}
    var = {c: np.mean([np.sum((x - mu[c]) ** 2) for x in z[y == c]]) for c in classes}
    vals = [
        (var[a] + var[b]) / (2 * np.sum((mu[a] - mu[b]) ** 2))
        for a, b in itertools.combinations(classes, 2)
    ]
    return float(np.mean(vals))


def pinv(a):
    return np.linalg.pinv(a, rcond=1e-10, hermitian=True)


def explicit_nc1(z, y, inverse=np.linalg.inv):
    classes = np.unique(y)
    mu_g = z.mean(axis=0)
    d = z.shape[1]
    sw = np.zeros((d, d))
    sb = np.zeros((d, d))
    for c in classes:
        zc = z[y == c]
        mu = zc.mean(axis=0)
        for x in zc:
            sw += np.outer(x - mu, x - mu)
        sb += np.outer(mu - mu_g, mu - mu_g)
    sw /= len(z)
    sb /= len(classes)
    return float(np.trace(sw @ inverse(sb)) / len(classes))


# ---------------------------------------------------------------- hand-computed values


def test_effective_rank_hand_value():
    # centred rows (+-2, 0), (0, +-1): covariance eigenvalues proportional to 8 and 2,
    # p = (0.8, 0.2), erank = exp(-(0.8 ln 0.8 + 0.2 ln 0.2))
    z = np.array([[2.0, 0], [-2, 0], [0, 1], [0, -1]]) + [5.0, -3.0]
    expected = math.exp(-(0.8 * math.log(0.8) + 0.2 * math.log(0.2)))
    assert g.effective_rank(z) == pytest.approx(expected, rel=1e-12)


def test_rankme_hand_value():
    # uncentred diag(3, 1): singular values 3, 1; p = (0.75, 0.25) + 1e-7
    z = np.array([[3.0, 0.0], [0.0, 1.0]])
    p = np.array([0.75, 0.25]) + 1e-7
    assert g.rankme(z) == pytest.approx(math.exp(-np.sum(p * np.log(p))), rel=1e-12)
    assert g.rankme(z, eps=0.0) == pytest.approx(
        math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))), rel=1e-12
    )


def test_spectral_decay_hand_value():
    # singular values (3, 1): q = (0.75, 0.25); KL(U || q) = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25)
    z = np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    expected = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert g.spectral_decay(z) == pytest.approx(expected, rel=1e-12)
    # skip=1 drops the largest value: one value left, uniform, KL 0
    assert g.spectral_decay(z, skip=1) == pytest.approx(0.0, abs=1e-15)


def test_spectral_decay_matches_scipy_entropy_as_in_roth_code():
    from scipy.stats import entropy

    z = np.random.default_rng(3).normal(size=(40, 6))
    s = np.linalg.svd(z, compute_uv=False)
    for skip in (0, 1, 3):
        sk = s[skip:]
        expected = entropy(np.ones(len(sk)) / len(sk), sk / sk.sum())
        assert g.spectral_decay(z, skip=skip) == pytest.approx(expected, rel=1e-12)


def test_singular_values_and_spectrum():
    z = np.array([[3.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(g.singular_values(z), [0.75, 0.25], rtol=1e-14)
    assert g.spectrum(z) == pytest.approx([0.75, 0.25], rel=1e-14)
    assert g.spectrum(z, k=1) == pytest.approx([0.75])
    assert all(type(v) is float for v in g.spectrum(z))
    rng = np.random.default_rng(1)
    s = g.singular_values(rng.normal(size=(30, 8)))
    assert s.sum() == pytest.approx(1.0) and np.all(np.diff(s) <= 0)
    # centred: square roots of the covariance eigenvalues, normalised
    zc = rng.normal(size=(30, 4)) + 7.0
    lam = np.linalg.eigvalsh(np.cov(zc.T))[::-1]
    np.testing.assert_allclose(
        g.singular_values(zc, center=True), np.sqrt(lam) / np.sqrt(lam).sum(), rtol=1e-10
    )


def test_alignment_uniformity_hand_values():
    # class 0: (0,0), (1,0) -> one pair, squared distance 1; class 1: (0,3) alone
    z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    y = np.array([0, 0, 1])
    assert g.alignment(z, y) == pytest.approx(1.0)
    assert g.alignment(z, y, alpha=1.0) == pytest.approx(1.0)
    # all pairs: squared distances 1, 9, 10
    expected = math.log((math.exp(-2) + math.exp(-18) + math.exp(-20)) / 3)
    assert g.uniformity(z) == pytest.approx(expected, rel=1e-12)


def test_cdnv_hand_value():
    # class 0: (-1,0), (1,0): mean (0,0), variance 1; class 1: (4,0), (4,2): mean (4,1), var 1
    # CDNV = (1 + 1) / (2 * 17)
    z = np.array([[-1.0, 0], [1, 0], [4, 0], [4, 2]])
    y = np.array([0, 0, 1, 1])
    assert g.cdnv(z, y) == pytest.approx(2 / 34, rel=1e-12)


def test_nc1_hand_value():
    # 1-D, two classes {-1, 1} -> mean 0, {9, 11} -> mean 10; global mean 5
    # Sigma_W = (1+1+1+1)/4 = 1, Sigma_B = (25 + 25)/2 = 25, NC1 = (1/25)/2
    z = np.array([[-1.0], [1], [9], [11]])
    y = np.array([0, 0, 1, 1])
    assert g.nc1(z, y) == pytest.approx(0.02, rel=1e-12)


# ---------------------------------------------------------------- brute force


@pytest.mark.parametrize("alpha", [2.0, 1.0, 3.0])
def test_alignment_matches_double_loop(alpha):
    z, y = labelled((7, 1, 5, 3), d=4, seed=1)
    assert g.alignment(z, y, alpha=alpha) == pytest.approx(brute_alignment(z, y, alpha), rel=1e-10)


@pytest.mark.parametrize("t", [2.0, 0.5])
def test_uniformity_matches_double_loop(t):
    z, _ = labelled((7, 5, 3), d=4, seed=2)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    assert g.uniformity(z, t=t) == pytest.approx(brute_uniformity(z, t), rel=1e-10)


def test_uniformity_far_apart_points_does_not_underflow():
    # exp(-2 * 1e6) underflows to 0 in float64; log-sum-exp keeps the exact value
    z = np.array([[0.0], [1000.0], [1000.5]])
    expected = -2 * 0.25 - math.log(3)  # the 0.25 pair dominates by exp(-2e6)
    assert g.uniformity(z) == pytest.approx(expected, rel=1e-12)


def test_cdnv_matches_double_loop():
    z, y = labelled((6, 4, 5, 2), d=3, seed=4)
    assert g.cdnv(z, y) == pytest.approx(brute_cdnv(z, y), rel=1e-10)


def test_nc1_matches_explicit_inverse_full_rank_between_scatter():
    # D = 3 < C = 5: Sigma_B is invertible, so the pseudo-inverse is the inverse
    z, y = labelled((6, 4, 5, 7, 3), d=3, seed=5)
    assert g.nc1(z, y) == pytest.approx(explicit_nc1(z, y), rel=1e-9)


def test_nc1_matches_explicit_pseudo_inverse_rank_deficient():
    # D = 6 > C - 1 = 2: Sigma_B has rank 2
    z, y = labelled((6, 4, 5), d=6, seed=6)
    assert g.nc1(z, y) == pytest.approx(explicit_nc1(z, y, pinv), rel=1e-9)


def test_effective_rank_matches_covariance_eigenvalues():
    z = np.random.default_rng(7).normal(size=(50, 5)) @ np.diag([5, 3, 1, 0.5, 0.1])
    lam = np.linalg.eigvalsh(np.cov(z.T))
    p = lam / lam.sum()
    assert g.effective_rank(z) == pytest.approx(math.exp(-np.sum(p * np.log(p))), rel=1e-10)


# ---------------------------------------------------------------- invariants


def test_effective_rank_isotropic_gaussian_is_about_d():
    d = 16
    z = np.random.default_rng(8).normal(size=(20000, d))
    assert g.effective_rank(z) == pytest.approx(d, rel=0.01)
    assert g.rankme(z) == pytest.approx(d, rel=0.01)


def test_rank_one_data_has_effective_rank_one():
    rng = np.random.default_rng(9)
    z = rng.normal(size=(200, 1)) * rng.normal(size=(1, 10)) + rng.normal(size=10)
    assert g.effective_rank(z) == pytest.approx(1.0, abs=1e-6)
    assert g.rankme(z[:, :] - z.mean(axis=0)) == pytest.approx(1.0, abs=1e-4)
    # spectral decay of rank-1 data: all mass on one value, KL from uniform large
    assert g.spectral_decay(z) > 10


def test_collapsed_classes():
    rng = np.random.default_rng(10)
    centres = rng.normal(size=(4, 8))
    y = np.repeat(np.arange(4), [5, 3, 6, 2])
    z = centres[y]
    assert g.alignment(z, y) == pytest.approx(0.0, abs=1e-12)
    assert g.nc1(z, y) == pytest.approx(0.0, abs=1e-12)
    assert g.cdnv(z, y) == pytest.approx(0.0, abs=1e-12)


def test_rotation_and_translation_invariance():
    rng = np.random.default_rng(11)
    z, y = labelled((8, 6, 7), d=5, seed=11)
    q = random_orthogonal(5, rng)
    zr = z @ q
    zt = zr + rng.normal(size=5)
    for name in ("effective_rank", "nc1", "cdnv"):
        f = getattr(g, name)
        ref = f(z) if name == "effective_rank" else f(z, y)
        for other in (zr, zt):
            val = f(other) if name == "effective_rank" else f(other, y)
            assert val == pytest.approx(ref, rel=1e-9), name
    assert g.alignment(zt, y) == pytest.approx(g.alignment(z, y), rel=1e-9)
    assert g.uniformity(zt) == pytest.approx(g.uniformity(z), rel=1e-9)
    # the uncentred readings are rotation- but not translation-invariant
    for name in ("rankme", "spectral_decay"):
        assert getattr(g, name)(zr) == pytest.approx(getattr(g, name)(z), rel=1e-9), name
    np.testing.assert_allclose(g.singular_values(zr), g.singular_values(z), rtol=1e-9)


def test_uniform_on_circle_is_more_uniform_than_clustered():
    theta = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    spread = np.c_[np.cos(theta), np.sin(theta)]
    clustered = np.c_[np.cos(theta / 20), np.sin(theta / 20)]
    assert g.uniformity(spread) < g.uniformity(clustered)


# ---------------------------------------------------------------- chunking


@pytest.mark.parametrize("chunk", [1, 2, 7, 64])
def test_chunked_equals_unchunked(chunk):
    z, y = labelled((13, 20, 9, 1), d=6, seed=12)
    n = len(z)
    assert g.alignment(z, y, chunk_size=chunk) == pytest.approx(
        g.alignment(z, y, chunk_size=n), rel=1e-12
    )
    assert g.uniformity(z, chunk_size=chunk) == pytest.approx(
        g.uniformity(z, chunk_size=n), rel=1e-12
    )
    a = g.embedding_geometry(z, y, chunk_size=chunk)
    b = g.embedding_geometry(z, y, chunk_size=n)
    assert a == pytest.approx(b, rel=1e-12)


def test_deterministic():
    z, y = labelled((30, 25, 40), d=8, seed=13)
    assert g.embedding_geometry(z, y, chunk_size=11) == g.embedding_geometry(z, y, chunk_size=11)


# ---------------------------------------------------------------- entry point


def test_embedding_geometry_keys_values_and_outliers():
    z, y = labelled((10, 12, 8), d=4, seed=14)
    rng = np.random.default_rng(14)
    z_all = np.vstack([z, 15 * rng.normal(size=(5, 4))])
    y_all = np.concatenate([y, np.full(5, -1)])
    out = g.embedding_geometry(z_all, y_all)
    assert tuple(out) == g.GEOMETRY_KEYS
    assert all(type(v) is float for v in out.values())
    json.dumps(out)
    # outliers are dropped before every metric
    assert out["effective_rank"] == pytest.approx(g.effective_rank(z), rel=1e-12)
    assert out["rankme"] == pytest.approx(g.rankme(z), rel=1e-12)
    assert out["spectral_decay"] == pytest.approx(g.spectral_decay(z), rel=1e-12)
    assert out["alignment"] == pytest.approx(brute_alignment(z, y), rel=1e-10)
    assert out["uniformity"] == pytest.approx(brute_uniformity(z), rel=1e-10)
    assert out["nc1"] == pytest.approx(explicit_nc1(z, y, pinv), rel=1e-9)
    assert out["cdnv"] == pytest.approx(brute_cdnv(z, y), rel=1e-10)


def test_float32_input_gives_float64_results():
    z, y = labelled((10, 12), d=4, seed=15)
    a = g.embedding_geometry(z.astype(np.float32), y)
    b = g.embedding_geometry(z.astype(np.float32).astype(np.float64), y)
    assert a == b


# ---------------------------------------------------------------- edge cases


def test_single_class_gives_nan_for_class_metrics():
    z = np.random.default_rng(16).normal(size=(10, 3))
    y = np.zeros(10, dtype=int)
    out = g.embedding_geometry(z, y)
    assert math.isnan(out["nc1"]) and math.isnan(out["cdnv"])
    assert out["alignment"] == pytest.approx(brute_alignment(z, y))
    assert math.isfinite(out["effective_rank"])


def test_singleton_classes():
    z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    # every class a single point: no positive pair
    assert math.isnan(g.alignment(z, np.array([0, 1, 2])))
    # one-point classes have variance 0 in CDNV and NC1
    y = np.array([0, 0, 1])
    assert g.cdnv(z, y) == pytest.approx((0.25 + 0) / (2 * (0.25 + 9)))
    assert g.nc1(z, y) == pytest.approx(explicit_nc1(z, y, pinv))


def test_zero_variance_data():
    z = np.tile([[0.6, 0.8]], (5, 1))
    y = np.array([0, 0, 1, 1, 1])
    assert math.isnan(g.effective_rank(z))
    assert g.rankme(z) == pytest.approx(1.0, abs=1e-5)  # uncentred: one direction
    assert g.alignment(z, y) == pytest.approx(0.0, abs=1e-15)
    assert g.uniformity(z) == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(g.nc1(z, y))  # class means coincide: Sigma_B = 0
    assert math.isnan(g.cdnv(z, y))  # 0 / 0
    zero = np.zeros((4, 3))
    assert math.isnan(g.rankme(zero)) and math.isnan(g.spectral_decay(zero))
    assert np.isnan(g.singular_values(zero)).all()


def test_equal_class_means_give_infinite_cdnv():
    z = np.array([[-1.0], [1.0], [-2.0], [2.0]])
    assert g.cdnv(z, np.array([0, 0, 1, 1])) == math.inf


def test_exact_zero_singular_value_gives_infinite_spectral_decay():
    assert g.spectral_decay(np.array([[1.0, 0.0], [2.0, 0.0]])) == math.inf


def test_one_point():
    z = np.array([[1.0, 2.0]])
    assert math.isnan(g.uniformity(z))
    assert math.isnan(g.alignment(z, [0]))


@pytest.mark.parametrize(
    "z, y, match",
    [
        (np.zeros(3), [0, 0, 0], "2-D"),
        (np.zeros((0, 3)), [], "at least one"),
        (np.array([[np.nan, 0.0]]), [0], "NaN"),
        (np.zeros((3, 2)), [0, 1], "labels must have shape"),
    ],
)
def test_bad_input_raises(z, y, match):
    with pytest.raises(ValueError, match=match):
        g.embedding_geometry(z, y)


def test_only_outliers_raises():
    with pytest.raises(ValueError, match="outliers"):
        g.embedding_geometry(np.ones((3, 2)), [-1, -1, -1])


def test_bad_parameters_raise():
    z = np.eye(3)
    with pytest.raises(ValueError, match="chunk_size"):
        g.uniformity(z, chunk_size=0)
    with pytest.raises(ValueError, match="t must be positive"):
        g.uniformity(z, t=0)
    with pytest.raises(ValueError, match="alpha"):
        g.alignment(z, [0, 0, 1], alpha=-1)
    with pytest.raises(ValueError, match="skip"):
        g.spectral_decay(z, skip=3)


# ---------------------------------------------------------------- import hygiene


def test_import_does_not_import_torch():
    code = "import sys, dmlstudy.geometry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
