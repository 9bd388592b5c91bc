"""Stand-ins for the two array datasets: MNIST (IDX files in torchvision's ``MNIST/raw``
layout) and CIFAR-10 (``cifar-10-batches-py`` pickles), at any size.

Both are drawn in blocks of :data:`BLOCK` images, each block from its own generator seeded
by ``(seed, dataset, split, block)``: the same seed gives the same bytes, and no image
depends on how many others are drawn after it.

- **MNIST**: each class is a fixed stroke template (three thick random segments on a
  black 28 x 28 canvas, like a hand-drawn glyph); an image is its class's template shifted
  by up to 3 pixels in each direction, scaled in brightness, plus Gaussian noise.
- **CIFAR-10**: each class has a shape (disc, square, diamond, ring, cross), an object
  colour and a background tone; an image places that shape at a random position and
  size, with per-image colour jitter and Gaussian noise.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..sources.idx import write_idx
from ..sources.torchvision_cifar10 import CIFAR10_FOLDER, CIFAR10_META, CIFAR10_TEST, CIFAR10_TRAIN
from ..sources.torchvision_mnist import MNIST_RAW

BLOCK = 2048
MNIST_CODE, CIFAR_CODE = 1, 2
CIFAR10_CLASSES = [
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


def balanced_labels(n: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` labels, every class ``n // classes`` or one more times, in random order."""
    return rng.permutation(np.arange(n) % classes).astype(np.int64)


def _blocks(n: int, seed: int, code: int, split: int):
    """``(start, stop, generator)`` per block of at most :data:`BLOCK` items."""
    for b, start in enumerate(range(0, n, BLOCK)):
        yield start, min(n, start + BLOCK), np.random.default_rng([seed, code, split, b])


# --------------------------------------------------------------------------- MNIST


def mnist_templates(seed: int, classes: int = 10, size: int = 28) -> np.ndarray:
    """float32 (classes, size + 6, size + 6) glyphs in [0, 1], with a 3-pixel border of zeros
    so a 3-pixel shift never cuts the stroke."""
    pad = size + 6
    yy, xx = np.mgrid[0:pad, 0:pad].astype(np.float32)
    out = np.zeros((classes, pad, pad), dtype=np.float32)
    for c in range(classes):
        rng = np.random.default_rng([seed, MNIST_CODE, 99, c])
        points = rng.uniform(8, pad - 8, size=(4, 2)).astype(np.float32)
        for (y0, x0), (y1, x1) in zip(points[:-1], points[1:], strict=True):
            # distance of every pixel to the segment, then a stroke about 2.5 pixels wide
            dy, dx = y1 - y0, x1 - x0
            t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / max(dy * dy + dx * dx, 1e-6), 0, 1)
            d2 = (yy - y0 - t * dy) ** 2 + (xx - x0 - t * dx) ** 2
            out[c] = np.maximum(out[c], np.exp(-d2 / (2 * 1.3**2)))
    return out


def mnist_images(n: int, seed: int, split: int, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 28, 28) images and uint8 labels of the MNIST stand-in."""
    templates = mnist_templates(seed, classes)
    x = np.empty((n, 28, 28), dtype=np.uint8)
    y = np.empty(n, dtype=np.uint8)
    ar = np.arange(28)
    for start, stop, rng in _blocks(n, seed, MNIST_CODE, split):
        m = stop - start
        labels = balanced_labels(m, classes, rng)
        dy, dx = rng.integers(0, 7, size=(2, m))  # offsets 0..6 into the padded template
        rows = (dy[:, None] + ar)[:, :, None]
        cols = (dx[:, None] + ar)[:, None, :]
        glyph = templates[labels[:, None, None], rows, cols]
        level = rng.uniform(0.65, 1.0, size=(m, 1, 1)).astype(np.float32)
        noise = rng.normal(0, 0.12, size=(m, 28, 28)).astype(np.float32)
        x[start:stop] = np.clip((glyph * level + noise) * 255, 0, 255).astype(np.uint8)
        y[start:stop] = labels
    return x, y


def write_mnist(root: str | Path, n_train: int, n_test: int, seed: int) -> dict:
    """The four IDX files of torchvision's layout, ``root/MNIST/raw/`` (uncompressed, as
    torchvision leaves them after a download). Returns the arrays written."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr = mnist_images(n_train, seed, 0)
    x_te, y_te = mnist_images(n_test, seed, 1)
    for name, arr in zip(MNIST_RAW, (x_tr, y_tr, x_te, y_te), strict=True):
        write_idx(raw / name, arr, compress=False)
    return {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}


# --------------------------------------------------------------------------- CIFAR-10

SHAPES = ("disc", "square", "diamond", "ring", "cross")


