"""The paths our training loop is compared with, each one epoch, same updates per epoch.

``authors_epoch``: the authors' released training loop (FACTS.md, "More facts"): anchors
in shuffled batches of 64 embedded with one forward pass; then, per anchor, Python
sampling over the label tensor (``(labels == c).nonzero()``, ``random.choice``) and a
**single-sample forward** ``model(x[j])`` for each sampled positive and negative; the
batch's losses are stacked and backpropagated through all those forwards; then the
optimiser steps. Their model layout (NCHW CNN) and torch's default Adam (``for_loop``
on the CPU) are used, as their code does; the loss function is ours (the same for
every path), so only the code path differs.

``pure_epoch``: forward + loss + backward + Adam only, on batches gathered beforehand.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from dmlstudy.sampling import LabelIndex, epoch_rng, sample_pairs, sample_triplets
from dmlstudy.train import TrainSettings

from .workloads import per_item


def authors_epoch(model, opt, x: torch.Tensor, y: np.ndarray, s: TrainSettings, seed: int = 0):
    """One epoch of the authors' loop; returns the number of optimiser steps."""
    rnd = random.Random(seed)
    labels = torch.from_numpy(y)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    steps = 0
    for start in range(0, len(y), s.batch_size):
        idx = perm[start : start + s.batch_size]
        z_anchor = model(x[idx])
        za, zp, extra = [], [], []
        for row, i in enumerate(idx.tolist()):
            c = labels[i]
            same = (labels == c).nonzero().flatten()
            same = same[same != i]
            other = (labels != c).nonzero().flatten()
            if s.loss == "contrastive":
                positive = int(c) != -1 and len(same) > 0 and rnd.random() < s.positive_fraction
                j = int(rnd.choice(same if positive else other))
                zp.append(model(x[j].unsqueeze(0)))
                extra.append(positive)
            else:
                if int(c) == -1 or len(same) == 0:
                    continue
                zp.append(model(x[int(rnd.choice(same))].unsqueeze(0)))
                extra.append(model(x[int(rnd.choice(other))].unsqueeze(0)))
            za.append(z_anchor[row : row + 1])
        if not za:
            continue
        third = torch.tensor(extra) if s.loss == "contrastive" else torch.cat(extra)
        loss = per_item(s, torch.cat(za), torch.cat(zp), third).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    return steps


def epoch_batches(x: torch.Tensor, y: np.ndarray, s: TrainSettings, epoch: int = 1):
    """The epoch's batches as ready inputs (anchors, then partners, then negatives), drawn
    with the package's public samplers from the generator ``train`` uses for that epoch."""
    index = LabelIndex(y, s.outliers)
    rng = epoch_rng(s.seed, epoch)
    if s.loss == "contrastive":
        p = sample_pairs(index, rng, s.positive_fraction, s.allow_self_positive)
        cols, extra = (p.anchor, p.partner), torch.from_numpy(p.is_positive)
    else:
        t = sample_triplets(index, rng, s.allow_self_positive)
        cols, extra = (t.anchor, t.positive, t.negative), None
    out = []
    for start in range(0, len(cols[0]), s.batch_size):
        members = np.concatenate([c[start : start + s.batch_size] for c in cols])
        k = min(s.batch_size, len(cols[0]) - start)
        e = None if extra is None else extra[start : start + k]
        out.append((x[torch.from_numpy(members)], k, e))
    return out


def pure_epoch(model, opt, batches, s: TrainSettings) -> int:
    for xb, k, is_pos in batches:
        z = model(xb)
        third = is_pos if s.loss == "contrastive" else z[2 * k :]
        loss = per_item(s, z[:k], z[k : 2 * k], third).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(batches)
