"""The IDX file format (MNIST's): a reader and a writer."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    Layout: two zero bytes, a type code, the number of dimensions, then one big-endian
    uint32 per dimension, then the data in C order. Gzip is detected by its magic bytes,
    not the file name. Raises :class:`CorruptFileError` on a bad header, a truncated or
    over-long body, or a broken gzip stream.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=fh) as gz:
                    raw = gz.read()
            else:
                raw = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise CorruptFileError(
            f"{path}: cannot be read as an IDX file ({exc}); it is truncated or corrupt: "
            f"replace it with a fresh copy"
        ) from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise CorruptFileError(
            f"{path}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'}, expected "
            f"00 00 <type 08/09/0b/0c/0d/0e> <ndim>); replace it with a fresh copy"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise CorruptFileError(f"{path}: IDX header is truncated or declares {ndim} dimensions")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(raw) - header
    if body != expected:
        what = "truncated" if body < expected else "longer than its header says"
        raise CorruptFileError(
            f"{path}: IDX file is {what} (header shape {shape} needs {expected} data bytes, "
            f"found {body}); replace it with a fresh copy"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip if ``compress`` or the name ends in ``.gz``)."""
    array = np.asarray(array)
    code = next(
        (k for k, v in _IDX_DTYPES.items() if v.newbyteorder("=") == array.dtype.newbyteorder("=")),
        None,
    )
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    be = _IDX_DTYPES[code]
    payload = (
        bytes([0, 0, code, array.ndim])
        + np.asarray(array.shape, dtype=">u4").tobytes()
        + np.ascontiguousarray(array, dtype=be).tobytes()
    )
    if compress is None:
        compress = str(path).endswith(".gz")
    if compress:
        payload = gzip.compress(payload, mtime=0)
    Path(path).write_bytes(payload)