def cifar_classes(seed: int, classes: int = 10) -> dict[str, np.ndarray]:
    """Per class: shape index, object colour (RGB 0-255) and background colour."""
    rng = np.random.default_rng([seed, CIFAR_CODE, 99])
    return {
        "shape": np.arange(classes) % len(SHAPES),
        "colour": rng.uniform(30, 225, size=(classes, 3)).astype(np.float32),
        "background": rng.uniform(40, 200, size=(classes, 3)).astype(np.float32),
    }


def _shape_masks(shape, cy, cx, r, size: int) -> np.ndarray:
    """float32 (m, size, size) masks in [0, 1] (soft edges) of each image's shape."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy = yy[None] - cy[:, None, None]
    dx = xx[None] - cx[:, None, None]
    r = r[:, None, None]
    # a signed "distance": negative inside; one formula per shape, chosen per image
    metrics = {
        "disc": np.sqrt(dy**2 + dx**2) - r,
        "square": np.maximum(np.abs(dy), np.abs(dx)) - 0.8 * r,
        "diamond": (np.abs(dy) + np.abs(dx)) - 1.1 * r,
        "ring": np.abs(np.sqrt(dy**2 + dx**2) - 0.75 * r) - 0.3 * r,
        "cross": np.minimum(
            np.maximum(np.abs(dy) - 0.3 * r, np.abs(dx) - r),
            np.maximum(np.abs(dx) - 0.3 * r, np.abs(dy) - r),
        ),
    }
    d = np.choose(shape[:, None, None], [metrics[s] for s in SHAPES])
    return np.clip(0.5 - d, 0.0, 1.0).astype(np.float32)


def cifar_images(n: int, seed: int, split: int, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 3, 32, 32) images and int64 labels of the CIFAR-10 stand-in."""
    spec = cifar_classes(seed, classes)
    x = np.empty((n, 3, 32, 32), dtype=np.uint8)
    y = np.empty(n, dtype=np.int64)
    for start, stop, rng in _blocks(n, seed, CIFAR_CODE, split):
        m = stop - start
        labels = balanced_labels(m, classes, rng)
        cy, cx = rng.uniform(10, 22, size=(2, m)).astype(np.float32)
        r = rng.uniform(6, 11, size=m).astype(np.float32)
        mask = _shape_masks(spec["shape"][labels], cy, cx, r, 32)[:, None]  # (m, 1, H, W)
        colour = spec["colour"][labels] + rng.normal(0, 18, size=(m, 3)).astype(np.float32)
        bg = spec["background"][labels] + rng.normal(0, 25, size=(m, 3)).astype(np.float32)
        # a vertical shading of the background, so it is not flat
        shade = np.linspace(-20, 20, 32, dtype=np.float32)[None, None, :, None]
        img = bg[:, :, None, None] + shade * rng.uniform(-1, 1, size=(m, 1, 1, 1))
        img = img * (1 - mask) + colour[:, :, None, None] * mask
        img += rng.normal(0, 12, size=img.shape).astype(np.float32)
        x[start:stop] = np.clip(img, 0, 255).astype(np.uint8)
        y[start:stop] = labels
    return x, y


def write_cifar10(root: str | Path, n_train: int, n_test: int, seed: int) -> dict:
    """``root/cifar-10-batches-py/``: five training batches, ``test_batch`` and
    ``batches.meta``, in the official python release's dicts (``data`` uint8 (N, 3072)
    channel-major, ``labels`` a list of ints). Returns the arrays written."""
    folder = Path(root) / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr = cifar_images(n_train, seed, 0)
    x_te, y_te = cifar_images(n_test, seed, 1)
    bounds = np.linspace(0, n_train, len(CIFAR10_TRAIN) + 1).astype(int)
    parts = [
        (f, x_tr[a:b], y_tr[a:b])
        for f, a, b in zip(CIFAR10_TRAIN, bounds[:-1], bounds[1:], strict=True)
    ]
    parts.append((CIFAR10_TEST[0], x_te, y_te))
    for b, (fname, x, y) in enumerate(parts, 1):
        is_train = fname != CIFAR10_TEST[0]
        entry = {
            "batch_label": f"training batch {b} of 5" if is_train else "testing batch 1 of 1",
            "labels": [int(v) for v in y],
            "data": x.reshape(len(x), 3072),
            "filenames": [f"standin_{fname}_{i:05d}.png" for i in range(len(x))],
        }
        with open(folder / fname, "wb") as fh:
            pickle.dump(entry, fh, protocol=4)  # 2 would inflate the bytes 1.4x (latin-1)
    meta = {"num_cases_per_batch": int(bounds[1]), "label_names": CIFAR10_CLASSES, "num_vis": 3072}
    with open(folder / CIFAR10_META, "wb") as fh:
        pickle.dump(meta, fh, protocol=4)
    return {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
