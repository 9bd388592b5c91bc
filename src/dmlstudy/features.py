"""Frozen-backbone feature extraction: images in, cached feature vectors out.

The retrieval experiments train only a small head on top of a frozen backbone, so the
backbone's output for each image never changes. We compute it once per dataset and
backbone and cache it in ``results/features/{dataset}/{backbone}.h5`` (same layout as
every other file, see :mod:`dmlstudy.h5io`, with ``kind="vectors"``); every training run
then reads vectors instead of re-running the backbone for each batch of every epoch.

The backbones are a registry of their own (:mod:`dmlstudy.backbones`); this module
reads the images, runs the loaded backbone over them and writes the features.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, get_worker_info

from . import h5io
from .backbones import load_backbone, named
from .backbones.base import Backbone
from .device import resolve_device
from .errors import (
    ConfigError,
    CorruptFileError,
    DataNotFoundError,
    DmlStudyError,
)

# --------------------------------------------------------------------------------------
# images


def preprocess_image(
    img: torch.Tensor, size: int, mean, std, out: torch.Tensor | None = None
) -> torch.Tensor:
    """One (C, H, W) uint8 (or [0, 1] float) image -> normalised float32 (3, size, size).

    Resize (bilinear, antialiased, whole image, no crop) happens on the uint8 pixels,
    like PIL-based image processors do, then scale to [0, 1], grayscale is repeated to
    three channels, and each channel is normalised with the backbone's mean and std.
    ``out``: a (3, size, size) float32 tensor to write the result into (a batch's row).
    """
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise CorruptFileError(
            f"image of shape {tuple(img.shape)}: expected (C, H, W) with C = 1 or 3"
        )
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
    return torch.sub(x, mean, out=out).div_(std)  # (x - mean) / std


def decode_image(path: str) -> torch.Tensor:
    """Decode an image file (JPEG, PNG, ...) to a uint8 RGB (3, H, W) tensor."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            # convert() of an RGB image (every JPEG photo) is a full copy of the pixels
            arr = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptFileError(f"{path}: cannot decode image ({exc})") from exc
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


class ImageDataset(Dataset):
    """Images from an in-memory uint8 (N, C, H, W) array or from a list of files.

    Each item is preprocessed on its own (decode, resize, normalise), in DataLoader
    workers, so features never depend on how the images were batched. A DataLoader
    fetches a batch with one :meth:`__getitems__` call, which writes every image straight
    into its row of the batch (in a worker: in shared memory), instead of making each
    image a tensor of its own and stacking them (the default collate): one full copy of
    every image less. Workers share the in-memory array through fork (copy-on-write).
    """

    def __init__(self, images, prep: dict):
        self.images = images
        self.size, self.mean, self.std = prep["size"], prep["mean"], prep["std"]

    def __len__(self):
        return len(self.images)

    def _image(self, i) -> torch.Tensor:
        item = self.images[i]
        return decode_image(item) if isinstance(item, str) else torch.from_numpy(np.asarray(item))

    def __getitem__(self, i):
        return preprocess_image(self._image(i), self.size, self.mean, self.std)

    def __getitems__(self, indices) -> torch.Tensor:
        """The (B, 3, size, size) batch of ``indices``: each row as :meth:`__getitem__`."""
        out = _new_batch((len(indices), 3, self.size, self.size))
        for row, i in enumerate(indices):
            preprocess_image(self._image(i), self.size, self.mean, self.std, out=out[row])
        return out


def _new_batch(shape: tuple[int, ...]) -> torch.Tensor:
    """An empty float32 tensor; in a DataLoader worker in shared memory, as the default
    collate allocates its batches, so handing it to the main process copies nothing."""
    if get_worker_info() is None:
        return torch.empty(shape, dtype=torch.float32)
    proto = torch.empty(0, dtype=torch.float32)
    storage = proto._typed_storage()._new_shared(math.prod(shape), device=proto.device)
    return proto.new(storage).resize_(*shape)


class _Splits(Dataset):
    """Image datasets one after another (``ConcatDataset``), whose batches are fetched
    part by part through :meth:`ImageDataset.__getitems__`."""

    def __init__(self, parts: list[ImageDataset]):
        self.parts = parts
        self.ends = np.cumsum([len(p) for p in parts])

    def __len__(self):
        return int(self.ends[-1]) if len(self.parts) else 0

    def __getitem__(self, i):
        k = int(np.searchsorted(self.ends, i, side="right"))
        return self.parts[k][i - (self.ends[k] - len(self.parts[k]))]

    def __getitems__(self, indices) -> torch.Tensor:
        indices = np.asarray(indices, dtype=np.int64)
        part = np.searchsorted(self.ends, indices, side="right")
        batches = [
            self.parts[k].__getitems__(
                (indices[part == k] - (self.ends[k] - len(self.parts[k]))).tolist()
            )
            for k in np.unique(part)  # a batch in index order spans at most a few parts
        ]
        return batches[0] if len(batches) == 1 else torch.cat(batches)


def _as_batch(fetched):
    """``collate_fn`` of :class:`ImageDataset` batches: already one tensor."""
    return fetched


def _resolve_paths(paths, data_h5, attrs) -> list[str]:
    root = attrs.get("image_root")
    base = Path(data_h5).resolve().parent
    out, missing = [], []
    for p in paths:
        p = str(p)
        candidates = [Path(p)] if os.path.isabs(p) else []
        if not candidates:
            if root:
                candidates.append(Path(root) / p)
            candidates += [Path(p), base / p]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            missing.append(str(candidates[0]))
        else:
            out.append(str(found))
    if missing:
        raise DataNotFoundError(
            dataset=str(attrs.get("description") or data_h5),
            searched=f"paths listed in {data_h5}"
            + (f" under image_root {root}" if root else " (relative to cwd or the file)"),
            expected=missing[:5]
            + ([f"... and {len(missing) - 5} more"] if len(missing) > 5 else []),
            how_to_get="restore the image folder the dataset was prepared from, or delete "
            f"{data_h5} and rerun the workflow to rebuild it from the current folder",
        )
    return out


def _read_images(data_h5, split: str, attrs: dict):
    kind = attrs.get("kind")
    if kind == "images":
        arrays = h5io.read_split(data_h5, split, ("x", "y"))
        x = arrays["x"]
        if x.ndim != 4:
            raise CorruptFileError(
                f"{data_h5}: '{split}/x' has shape {x.shape}, expected (N, C, H, W) images"
            )
        return x, arrays["y"]
    if kind == "image_files":
        arrays = h5io.read_split(data_h5, split, ("paths", "y"))
        return _resolve_paths(arrays["paths"], data_h5, attrs), arrays["y"]
    raise ConfigError(
        f"{data_h5}: kind = {kind!r}; feature extraction needs an image dataset "
        f"(kind 'images' or 'image_files'). Vector datasets do not go through a backbone."
    )


# --------------------------------------------------------------------------------------
# extraction


def _autocast(device: torch.device):
    if device.type != "cuda":
        return contextlib.nullcontext(), "float32"
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype), str(dtype).removeprefix("torch.")


