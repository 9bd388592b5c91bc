"""Samplers: which pairs or triplets each training batch holds. One registry entry per sampler;
the paper's random sampler of §3.2 (vectorised, no Python loop over samples) is the default.

Every epoch the random sampler lets each anchor draw, uniformly at random,
- for a loss on pairs: one partner, a positive (same label) with probability
  ``positive_fraction``, else a negative (different label);
- for a loss on triplets: one positive and one negative.

Outliers (label -1), with ``outliers="exclude_from_positives"`` (the paper's text), never
form a positive pair: an outlier is never drawn as a positive, and an outlier *anchor* has
no positive, so in the contrastive loss it always gets a negative partner (any point with
another label) and in the triplet loss it is skipped as an anchor for that epoch. Outliers
are still drawn as negatives of other anchors. With ``outliers="as_class"`` (the authors'
code) -1 is an ordinary extra class.

``allow_self_positive=True`` lets an anchor draw itself as its positive (the authors' code
draws the positive from the whole class, itself included).

A sampler yields ``Batch`` objects: the indices of the training points to embed (one
gather, one forward pass) and ``args(z)``, which turns the batch's embeddings into the
positional arguments of the loss's per-item function (``losses`` module doc). A miner that
chooses partners from the embeddings does so inside ``args``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import losses
from .splits import OUTLIER


@dataclass
class Pairs:
    anchor: np.ndarray  #: (M,) int64 indices
    partner: np.ndarray  #: (M,) int64 indices
    is_positive: np.ndarray  #: (M,) bool


@dataclass
class Triplets:
    anchor: np.ndarray
    positive: np.ndarray
    negative: np.ndarray


class LabelIndex:
    """Labels sorted into contiguous blocks, for O(1) uniform draws within / outside a class."""

    def __init__(self, y: np.ndarray, outliers: str = "exclude_from_positives"):
        y = np.asarray(y, dtype=np.int64)
        if outliers not in ("exclude_from_positives", "as_class"):
            raise ValueError(
                f"outliers must be exclude_from_positives or as_class, not {outliers!r}"
            )
        self.y = y
        self.n = len(y)
        self.order = np.argsort(y, kind="stable")
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.classes = classes
        self.start = starts[inverse]  # block start of each point's class
        self.count = counts[inverse]  # size of each point's class
        pos_in_block = np.empty(self.n, dtype=np.int64)
        pos_in_block[self.order] = np.arange(self.n) - np.repeat(starts, counts)
        self.pos_in_block = pos_in_block
        self.can_be_positive = np.ones(self.n, dtype=bool)
        if outliers == "exclude_from_positives":
            self.can_be_positive = y != OUTLIER

    def label_index(self, outliers_excluded: bool) -> tuple[np.ndarray, np.ndarray]:
        """The classes a batch loss sees (sorted; the outlier label left out when outliers
        form no positives) and each point's index among them (-1: not in any batch)."""
        classes = self.classes[self.classes != OUTLIER] if outliers_excluded else self.classes
        pos = np.searchsorted(classes, self.y)
        ok = (pos < len(classes)) & (classes[np.minimum(pos, len(classes) - 1)] == self.y)
        return classes, np.where(ok, pos, -1)

    def pair_problem(self) -> str | None:
        """Why no metric-learning loss can train on these labels, or None.

        The rule: at least one point must have a positive partner other than itself (two
        points of one class, outliers excluded unless ``as_class``) and at least one
        negative. Without a positive pair a loss only pushes points apart: a contrastive
        run would exit 0 with k-NN accuracy at chance and the intra-class statistics
        undefined. A drawn self-pair (``allow_self_positive``) has distance 0 and teaches
        nothing, so it does not count."""
        n_classes = len(self.classes[self.classes != OUTLIER])
        if not np.any((self.count > 1) & self.can_be_positive):
            outliers = "" if self.can_be_positive.all() else "; outliers form no positives"
            return (
                f"no positive pair among the {self.n} training points: no class has two "
                f"training points ({n_classes} classes{outliers}), so a "
                f"loss could only push points apart. Give each class at least 2 training "
                f"points: more points per class (a synthetic dataset's n_per_class), a "
                f"smaller test_fraction, or a larger training.max_train_samples."
            )
        if np.all(self.count == self.n):
            return (
                f"no negative pair among the {self.n} training points: they all share one "
                f"label. Train on a dataset with at least two classes."
            )
        return None

    def draw_positive(self, rng: np.random.Generator, allow_self: bool):
        """One same-label index per point, and whether it has one at all."""
        others = self.count if allow_self else self.count - 1
        has = (others > 0) & self.can_be_positive
        r = np.floor(rng.random(self.n) * np.maximum(others, 1)).astype(np.int64)
        if not allow_self:
            r = r + (r >= self.pos_in_block)  # skip the anchor's own slot
        r = np.minimum(r, self.count - 1)
        idx = self.order[self.start + r]
        return np.where(has, idx, -1), has

    def draw_negative(self, rng: np.random.Generator):
        """One different-label index per point (uniform over all points of other labels)."""
        n_other = self.n - self.count
        if np.any(n_other == 0):
            raise ValueError("every point shares one label: no negatives can be drawn")
        r = np.floor(rng.random(self.n) * n_other).astype(np.int64)
        r = np.minimum(r, n_other - 1)
        j = np.where(r < self.start, r, r + self.count)  # jump over the anchor's own block
        return self.order[j]


