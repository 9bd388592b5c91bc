"""Stand-ins for the two photo datasets: CUB-200-2011 (``CUB_200_2011/`` with its four index
files and ``images/NNN.name/*.jpg``) and Cars196 (``cars_annos.mat`` and ``car_ims/``), with
JPEGs at the datasets' typical sizes.

Every class has its own look, drawn from a generator seeded by ``(seed, dataset, class)``:
two background colours (a vertical gradient), an object colour and a stripe colour, the
stripes' period and angle, and the object's proportions. Every image draws its size, the
object's position and scale and its pixel noise from a generator seeded by
``(seed, dataset, image id)``, so images can be written in any order, by any number of
processes, and come out byte for byte the same.

- **CUB-200**: a "bird": a striped ellipse (body) with a smaller disc (head), on a
  gradient. Sizes: 500 pixels on the long side, mostly landscape 500 x 280-400, some
  portrait, a few smaller, as in the real release (which has about 500 x 375 on average).
- **Cars196**: a "car": a striped rounded rectangle (body) with two dark wheels, on a
  gradient. Sizes: widths spread log-normally around 640 (200-1,600), aspect 1.3-1.8.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CUB_CODE, CARS_CODE = 3, 4
JPEG_QUALITY = 90

# The real releases' split sizes (train / test), for the default full-size stand-ins.
CUB_SIZES = {"images": 11788, "classes": 200, "train": 5994}
CARS_SIZES = {"images": 16185, "classes": 196, "train": 8144}


@dataclass(frozen=True)
class Look:
    """What makes a class recognisable."""

    bg_top: np.ndarray
    bg_bottom: np.ndarray
    colour: np.ndarray
    stripe: np.ndarray
    period: float
    angle: float
    aspect: float


def class_look(seed: int, code: int, c: int) -> Look:
    rng = np.random.default_rng([seed, code, 99, c])
    return Look(
        bg_top=rng.uniform(60, 230, 3).astype(np.float32),
        bg_bottom=rng.uniform(20, 200, 3).astype(np.float32),
        colour=rng.uniform(0, 255, 3).astype(np.float32),
        stripe=rng.uniform(0, 255, 3).astype(np.float32),
        period=float(rng.uniform(0.08, 0.4)),  # of the object's size
        angle=float(rng.uniform(0, np.pi)),
        aspect=float(rng.uniform(0.5, 0.9)),
    )


def cub_size(rng: np.random.Generator) -> tuple[int, int]:
    """(width, height) of one CUB-like photo."""
    u = rng.uniform()
    if u < 0.80:
        return 500, int(rng.integers(280, 401))
    if u < 0.95:
        return int(rng.integers(300, 401)), 500
    long = int(rng.integers(250, 500))
    return long, int(long * rng.uniform(0.6, 0.8))


def cars_size(rng: np.random.Generator) -> tuple[int, int]:
    """(width, height) of one Cars196-like photo."""
    w = int(np.clip(rng.lognormal(np.log(640), 0.35), 200, 1600))
    return w, max(100, int(w / rng.uniform(1.3, 1.8)))


@dataclass(frozen=True)
class Placement:
    """One photo's size and where its object sits (fractions of the height and width)."""

    width: int
    height: int
    cy: float
    cx: float
    ry: float
    rx: float

    def bbox(self, kind: str) -> tuple[int, int, int, int]:
        """1-based inclusive pixel box (x1, y1, x2, y2) around the whole object (a bird's
        head reaches above and beside its body)."""
        half_x = self.rx * (1.1 if kind == "bird" else 1.4)
        top = self.ry * (1.3 if kind == "bird" else 1.0)
        x1 = max(1, int((self.cx - half_x) * self.width) + 1)
        x2 = min(self.width, int((self.cx + half_x) * self.width) + 1)
        y1 = max(1, int((self.cy - top) * self.height) + 1)
        y2 = min(self.height, int((self.cy + self.ry) * self.height) + 1)
        return x1, y1, x2, y2


def placement(seed: int, code: int, i: int) -> tuple[Placement, np.random.Generator]:
    """Image ``i``'s placement, and its generator (which then draws the pixel noise)."""
    rng = np.random.default_rng([seed, code, 1, i])
    w, h = cub_size(rng) if code == CUB_CODE else cars_size(rng)
    scale = rng.uniform(0.22, 0.36)  # of the smaller side
    cy, cx = rng.uniform(0.35, 0.65), rng.uniform(0.3, 0.7)
    return Placement(w, h, cy, cx, scale * min(w, h) / h, scale * min(w, h) / w), rng


NOISE_SIDE = 1700  # larger than any stand-in photo


