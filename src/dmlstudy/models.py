"""Embedding networks of §3.2, all ending in L2 normalisation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class L2Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, p=2, dim=1)


class ImageStandardize(nn.Module):
    """uint8 (N, C, H, W) in [0, 255] → float, scaled to [0, 1], then (x - mean) / std.

    Done inside the model so that training keeps images as uint8 tensors in memory and
    converts one batch at a time."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer(
            "mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
        )
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        return (x - self.mean) / self.std


class MLP(nn.Module):
    """§3.2 synthetic model: Linear(d→64) → ReLU → Linear(64→32) → L2 norm."""

    def __init__(self, in_dim: int = 128, hidden_dim: int = 64, embedding_dim: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, embedding_dim),
            L2Normalize(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    """§3.2 image model (layers as in the authors' code):
    Conv(C→32, 3, pad 1)-ReLU-MaxPool2 → Conv(32→64, 3, pad 1)-ReLU-MaxPool2 →
    flatten → Linear(→128)-ReLU → Linear(128→64) → L2 norm. Sized from the input shape.

    ``channels_last``: convolution weights and activations in NHWC memory format (the same
    model; results equal up to float rounding; 1.27-1.52x faster training steps on a CPU,
    docs/benchmarks.md)."""

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        mean: Sequence[float] = (0.1307,),
        std: Sequence[float] = (0.3081,),
        hidden_dim: int = 128,
        embedding_dim: int = 64,
        channels_last: bool = True,
    ):
        super().__init__()
        c, h, w = image_shape
        self.channels_last = channels_last
        if len(mean) != c or len(std) != c:
            raise ValueError(f"normalisation has {len(mean)} channels, images have {c}")
        self.standardize = ImageStandardize(mean, std)
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        flat = 64 * (h // 4) * (w // 4)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, embedding_dim),
            L2Normalize(),
        )
        if channels_last:
            self.features.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:  # NHWC: ~10x faster max-pool and faster convolutions on CPUs
            x = x.contiguous(memory_format=torch.channels_last)
        # Flatten copies the NHWC feature map back into NCHW order, so the linear layers
        # (and checkpoints) are the same in both layouts
        return self.head(self.features(self.standardize(x)))


class Head(nn.Module):
    """§3.2 retrieval head on frozen backbone features: Linear(F→512) → L2 norm."""

    def __init__(self, in_dim: int = 768, embedding_dim: int = 512):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, embedding_dim), L2Normalize())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_model(
    kind: str, data_attrs: dict, input_shape: Sequence[int], options: dict | None = None
) -> nn.Module:
    """Build the model ``kind`` for data of ``input_shape`` (one sample, no batch dim)."""
    options = dict(options or {})
    if kind == "mlp":
        return MLP(
            in_dim=int(input_shape[0]),
            hidden_dim=options.get("hidden_dim", 64),
            embedding_dim=options.get("embedding_dim", 32),
        )
    if kind == "cnn":
        c = int(input_shape[0])
        default_mean, default_std = (
            ((0.1307,), (0.3081,))
            if c == 1
            else (
                (0.4914, 0.4822, 0.4465),
                (0.247, 0.243, 0.261),
            )
        )
        mean = data_attrs.get("normalize_mean") or default_mean
        std = data_attrs.get("normalize_std") or default_std
        return CNN(
            image_shape=tuple(int(s) for s in input_shape),
            mean=mean,
            std=std,
            hidden_dim=options.get("hidden_dim", 128),
            embedding_dim=options.get("embedding_dim", 64),
            channels_last=options.get("channels_last", True),
        )
    if kind == "head":
        return Head(in_dim=int(input_shape[0]), embedding_dim=options.get("embedding_dim", 512))
    raise ValueError(f"unknown model {kind!r}; allowed: mlp, cnn, head")
