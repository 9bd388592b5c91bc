"""``torchvision_vit_b_32``: torchvision's ``vit_b_32`` (what the authors' released code
used), classification head replaced by identity: the 768-d CLS feature."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from ..errors import BackboneUnavailableError
from .base import IMAGENET_MEAN, IMAGENET_STD, Backbone

#: ``weights: null``: the ImageNet-1k weights the authors' code uses.
TORCHVISION_DEFAULT_WEIGHTS = "IMAGENET1K_V1"


class _TorchvisionViT(Backbone):
    def __init__(self, model: nn.Module, provenance: dict):
        super().__init__(provenance)
        model.heads = nn.Identity()
        self.model = model
        self.feature_dim = int(model.hidden_dim)

    def forward(self, x):
        return self.model(x)


def load(spec: dict):
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