@functools.cache
def noise_field() -> np.ndarray:
    """int16 (NOISE_SIDE, NOISE_SIDE, 3) Gaussian pixel noise (std 6); every photo adds a
    window of it at an offset of its own (drawing fresh noise per photo cost a third of the
    rendering time). The same field for every seed."""
    rng = np.random.default_rng([CUB_CODE, CARS_CODE, 97])
    field = rng.normal(0, 6, size=(NOISE_SIDE, NOISE_SIDE, 3))
    return np.round(field).astype(np.int16)


def render(look: Look, kind: str, where: Placement, rng: np.random.Generator) -> np.ndarray:
    """uint8 (H, W, 3) photo of one object of ``look`` (``kind``: "bird" or "car")."""
    w, h = where.width, where.height
    grad = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    rows = np.round(look.bg_top + (look.bg_bottom - look.bg_top) * grad).astype(np.int16)
    img = np.broadcast_to(rows[:, None, :], (h, w, 3)).copy()
    # the object is drawn inside its bounding window only (a quarter of the photo or less)
    x1, y1, x2, y2 = where.bbox(kind)
    yy = (np.arange(y1 - 1, y2, dtype=np.float32)[:, None] / h - where.cy) / where.ry
    xx = (np.arange(x1 - 1, x2, dtype=np.float32)[None, :] / w - where.cx) / where.rx
    if kind == "bird":
        body = (yy / look.aspect) ** 2 + xx**2 < 1.0
        extra = (yy + 0.95 * look.aspect) ** 2 + (xx - 0.7) ** 2 < 0.35**2
        extra_colour = look.colour
    else:
        body = np.maximum(np.abs(xx) / 1.4, np.abs(yy) / (0.6 * look.aspect)) < 1.0
        wheel = [(yy - 0.6 * look.aspect) ** 2 + (xx - s) ** 2 < 0.3**2 for s in (-0.8, 0.8)]
        extra = wheel[0] | wheel[1]
        extra_colour = np.array([25, 25, 25], dtype=np.float32)
    # stripes across the object, at the class's period and angle
    stripes = np.sin((xx * np.cos(look.angle) + yy * np.sin(look.angle)) / look.period) > 0
    window = img[y1 - 1 : y2, x1 - 1 : x2]
    window[body & stripes] = np.round(look.stripe)
    window[body & ~stripes] = np.round(look.colour)
    window[extra] = np.round(extra_colour)
    oy, ox = rng.integers(0, NOISE_SIDE - h + 1), rng.integers(0, NOISE_SIDE - w + 1)
    img += noise_field()[oy : oy + h, ox : ox + w]
    return np.clip(img, 0, 255).astype(np.uint8)


def _write_jpegs(jobs: list[tuple[str, int, int, str, int]]) -> int:
    """Render and save ``(path, class, image id, kind, seed)`` items; returns the bytes written."""
    from PIL import Image

    total, looks = 0, {}
    for path, c, i, kind, seed in jobs:
        code = CUB_CODE if kind == "bird" else CARS_CODE
        look = looks.get(c) or looks.setdefault(c, class_look(seed, code, c))
        where, rng = placement(seed, code, i)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(render(look, kind, where, rng)).save(
            path, format="JPEG", quality=JPEG_QUALITY
        )
        total += os.path.getsize(path)
    return total


def write_jpegs(jobs: list[tuple[str, int, int, str, int]], workers: int) -> int:
    """Write every photo, in ``workers`` processes (1: in this one); the bytes written."""
    if workers <= 1 or len(jobs) < 64:
        return _write_jpegs(jobs)
    chunks = [jobs[k : k + 256] for k in range(0, len(jobs), 256)]
    with ProcessPoolExecutor(workers) as pool:
        return sum(pool.map(_write_jpegs, chunks))


def fixed_mat_header(path: Path) -> None:
    """Replace the creation time in a MATLAB 5 file's 116-byte text header by a fixed text,
    so the same seed writes the same bytes (the header is free text; readers skip it)."""
    text = b"MATLAB 5.0 MAT-file, written by dmlstudy.rehearsal (Cars196 stand-in)"
    with open(path, "r+b") as fh:
        if fh.read(10) != b"MATLAB 5.0":
            raise ValueError(f"{path}: not a MATLAB 5 file")
        fh.seek(0)
        fh.write(text.ljust(116))


