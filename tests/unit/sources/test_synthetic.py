"""Source synthetic: statistics of the §3.1 generator, its split, and test_fraction 0."""

import numpy as np
import pytest

from dmlstudy import h5io
from dmlstudy.config import validate_dataset
from dmlstudy.sources import prepare_dataset, prepare_to_file
from dmlstudy.sources.synthetic import GENERATOR_KEYS, generate, l2_normalize

#: The paper's generator settings, as the schema's defaults give them.
PAPER = {k: v for k, v in validate_dataset({"source": "synthetic"}).items() if k in GENERATOR_KEYS}


def gen(seed, **changes):
    return generate(**{**PAPER, **changes}, seed=seed)


def test_counts_outliers_and_shapes():
    d = gen(seed=0)
    assert d.x.shape == (2100, 128)
    assert (d.y == -1).sum() == 100 and (d.y_clean == -1).sum() == 100
    assert np.all(d.y[-100:] == -1) and np.all(d.y[:2000] >= 0)
    assert np.bincount(d.y_clean[:2000]).tolist() == [200] * 10
    # outliers ~ N(0, 15^2 I)
    assert d.x[-100:].std() == pytest.approx(15.0, rel=0.03)
    assert abs(d.x[-100:].mean()) < 0.3


def test_label_noise_rate():
    # a label is reassigned with p = 0.1 to a uniform class, its own included:
    # observed changes have rate 0.1 * 9/10 = 0.09
    rates = []
    for seed in range(5):
        d = gen(seed=seed)
        rates.append(np.mean(d.y[:2000] != d.y_clean[:2000]))
    assert np.mean(rates) == pytest.approx(0.09, abs=0.012)
    d = gen(0, label_noise=0.0)
    assert np.array_equal(d.y, d.y_clean)


def test_class_means_and_covariances_follow_the_recipe():
    dim, n, c = 4, 20000, 3
    d = gen(3, n_classes=c, n_per_class=n, dim=dim, label_noise=0.0, outlier_fraction=0.0)
    rng = np.random.default_rng(3)  # replay the generator's first draws
    mu = 5.0 * rng.standard_normal((c, dim))
    a = rng.standard_normal((c, dim, dim))
    for k in range(c):
        pts = d.x[d.y_clean == k]
        sigma = a[k] @ a[k].T + 1e-3 * np.eye(dim)
        assert np.allclose(pts.mean(0), mu[k], atol=0.15 * np.sqrt(np.trace(sigma)))
        cov = np.cov(pts.T)
        assert np.linalg.norm(cov - 1.96 * sigma) / np.linalg.norm(1.96 * sigma) < 0.05


def test_seeded_and_config_driven():
    a, b = gen(seed=1), gen(seed=1)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    c = gen(seed=2)
    assert not np.allclose(a.x, c.x)
    small = gen(0, n_classes=3, n_per_class=10, dim=5, outlier_fraction=0.1)
    assert small.x.shape == (33, 5)


def test_prepare_split_is_stratified_and_normalisation_option():
    spec = validate_dataset(
        {"source": "synthetic", "n_classes": 4, "n_per_class": 50, "dim": 8, "test_fraction": 0.2}
    )
    p = prepare_dataset(spec, "synthetic", spec["seed"])
    tr, te = p.splits["train"], p.splits["test"]
    assert len(tr["y"]) + len(te["y"]) == 210
    assert len(te["y"]) == 42
    for label in np.unique(np.concatenate([tr["y"], te["y"]])):
        total = (tr["y"] == label).sum() + (te["y"] == label).sum()
        assert abs((te["y"] == label).sum() - 0.2 * total) <= 1
    assert p.attrs["kind"] == "vectors" and tr["x"].dtype == np.float32
    q = prepare_dataset({**spec, "input_normalization": "l2"}, "synthetic", 0)
    assert np.allclose(np.linalg.norm(q.splits["train"]["x"], axis=1), 1.0, atol=1e-5)
    assert np.allclose(l2_normalize(np.array([[3.0, 4.0]])), [[0.6, 0.8]])


def test_test_fraction_zero_trains_on_every_point_and_leaves_test_empty(tmp_path):
    """The authors' notebook trains on all 2,100 points: test_fraction 0 keeps them all."""
    spec = validate_dataset({"source": "synthetic", "n_per_class": 20, "test_fraction": 0})
    p = prepare_dataset(spec, "synthetic", 0)
    tr, te = p.splits["train"], p.splits["test"]
    data = gen(0, n_per_class=20)
    np.testing.assert_array_equal(tr["x"], data.x.astype(np.float32))  # all points, in order
    np.testing.assert_array_equal(tr["y"], data.y)
    assert te["x"].shape == (0, 128) and te["x"].dtype == np.float32
    assert len(te["y"]) == len(te["y_clean"]) == 0
    # the empty split survives the HDF5 file
    prepare_to_file(spec, "synthetic", tmp_path / "s.h5")
    back = h5io.read_split(tmp_path / "s.h5", "test")
    assert back["x"].shape == (0, 128) and back["y"].shape == (0,)
    assert len(h5io.read_split(tmp_path / "s.h5", "train")["y"]) == 210


def test_class_disjoint_split_tests_on_classes_never_trained_on(tmp_path):
    """split: class_disjoint puts test_fraction of the classes, all their points, in test
    (and that share of the outliers), seeded; the data file says so."""
    spec = validate_dataset(
        {"source": "synthetic", "n_classes": 10, "n_per_class": 20, "dim": 8}
        | {"split": "class_disjoint", "test_fraction": 0.3, "seed": 4}
    )
    p = prepare_dataset(spec, "synthetic", spec["seed"])
    tr, te = p.splits["train"], p.splits["test"]
    train_classes, test_classes = set(tr["y"]) - {-1}, set(te["y"]) - {-1}
    assert len(test_classes) == 3 and len(train_classes) == 7 and not train_classes & test_classes
    data = gen(4, n_classes=10, n_per_class=20, dim=8)
    assert (te["y"] != -1).sum() == np.isin(data.y, list(test_classes)).sum()  # whole classes
    assert (te["y"] == -1).sum() == 3 and (tr["y"] == -1).sum() == 7  # 30% of the 10 outliers
    assert "class-disjoint" in p.attrs["description"]
    again = prepare_dataset(spec, "synthetic", spec["seed"])
    np.testing.assert_array_equal(again.splits["test"]["x"], te["x"])
    other = prepare_dataset({**spec, "seed": 5}, "synthetic", 5)
    assert set(other.splits["test"]["y"]) - {-1} != test_classes


def test_a_spec_without_split_is_split_as_before_the_key_existed():
    """No default for split: an older config's spec (and so its data file and every run on
    it) is exactly what it was; split: stratified is the same split."""
    spec = validate_dataset({"source": "synthetic", "n_classes": 4, "n_per_class": 30, "dim": 8})
    assert "split" not in spec
    a = prepare_dataset(spec, "synthetic", 0)
    b = prepare_dataset({**spec, "split": "stratified"}, "synthetic", 0)
    for part in ("train", "test"):
        np.testing.assert_array_equal(a.splits[part]["x"], b.splits[part]["x"])
    assert a.attrs["spec"] == spec and a.attrs["description"] == "Synthetic (§3.1)"
