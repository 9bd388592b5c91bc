"""Pair and triplet sampling of §3.2, vectorised (no Python loop over samples).

Every epoch each anchor draws, uniformly at random,
- contrastive: one partner, a positive (same label) with probability ``positive_fraction``,
  else a negative (different label);
- triplet: one positive and one negative.

Outliers (label -1), with ``outliers="exclude_from_positives"`` (the paper's text), never
form a positive pair: an outlier is never drawn as a positive, and an outlier *anchor* has
no positive, so in the contrastive loss it always gets a negative partner (any point with
another label) and in the triplet loss it is skipped as an anchor for that epoch. Outliers
are still drawn as negatives of other anchors. With ``outliers="as_class"`` (the authors'
code) -1 is an ordinary extra class.

``allow_self_positive=True`` lets an anchor draw itself as its positive (the authors' code
draws the positive from the whole class, itself included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .splits import OUTLIER
from .splits import stratified_subset as stratified_subset  # re-exported; lives in splits


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
