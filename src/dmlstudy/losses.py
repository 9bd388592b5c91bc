"""The two losses of §2.1, exactly as Eq. 1 and Eq. 2, returning one value per pair/triplet.

Reduction is a separate, explicit step (``reduce``): averaging over non-zero terms only
changes gradient magnitudes, which is the very quantity the study measures.
"""

from __future__ import annotations

import torch

LOSSES = ("contrastive", "triplet")
#: Added inside the square root of a distance: keeps the gradient finite at a == b.
EPS = 1e-12


def squared_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise ``||a - b||^2``."""
    return (a - b).pow(2).sum(dim=1)


def euclidean_distance(a: torch.Tensor, b: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Row-wise ``||a - b||``. ``eps`` inside the root keeps the gradient finite at a == b."""
    return (squared_distance(a, b) + eps).sqrt()


def contrastive_loss(
    x: torch.Tensor, y: torch.Tensor, is_positive: torch.Tensor, margin: float = 1.0
) -> torch.Tensor:
    """Eq. 1, one term per pair (x_i, y_i).

    Positive pair: ``||f(x) - f(y)||^2``. Negative pair: ``[m - ||f(x) - f(y)||]_+^2``.
    """
    d2 = squared_distance(x, y)
    # the same ||f(x) - f(y)|| as euclidean_distance(x, y), without computing d2 twice
    neg = torch.clamp(margin - (d2 + EPS).sqrt(), min=0).pow(2)
    return torch.where(is_positive, d2, neg)


def triplet_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    margin: float = 1.0,
    squared: bool = True,
) -> torch.Tensor:
    """Eq. 2, one term per triplet: ``[||a - p||^2 - ||a - n||^2 + m]_+``.

    ``squared=False`` uses plain Euclidean distances, as the authors' released code does.
    """
    dist = squared_distance if squared else euclidean_distance
    return torch.clamp(dist(anchor, positive) - dist(anchor, negative) + margin, min=0)


def reduce(per_item: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """``mean`` over the batch, ``sum`` (Eq. 1/2 literally), or ``mean_nonzero``."""
    if reduction == "mean":
        return per_item.mean()
    if reduction == "sum":
        return per_item.sum()
    if reduction == "mean_nonzero":
        active = per_item > 0
        n = active.sum()
        return per_item.sum() / n.clamp(min=1)
    raise ValueError(f"unknown reduction {reduction!r}; allowed: mean, sum, mean_nonzero")


def active_ratio(per_item: torch.Tensor) -> float:
    """Fraction of pairs/triplets with non-zero loss (§2.2, Active Ratio)."""
    return float((per_item > 0).float().mean())


def label(name: str) -> str:  # temporary; replaced by the loss registry
    return {"contrastive": "Contrastive", "triplet": "Triplet"}[name]
