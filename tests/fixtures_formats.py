"""Tiny datasets written in the real on-disk formats, for tests of the data sources.

Each writer returns what it wrote (arrays, labels, file lists) so a test can compare
the loader's output with the truth. Everything is deterministic and small (a few KB).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from dmlstudy.errors import DataNotFoundError
from dmlstudy.sources import Prepared
from dmlstudy.sources.idx import write_idx

CIFAR10_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def idx_arrays(n: int, seed: int, h: int = 28, w: int = 28, classes: int = 10):
    """Random uint8 images (n, h, w) and uint8 labels cycling through every class."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
    y = (np.arange(n) % classes).astype(np.uint8)
    return x, y


def write_idx_set(
    folder: str | Path,
    n_train: int = 20,
    n_test: int = 10,
    gz: bool | dict = False,
    names: dict | None = None,
) -> dict:
    """The four MNIST-named IDX files in ``folder``; ``gz`` per file key or for all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr = idx_arrays(n_train, 1)
    x_te, y_te = idx_arrays(n_test, 2)
    names = names or {
        "train_images": "train-images-idx3-ubyte",
        "train_labels": "train-labels-idx1-ubyte",
        "test_images": "t10k-images-idx3-ubyte",
        "test_labels": "t10k-labels-idx1-ubyte",
    }
    arrays = {"train_images": x_tr, "train_labels": y_tr, "test_images": x_te, "test_labels": y_te}
    for key, arr in arrays.items():
        compress = gz.get(key, False) if isinstance(gz, dict) else gz
        fname = names[key] + (".gz" if compress else "")
        write_idx(folder / fname, arr, compress=compress)
    return {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}


def write_mnist_raw(root: str | Path, n_train: int = 20, n_test: int = 10, gz: bool = False):
    """torchvision's layout: ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``."""
    return write_idx_set(Path(root) / "MNIST" / "raw", n_train, n_test, gz=gz)


def write_cifar10(root: str | Path, per_batch: int = 4, n_test: int = 4) -> dict:
    """``root/cifar-10-batches-py/`` with data_batch_1..5, test_batch and batches.meta.

    Same dicts as the official python release: ``data`` uint8 (N, 3072) in channel-major
    order (1024 red, 1024 green, 1024 blue), ``labels`` a list of ints, ``batch_label``,
    ``filenames``; ``batches.meta`` holds ``label_names``.
    """
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    xs, ys = [], []
    for b in range(1, 7):
        n = per_batch if b <= 5 else n_test
        x = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        y = [int(v) for v in (np.arange(n) + b) % 10]
        name = f"data_batch_{b}" if b <= 5 else "test_batch"
        entry = {
            "batch_label": f"{'training' if b <= 5 else 'testing'} batch {b} of 5",
            "labels": y,
            "data": x.reshape(n, 3072),
            "filenames": [f"img_{b}_{i}.png" for i in range(n)],
        }
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh, protocol=2)
        xs.append(x)
        ys.append(np.array(y, dtype=np.int64))
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump(
            {"num_cases_per_batch": per_batch, "label_names": CIFAR10_NAMES, "num_vis": 3072},
            fh,
            protocol=2,
        )
    return {
        "x_train": np.concatenate(xs[:5]),
        "y_train": np.concatenate(ys[:5]),
        "x_test": xs[5],
        "y_test": ys[5],
    }


def _jpeg(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format="JPEG")


