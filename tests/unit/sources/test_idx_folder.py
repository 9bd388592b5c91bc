"""Source idx_folder on fixture files in the real IDX format."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_formats import assert_image_prepared, assert_not_found, write_idx_set

from dmlstudy.config import validate_dataset
from dmlstudy.errors import ConfigError, CorruptFileError, DataNotFoundError
from dmlstudy.sources import check_available, prepare_dataset
from dmlstudy.sources.idx import write_idx


def test_idx_folder_mixed_gz_and_plain(tmp_path):
    truth = write_idx_set(tmp_path / "fm", 20, 10, gz={"train_images": True, "test_labels": True})
    spec = validate_dataset(
        {"source": "idx_folder", "path": str(tmp_path / "fm"), "description": "Fashion-MNIST"}
    )
    check_available(spec, "fmnist")
    p = prepare_dataset(spec, "fmnist", seed=0)
    assert_image_prepared(p, 1, (28, 28))
    np.testing.assert_array_equal(p.splits["train"]["x"][:, 0], truth["x_train"])
    np.testing.assert_array_equal(p.splits["train"]["y"], truth["y_train"])
    np.testing.assert_array_equal(p.splits["test"]["x"][:, 0], truth["x_test"])
    np.testing.assert_array_equal(p.splits["test"]["y"], truth["y_test"])
    assert p.attrs["num_classes"] == 10
    assert p.attrs["normalize_mean"] == [0.1307] and p.attrs["normalize_std"] == [0.3081]
    desc = p.attrs["description"]
    assert desc.startswith("Fashion-MNIST (IDX folder ") and str(tmp_path / "fm") in desc
    assert "20/10" in desc


def test_idx_folder_gz_name_in_spec_and_defaults(tmp_path):
    write_idx_set(tmp_path / "d", 10, 10, gz=False)
    spec = validate_dataset(
        {
            "source": "idx_folder",
            "path": str(tmp_path / "d"),
            "train_images": "train-images-idx3-ubyte.gz",  # only the plain file exists
            "normalize_mean": [0.286],
            "normalize_std": [0.353],
        }
    )
    p = prepare_dataset(spec, "d", 0)
    assert p.attrs["description"].startswith(f"IDX folder {tmp_path / 'd'}")
    assert p.attrs["normalize_mean"] == [0.286]


def test_idx_folder_subset_is_stratified_and_seeded(tmp_path):
    write_idx_set(tmp_path / "d", 100, 50)
    spec = validate_dataset(
        {
            "source": "idx_folder",
            "path": str(tmp_path / "d"),
            "train_subset": 30,
            "test_subset": 20,
        }
    )
    a, b, c = (prepare_dataset(spec, "d", s) for s in (1, 1, 2))
    assert np.bincount(a.splits["train"]["y"]).tolist() == [3] * 10
    assert np.bincount(a.splits["test"]["y"]).tolist() == [2] * 10
    np.testing.assert_array_equal(a.splits["train"]["x"], b.splits["train"]["x"])
    assert not np.array_equal(a.splits["train"]["x"], c.splits["train"]["x"])
    assert "stratified subset 30/20" in a.attrs["description"]
    with pytest.raises(ConfigError, match="train_subset"):
        prepare_dataset({**spec, "train_subset": 101}, "d", 0)


def test_test_subset_does_not_depend_on_train_subset(tmp_path):
    write_idx_set(tmp_path / "d", 100, 50)
    spec = validate_dataset(
        {"source": "idx_folder", "path": str(tmp_path / "d"), "test_subset": 20}
    )
    a = prepare_dataset(spec, "d", 3)
    b = prepare_dataset({**spec, "train_subset": 40}, "d", 3)
    np.testing.assert_array_equal(a.splits["test"]["x"], b.splits["test"]["x"])
    assert len(a.splits["train"]["y"]) == 100 and len(b.splits["train"]["y"]) == 40


def test_idx_folder_missing(tmp_path):
    write_idx_set(tmp_path / "d", 10, 10)
    (tmp_path / "d" / "t10k-labels-idx1-ubyte").unlink()
    spec = validate_dataset({"source": "idx_folder", "path": str(tmp_path / "d")})
    for call in (
        lambda: check_available(spec, "fmnist"),
        lambda: prepare_dataset(spec, "fmnist", 0),
    ):
        with pytest.raises(DataNotFoundError) as ei:
            call()
        assert_not_found(
            ei.value, "fmnist", tmp_path / "d", "t10k-labels-idx1-ubyte", "dataset-fashion-mnist"
        )
        assert "train-images" not in str(ei.value)
    with pytest.raises(DataNotFoundError):
        check_available(
            validate_dataset({"source": "idx_folder", "path": str(tmp_path / "nope")}), "x"
        )
    with pytest.raises(ConfigError, match="path"):
        validate_dataset({"source": "idx_folder"}, "x")


def test_idx_folder_label_count_mismatch(tmp_path):
    write_idx_set(tmp_path / "d", 10, 10)
    write_idx(tmp_path / "d" / "train-labels-idx1-ubyte", np.zeros(9, np.uint8))
    with pytest.raises(CorruptFileError, match="10 images but .* 9 labels"):
        prepare_dataset(
            validate_dataset({"source": "idx_folder", "path": str(tmp_path / "d")}), "d", 0
        )
