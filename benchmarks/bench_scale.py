"""What the rehearsal's fixes buy, each before and after side by side in one run.

Sections (``--sections``):

- ``h5``: HDF5 files of the paper's sizes (MNIST 60k x 1 x 28 x 28 and CIFAR-10
  50k x 3 x 32 x 32 uint8, 60k x 768 ViT features, 50k x 512 embeddings), written with
  h5py's guessed chunks (**before**: what ``h5io.write_splits`` did) and with whole-sample
  chunks (**after**: ``h5io.row_chunks``). CPU seconds to write, to read everything, to read
  one batch of 64 random samples; file size; chunk shape.
- ``preprocess``: the extraction's input pipeline through a DataLoader (1 worker, batch 256,
  224 px, as the rehearsal runs it) on CIFAR-size uint8 arrays and on CUB- and Cars-size
  JPEGs (written by ``dmlstudy.rehearsal``): **before** = ``ImageDataset`` and
  ``decode_image`` of d0eace4 (copied below: one tensor per image, ``ConcatDataset`` and the
  default collate's stack; PIL's ``convert("RGB")`` of every RGB photo); **after** =
  ``dmlstudy.features`` as ``extract_features`` runs it (each image written straight into
  its row of the batch, in shared memory in a worker; no identity convert). CPU seconds of
  the process and its worker per image, and whether every image is bit for bit equal.
  ``--workers 0`` times the pipeline in this one process.

Rounds are interleaved (before, after, before, after, ...); medians are reported.
``python benchmarks/bench_scale.py --json results/benchmarks/scale/bench_scale.json``
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from _common import machine_info


def cpu_now() -> float:
    """CPU seconds of this process and its reaped children (DataLoader workers)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


# --------------------------------------------------------------------------- h5


def h5_case(arr: np.ndarray, path: Path, after: bool) -> dict:
    from dmlstudy import h5io

    chunks = h5io.row_chunks(arr.shape, arr.dtype.itemsize) if after else True
    c = cpu_now()
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=arr, fletcher32=True, chunks=chunks)
    write = cpu_now() - c
    c = cpu_now()
    with h5py.File(path, "r") as f:
        full = f["x"][()]
        shape = f["x"].chunks
    read = cpu_now() - c
    idx = np.sort(np.random.default_rng(0).choice(len(arr), 64, replace=False))
    c = cpu_now()
    with h5py.File(path, "r") as f:
        batch = f["x"][idx]
    read64 = cpu_now() - c
    assert np.array_equal(full, arr) and np.array_equal(batch, arr[idx])
    return {
        "write": write,
        "read": read,
        "read64": read64,
        "mb": path.stat().st_size / 1e6,
        "chunks": list(shape),
    }