def write_cub(folder: str | Path, n_classes: int = 4, per_class: int = 3) -> dict:
    """A CUB_200_2011 folder: the four index files and ``images/NNN.name/*.jpg``.

    In each class the first ``per_class - 1`` images are training images (official
    split flag 1) and the last one a test image.
    """
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    classes = [f"{c:03d}.Bird_{c}" for c in range(1, n_classes + 1)]
    images, labels, split, rel = [], [], [], []
    i = 0
    for c, cname in enumerate(classes, 1):
        for k in range(per_class):
            i += 1
            r = f"{cname}/Bird_{c}_{k:04d}_{i}.jpg"
            _jpeg(folder / "images" / r, i)
            images.append(f"{i} {r}")
            labels.append(f"{i} {c}")
            split.append(f"{i} {1 if k < per_class - 1 else 0}")
            rel.append(r)
    (folder / "images.txt").write_text("\n".join(images) + "\n")
    (folder / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (folder / "train_test_split.txt").write_text("\n".join(split) + "\n")
    (folder / "classes.txt").write_text(
        "\n".join(f"{c} {n}" for c, n in enumerate(classes, 1)) + "\n"
    )
    return {"classes": classes, "rel": rel, "n": i}


def write_cars(folder: str | Path, n_classes: int = 4, per_class: int = 3) -> dict:
    """A Cars196 folder: ``cars_annos.mat`` (struct array as in the release) and ``car_ims/``.

    ``annotations`` is a 1xN struct with fields relative_im_path, bbox_x1, bbox_y1,
    bbox_x2, bbox_y2, class (1-based), test (0/1); ``class_names`` a 1xK cell array.
    The last image of each class is a test image.
    """
    folder = Path(folder)
    fields = ["relative_im_path", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test"]
    n = n_classes * per_class
    ann = np.zeros((1, n), dtype=[(f, "O") for f in fields])
    i = 0
    for c in range(1, n_classes + 1):
        for k in range(per_class):
            rel = f"car_ims/{i + 1:06d}.jpg"
            _jpeg(folder / rel, 100 + i)
            ann[0, i] = (
                np.array([rel]),
                np.array([[1]], dtype=np.uint8),
                np.array([[1]], dtype=np.uint8),
                np.array([[15]], dtype=np.uint8),
                np.array([[11]], dtype=np.uint8),
                np.array([[c]], dtype=np.uint8),
                np.array([[1 if k == per_class - 1 else 0]], dtype=np.uint8),
            )
            i += 1
    names = np.empty((1, n_classes), dtype=object)
    for c in range(n_classes):
        names[0, c] = np.array([f"Make{c + 1} Model Sedan 2012"])
    scipy.io.savemat(folder / "cars_annos.mat", {"annotations": ann, "class_names": names})
    return {"n": n, "class_names": [f"Make{c + 1} Model Sedan 2012" for c in range(n_classes)]}


#: Colour of each class of ``write_image_folder`` (so a backbone can tell them apart).
FOLDER_COLOURS = {"cat": (200, 40, 40), "dog": (40, 200, 40), "fox": (40, 40, 200)}


def write_image_folder(
    root: str | Path, per_class: int = 4, split: bool = False, classes=tuple(FOLDER_COLOURS)
) -> list[Path]:
    """An ImageFolder tree: ``root/<class>/`` (``split``: ``root/train/<class>/`` with
    ``per_class`` images and ``root/test/<class>/`` with half as many), images of varying
    sizes, PNG and JPEG in turn (RGB, grayscale and palette PNGs among them), each a
    noisy shade of its class's colour. Returns the image paths."""
    root = Path(root)
    sides = {"train": per_class, "test": max(1, per_class // 2)} if split else {"": per_class}
    written = []
    i = 0
    for side, n in sides.items():
        for c, name in enumerate(classes):
            folder = root / side / name
            folder.mkdir(parents=True, exist_ok=True)
            colour = np.array(FOLDER_COLOURS.get(name, (120, 120, 120)), dtype=np.int64)
            for k in range(n):
                i += 1
                rng = np.random.default_rng(i)
                h, w = 20 + 7 * (k % 3), 24 + 5 * (c % 2)
                noise = rng.integers(-30, 31, size=(h, w, 3))
                img = Image.fromarray(np.clip(colour + noise, 0, 255).astype(np.uint8))
                if k % 2 == 0:
                    path = folder / f"{name}_{k}.png"
                    img = img.convert("L") if k % 4 == 2 else img
                    img = img.convert("P") if k % 6 == 4 else img
                    img.save(path, format="PNG")
                else:
                    path = folder / f"{name}_{k}.jpg"
                    img.save(path, format="JPEG", quality=90)
                written.append(path)
    return written


# --------------------------------------------------------------------------- assertions

REQUIRED_ATTRS = {"kind", "description", "num_classes", "source"}


def assert_image_prepared(p: Prepared, channels: int, hw: tuple[int, int]):
    assert REQUIRED_ATTRS <= set(p.attrs)
    assert p.attrs["kind"] == "images"
    assert p.attrs["image_shape"] == [channels, *hw]
    assert len(p.attrs["normalize_mean"]) == len(p.attrs["normalize_std"]) == channels
    for split in ("train", "test"):
        x, y = p.splits[split]["x"], p.splits[split]["y"]
        assert x.dtype == np.uint8 and x.shape[1:] == (channels, *hw)
        assert y.dtype == np.int64 and y.shape == (len(x),)
        assert y.min() >= 0 and y.max() < p.attrs["num_classes"]


def assert_not_found(exc: DataNotFoundError, name: str, folder: Path, *needles: str):
    msg = str(exc)
    assert f"'{name}'" in msg
    assert str(folder) in msg
    assert "how to get them" in msg
    for n in needles:
        assert n in msg, (n, msg)