def compute_features(
    module: Backbone,
    dataset: Dataset,
    device: torch.device,
    batch_size: int = 64,
    num_workers: int = 2,
    progress: bool = True,
    desc: str = "features",
) -> np.ndarray:
    """Run ``module`` over ``dataset`` in order; returns float32 (N, F) features."""
    device = torch.device(device)
    n = len(dataset)
    out = np.empty((n, module.feature_dim), dtype=np.float32)
    if n == 0:
        return out
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        collate_fn=_as_batch if hasattr(dataset, "__getitems__") else None,
    )
    from tqdm import tqdm

    autocast, _ = _autocast(device)
    fmt = torch.channels_last if module.channels_last else torch.contiguous_format
    pos = 0
    with (
        torch.inference_mode(),
        autocast,
        tqdm(
            total=n,
            desc=desc,
            unit="img",
            file=sys.stderr,
            disable=not progress,
            mininterval=2.0,
            dynamic_ncols=False,
        ) as bar,
    ):
        for batch in loader:
            batch = batch.to(device, non_blocking=True, memory_format=fmt)
            feats = module(batch).float().cpu().numpy()
            out[pos : pos + len(feats)] = feats
            pos += len(feats)
            bar.update(len(feats))
    if pos != n:
        raise DmlStudyError(f"{desc}: extracted {pos} of {n} images")
    return out


