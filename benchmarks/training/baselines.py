"""The paths our training loop is compared with, each one epoch, same updates per epoch.

``authors_epoch``: the authors' released training loop (public repository ZenzenDatabase/Triplet_Contrastive): anchors
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

from dmlstudy import losses, sampling
from dmlstudy.train import TrainSettings

from .workloads import per_item_fn, reduce


def authors_epoch(
    model, opt, x: torch.Tensor, y: np.ndarray, s: TrainSettings, seed: int = 0, n_full=None
):
    """One epoch of the authors' loop; returns the number of optimiser steps. ``n_full``:
    the label scans run over a label tensor of the full epoch's size (``y`` repeated), as
    theirs scan the whole training set; partner j is then point j mod len(y)."""
    loss_fn = per_item_fn(s)
    rnd = random.Random(seed)
    n = len(y)
    reps = -(-(n_full or n) // n)
    labels = torch.from_numpy(np.tile(y, reps)[: n_full or n])
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    steps = 0
    for start in range(0, len(y), s.batch_size):
        idx = perm[start : start + s.batch_size]
        z_anchor = model(x[idx])
        za, zp, extra = [], [], []
        for row, i in enumerate(idx.tolist()):
            c = labels[i]
            same = (labels == c).nonzero().flatten()
            same = same[same % n != i]
            other = (labels != c).nonzero().flatten()
            if s.loss == "contrastive":
                positive = int(c) != -1 and len(same) > 0 and rnd.random() < s.positive_fraction
                j = int(rnd.choice(same if positive else other)) % n
                zp.append(model(x[j].unsqueeze(0)))
                extra.append(positive)
            else:
                if int(c) == -1 or len(same) == 0:
                    continue
                zp.append(model(x[int(rnd.choice(same)) % n].unsqueeze(0)))
                extra.append(model(x[int(rnd.choice(other)) % n].unsqueeze(0)))
            za.append(z_anchor[row : row + 1])
        if not za:
            continue
        third = torch.tensor(extra) if s.loss == "contrastive" else torch.cat(extra)
        loss = reduce(loss_fn(torch.cat(za), torch.cat(zp), third), s)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    return steps


def epoch_batches(x: torch.Tensor, y: np.ndarray, s: TrainSettings, epoch: int = 1):
    """The epoch's batches as ``train`` draws them (the registry's sampler, the generator
    of that epoch), inputs gathered beforehand: [(input, args function)]."""
    index = sampling.LabelIndex(y, s.outliers)
    partners = losses.get(s.loss).partners
    batches = sampling.get(s.sampler).batches(index, partners, s, epoch, torch.device("cpu"))
    return [(x.index_select(0, b.members), b.args) for b in batches]


def pure_epoch(model, opt, batches, s: TrainSettings) -> int:
    loss_fn = per_item_fn(s)
    for xb, args in batches:
        loss = reduce(loss_fn(*args(model(xb))), s)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(batches)
