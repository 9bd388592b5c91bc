"""Source ``cub200``: CUB-200-2011 in its official layout (``images.txt``,
``image_class_labels.txt``, ``train_test_split.txt``, ``classes.txt``, ``images/``), placed by
the user. Images stay files; a backbone decodes them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, DataNotFoundError
from .base import Prepared, Source, abs_path
from .image_files import file_splits, missing_images, read_table

CUB_FILES = ["images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"]


def _cub_how(root: Path) -> str:
    return (
        "download CUB_200_2011.tgz from the Caltech site "
        f"(https://www.vision.caltech.edu/datasets/cub_200_2011/) and extract it into {root}"
    )


def _cub_dir(spec: dict, name: str) -> Path:
    root = abs_path(spec["root"])
    for cand in (root, root / "CUB_200_2011"):
        if all((cand / f).is_file() for f in CUB_FILES) and (cand / "images").is_dir():
            return cand
    expected = CUB_FILES + ["images/NNN.name/*.jpg"]
    base = root / "CUB_200_2011" if (root / "CUB_200_2011").is_dir() else root
    missing = [f for f in CUB_FILES if not (base / f).is_file()]
    if not (base / "images").is_dir():
        missing.append("images/NNN.name/*.jpg")
    raise DataNotFoundError(
        name,
        f"{root} (and {root / 'CUB_200_2011'})",
        missing or expected,
        _cub_how(root),
    )


def _cub_index(base: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(absolute paths, 0-based labels, is_train, class names) from CUB's text files."""
    try:
        images = {int(i): p for i, p in read_table(base / "images.txt", 2)}
        labels = {int(i): int(c) for i, c in read_table(base / "image_class_labels.txt", 2)}
        split = {int(i): int(t) for i, t in read_table(base / "train_test_split.txt", 2)}
        classes = {int(i): n for i, n in read_table(base / "classes.txt", 2)}
    except ValueError as exc:
        raise CorruptFileError(f"{base}: a CUB index file has a non-integer id ({exc})") from exc
    ids = sorted(images)
    for fname, table in (("image_class_labels.txt", labels), ("train_test_split.txt", split)):
        if set(table) != set(ids):
            raise CorruptFileError(
                f"{base / fname}: image ids differ from images.txt "
                f"({len(table)} vs {len(ids)} entries); the files come from different copies"
            )
    if sorted(classes) != list(range(1, len(classes) + 1)):
        raise CorruptFileError(f"{base / 'classes.txt'}: class ids are not 1..{len(classes)}")
    bad = sorted({labels[i] for i in ids} - set(classes))
    if bad:
        raise CorruptFileError(f"{base / 'image_class_labels.txt'}: unknown class ids {bad[:5]}")
    paths = [str(base / "images" / images[i]) for i in ids]
    y = np.array([labels[i] - 1 for i in ids], dtype=np.int64)
    is_train = np.array([split[i] == 1 for i in ids], dtype=bool)
    return paths, y, is_train, [classes[c] for c in sorted(classes)]


def _cub_checked(spec: dict, name: str):
    base = _cub_dir(spec, name)
    paths, y, is_train, classes = _cub_index(base)
    n_missing, first = missing_images(paths)
    if n_missing:
        raise DataNotFoundError(
            name,
            str(base / "images"),
            [*(os.path.relpath(p, base) for p in first), f"({n_missing} of {len(paths)} missing)"],
            _cub_how(abs_path(spec["root"])),
        )
    return base, paths, y, is_train, classes


def check(spec: dict, name: str) -> None:
    _cub_checked(spec, name)


def prepare(spec: dict, name: str, seed: int) -> Prepared:
    """CUB-200-2011 image paths and labels (0-based class id - 1).

    ``split: official`` uses ``train_test_split.txt`` (5,994/5,794, all 200 classes on
    both sides, as in the paper); ``class_disjoint`` puts the first half of the classes
    (1-100) in train and the rest (101-200) in test, the usual metric-learning protocol.
    Labels keep their global ids in both modes.
    """
    mode = spec["split"]
    base, paths, y, is_train, classes = _cub_checked(spec, name)
    splits, note = file_splits(paths, y, is_train, mode, len(classes))
    n_tr, n_te = len(splits["train"]["y"]), len(splits["test"]["y"])
    return Prepared(
        splits,
        {
            "kind": "image_files",
            "description": f"CUB-200-2011 ({note}, {n_tr}/{n_te} images, {base})",
            "num_classes": len(classes),
            "source": "cub200",
            "split": mode,
            "class_names": classes,
            "root": str(base),
        },
    )


SOURCE = Source(
    name="cub200",
    kind="image_files",
    schema_def="source_official_tree",
    prepare=prepare,
    check=check,
    paper_dataset=lambda spec: "cub200",
)