def bench_h5(rounds: int, folder: Path) -> list[dict]:
    rng = np.random.default_rng(0)
    from dmlstudy.rehearsal.arrays import cifar_images, mnist_images

    cases = {
        "MNIST train 60000x1x28x28 uint8": mnist_images(60000, 0, 0)[0][:, None],
        "CIFAR-10 train 50000x3x32x32 uint8": cifar_images(50000, 0, 0)[0],
        "ViT features 60000x768 float32": rng.standard_normal((60000, 768), dtype=np.float32),
        "embeddings 50000x512 float32": rng.standard_normal((50000, 512), dtype=np.float32),
    }
    rows = []
    for name, arr in cases.items():
        runs = {"before": [], "after": []}
        for _ in range(rounds):
            for which in ("before", "after"):
                runs[which].append(h5_case(arr, folder / f"{which}.h5", which == "after"))
        row = {"array": name}
        for which, rs in runs.items():
            for key in ("write", "read", "read64"):
                row[f"{which}_{key}"] = statistics.median(r[key] for r in rs)
            row[f"{which}_mb"] = rs[0]["mb"]
            row[f"{which}_chunks"] = rs[0]["chunks"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


# --------------------------------------------------------------------------- preprocess


def _before_classes():
    """``ImageDataset``, ``decode_image`` and ``preprocess_image`` as they were at d0eace4."""
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torch.utils.data import Dataset

    def decode_image(path):
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
        return torch.from_numpy(arr.copy()).permute(2, 0, 1)

    def preprocess_image(img, size, mean, std):
        x = img if img.dtype == torch.uint8 else img.to(torch.float32)
        if tuple(x.shape[1:]) != (size, size):
            x = F.interpolate(
                x[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )[0]
        x = x.to(torch.float32) / 255.0 if img.dtype == torch.uint8 else x
        if x.shape[0] == 1:
            x = x.expand(3, -1, -1)
        mean = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
        return (x - mean) / std

    class ImageDataset(Dataset):
        def __init__(self, images, prep):
            self.images = images
            self.size, self.mean, self.std = prep["size"], prep["mean"], prep["std"]

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            item = self.images[i]
            img = (
                decode_image(item) if isinstance(item, str) else torch.from_numpy(np.asarray(item))
            )
            return preprocess_image(img, self.size, self.mean, self.std)

    return ImageDataset


def pipeline(parts, after: bool, workers: int, batch: int) -> tuple[float, float, object]:
    """(CPU seconds, wall seconds, the first batch) of one pass over ``parts``."""
    from torch.utils.data import ConcatDataset, DataLoader

    from dmlstudy import features

    prep = {"size": 224, "mean": [0.5] * 3, "std": [0.5] * 3}
    if after:  # as features.extract_features runs it
        ds = features._Splits([features.ImageDataset(p, prep) for p in parts])
        collate = features._as_batch
    else:
        ds, collate = ConcatDataset([_before_classes()(p, prep) for p in parts]), None
    loader = DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=collate)
    first = None
    c, w = cpu_now(), time.perf_counter()
    for b in loader:
        first = b if first is None else first
    cpu, wall = cpu_now() - c, time.perf_counter() - w
    return cpu, wall, first


def bench_preprocess(rounds: int, folder: Path, n: int, workers: int) -> list[dict]:
    import torch

    from dmlstudy import features
    from dmlstudy.rehearsal import photos
    from dmlstudy.rehearsal.arrays import cifar_images

    torch.set_num_threads(1)
    x = cifar_images(n, 0, 0)[0]
    cub = photos.write_cub(folder / "cub", n_images=n, n_classes=8, n_train=n // 2, workers=2)
    photos.write_cars(folder / "cars", n_images=n, n_classes=8, n_train=n // 2, workers=2)
    cub_files = sorted(str(p) for p in (cub["root"] / "images").rglob("*.jpg"))
    cars_files = sorted(str(p) for p in (folder / "cars" / "car_ims").glob("*.jpg"))
    cases = {
        "CIFAR-size uint8 arrays (train + test parts)": [x[: n * 5 // 6], x[n * 5 // 6 :]],
        "CUB-size JPEGs": [cub_files],
        "Cars-size JPEGs": [cars_files],
    }
    rows = []
    for name, parts in cases.items():
        runs = {"before": [], "after": []}
        equal = True
        for _ in range(rounds):
            out = {}
            for which in ("before", "after"):
                cpu, wall, sums = pipeline(parts, which == "after", workers, 256)
                runs[which].append((cpu, wall))
                out[which] = sums
            equal &= bool(torch.equal(out["before"], out["after"]))
        # and every image, not only the first batch (untimed, in this process)
        old = _before_classes()
        prep = {"size": 224, "mean": [0.5] * 3, "std": [0.5] * 3}
        for part in parts:
            new_ds, old_ds = features.ImageDataset(part, prep), old(part, prep)
            equal &= all(torch.equal(new_ds[i], old_ds[i]) for i in range(len(part)))
            head = list(range(min(len(part), 64)))
            equal &= torch.equal(new_ds.__getitems__(head), torch.stack([old_ds[i] for i in head]))
        row = {"input": name, "images": n, "workers": workers, "bit_identical": equal}
        for which, rs in runs.items():
            row[f"{which}_cpu_ms_per_image"] = statistics.median(r[0] for r in rs) / n * 1e3
            row[f"{which}_wall_ms_per_image"] = statistics.median(r[1] for r in rs) / n * 1e3
        row["cpu_ratio_before_over_after"] = statistics.median(
            b[0] / a[0] for b, a in zip(runs["before"], runs["after"], strict=True)
        )
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sections", nargs="+", default=["h5", "preprocess"])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--images", type=int, default=1536, help="images per preprocess case")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    report = {"machine": machine_info(), "args": vars(args) | {"json": str(args.json)}}
    with tempfile.TemporaryDirectory() as tmp:
        if "h5" in args.sections:
            report["h5"] = bench_h5(args.rounds, Path(tmp))
        if "preprocess" in args.sections:
            report["preprocess"] = bench_preprocess(
                args.rounds, Path(tmp), args.images, args.workers
            )
    report["machine"]["loadavg_end"] = list(__import__("os").getloadavg())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["machine"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
