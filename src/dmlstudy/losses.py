"""The loss registry. One entry per loss: its name and label, the partners it needs, its
per-item function, and what "active" means for its greediness diagnostics (§2.2).

Eq. 1 (contrastive) and Eq. 2 (triplet) are written here exactly as printed, one value per
pair/triplet. Reduction is a separate, explicit step (``reduce``): averaging over non-zero
terms only changes gradient magnitudes, which is the very quantity the study measures.

Adding a loss is one ``register(LossSpec(...))`` call: the training loop looks the loss up
once, and tables, figures and the comparison take its label from here through the rule's
parameters. This module does not import torch at import time (the functions only use tensor
methods), so Snakemake's main process can read the registry cheaply.

Partners (what the sampler hands the per-item function, see ``sampling``):

- ``pairs``: ``per_item(a, b, is_positive, options)`` with (k, D) embeddings and a (k,) bool;
- ``triplets``: ``per_item(anchor, positive, negative, options)``;
- ``batch``: ``per_item(z, labels, options)`` with a whole class-balanced batch's embeddings
  and labels (0..C-1, the index of each label among the training labels).

Losses from pytorch-metric-learning (PML) run unreduced (``DoNothingReducer``): their
per-element losses are the items, so the active ratio and the gradient norm mean what they
mean for Eq. 1 and 2, and ``loss.reduction`` reduces them as it reduces ours. Their own
hyper-parameters are PML's defaults unless ``loss.pml_options.<name>`` sets them.

``options`` is the resolved ``loss`` section of the config (margin, triplet_distance, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PARTNERS = ("pairs", "triplets", "batch")
#: Added inside the square root of a distance: keeps the gradient finite at a == b.
EPS = 1e-12


@dataclass(frozen=True)
class LossSpec:
    name: str  #: config value (``losses: [...]``), run path component
    label: str  #: as printed in tables and figures
    partners: str  #: one of PARTNERS
    per_item: Callable | None  #: one loss value per pair / triplet / batch element (module doc)
    active: str  #: what the active ratio counts, in words (docs, table notes)
    source: str = ""  #: the equation or paper it implements
    #: optional factory (options, embedding_dim, class_labels) -> torch module whose forward
    #: takes the partners' arguments and returns per-item losses; for losses with state or
    #: trained parameters (proxies), which the optimiser and the checkpoint then include.
    module: Callable | None = None


LOSSES: dict[str, LossSpec] = {}


def register(spec: LossSpec) -> LossSpec:
    """Add a loss to the registry (its name must be new)."""
    if spec.partners not in PARTNERS:
        raise ValueError(f"loss {spec.name!r}: partners must be one of {PARTNERS}")
    if spec.name in LOSSES:
        raise ValueError(f"loss {spec.name!r} is registered already")
    LOSSES[spec.name] = spec
    return spec


def get(name: str) -> LossSpec:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; registered: {', '.join(LOSSES)}") from None


def build(spec: LossSpec, options: dict, embedding_dim: int, class_labels) -> Callable:
    """The per-item loss function of one run: ``spec.module(...)`` when the loss has state,
    else ``spec.per_item`` with the run's options bound."""
    if spec.module is not None:
        return spec.module(options, embedding_dim, class_labels)
    return lambda *args: spec.per_item(*args, options)


def squared_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise ``||a - b||^2``."""
    return (a - b).pow(2).sum(dim=1)


def euclidean_distance(a: torch.Tensor, b: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Row-wise ``||a - b||``. ``eps`` inside the root keeps the gradient finite at a == b."""
    return (squared_distance(a, b) + eps).sqrt()


def contrastive_loss(
    x: torch.Tensor, y: torch.Tensor, is_positive: torch.Tensor, margin: float
) -> torch.Tensor:
    """Eq. 1, one term per pair (x_i, y_i).

    Positive pair: ``||f(x) - f(y)||^2``. Negative pair: ``[m - ||f(x) - f(y)||]_+^2``.
    """
    d2 = squared_distance(x, y)
    # the same ||f(x) - f(y)|| as euclidean_distance(x, y), without computing d2 twice
    neg = (margin - (d2 + EPS).sqrt()).clamp(min=0).pow(2)
    return d2.where(is_positive, neg)


def triplet_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    margin: float,
    squared: bool = True,
) -> torch.Tensor:
    """Eq. 2, one term per triplet: ``[||a - p||^2 - ||a - n||^2 + m]_+``.

    ``squared=False`` uses plain Euclidean distances, as the authors' released code does.
    """
    dist = squared_distance if squared else euclidean_distance
    return (dist(anchor, positive) - dist(anchor, negative) + margin).clamp(min=0)


def reduce(per_item: torch.Tensor, reduction: str) -> torch.Tensor:
    """``mean`` over the batch, ``sum`` (Eq. 1/2 literally), or ``mean_nonzero``."""
    if reduction == "mean":
        return per_item.mean()
    if reduction == "sum":
        return per_item.sum()
    if reduction == "mean_nonzero":
        n = (per_item > 0).sum()
        return per_item.sum() / n.clamp(min=1)
    raise ValueError(f"unknown reduction {reduction!r}; allowed: mean, sum, mean_nonzero")


