"""What every backbone module is: a frozen ``nn.Module`` from images to feature vectors."""

from __future__ import annotations

from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