def per_class_counts(n: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    """Images per class summing to ``n``: equal shares, the remainder to random classes."""
    counts = np.full(classes, n // classes)
    counts[rng.choice(classes, n - counts.sum(), replace=False)] += 1
    return counts


def train_flags(counts: np.ndarray, n_train: int, rng: np.random.Generator) -> np.ndarray:
    """A train/test flag per image (classes in order) with exactly ``n_train`` training
    images, about the same share of every class (as in the official splits)."""
    flags = []
    share = n_train / counts.sum()
    take = np.floor(counts * share).astype(int)
    take[rng.choice(len(counts), n_train - take.sum(), replace=False)] += 1
    for k, t in zip(counts, take, strict=True):
        flags.append(rng.permutation(np.arange(k) < t))
    return np.concatenate(flags)


def write_cub(
    root: str | Path,
    n_images: int = CUB_SIZES["images"],
    n_classes: int = CUB_SIZES["classes"],
    n_train: int = CUB_SIZES["train"],
    seed: int = 0,
    workers: int = 1,
) -> dict:
    """``root/CUB_200_2011/``: ``images.txt``, ``image_class_labels.txt``,
    ``train_test_split.txt``, ``classes.txt`` and ``images/NNN.Standin_bird_NNN/*.jpg``
    (image ids 1..n in class order, as in the release). Returns what was written."""
    base = Path(root) / "CUB_200_2011"
    rng = np.random.default_rng([seed, CUB_CODE, 98])
    counts = per_class_counts(n_images, n_classes, rng)
    flags = train_flags(counts, n_train, rng)
    classes = [f"{c:03d}.Standin_bird_{c:03d}" for c in range(1, n_classes + 1)]
    jobs, images, labels, split = [], [], [], []
    i = 0
    for c, (name, k) in enumerate(zip(classes, counts, strict=True)):
        for j in range(k):
            i += 1
            rel = f"{name}/Standin_Bird_{c + 1:03d}_{j + 1:04d}_{i}.jpg"
            jobs.append((str(base / "images" / rel), c, i, "bird", seed))
            images.append(f"{i} {rel}")
            labels.append(f"{i} {c + 1}")
            split.append(f"{i} {int(flags[i - 1])}")
    nbytes = write_jpegs(jobs, workers)
    (base / "images.txt").write_text("\n".join(images) + "\n")
    (base / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (base / "train_test_split.txt").write_text("\n".join(split) + "\n")
    (base / "classes.txt").write_text(
        "\n".join(f"{c} {n}" for c, n in enumerate(classes, 1)) + "\n"
    )
    return {"root": base, "n": i, "classes": classes, "is_train": flags, "bytes": nbytes}


def write_cars(
    root: str | Path,
    n_images: int = CARS_SIZES["images"],
    n_classes: int = CARS_SIZES["classes"],
    n_train: int = CARS_SIZES["train"],
    seed: int = 0,
    workers: int = 1,
) -> dict:
    """``root/cars_annos.mat`` (the release's 1 x N ``annotations`` struct: relative_im_path,
    bbox_x1/y1/x2/y2, class 1-based, test 0/1; ``class_names`` a 1 x K cell) and
    ``root/car_ims/NNNNNN.jpg``. Image ids are shuffled across classes, as in the release."""
    import scipy.io

    root = Path(root)
    rng = np.random.default_rng([seed, CARS_CODE, 98])
    counts = per_class_counts(n_images, n_classes, rng)
    flags = train_flags(counts, n_train, rng)
    labels = np.repeat(np.arange(n_classes), counts)
    order = rng.permutation(n_images)  # file k holds the order[k]-th image of the class list
    fields = ["relative_im_path", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test"]
    ann = np.zeros((1, n_images), dtype=[(f, "O") for f in fields])
    jobs = []
    for k, src in enumerate(order):
        rel = f"car_ims/{k + 1:06d}.jpg"
        c = int(labels[src])
        jobs.append((str(root / rel), c, k + 1, "car", seed))
        x1, y1, x2, y2 = placement(seed, CARS_CODE, k + 1)[0].bbox("car")
        ann[0, k] = (
            np.array([rel]),
            *(np.array([[v]], dtype=np.uint16) for v in (x1, y1, x2, y2)),
            np.array([[c + 1]], dtype=np.uint8),
            np.array([[0 if flags[src] else 1]], dtype=np.uint8),
        )
    nbytes = write_jpegs(jobs, workers)
    names = np.empty((1, n_classes), dtype=object)
    class_names = [f"Standin Make{c + 1:03d} Model Sedan 2012" for c in range(n_classes)]
    for c, name in enumerate(class_names):
        names[0, c] = np.array([name])
    mat = root / "cars_annos.mat"
    scipy.io.savemat(mat, {"annotations": ann, "class_names": names})
    fixed_mat_header(mat)
    return {
        "root": root,
        "n": n_images,
        "labels": labels[order],
        "is_train": flags[order],
        "class_names": class_names,
        "bytes": nbytes,
    }
