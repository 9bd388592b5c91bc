"""Source torchvision_cifar10 on fixture files in the cifar-10-batches-py layout."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_formats import CIFAR10_NAMES, assert_image_prepared, assert_not_found, write_cifar10

from dmlstudy.config import validate_dataset
from dmlstudy.errors import CorruptFileError, DataNotFoundError
from dmlstudy.sources import check_available, prepare_dataset
from dmlstudy.sources.torchvision_cifar10 import read_cifar10_folder


def test_cifar10_batches(tmp_path):
    truth = write_cifar10(tmp_path, per_batch=4, n_test=4)
    spec = validate_dataset(
        {"source": "torchvision_cifar10", "root": str(tmp_path), "download": False}
    )
    check_available(spec, "cifar10")
    p = prepare_dataset(spec, "cifar10", 0)
    assert_image_prepared(p, 3, (32, 32))
    np.testing.assert_array_equal(p.splits["train"]["x"], truth["x_train"])
    np.testing.assert_array_equal(p.splits["train"]["y"], truth["y_train"])
    np.testing.assert_array_equal(p.splits["test"]["x"], truth["x_test"])
    np.testing.assert_array_equal(p.splits["test"]["y"], truth["y_test"])
    assert p.attrs["class_names"] == CIFAR10_NAMES
    assert p.attrs["normalize_mean"] == [0.4914, 0.4822, 0.4465]
    assert p.attrs["normalize_std"] == [0.247, 0.243, 0.261]
    assert p.attrs["description"] == "CIFAR-10 (torchvision layout, 20/4)"


def test_cifar10_reader_matches_torchvision(tmp_path, monkeypatch):
    """Our reader and torchvision's CIFAR10 give the same arrays once its md5 check is off."""
    import torchvision.datasets.cifar as tvc

    write_cifar10(tmp_path, per_batch=3, n_test=5)
    with pytest.raises(RuntimeError):  # why we read the pickles ourselves
        tvc.CIFAR10(str(tmp_path), train=True, download=False)
    monkeypatch.setattr(tvc, "check_integrity", lambda *a, **k: True)
    ours = read_cifar10_folder(tmp_path)
    for train, key in ((True, "train"), (False, "test")):
        ds = tvc.CIFAR10(str(tmp_path), train=train, download=False)
        np.testing.assert_array_equal(ours[f"x_{key}"], ds.data.transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(ours[f"y_{key}"], np.asarray(ds.targets))
        assert ours["classes"] == ds.classes


def test_cifar10_subset(tmp_path):
    write_cifar10(tmp_path, per_batch=10, n_test=10)
    spec = validate_dataset(
        {
            "source": "torchvision_cifar10",
            "root": str(tmp_path),
            "train_subset": 20,
            "test_subset": 10,
        }
    )
    p = prepare_dataset(spec, "c", 0)
    assert np.bincount(p.splits["train"]["y"], minlength=10).tolist() == [2] * 10
    assert np.bincount(p.splits["test"]["y"], minlength=10).tolist() == [1] * 10
    assert "stratified subset 20/10 of 50/10" in p.attrs["description"]


def test_cifar10_missing_and_corrupt(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    spec = validate_dataset({"source": "torchvision_cifar10", "root": str(tmp_path)})
    for call in (
        lambda: check_available(spec, "cifar10"),
        lambda: prepare_dataset(spec, "cifar10", 0),
    ):
        with pytest.raises(DataNotFoundError) as ei:
            call()
        assert_not_found(
            ei.value,
            "cifar10",
            tmp_path,
            "cifar-10-batches-py/data_batch_3",
            "datasets.cifar10.download: true",
            "cifar-10-python.tar.gz",
        )
        assert "data_batch_1" not in str(ei.value)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x02 garbage")
    check_available(spec, "cifar10")  # cheap: existence only
    with pytest.raises(CorruptFileError, match="data_batch_3"):
        prepare_dataset(spec, "cifar10", 0)
