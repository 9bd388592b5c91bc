"""Source ``torchvision_mnist``: full MNIST (60k/10k) in torchvision's on-disk layout under
``root`` (``MNIST/raw/*-ubyte``), downloaded by torchvision when ``download: true``, with
optional stratified subsets. torchvision is imported only when the data is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, DataNotFoundError
from .base import (
    MNIST_CLASS_NAMES,
    MNIST_MEAN,
    MNIST_STD,
    Prepared,
    Source,
    abs_path,
    find_with_gz,
    image_attrs,
    size_text,
    subsets,
)
from .base import train_test as make_splits
from .idx import read_idx

MNIST_RAW = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def _mnist_missing(root: Path) -> list[str]:
    """Raw files torchvision needs that are absent (a ``.gz`` beside counts as present)."""
    raw = root / "MNIST" / "raw"
    processed = root / "MNIST" / "processed"
    if (processed / "training.pt").is_file() and (processed / "test.pt").is_file():
        return []  # torchvision's legacy cache, still read by torchvision.datasets.MNIST
    return [f"MNIST/raw/{f}" for f in MNIST_RAW if find_with_gz(raw, f) is None]


def _mnist_not_found(
    name: str, root: Path, missing: list[str], extra: str = ""
) -> DataNotFoundError:
    return DataNotFoundError(
        name,
        str(root),
        missing,
        f"set datasets.{name}.download: true (torchvision fetches MNIST into {root}), or "
        f"place the files there (gzipped .gz copies are unpacked automatically){extra}",
    )


def _diagnose_idx_files(paths: list[Path]) -> None:
    """Raise the precise :class:`CorruptFileError` for the first unreadable IDX file, if any."""
    for p in paths:
        if p.is_file():
            read_idx(p)


def check(spec: dict, name: str) -> None:
    root = abs_path(spec["root"])
    if spec["download"]:
        return
    missing = _mnist_missing(root)
    if missing:
        raise _mnist_not_found(name, root, missing)


def prepare(spec: dict, name: str, seed: int) -> Prepared:
    """Full MNIST (60k/10k) via ``torchvision.datasets.MNIST``, arrays from ``.data``/``.targets``.

    torchvision reads the unpacked files in ``root/MNIST/raw/``; ``.gz`` copies found
    there instead are unpacked first (as torchvision's own download does).
    """
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import extract_archive

    root = abs_path(spec["root"])
    download = spec["download"]
    raw = root / "MNIST" / "raw"
    if not _mnist_missing(root):
        for f in MNIST_RAW:
            if not (raw / f).is_file() and (raw / f"{f}.gz").is_file():
                try:
                    extract_archive(str(raw / f"{f}.gz"), str(raw))
                except (OSError, EOFError) as exc:
                    raise CorruptFileError(f"{raw / f}.gz: cannot be unpacked ({exc})") from exc
    elif not download:
        raise _mnist_not_found(name, root, _mnist_missing(root))
    arrays = {}
    for train in (True, False):
        try:
            ds = MNIST(str(root), train=train, download=download)
        except (RuntimeError, OSError, ValueError, AssertionError) as exc:
            missing = _mnist_missing(root)
            if missing:  # download failed, or the files vanished
                raise _mnist_not_found(name, root, missing, f" (torchvision said: {exc})") from exc
            _diagnose_idx_files([raw / f for f in MNIST_RAW])  # raises with the culprit named
            raise CorruptFileError(
                f"{raw}: MNIST files cannot be read by torchvision ({exc!r}); delete them and "
                f"download again (datasets.{name}.download: true)"
            ) from exc
        arrays[train] = (
            ds.data.numpy().astype(np.uint8)[:, None, :, :],
            ds.targets.numpy().astype(np.int64),
        )
    (x_tr, y_tr), (x_te, y_te) = arrays[True], arrays[False]
    full = (len(y_tr), len(y_te))
    x_tr, y_tr, x_te, y_te = subsets(spec, name, seed, x_tr, y_tr, x_te, y_te)
    return Prepared(
        make_splits(x_tr, y_tr, x_te, y_te),
        image_attrs(
            x_tr,
            f"MNIST (torchvision, {size_text(len(y_tr), len(y_te), full)})",
            10,
            "torchvision_mnist",
            MNIST_MEAN,
            MNIST_STD,
            MNIST_CLASS_NAMES,
            root=str(root),
        ),
    )


SOURCE = Source(
    name="torchvision_mnist",
    kind="images",
    schema_def="source_torchvision",
    prepare=prepare,
    check=check,
    paper_dataset=lambda spec: "mnist",
)
