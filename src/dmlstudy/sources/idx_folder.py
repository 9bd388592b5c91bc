"""Source ``idx_folder``: any folder of IDX files in the MNIST naming (MNIST, Fashion-MNIST,
KMNIST, ...), plain or gzipped, read by :mod:`dmlstudy.sources.idx`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, DataNotFoundError
from .base import Prepared, Source, abs_path, find_with_gz, image_attrs, size_text, subsets
from .base import train_test as make_splits
from .idx import read_idx

FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
#: Where Debian's package ``dataset-fashion-mnist`` puts the 70,000 real Fashion-MNIST images.
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
APT_FASHION_MNIST = "sudo apt-get install dataset-fashion-mnist"


def _how_to_get(spec: dict, name: str, folder: Path) -> str:
    """Fashion-MNIST (named in the path or the description): install the Debian package
    first; any other IDX folder: place the files."""
    place = (
        f"place the four IDX files in {folder}, or set datasets.{name}.path to the folder "
        f"that holds them (file names can be changed with datasets.{name}.train_images, "
        f"train_labels, test_images, test_labels)"
    )
    if "fashion" in f"{folder} {spec.get('description') or ''}".lower():
        return (
            f"Fashion-MNIST comes in the Debian package dataset-fashion-mnist, which is not "
            f"installed here: `{APT_FASHION_MNIST}` puts it in {DEBIAN_FASHION_MNIST}/ (set "
            f"datasets.{name}.path to that folder); or {place}"
        )
    return f"{place}. Fashion-MNIST: `{APT_FASHION_MNIST}` puts it in {DEBIAN_FASHION_MNIST}/"


def idx_files(spec: dict, name: str) -> dict[str, Path]:
    """The four IDX files of the folder ``spec["path"]`` (a ``.gz`` twin counts)."""
    folder = abs_path(spec["path"])
    wanted = {k: spec[k] for k in FILE_KEYS}
    found = {k: find_with_gz(folder, v) for k, v in wanted.items()}
    missing = [v for k, v in wanted.items() if found[k] is None]
    if missing or not folder.is_dir():
        raise DataNotFoundError(
            name,
            str(folder),
            [f"{v} (or {v}.gz)" for v in (missing or wanted.values())],
            _how_to_get(spec, name, folder),
        )
    return found


def check(spec: dict, name: str) -> None:
    idx_files(spec, name)


def _read_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    x = read_idx(images)
    y = read_idx(labels)
    if x.ndim != 3:
        raise CorruptFileError(
            f"{images}: expected an image file of shape (N, H, W), found shape {x.shape}"
        )
    if y.ndim != 1:
        raise CorruptFileError(f"{labels}: expected a label file of shape (N,), found {y.shape}")
    if len(x) != len(y):
        raise CorruptFileError(
            f"{images} has {len(x)} images but {labels} has {len(y)} labels; one of them is "
            f"from another dataset or truncated"
        )
    if x.dtype != np.uint8:
        raise CorruptFileError(f"{images}: expected uint8 pixels, found {x.dtype}")
    if len(y) and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
        raise CorruptFileError(f"{labels}: labels must be non-negative integers")
    return x[:, None, :, :], y.astype(np.int64)


def prepare(spec: dict, name: str, seed: int) -> Prepared:
    """The folder's train and test files, optionally stratified subsets of them."""
    files = idx_files(spec, name)
    x_tr, y_tr = _read_pair(files["train_images"], files["train_labels"])
    x_te, y_te = _read_pair(files["test_images"], files["test_labels"])
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise CorruptFileError(
            f"{files['train_images']} has images of shape {x_tr.shape[2:]} but "
            f"{files['test_images']} has {x_te.shape[2:]}"
        )
    full = (len(y_tr), len(y_te))
    x_tr, y_tr, x_te, y_te = subsets(spec, name, seed, x_tr, y_tr, x_te, y_te)
    folder = abs_path(spec["path"])
    sizes = size_text(len(y_tr), len(y_te), full)
    if spec["description"]:
        description = f"{spec['description']} (IDX folder {folder}, {sizes})"
    else:
        description = f"IDX folder {folder} ({sizes})"
    num_classes = int(max(y_tr.max(initial=-1), y_te.max(initial=-1))) + 1
    return Prepared(
        make_splits(x_tr, y_tr, x_te, y_te),
        image_attrs(
            x_tr,
            description,
            num_classes,
            "idx_folder",
            spec["normalize_mean"],
            spec["normalize_std"],
            spec["class_names"],
            path=str(folder),
        ),
    )


def paper_dataset(spec: dict) -> str | None:
    """MNIST (the IDX format is MNIST's), unless the description or path names
    Fashion-MNIST, which the paper never used."""
    text = f"{spec['description'] or ''} {spec['path']}".lower()
    return None if "fashion" in text else "mnist"


SOURCE = Source(
    name="idx_folder",
    kind="images",
    schema_def="source_idx_folder",
    prepare=prepare,
    check=check,
    paper_dataset=paper_dataset,
)
