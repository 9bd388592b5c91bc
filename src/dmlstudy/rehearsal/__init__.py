"""The paper's datasets rehearsed: stand-ins in the real on-disk formats at the real sizes.

``python -m dmlstudy.rehearsal data/rehearsal`` writes, under that folder (the
``data_root`` of ``config/rehearsal.yaml``), what ``config/paper.yaml`` reads under ``data/``:

| folder | format (read by) | full size |
|---|---|---|
| ``mnist/MNIST/raw/`` | four IDX files (``torchvision_mnist``) | 60,000 / 10,000 |
| ``cifar10/cifar-10-batches-py/`` | python pickles (``torchvision_cifar10``) | 50,000 / 10,000 |
| ``cub200/CUB_200_2011/`` | four index files and JPEGs (``cub200``) | 11,788 (5,994 train), 200 classes |
| ``cars196/`` | ``cars_annos.mat`` and ``car_ims/*.jpg`` (``cars196``) | 16,185 (8,144 train), 196 classes |
| ``vit-random-1layer/`` | a ``save_pretrained`` ViT folder (``hf_vit``) | 768-d, 224 px, patch 32 |

Everything is deterministic from ``seed``, and every class looks different from the others
(shapes, colours, stripes; see :mod:`.arrays` and :mod:`.photos`), so a model can learn it.
Each part records what it was written with in ``<folder>/standin.json``; a part whose
record matches is not written again (``--force`` rewrites it).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import arrays, photos
from .vit import VIT_SETTINGS, write_vit

PARTS = ("mnist", "cifar10", "cub200", "cars196", "vit")
VIT_FOLDER = "vit-random-1layer"
FORMAT_VERSION = 1  # bump when a generator changes what it writes


@dataclass(frozen=True)
class Sizes:
    """How many images each stand-in has (the defaults are the real datasets')."""

    mnist_train: int = 60000
    mnist_test: int = 10000
    cifar_train: int = 50000
    cifar_test: int = 10000
    cub_images: int = photos.CUB_SIZES["images"]
    cub_classes: int = photos.CUB_SIZES["classes"]
    cub_train: int = photos.CUB_SIZES["train"]
    cars_images: int = photos.CARS_SIZES["images"]
    cars_classes: int = photos.CARS_SIZES["classes"]
    cars_train: int = photos.CARS_SIZES["train"]

    def scaled(self, factor: float) -> Sizes:
        """Every image count times ``factor`` (at least one image per class and split kept;
        the class counts stay)."""
        if factor == 1:
            return self

        def n(v: int, least: int) -> int:
            return max(least, round(v * factor))

        cub = n(self.cub_images, 2 * self.cub_classes)
        cars = n(self.cars_images, 2 * self.cars_classes)
        return Sizes(
            mnist_train=n(self.mnist_train, 10),
            mnist_test=n(self.mnist_test, 10),
            cifar_train=n(self.cifar_train, 10),
            cifar_test=n(self.cifar_test, 10),
            cub_images=cub,
            cub_classes=self.cub_classes,
            cub_train=cub * self.cub_train // self.cub_images,
            cars_images=cars,
            cars_classes=self.cars_classes,
            cars_train=cars * self.cars_train // self.cars_images,
        )


def part_folder(root: str | Path, part: str) -> Path:
    return Path(root) / (VIT_FOLDER if part == "vit" else part)


def _record(part: str, seed: int, sizes: Sizes) -> dict:
    mine = {
        "mnist": ("mnist_train", "mnist_test"),
        "cifar10": ("cifar_train", "cifar_test"),
        "cub200": ("cub_images", "cub_classes", "cub_train"),
        "cars196": ("cars_images", "cars_classes", "cars_train"),
        "vit": (),
    }[part]
    extra = {"vit": VIT_SETTINGS} if part == "vit" else {}
    return {
        "stand_in": part,
        "format_version": FORMAT_VERSION,
        "seed": seed,
        **{k: v for k, v in asdict(sizes).items() if k in mine},
        **extra,
    }


def write_part(root: str | Path, part: str, seed: int, sizes: Sizes, workers: int = 1) -> dict:
    """Write one stand-in (a name of :data:`PARTS`) under ``root``; returns what it wrote."""
    folder = part_folder(root, part)
    s = sizes
    if part == "mnist":
        out = arrays.write_mnist(folder, s.mnist_train, s.mnist_test, seed)
    elif part == "cifar10":
        out = arrays.write_cifar10(folder, s.cifar_train, s.cifar_test, seed)
    elif part == "cub200":
        out = photos.write_cub(folder, s.cub_images, s.cub_classes, s.cub_train, seed, workers)
    elif part == "cars196":
        out = photos.write_cars(folder, s.cars_images, s.cars_classes, s.cars_train, seed, workers)
    elif part == "vit":
        out = {"folder": write_vit(folder, seed)}
    else:
        raise ValueError(f"unknown stand-in {part!r}; one of {', '.join(PARTS)}")
    return out


def write_all(
    root: str | Path,
    seed: int = 0,
    sizes: Sizes | None = None,
    parts=PARTS,
    workers: int = 1,
    force: bool = False,
    log=print,
) -> dict[str, str]:
    """Write the stand-ins ``parts`` under ``root``; a part whose ``standin.json`` matches
    (same seed, sizes and format) is kept unless ``force``. Returns part -> "written" or
    "kept"."""
    sizes = sizes or Sizes()
    done = {}
    for part in parts:
        folder = part_folder(root, part)
        record = _record(part, seed, sizes)
        marker = folder / "standin.json"
        if not force and marker.is_file() and json.loads(marker.read_text()) == record:
            log(f"{part}: kept {folder} (written before with the same settings)")
            done[part] = "kept"
            continue
        if folder.exists():
            shutil.rmtree(folder)
        start = time.time()
        write_part(root, part, seed, sizes, workers)
        marker.write_text(json.dumps(record, indent=2) + "\n")
        log(f"{part}: wrote {folder} in {time.time() - start:.1f} s")
        done[part] = "written"
    return done
