"""Source ``cars196``: Stanford Cars (the ``cars_annos.mat`` release with ``car_ims/``), placed
by the user. Images stay files; a backbone decodes them. scipy is imported only to read the
annotations."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, DataNotFoundError
from .base import Prepared, Source, abs_path
from .image_files import file_splits, missing_images


def _cars_how(root: Path, name: str) -> str:
    return (
        f"place cars_annos.mat and car_ims/ in {root} (from the Stanford Cars release: "
        f"car_ims.tgz extracted, plus cars_annos.mat), or set datasets.{name}.root to the "
        f"folder that holds them"
    )


def _cars_index(root: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str] | None]:
    import scipy.io

    mat_path = root / "cars_annos.mat"
    try:
        mat = scipy.io.loadmat(str(mat_path))
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError on bad files
        raise CorruptFileError(
            f"{mat_path}: not a readable MATLAB file ({exc!r}); replace it with a fresh copy"
        ) from exc
    if "annotations" not in mat:
        raise CorruptFileError(f"{mat_path}: has no 'annotations' struct (keys {sorted(mat)})")
    ann = np.asarray(mat["annotations"]).ravel()
    names = ann.dtype.names or ()
    need = ("relative_im_path", "class", "test")
    if any(f not in names for f in need):
        raise CorruptFileError(
            f"{mat_path}: annotations lack fields {[f for f in need if f not in names]} "
            f"(found {list(names)})"
        )

    def scalar(v):
        return np.asarray(v).ravel()[0]

    try:
        rel = [str(scalar(a["relative_im_path"])) for a in ann]
        cls = np.array([int(scalar(a["class"])) for a in ann], dtype=np.int64)
        test = np.array([int(scalar(a["test"])) for a in ann], dtype=np.int64)
    except (IndexError, ValueError, TypeError) as exc:
        raise CorruptFileError(f"{mat_path}: malformed annotation entry ({exc!r})") from exc
    class_names = None
    if "class_names" in mat:
        class_names = [str(scalar(v)) for v in np.asarray(mat["class_names"]).ravel()]
    if len(cls) and cls.min() < 1:
        raise CorruptFileError(f"{mat_path}: class ids must start at 1, found {cls.min()}")
    paths = [str(root / r) for r in rel]
    return paths, cls - 1, test == 0, class_names


def _cars_checked(spec: dict, name: str):
    root = abs_path(spec["root"])
    missing = []
    if not (root / "cars_annos.mat").is_file():
        missing.append("cars_annos.mat")
    if not (root / "car_ims").is_dir():
        missing.append("car_ims/*.jpg")
    if missing:
        raise DataNotFoundError(name, str(root), missing, _cars_how(root, name))
    paths, y, is_train, class_names = _cars_index(root)
    n_missing, first = missing_images(paths)
    if n_missing:
        raise DataNotFoundError(
            name,
            str(root / "car_ims"),
            [*(os.path.relpath(p, root) for p in first), f"({n_missing} of {len(paths)} missing)"],
            _cars_how(root, name),
        )
    return root, paths, y, is_train, class_names


def check(spec: dict, name: str) -> None:
    _cars_checked(spec, name)


def prepare(spec: dict, name: str, seed: int) -> Prepared:
    """Cars196 image paths and labels from ``cars_annos.mat`` (0-based class id - 1).

    ``split: official`` uses the annotations' ``test`` flag (8,144/8,041, as in the paper);
    ``class_disjoint`` puts classes 1-98 in train and 99-196 in test.
    """
    mode = spec["split"]
    root, paths, y, is_train, class_names = _cars_checked(spec, name)
    num_classes = len(class_names) if class_names else int(y.max(initial=-1)) + 1
    splits, note = file_splits(paths, y, is_train, mode, num_classes)
    n_tr, n_te = len(splits["train"]["y"]), len(splits["test"]["y"])
    attrs = {
        "kind": "image_files",
        "description": f"Cars196 ({note}, {n_tr}/{n_te} images, {root})",
        "num_classes": num_classes,
        "source": "cars196",
        "split": mode,
        "root": str(root),
    }
    if class_names:
        attrs["class_names"] = class_names
    return Prepared(splits, attrs)


SOURCE = Source(
    name="cars196",
    kind="image_files",
    schema_def="source_official_tree",
    prepare=prepare,
    check=check,
    paper_dataset=lambda spec: "cars196",
)
