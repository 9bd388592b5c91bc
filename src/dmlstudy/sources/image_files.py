"""What the image-file sources (CUB-200-2011, Cars196) share: their two split modes, the
check that every image exists, and a reader of space-separated index files. Images are not
decoded here: the splits hold absolute ``paths`` (kind ``"image_files"``) for the feature
extractor."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError


def file_splits(
    paths: list[str], labels: np.ndarray, is_train: np.ndarray, mode: str, num_classes: int
) -> tuple[dict, str]:
    """Split by the official flag, or class-disjoint: first half of the classes train."""
    labels = np.asarray(labels, dtype=np.int64)
    if mode == "official":
        train = np.asarray(is_train, dtype=bool)
        note = "official split, same classes in train and test"
    else:
        half = num_classes // 2
        train = labels < half
        note = f"class-disjoint split, classes 1-{half} train / {half + 1}-{num_classes} test"
    paths_arr = np.asarray(paths, dtype=object)
    return (
        {
            "train": {"paths": paths_arr[train], "y": labels[train]},
            "test": {"paths": paths_arr[~train], "y": labels[~train]},
        },
        note,
    )


def missing_images(paths: list[str], limit: int = 5) -> tuple[int, list[str]]:
    missing = [p for p in paths if not os.path.isfile(p)]
    return len(missing), missing[:limit]


def read_table(path: Path, ncols: int) -> list[list[str]]:
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{path}: cannot be read ({exc})") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=ncols - 1)
        if len(parts) != ncols:
            raise CorruptFileError(
                f"{path}, line {lineno}: expected {ncols} space-separated fields, got {line!r}"
            )
        rows.append(parts)
    return rows