def active_ratio(per_item: torch.Tensor) -> float:
    """Fraction of items with non-zero loss (§2.2, Active Ratio)."""
    return float((per_item > 0).float().mean())


register(
    LossSpec(
        name="contrastive",
        label="Contrastive",
        partners="pairs",
        per_item=lambda a, b, is_positive, o: contrastive_loss(a, b, is_positive, o["margin"]),
        active="pairs with non-zero loss: every positive pair not at distance 0, and "
        "negative pairs closer than the margin",
        source="Eq. 1",
    )
)
register(
    LossSpec(
        name="triplet",
        label="Triplet",
        partners="triplets",
        per_item=lambda a, p, n, o: triplet_loss(
            a, p, n, o["margin"], squared=o["triplet_distance"] == "squared"
        ),
        active="triplets that violate the margin: d(a,p) - d(a,n) + m > 0",
        source="Eq. 2",
    )
)


def hybrid_loss(anchor, positive, negative, margin: float, lam: float, squared: bool = True):
    """The paper's future-work hybrid on the same anchors: ``lam`` x Eq. 1 on the anchor's
    positive and negative pair + (1 - ``lam``) x Eq. 2 on the triplet, one value per triplet."""
    pos = anchor.new_ones(anchor.shape[0], dtype=bool)
    c = contrastive_loss(anchor, positive, pos, margin) + contrastive_loss(
        anchor, negative, ~pos, margin
    )
    return lam * c + (1 - lam) * triplet_loss(anchor, positive, negative, margin, squared)


register(
    LossSpec(
        name="hybrid",
        label="Hybrid",
        partners="triplets",
        per_item=lambda a, p, n, o: hybrid_loss(
            a, p, n, o["margin"], o["hybrid_lambda"], squared=o["triplet_distance"] == "squared"
        ),
        active="triplets whose hybrid term is non-zero (any of the positive pull, the negative "
        "margin or the triplet margin is active)",
        source="λ·Eq. 1 + (1-λ)·Eq. 2 (the paper's future work)",
    )
)


# --------------------------------------------------------------------------- PML losses
def _pml_module(cls_name: str, parts: tuple[str, ...], proxies: bool = False):
    """Factory of a PML loss run unreduced: the module returns the concatenated
    per-element losses of ``parts`` (keys of PML's loss dict)."""

    def make(options: dict, embedding_dim: int, class_labels):
        import torch
        from pytorch_metric_learning import losses as pml
        from pytorch_metric_learning.reducers import DoNothingReducer

        kwargs = dict(options["pml_options"].get(PML_NAMES[cls_name], {}))
        if proxies:
            kwargs.update(num_classes=len(class_labels), embedding_size=embedding_dim)
        loss = getattr(pml, cls_name)(reducer=DoNothingReducer(), **kwargs)

        class Unreduced(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.loss = loss

            def forward(self, z, labels):
                out = self.loss(z, labels)
                return torch.cat([out[k]["losses"].reshape(-1) for k in parts])

        return Unreduced()

    return make


PML_NAMES = {
    "MultiSimilarityLoss": "multi_similarity",
    "SupConLoss": "supcon",
    "ProxyAnchorLoss": "proxy_anchor",
    "MarginLoss": "margin_loss",
}

for _cls, _parts, _label, _active, _src, _proxies in (
    (
        "MultiSimilarityLoss",
        ("loss",),
        "Multi-similarity",
        "anchors with a non-zero loss: an informative (mined) positive or negative pair",
        "Wang et al., CVPR 2019 (PML MultiSimilarityLoss)",
        False,
    ),
    (
        "SupConLoss",
        ("loss",),
        "SupCon",
        "anchors with a non-zero loss (anchors with a positive in the batch)",
        "Khosla et al., NeurIPS 2020 (PML SupConLoss)",
        False,
    ),
    (
        "ProxyAnchorLoss",
        ("pos_loss", "neg_loss"),
        "ProxyAnchor",
        "proxy terms (one positive and one negative per class) with a non-zero loss",
        "Kim et al., CVPR 2020 (PML ProxyAnchorLoss; proxies are trained)",
        True,
    ),
    (
        "MarginLoss",
        ("margin_loss",),
        "Margin",
        "triplets (PML's all-triplets form of the pairs) whose positive or negative term lies "
        "outside the margin band around beta",
        "Wu et al., ICCV 2017, 'Sampling matters' (PML MarginLoss)",
        False,
    ),
):
    register(
        LossSpec(
            name=PML_NAMES[_cls],
            label=_label,
            partners="batch",
            per_item=None,
            active=_active,
            source=_src,
            module=_pml_module(_cls, _parts, _proxies),
        )
    )
