"""The IDX codec (dmlstudy.sources.idx)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from dmlstudy.errors import CorruptFileError
from dmlstudy.sources.idx import read_idx, write_idx


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
