"""``hf_vit``: a HuggingFace transformers ViT (the paper's footnote), by hub id or local
folder saved with ``save_pretrained``; the feature is the CLS token of ``last_hidden_state``
(768-d for ViT-B/32). The hub is tried only when the model is neither a local folder nor
cached, and fails fast offline."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from torch import nn

from ..errors import BackboneUnavailableError
from .base import Backbone


class _HFViT(Backbone):
    def __init__(self, model: nn.Module, interpolate: bool, provenance: dict):
        super().__init__(provenance)
        self.model = model
        self.interpolate = interpolate
        self.feature_dim = int(model.config.hidden_size)

    def forward(self, x):
        kwargs = {"interpolate_pos_encoding": True} if self.interpolate else {}
        return self.model(pixel_values=x, **kwargs).last_hidden_state[:, 0]


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


def load(spec: dict):
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
