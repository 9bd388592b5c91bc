"""HDF5 files shared by every stage: datasets, features and embeddings.

One layout for all of them, so the training loop never needs to know where its
arrays came from::

    /train/x   float32 (N, D) vectors, or uint8 (N, C, H, W) images
    /train/y   int64 (N,) labels; -1 marks an outlier (synthetic data)
    /train/paths  (optional) utf-8 image paths instead of x, for datasets whose
                  images are decoded by the feature extractor (CUB-200, Cars196)
    /test/...  the same
    attrs      kind ("vectors" | "images" | "image_files"), description, ...

Writes are atomic: the file is written beside its destination under a temporary
name and renamed only when complete, so an interrupted job never leaves a file
that looks finished.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from .errors import CorruptFileError
from .io import atomic_path

SPLITS = ("train", "test")

#: Upper bound of a chunk's size: HDF5's default chunk cache per dataset is 1 MiB, and a
#: chunk that does not fit it is read again for every partial read that touches it.
CHUNK_BYTES = 1 << 20


def row_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...] | None:
    """Chunk shape of whole samples (rows): ``(k, *shape[1:])`` with ``k`` rows of at most
    :data:`CHUNK_BYTES` together (at least one). None for an empty array (not chunked).

    h5py's own guess cuts images into tiles across samples (MNIST's (60000, 1, 28, 28)
    became (3750, 1, 4, 4) chunks: 49 chunks per image), so reading a batch of images touched
    thousands of chunks; docs/benchmarks.md ("Rehearsal") has the measurements."""
    if not shape or 0 in shape:
        return None
    row = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
    k = int(max(1, min(shape[0], CHUNK_BYTES // max(row, 1))))
    return (k, *shape[1:])


def _attr_value(value):
    if isinstance(value, (dict, list, tuple)) or value is None:
        return json.dumps(value)
    return value


def write_splits(
    path: str | os.PathLike,
    splits: Mapping[str, Mapping[str, np.ndarray]],
    attrs: Mapping[str, object] | None = None,
    compression: str | None = None,
) -> None:
    """Atomically write ``{split: {name: array}}`` and root attributes to ``path``.

    String arrays (e.g. ``paths``) are stored as variable-length utf-8. Other arrays are
    chunked in whole samples of at most 1 MiB (:func:`row_chunks`), with checksums.
    Dicts and lists in ``attrs`` are stored as JSON strings.
    """
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for split, arrays in splits.items():
                g = f.create_group(split)
                for name, arr in arrays.items():
                    arr = np.asarray(arr)
                    if arr.dtype.kind in ("U", "O"):
                        g.create_dataset(
                            name,
                            data=np.asarray(arr, dtype=object),
                            dtype=h5py.string_dtype("utf-8"),
                        )
                    else:
                        # Fletcher-32 checksums: a corrupt chunk is an error on reading, never
                        # silently wrong numbers (not possible for empty arrays); chunks of
                        # whole samples (row_chunks)
                        g.create_dataset(
                            name,
                            data=arr,
                            compression=compression,
                            fletcher32=arr.size > 0,
                            chunks=row_chunks(arr.shape, arr.dtype.itemsize),
                        )
            for key, value in (attrs or {}).items():
                f.attrs[key] = _attr_value(value)


def read_attrs(path: str | os.PathLike) -> dict:
    """Root attributes of an HDF5 file, JSON strings decoded where they parse."""
    with open_h5(path) as f:
        out = {}
        for key, value in f.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            elif isinstance(value, np.generic):
                value = value.item()
            out[key] = value
        return out


@contextmanager
def open_h5(path: str | os.PathLike):
    """Open an HDF5 file for reading; a missing, truncated or corrupt file gets a clear error."""
    path = Path(path)
    if not path.exists():
        raise CorruptFileError(
            f"{path}: file does not exist (run the workflow stage that makes it)"
        )
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(
            f"{path}: not a readable HDF5 file ({exc}). It is truncated or corrupt: "
            f"delete it and rerun the workflow, which rebuilds it from its inputs."
        ) from exc
    try:
        yield f
    except CorruptFileError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        # what h5py raises on damaged metadata (bad heap or object header, failed checksum)
        raise CorruptFileError(
            f"{path}: cannot be read ({type(exc).__name__}: {exc}). It is truncated or corrupt: "
            f"delete it and rerun the workflow, which rebuilds it from its inputs."
        ) from exc
    finally:
        f.close()


def read_split(path: str | os.PathLike, split: str, names=("x", "y")) -> dict[str, np.ndarray]:
    """Read the named arrays of one split into memory, with clear errors on a bad layout."""
    out = {}
    with open_h5(path) as f:
        if split not in f:
            raise CorruptFileError(
                f"{path}: has no '{split}' group (found {sorted(f.keys())}); "
                f"delete it and rerun the workflow to rebuild it."
            )
        g = f[split]
        for name in names:
            if name not in g:
                raise CorruptFileError(
                    f"{path}: '{split}/{name}' is missing (found {sorted(g.keys())}); "
                    f"delete it and rerun the workflow to rebuild it."
                )
            try:
                data = g[name][()]
            except OSError as exc:
                raise CorruptFileError(
                    f"{path}: '{split}/{name}' cannot be read ({exc}); the file is corrupt: "
                    f"delete it and rerun the workflow."
                ) from exc
            if data.dtype.kind == "O":
                data = np.array([d.decode() if isinstance(d, bytes) else d for d in data])
            out[name] = data
    return out
