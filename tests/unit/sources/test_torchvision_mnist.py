"""Source torchvision_mnist on fixture files in torchvision's MNIST/raw layout."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_formats import assert_image_prepared, assert_not_found, write_mnist_raw

from dmlstudy.config import validate_dataset
from dmlstudy.errors import CorruptFileError, DataNotFoundError
from dmlstudy.sources import check_available, prepare_dataset


def test_torchvision_mnist_from_raw_files(tmp_path):
    truth = write_mnist_raw(tmp_path, 30, 20)
    spec = validate_dataset(
        {"source": "torchvision_mnist", "root": str(tmp_path), "download": False}
    )
    check_available(spec, "mnist")
    p = prepare_dataset(spec, "mnist", 0)
    assert_image_prepared(p, 1, (28, 28))
    np.testing.assert_array_equal(p.splits["train"]["x"][:, 0], truth["x_train"])
    np.testing.assert_array_equal(p.splits["test"]["y"], truth["y_test"])
    assert p.attrs["description"] == "MNIST (torchvision, 30/20)"
    assert p.attrs["normalize_mean"] == [0.1307] and p.attrs["normalize_std"] == [0.3081]
    assert p.attrs["class_names"] == [str(i) for i in range(10)]


def test_torchvision_mnist_unpacks_gz_and_subsets(tmp_path):
    truth = write_mnist_raw(tmp_path, 40, 20, gz=True)
    spec = validate_dataset(
        {"source": "torchvision_mnist", "root": str(tmp_path), "train_subset": 20}
    )
    check_available(spec, "mnist")
    p = prepare_dataset(spec, "mnist", 5)
    assert (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert np.bincount(p.splits["train"]["y"]).tolist() == [2] * 10
    assert len(p.splits["test"]["y"]) == 20
    # the subset rows are real rows of the file
    rows = {r.tobytes() for r in truth["x_train"]}
    assert all(r.tobytes() in rows for r in p.splits["train"]["x"][:, 0])
    assert p.attrs["description"] == "MNIST (torchvision, stratified subset 20/20 of 40/20)"


def test_torchvision_mnist_missing(tmp_path):
    spec = validate_dataset(
        {"source": "torchvision_mnist", "root": str(tmp_path / "data"), "download": False}
    )
    for call in (lambda: check_available(spec, "mnist"), lambda: prepare_dataset(spec, "mnist", 0)):
        with pytest.raises(DataNotFoundError) as ei:
            call()
        assert_not_found(
            ei.value,
            "mnist",
            tmp_path / "data",
            "MNIST/raw/train-images-idx3-ubyte",
            "MNIST/raw/t10k-labels-idx1-ubyte",
            "datasets.mnist.download: true",
            "place the files there",
        )
    # download: true passes the cheap check (the job will download)
    check_available({**spec, "download": True}, "mnist")


def test_torchvision_mnist_corrupt_raw_file_is_named(tmp_path):
    write_mnist_raw(tmp_path, 10, 10)
    bad = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:-5])
    spec = validate_dataset({"source": "torchvision_mnist", "root": str(tmp_path)})
    check_available(spec, "mnist")
    with pytest.raises(CorruptFileError, match=f"{bad}: IDX file is truncated"):
        prepare_dataset(spec, "mnist", 0)


def test_failed_downloads_become_data_not_found(tmp_path, monkeypatch):
    """No network: torchvision's download error is reported with the manual fix."""
    from urllib.error import URLError

    import torchvision.datasets.cifar as tvc
    import torchvision.datasets.mnist as tvm

    def offline(url, *a, **k):
        raise URLError(f"offline: {url}")

    monkeypatch.setattr(tvm, "download_and_extract_archive", offline)
    monkeypatch.setattr(tvc, "download_and_extract_archive", offline)
    for source, name, needle in (
        ("torchvision_mnist", "mnist", "MNIST/raw/train-images-idx3-ubyte"),
        ("torchvision_cifar10", "cifar10", "cifar-10-batches-py/data_batch_1"),
    ):
        spec = validate_dataset({"source": source, "root": str(tmp_path / name), "download": True})
        check_available(spec, name)
        with pytest.raises(DataNotFoundError) as ei:
            prepare_dataset(spec, name, 0)
        assert_not_found(
            ei.value, name, tmp_path / name, needle, "offline", "place the files there"
        )
