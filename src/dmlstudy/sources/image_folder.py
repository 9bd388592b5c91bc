"""Source ``image_folder``: your own images, one subfolder per class (the ImageFolder layout of
torchvision and ImageNet), optionally already split into ``train/`` and ``test/``::

    root/<class>/<image>                                   split: stratified or class_disjoint
    root/train/<class>/<image>, root/test/<class>/<image>  split: folders

Classes are the subfolder names, sorted (labels 0..C-1 in that order; with ``train/`` and
``test/``, the names of both sides together). Images may sit deeper inside a class folder, as
torchvision's ``ImageFolder`` allows. An image is a file whose extension Pillow can open (PNG,
JPEG, BMP, GIF, TIFF, WebP, ...); other files (a README, ``Thumbs.db``) and hidden files are
skipped and counted in the log.

``image_size`` null: the splits hold the images' paths (kind ``image_files``, relative to
``image_root``); a backbone decodes them (model ``head``), as for CUB-200 and Cars196. Each file
is opened with Pillow's ``verify()`` when the dataset is prepared (measured 0.06 ms a JPEG and
0.3 ms a PNG of 500 x 375 pixels, against 3.7 and 8.6 ms to decode them), so an unreadable
image stops that job, naming every such file; a truncated JPEG passes ``verify()`` (it reads
the header) and is named by the feature extraction that decodes it.

``image_size`` N: every image is decoded to RGB (or grayscale), resized whole (no crop) to
N x N and stored as uint8 (kind ``images``: model ``cnn`` or ``head``); the input
normalisation is the training images' own per-channel mean and std unless given.

Importing this module imports neither torch nor Pillow.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError, CorruptFileError, DataNotFoundError
from ..splits import stratified_split
from .base import Prepared, Source, abs_path, image_attrs

log = logging.getLogger("dmlstudy.sources")

SIDES = ("train", "test")
LAYOUT = (
    "one subfolder of images per class (root/<class>/<image>), or root/train/<class>/... "
    "and root/test/<class>/..."
)


def image_extensions() -> set[str]:
    """Lower-case extensions (with the dot) of the formats Pillow can open."""
    from PIL import Image

    Image.init()
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def _how(root: Path, name: str) -> str:
    return (
        f"put {LAYOUT} in {root} (any format Pillow opens: png, jpg, bmp, tif, webp, ...), or "
        f"set datasets.{name}.root to the folder that holds them"
    )


def _sides(root: Path, spec: dict, name: str) -> dict[str, Path] | None:
    """``{"train": root/train, "test": root/test}`` for the split layout, None for one
    folder of classes; an error when the layout and ``split`` disagree."""
    split_layout = all((root / s).is_dir() for s in SIDES)
    if spec["split"] == "folders" and not split_layout:
        raise DataNotFoundError(
            name,
            str(root),
            [f"{s}/<class>/<image>" for s in SIDES if not (root / s).is_dir()],
            f"split: folders reads root/train/ and root/test/, each with one subfolder per "
            f"class; add them, or set datasets.{name}.split to stratified or class_disjoint",
        )
    if not split_layout:
        return None
    extra = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and p.name not in SIDES and not p.name.startswith(".")
    )
    if extra:
        raise CorruptFileError(
            f"{root} holds train/ and test/ and also the folders {extra[:5]}: a split folder "
            f"holds only train/ and test/, each with one subfolder per class. Move them into "
            f"train/ or test/ (or out of {root})"
        )
    return {s: root / s for s in SIDES}


def _scan(folder: Path, name: str, root: Path, exts: set[str]) -> tuple[dict, int]:
    """``{class name: [image paths]}`` of a folder of class folders (sorted), and how many
    files were skipped (not an image format, or hidden)."""
    if not folder.is_dir():
        raise DataNotFoundError(name, str(folder), [LAYOUT], _how(root, name))
    classes, skipped = {}, 0
    for cls in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = []
        for dirpath, dirnames, filenames in os.walk(cls, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                if not f.startswith(".") and os.path.splitext(f)[1].lower() in exts:
                    files.append(os.path.join(dirpath, f))
                else:
                    skipped += 1
        if not files:
            raise DataNotFoundError(
                name,
                str(cls),
                [f"{cls.name}/<image> (the class folder has no image Pillow opens)"],
                f"add images to {cls} or remove the folder; the layout expected: {LAYOUT}",
            )
        classes[cls.name] = files
    if not classes:
        raise DataNotFoundError(
            name, str(folder), [f"{LAYOUT} (no class folder)"], _how(root, name)
        )
    return classes, skipped


def index(spec: dict, name: str) -> tuple[Path, list[str], np.ndarray, np.ndarray, list[str]]:
    """(root, absolute image paths, labels, side (0 train, 1 test, -1 none), class names),
    without opening an image: the cheap check run before any job."""
    root = abs_path(spec["root"])
    if not root.is_dir():
        raise DataNotFoundError(name, str(root), [LAYOUT], _how(root, name))
    exts = image_extensions()
    sides = _sides(root, spec, name)
    scanned = {
        side: _scan(folder, name, root, exts) for side, folder in (sides or {"": root}).items()
    }
    names = sorted({c for classes, _ in scanned.values() for c in classes})
    if len(names) < 2:
        raise DataNotFoundError(
            name, str(root), [f"{LAYOUT} (found 1 class: {names})"], _how(root, name)
        )
    label = {c: i for i, c in enumerate(names)}
    paths, y, side = [], [], []
    for s, (classes, _) in scanned.items():
        for c, files in classes.items():
            paths += files
            y += [label[c]] * len(files)
            side += [SIDES.index(s) if s else -1] * len(files)
    skipped = sum(n for _, n in scanned.values())
    if skipped:
        log.info(
            "dataset %s: %d files in %s are not images Pillow opens; skipped", name, skipped, root
        )
    return root, paths, np.asarray(y, dtype=np.int64), np.asarray(side), names


def check(spec: dict, name: str) -> None:
    index(spec, name)


def _is_train(
    spec: dict, name: str, y: np.ndarray, side: np.ndarray, seed: int
) -> tuple[np.ndarray, str]:
    mode, n_classes = spec["split"], int(y.max()) + 1
    if mode == "auto":
        mode = "folders" if (side >= 0).all() else "stratified"
    if mode == "folders":
        return side == 0, "train/ and test/ folders"
    if mode == "class_disjoint":
        if n_classes < 4:
            raise ConfigError(
                f"datasets.{name}.split = class_disjoint needs at least 4 classes (2 to train "
                f"on, 2 to test on); the folder has {n_classes}. Use split: stratified"
            )
        half = n_classes // 2
        return y < half, f"class-disjoint split, {half} classes train / {n_classes - half} test"
    train, _ = stratified_split(y, spec["test_fraction"], np.random.default_rng(seed))
    is_train = np.zeros(len(y), dtype=bool)
    is_train[train] = True
    return is_train, f"stratified split, test_fraction {spec['test_fraction']}"


def _unreadable(bad: list[tuple[str, str]], n: int) -> CorruptFileError:
    listed = "\n".join(f"    - {p}: {why}" for p, why in bad[:10])
    more = f"\n    ... and {len(bad) - 10} more" if len(bad) > 10 else ""
    return CorruptFileError(
        f"{len(bad)} of {n} images cannot be read:\n{listed}{more}\n"
        f"  fix: replace or delete these files, then rerun"
    )


def verify_images(paths: list[str]) -> None:
    """Open every image with Pillow's ``verify()`` (header and, for PNG, checksums); one
    :class:`CorruptFileError` names every file that fails."""
    from PIL import Image

    bad = []
    for p in paths:
        try:
            with Image.open(p) as im:
                im.verify()
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, ...
            bad.append((p, f"{type(exc).__name__}: {exc}"))
    if bad:
        raise _unreadable(bad, len(paths))


def decode_images(paths: list[str], size: int, grayscale: bool) -> np.ndarray:
    """Every image decoded, resized whole to ``size`` x ``size`` (bilinear, antialiased) and
    stacked into uint8 (N, C, size, size); one :class:`CorruptFileError` names every file
    that cannot be decoded."""
    from PIL import Image

    c = 1 if grayscale else 3
    out = np.empty((len(paths), c, size, size), dtype=np.uint8)
    bad = []
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                im = im.convert("L" if grayscale else "RGB")
                im = im.resize((size, size), Image.Resampling.BILINEAR)
                arr = np.asarray(im, dtype=np.uint8)
        except Exception as exc:  # any decoder failure is this file's
            bad.append((p, f"{type(exc).__name__}: {exc}"))
            continue
        out[i] = arr[None] if grayscale else arr.transpose(2, 0, 1)
    if bad:
        raise _unreadable(bad, len(paths))
    return out


def _normalization(spec: dict, x_train: np.ndarray) -> tuple[list[float], list[float]]:
    mean, std = spec["normalize_mean"], spec["normalize_std"]
    pixels = x_train.astype(np.float64) / 255.0
    if mean is None:
        mean = pixels.mean(axis=(0, 2, 3)).tolist()
    if std is None:
        std = np.maximum(pixels.std(axis=(0, 2, 3)), 1e-3).tolist()
    return mean, std


def prepare(spec: dict, name: str, seed: int) -> Prepared:
    """The folder's images split by ``split`` (see the module doc), as paths or decoded."""
    root, paths, y, side, names = index(spec, name)
    train, note = _is_train(spec, name, y, side, seed)
    n_tr, n_te = int(train.sum()), int((~train).sum())
    what = spec["description"] or f"image folder {spec['root']}"
    description = f"{what} ({len(names)} classes, {note}, {n_tr}/{n_te} images)"
    size = spec["image_size"]
    if size is None:
        verify_images(paths)
        rel = np.asarray([os.path.relpath(p, root) for p in paths], dtype=object)
        splits = {
            "train": {"paths": rel[train], "y": y[train]},
            "test": {"paths": rel[~train], "y": y[~train]},
        }
        attrs = {
            "kind": "image_files",
            "description": description,
            "num_classes": len(names),
            "source": "image_folder",
            "class_names": names,
            "image_root": str(root),
        }
        return Prepared(splits, {**attrs, "split": spec["split"], "root": str(root)})
    x = decode_images(paths, size, spec["grayscale"])
    mean, std = _normalization(spec, x[train])
    splits = {
        "train": {"x": x[train], "y": y[train]},
        "test": {"x": x[~train], "y": y[~train]},
    }
    attrs = image_attrs(
        x, description, len(names), "image_folder", mean, std, names, split=spec["split"]
    )
    return Prepared(splits, {**attrs, "root": str(root)})


SOURCE = Source(
    name="image_folder",
    kind=lambda spec: "image_files" if spec["image_size"] is None else "images",
    schema_def="source_image_folder",
    prepare=prepare,
    check=check,
    paper_dataset=lambda spec: None,
)