def sample_pairs(
    index: LabelIndex,
    rng: np.random.Generator,
    positive_fraction: float = 0.5,
    allow_self_positive: bool = False,
) -> Pairs:
    """One contrastive pair per anchor, anchors in random order."""
    pos, has_pos = index.draw_positive(rng, allow_self_positive)
    neg = index.draw_negative(rng)
    want_pos = rng.random(index.n) < positive_fraction
    is_pos = want_pos & has_pos
    partner = np.where(is_pos, pos, neg)
    perm = rng.permutation(index.n)
    return Pairs(anchor=perm, partner=partner[perm], is_positive=is_pos[perm])


def sample_triplets(
    index: LabelIndex, rng: np.random.Generator, allow_self_positive: bool = False
) -> Triplets:
    """One (anchor, positive, negative) per anchor that has a positive, in random order."""
    pos, has_pos = index.draw_positive(rng, allow_self_positive)
    neg = index.draw_negative(rng)
    _ = rng.random(index.n)  # keep the stream aligned with sample_pairs
    perm = rng.permutation(index.n)
    perm = perm[has_pos[perm]]
    return Triplets(anchor=perm, positive=pos[perm], negative=neg[perm])


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The sampling generator of one epoch: a pure function of (seed, epoch), so a resumed
    run draws exactly the pairs an uninterrupted one would."""
    return np.random.default_rng([int(seed), int(epoch)])


# --------------------------------------------------------------------------- registry
@dataclass
class Batch:
    """One training batch: the points to embed, and how their embeddings become the
    arguments of the loss's per-item function."""

    members: object  #: (M,) int64 tensor of training-point indices, gathered in one go
    args: Callable  #: z (M, D) -> positional arguments of ``LossSpec.per_item``


@dataclass(frozen=True)
class SamplerSpec:
    name: str  #: config value (``sampling.sampler``)
    label: str
    partners: tuple[str, ...]  #: the loss partner kinds it can serve (``losses.PARTNERS``)
    #: (index, partners, settings, epoch, device) -> iterator of Batch
    batches: Callable[..., Iterator[Batch]]
    source: str = ""


SAMPLERS: dict[str, SamplerSpec] = {}


def register(spec: SamplerSpec) -> SamplerSpec:
    """Add a sampler to the registry (its name must be new)."""
    if spec.name in SAMPLERS:
        raise ValueError(f"sampler {spec.name!r} is registered already")
    SAMPLERS[spec.name] = spec
    return spec


def get(name: str) -> SamplerSpec:
    try:
        return SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; registered: {', '.join(SAMPLERS)}") from None


def problem(sampler: str, loss: str) -> str | None:
    """Why sampler ``sampler`` cannot serve loss ``loss``, or None if it can: the one check
    of their compatibility (the config's validation, the sweeps' checks and the training
    loop all ask here). An unregistered loss is reported by whoever checks loss names."""
    spec = SAMPLERS.get(sampler)
    if spec is None:
        return f"{sampler!r} is not a registered sampler; registered: {', '.join(SAMPLERS)}"
    entry = losses.LOSSES.get(loss)
    if entry is None or entry.partners in spec.partners:
        return None
    able = [n for n, v in SAMPLERS.items() if entry.partners in v.partners]
    return (
        f"sampler {sampler!r} cannot serve loss {loss!r}, which needs {entry.partners}; "
        f"samplers that can: {', '.join(able)}"
    )


def _split_args(k: int, n_parts: int, extra):
    """``args`` of a batch laid out as k anchors, then k partners (then k negatives)."""
    if n_parts == 2:
        return lambda z: (z[:k], z[k:], extra)
    return lambda z: (z[:k], z[k : 2 * k], z[2 * k :])


