"""Source ``torchvision_cifar10``: CIFAR-10 (50k/10k) in torchvision's ``cifar-10-batches-py``
layout under ``root``, downloaded by torchvision when ``download: true``, with optional
stratified subsets. torchvision is imported only to download."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, DataNotFoundError
from .base import Prepared, Source, abs_path, image_attrs, size_text, subsets
from .base import train_test as make_splits

CIFAR10_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR10_STD = [0.247, 0.243, 0.261]
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR10_TEST = ["test_batch"]
CIFAR10_META = "batches.meta"


def _cifar_missing(root: Path) -> list[str]:
    folder = root / CIFAR10_FOLDER
    return [
        f"{CIFAR10_FOLDER}/{f}"
        for f in CIFAR10_TRAIN + CIFAR10_TEST + [CIFAR10_META]
        if not (folder / f).is_file()
    ]


def _cifar_not_found(
    name: str, root: Path, missing: list[str], extra: str = ""
) -> DataNotFoundError:
    return DataNotFoundError(
        name,
        str(root),
        missing,
        f"set datasets.{name}.download: true (torchvision fetches "
        f"https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz into {root}), or place the "
        f"files there (extract cifar-10-python.tar.gz in {root}){extra}",
    )


def check(spec: dict, name: str) -> None:
    root = abs_path(spec["root"])
    if spec["download"]:
        return
    missing = _cifar_missing(root)
    if missing:
        raise _cifar_not_found(name, root, missing)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = np.asarray(entry["labels"] if "labels" in entry else entry["fine_labels"])
        x = data.reshape(-1, 3, 32, 32)
    except Exception as exc:  # unpickling junk raises almost anything
        raise CorruptFileError(
            f"{path}: not a readable CIFAR-10 python batch ({exc!r}); delete the "
            f"{CIFAR10_FOLDER} folder and extract cifar-10-python.tar.gz again"
        ) from exc
    if len(x) != len(labels):
        raise CorruptFileError(f"{path}: {len(x)} images but {len(labels)} labels")
    return x, labels.astype(np.int64)


def read_cifar10_folder(root: str | os.PathLike) -> dict:
    """Read ``root/cifar-10-batches-py`` with the same pickle reader torchvision uses.

    We do not instantiate ``torchvision.datasets.CIFAR10`` to read: it md5-checks every
    batch against the official release, which rejects the small fixtures the tests write
    in the very same format. Reading the pickles ourselves keeps one code path for the
    real files and the fixtures; torchvision is still used to download and verify.
    Returns ``{"x_train", "y_train", "x_test", "y_test", "classes"}`` with images
    uint8 (N, 3, 32, 32).
    """
    folder = Path(root) / CIFAR10_FOLDER
    parts = [_read_cifar_batch(folder / f) for f in CIFAR10_TRAIN]
    x_tr = np.concatenate([p[0] for p in parts])
    y_tr = np.concatenate([p[1] for p in parts])
    x_te, y_te = _read_cifar_batch(folder / CIFAR10_TEST[0])
    try:
        with open(folder / CIFAR10_META, "rb") as fh:
            classes = list(pickle.load(fh, encoding="latin1")["label_names"])
    except Exception as exc:  # unpickling junk raises almost anything
        raise CorruptFileError(f"{folder / CIFAR10_META}: not readable ({exc!r})") from exc
    for path, y in ((folder / "data_batch_*", y_tr), (folder / CIFAR10_TEST[0], y_te)):
        if len(y) and (y.min() < 0 or y.max() >= len(classes)):
            raise CorruptFileError(f"{path}: labels outside 0..{len(classes) - 1}")
    return {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te, "classes": classes}


def prepare(spec: dict, name: str, seed: int) -> Prepared:
    """CIFAR-10 (50k/10k) in torchvision's ``cifar-10-batches-py`` layout under ``root``.

    With ``download: true`` torchvision downloads, md5-checks and extracts the archive;
    the batches are then read by :func:`read_cifar10_folder` (see there why).
    """
    root = abs_path(spec["root"])
    if _cifar_missing(root):
        if not spec["download"]:
            raise _cifar_not_found(name, root, _cifar_missing(root))
        from torchvision.datasets import CIFAR10

        try:
            CIFAR10(str(root), train=True, download=True)
        except Exception as exc:  # network errors come in many types
            raise _cifar_not_found(
                name, root, _cifar_missing(root) or [CIFAR10_FOLDER], f" (download failed: {exc})"
            ) from exc
    d = read_cifar10_folder(root)
    x_tr, y_tr, x_te, y_te = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
    full = (len(y_tr), len(y_te))
    x_tr, y_tr, x_te, y_te = subsets(spec, name, seed, x_tr, y_tr, x_te, y_te)
    return Prepared(
        make_splits(x_tr, y_tr, x_te, y_te),
        image_attrs(
            x_tr,
            f"CIFAR-10 (torchvision layout, {size_text(len(y_tr), len(y_te), full)})",
            len(d["classes"]),
            "torchvision_cifar10",
            CIFAR10_MEAN,
            CIFAR10_STD,
            d["classes"],
            root=str(root),
        ),
    )


SOURCE = Source(
    name="torchvision_cifar10",
    kind="images",
    schema_def="source_torchvision",
    prepare=prepare,
    check=check,
    paper_dataset=lambda spec: "cifar10",
)
