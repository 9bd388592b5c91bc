"""HDF5 files of data, features and embeddings are chunked in whole samples."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from dmlstudy import h5io


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((6000, 1, 28, 28), np.uint8),  # MNIST-size images
        ((3000, 3, 32, 32), np.uint8),  # CIFAR-size images
        ((4000, 768), np.float32),  # ViT features
        ((60000,), np.int64),  # labels
        ((3, 3, 400, 400), np.uint8),  # one sample over 1 MiB: one sample per chunk
    ],
)
def test_written_arrays_are_chunked_in_whole_samples(tmp_path, shape, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=shape).astype(dtype)
    path = tmp_path / "f.h5"
    h5io.write_splits(path, {"train": {"x": x}, "test": {"x": x[:5]}}, {"kind": "images"})
    with h5py.File(path, "r") as f:
        d = f["train/x"]
        assert d.chunks[1:] == shape[1:], d.chunks  # never a tile across samples
        row = x[0].nbytes
        assert d.chunks[0] == max(1, min(shape[0], h5io.CHUNK_BYTES // row))
        assert d.chunks[0] * row <= max(h5io.CHUNK_BYTES, row)
        assert d.fletcher32
    np.testing.assert_array_equal(h5io.read_split(path, "train", ("x",))["x"], x)


def test_empty_arrays_and_strings_are_written_as_before(tmp_path):
    path = tmp_path / "f.h5"
    splits = {
        "train": {"x": np.zeros((0, 4), np.float32), "paths": np.array(["a/b.jpg", "c.jpg"])},
        "test": {"y": np.zeros(0, np.int64)},
    }
    h5io.write_splits(path, splits)
    with h5py.File(path, "r") as f:
        assert f["train/x"].chunks is None and f["train/x"].shape == (0, 4)
        assert f["train/paths"].chunks is None
    assert h5io.read_split(path, "train", ("paths",))["paths"].tolist() == ["a/b.jpg", "c.jpg"]


def test_row_chunks():
    assert h5io.row_chunks((60000, 1, 28, 28), 1) == (1337, 1, 28, 28)
    assert h5io.row_chunks((50000, 3, 32, 32), 1) == (341, 3, 32, 32)
    assert h5io.row_chunks((10, 512), 4) == (10, 512)
    assert h5io.row_chunks((0, 512), 4) is None