def random_batches(index: LabelIndex, partners: str, s, epoch: int, device) -> Iterator[Batch]:
    """The paper's sampler (§3.2): fresh random pairs or triplets every epoch, drawn by a
    generator seeded by (seed, epoch), anchors in random order, cut into batches of
    ``s.batch_size`` anchors. The whole epoch's member order is laid out once; each batch is
    a slice of it (anchors, then their partners, then negatives)."""
    import torch

    rng = epoch_rng(s.seed, epoch)
    if partners == "pairs":
        pairs = sample_pairs(index, rng, s.positive_fraction, s.allow_self_positive)
        members, is_pos = (pairs.anchor, pairs.partner), pairs.is_positive
    elif partners == "triplets":
        t = sample_triplets(index, rng, s.allow_self_positive)
        members, is_pos = (t.anchor, t.positive, t.negative), None
    else:
        raise ValueError(f"the random sampler draws pairs or triplets, not {partners!r}")
    cols = np.stack(members).astype(np.int64, copy=False)  # (r, M), r = 2 or 3 members
    r, m, bs = cols.shape[0], cols.shape[1], s.batch_size
    full = m // bs * bs  # batch b's members: cols[:, b*bs:(b+1)*bs] flattened row by row
    order = np.concatenate(
        [cols[:, :full].reshape(r, -1, bs).transpose(1, 0, 2).ravel(), cols[:, full:].ravel()]
    )
    order = torch.from_numpy(order).to(device)
    if is_pos is not None:
        is_pos = torch.from_numpy(np.ascontiguousarray(is_pos)).to(device)
    for start in range(0, m, bs):
        stop = min(start + bs, m)
        extra = None if is_pos is None else is_pos[start:stop]
        yield Batch(order[r * start : r * stop], _split_args(stop - start, r, extra))


def class_balanced_batches(index: LabelIndex, s, epoch: int):
    """Indices of class-balanced batches (as PML's MPerClassSampler): each batch holds
    ``s.m_per_class`` random points of each of ``batch_size // m_per_class`` random classes
    (drawn without replacement while enough classes exist), as many batches as the epoch has
    ``batch_size``-sized slices of the eligible points. Deterministic in (seed, epoch).
    Outliers are left out when they form no positives (``sampling.outliers``)."""
    rng = epoch_rng(s.seed, epoch)
    classes, cls = index.label_index(s.outliers == "exclude_from_positives")
    members = [np.flatnonzero(cls == c) for c in range(len(classes))]
    members = [(c, m) for c, m in enumerate(members) if len(m) > 1]
    if len(members) < 2:
        raise ValueError("class-balanced batches need at least two classes of two or more points")
    m = min(s.m_per_class, s.batch_size)
    per_batch = max(2, s.batch_size // m)
    n_points = sum(len(v) for _, v in members)
    for _ in range(max(1, n_points // s.batch_size)):
        pick = rng.choice(len(members), size=per_batch, replace=per_batch > len(members))
        idx = [rng.choice(members[c][1], size=m, replace=m > len(members[c][1])) for c in pick]
        yield np.concatenate(idx), cls


def _batch_args(members: np.ndarray, cls: np.ndarray, device):
    import torch

    labels = torch.from_numpy(cls[members]).to(device)
    return torch.from_numpy(members).to(device), labels


def random_class_batches(index: LabelIndex, s, epoch: int, device) -> Iterator[Batch]:
    """Random class-balanced batches for losses on whole batches (``partners: batch``)."""
    for members, cls in class_balanced_batches(index, s, epoch):
        idx, labels = _batch_args(members, cls, device)
        yield Batch(idx, lambda z, labels=labels: (z, labels))


def random_any(index: LabelIndex, partners: str, s, epoch: int, device) -> Iterator[Batch]:
    if partners == "batch":
        return random_class_batches(index, s, epoch, device)
    return random_batches(index, partners, s, epoch, device)


register(
    SamplerSpec(
        name="random",
        label="random (§3.2)",
        partners=("pairs", "triplets", "batch"),
        batches=random_any,
        source="§3.2; losses on whole batches get random class-balanced batches",
    )
)


def _mined(miner_factory):
    """A sampler that draws class-balanced batches and lets a PML miner choose the
    triplets from the batch's embeddings (detached: mining selects, it is not trained).
    For a loss on pairs, each mined triplet gives its positive and its negative pair."""

    def batches(index: LabelIndex, partners: str, s, epoch: int, device) -> Iterator[Batch]:
        import torch

        miner = miner_factory(s)
        for members, cls in class_balanced_batches(index, s, epoch):
            idx, labels = _batch_args(members, cls, device)

            def args(z, labels=labels):
                a, p, n = miner(z.detach(), labels)
                if partners == "triplets":
                    return z[a], z[p], z[n]
                pos = torch.cat(
                    [torch.ones_like(a, dtype=torch.bool), torch.zeros_like(a, dtype=torch.bool)]
                )
                return z[torch.cat([a, a])], z[torch.cat([p, n])], pos

            yield Batch(idx, args)

    return batches


def _semihard(s):
    from pytorch_metric_learning.miners import TripletMarginMiner

    return TripletMarginMiner(margin=s.loss_options["margin"], type_of_triplets="semihard")


def _batch_hard(s):
    from pytorch_metric_learning.miners import BatchHardMiner

    return BatchHardMiner()


register(
    SamplerSpec(
        name="semihard",
        label="semi-hard mining",
        partners=("pairs", "triplets"),
        batches=_mined(_semihard),
        source="Schroff et al. 2015 (PML TripletMarginMiner, semihard)",
    )
)
register(
    SamplerSpec(
        name="batch_hard",
        label="batch-hard mining",
        partners=("pairs", "triplets"),
        batches=_mined(_batch_hard),
        source="Hermans et al. 2017 (PML BatchHardMiner)",
    )
)