def extract_features(
    data_h5: str | os.PathLike,
    out_h5: str | os.PathLike,
    spec: dict,
    device: str = "auto",
    batch_size: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> dict:
    """Extract frozen-backbone features for the train and test images of ``data_h5``.

    Writes ``out_h5`` atomically with ``train/x``, ``train/y``, ``test/x``, ``test/y``
    (float32 features, int64 labels) and attributes naming the backbone, its weights,
    the preprocessing and the dtype. ``batch_size``/``num_workers`` default to the spec's.
    Returns the attributes written.
    """
    spec = named(spec)
    batch_size = spec["batch_size"] if batch_size is None else int(batch_size)
    num_workers = spec["num_workers"] if num_workers is None else int(num_workers)
    if batch_size < 1 or num_workers < 0:
        raise ConfigError(
            f"batch_size = {batch_size}, num_workers = {num_workers}: need >= 1, >= 0"
        )
    in_attrs = h5io.read_attrs(data_h5)
    inputs = {split: _read_images(data_h5, split, in_attrs) for split in h5io.SPLITS}
    dev = resolve_device(device)
    module, prep = load_backbone(spec, dev)
    # One DataLoader over both splits: its workers start, and the model waits for a first
    # batch, once instead of once per split (docs/benchmarks.md, feature extraction).
    parts = [ImageDataset(images, prep) for images, _ in inputs.values()]
    feats_all = compute_features(
        module,
        _Splits(parts),
        dev,
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
        desc=f"{spec['name']} {'+'.join(inputs)}",
    )
    splits = {}
    ends = np.cumsum([len(p) for p in parts])
    for (split, (_, labels)), stop, part in zip(inputs.items(), ends, parts, strict=True):
        feats = feats_all[stop - len(part) : stop]
        if not np.isfinite(feats).all():
            raise DmlStudyError(
                f"backbone '{spec['name']}' produced non-finite features on the {split} split "
                f"(device {dev}); rerun with device: cpu (float32) to rule out mixed precision"
            )
        splits[split] = {"x": feats, "y": np.asarray(labels, dtype=np.int64)}
    _, compute_dtype = _autocast(dev)
    in_desc = in_attrs.get("description") or Path(data_h5).stem
    what = spec["description"] or f"{spec['kind']} {module.provenance['model']}"
    # keep the dataset's own provenance (source, subset, seed, class names, ...), but not
    # what describes images (their normalisation, folder), which no longer applies
    dropped = {"kind", "description", "normalize_mean", "normalize_std", "image_root"}
    attrs = {k: v for k, v in in_attrs.items() if k not in dropped}
    attrs |= {
        "kind": "vectors",
        "description": f"{in_desc}; frozen {what} features ({module.feature_dim}-d)",
        "source": in_attrs.get("source", ""),
        "num_classes": in_attrs.get("num_classes", int(len(np.unique(splits["train"]["y"])))),
        "input_file": str(data_h5),
        "input_kind": in_attrs.get("kind"),
        "backbone": spec["kind"],
        "backbone_name": spec["name"],
        "model": module.provenance["model"],
        "revision": module.provenance["revision"],
        "weights": module.provenance["weights"],
        "preprocessing": prep,
        "dtype": "float32",
        "compute_dtype": compute_dtype,
        "device": str(dev),
        "feature_dim": int(module.feature_dim),
        "torch_version": str(torch.__version__),
    }
    h5io.write_splits(out_h5, splits, attrs)
    print(
        f"wrote {out_h5}: {attrs['feature_dim']}-d features, backbone {attrs['backbone']} "
        f"({attrs['model']}), device {attrs['device']}, compute dtype {compute_dtype}",
        file=sys.stderr,
    )
    return attrs
