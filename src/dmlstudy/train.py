"""The training loop with the greediness diagnostics of §2.2, checkpointing and resume.

The loop knows nothing about datasets: it gets tensors (vectors, uint8 images or frozen
features) and labels. Every epoch it draws fresh pairs/triplets (``sampling``), runs one
forward pass over anchors and partners together, and records per epoch:

- ``loss``: mean per-pair/per-triplet loss over the epoch (independent of the reduction);
- ``active_ratio``: fraction of pairs/triplets with non-zero loss;
- ``grad_norm``: total L2 norm of all parameter gradients before each step, averaged
  over the epoch's batches;
- ``intra_class_distance`` / ``inter_class_distance``: on the embeddings of the diagnostic
  points (the training points, or the fixed subsample ``pipeline`` passes) after the epoch
  (``metrics.ClassDistances``);
- ``seconds``: wall time of the epoch.

Row 0 is measured before any update (gradients computed, no step), so the loss-decay
epoch min{e : L(e) <= 0.1 L(0)} is well defined.

Determinism: model initialisation is seeded by ``seed``; the pairs of epoch e come from a
generator seeded by (seed, e). A checkpoint (model, optimiser, history) is written
atomically after every epoch, so a killed job resumes at the last complete epoch and ends
bit for bit where an uninterrupted run would (on the CPU, same thread count).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import losses as L
from .errors import DmlStudyError, TrainingDivergedError
from .metrics import ClassDistances
from .sampling import LabelIndex, epoch_rng, sample_pairs, sample_triplets

log = logging.getLogger("dmlstudy.train")

HISTORY_COLUMNS = [
    "epoch",
    "loss",
    "active_ratio",
    "grad_norm",
    "intra_class_distance",
    "inter_class_distance",
    "n_items",
    "seconds",
]


@dataclass
class TrainSettings:
    loss: str
    margin: float = 1.0
    triplet_distance: str = "squared"
    reduction: str = "mean"
    positive_fraction: float = 0.5
    outliers: str = "exclude_from_positives"
    allow_self_positive: bool = False
    epochs: int = 50
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seed: int = 0
    adam: str = "fused"

    @classmethod
    def from_resolved(cls, resolved: dict, loss: str, seed: int) -> TrainSettings:
        lo, sa, tr = resolved["loss"], resolved["sampling"], resolved["training"]
        return cls(
            loss=loss,
            margin=lo["margin"],
            triplet_distance=lo["triplet_distance"],
            reduction=lo["reduction"],
            positive_fraction=sa["positive_fraction"],
            outliers=sa["outliers"],
            allow_self_positive=sa["allow_self_positive"],
            epochs=tr["epochs"],
            batch_size=tr["batch_size"],
            lr=tr["lr"],
            weight_decay=tr["weight_decay"],
            seed=seed,
            adam=tr.get("adam", "fused"),
        )


def set_threads(threads: int) -> None:
    """Pin torch's intra-op threads so parallel Snakemake jobs never oversubscribe cores."""
    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once in this process
        pass


def deterministic_mode() -> None:
    """Deterministic kernels (warn where an op has none), without the debugging fill.

    ``use_deterministic_algorithms(True)`` also makes torch fill every new uninitialised
    tensor with NaN (``fill_uninitialized_memory``), a check for code that reads memory it
    never wrote. Kernels overwrite their outputs, so results are the same bit for bit
    without it, and on a CPU the fill costs 9-27% of a CNN training step
    (docs/benchmarks.md)."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no GPU is visible; set device: cpu or auto")
    return torch.device(device)


#: ``training.adam`` -> keyword arguments of torch.optim.Adam. All three compute the same
#: update; they differ in the last bits and in speed (docs/benchmarks.md: fused is the
#: fastest on a CPU, for_loop is torch's CPU default and what the authors' code ran).
ADAM_IMPLEMENTATIONS = {
    "fused": {"fused": True},
    "foreach": {"foreach": True},
    "for_loop": {"foreach": False},
}
_ADAM_BETA1 = 0.9
_FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def make_optimizer(model: nn.Module, s: TrainSettings) -> torch.optim.Adam:
    """Adam with the paper's lr and weight decay, in the implementation ``s.adam``."""
    try:
        kwargs = ADAM_IMPLEMENTATIONS[s.adam]
    except KeyError:
        allowed = ", ".join(ADAM_IMPLEMENTATIONS)
        raise ValueError(f"unknown training.adam {s.adam!r}; allowed: {allowed}") from None
    return torch.optim.Adam(
        model.parameters(),
        lr=s.lr,
        betas=(_ADAM_BETA1, 0.999),
        weight_decay=s.weight_decay,
        **kwargs,
    )


def param_grad_norms(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """The L2 norm of each parameter's gradient (0-d tensors, one fused op, no host sync);
    their root sum of squares is the total gradient norm (``total_grad_norms``)."""
    grads = [p.grad for p in params if p.grad is not None]
    return list(torch._foreach_norm(grads)) if grads else [torch.zeros(())]


def total_grad_norms(per_batch: list[list[torch.Tensor]]) -> np.ndarray:
    """Total gradient norm of each batch from its per-parameter norms (float64)."""
    if not per_batch:
        return np.empty(0)
    parts = torch.stack([torch.stack(g) for g in per_batch]).double()
    return torch.linalg.vector_norm(parts, dim=1).numpy()


def grad_norm(model: nn.Module) -> float:
    """Total L2 norm of all parameter gradients."""
    return float(total_grad_norms([param_grad_norms(list(model.parameters()))])[0])


@torch.no_grad()
def embed(model: nn.Module, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """Embeddings of ``x`` in eval mode, batched.

    Default batch: 128 images or 1,024 vectors. A CNN's activations for 1,024 images
    (~100 MB) fall out of cache, and 128 is about 1.6x faster per image on a CPU; the output
    does not depend on the batch size (checked bit for bit, benchmarks/bench_training.py)."""
    if batch_size is None:
        batch_size = 128 if x.dim() > 2 else 1024
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = [model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    if not out:  # an empty split (test_fraction 0) keeps its (0, D) shape
        out = [model(x.to(device)).cpu()]
    model.train(was_training)
    return torch.cat(out)


def _batch_losses(model, xb: torch.Tensor, k: int, is_pos, s: TrainSettings) -> torch.Tensor:
    """One forward pass over ``xb`` = the batch's k anchors, then their k partners (then k
    negatives), and Eq. 1 or Eq. 2 per pair/triplet."""
    z = model(xb)
    if s.loss == "contrastive":
        return L.contrastive_loss(z[:k], z[k:], is_pos, margin=s.margin)
    return L.triplet_loss(
        z[:k], z[k : 2 * k], z[2 * k :], margin=s.margin, squared=s.triplet_distance == "squared"
    )


def _per_item_losses(model, x, batch, s: TrainSettings) -> torch.Tensor:
    """Losses of one batch given as (anchor, partner, is_positive) or (anchor, positive,
    negative) index tensors: one gather, one forward pass, then Eq. 1 or Eq. 2."""
    if s.loss == "contrastive":
        a, p, is_pos = batch
        return _batch_losses(model, x.index_select(0, torch.cat([a, p])), len(a), is_pos, s)
    a, p, n = batch
    return _batch_losses(model, x.index_select(0, torch.cat([a, p, n])), len(a), None, s)


def _epoch_batches(index: LabelIndex, s: TrainSettings, epoch: int, device):
    """The epoch's batches as (members, k, is_positive or None). ``members`` lists the k
    anchors, then their partners (then negatives), so one ``index_select`` gathers the batch
    input; the whole epoch's member order is laid out once, each batch is a slice of it."""
    rng = epoch_rng(s.seed, epoch)
    if s.loss == "contrastive":
        pairs = sample_pairs(index, rng, s.positive_fraction, s.allow_self_positive)
        members, is_pos = (pairs.anchor, pairs.partner), pairs.is_positive
    elif s.loss == "triplet":
        t = sample_triplets(index, rng, s.allow_self_positive)
        members, is_pos = (t.anchor, t.positive, t.negative), None
    else:
        raise ValueError(f"unknown loss {s.loss!r}; allowed: {', '.join(L.LOSSES)}")
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
        yield (
            order[r * start : r * stop],
            stop - start,
            None if is_pos is None else is_pos[start:stop],
        )


def _step_overflow(s: TrainSettings, epoch: int, batch: int) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"the optimiser step overflowed at epoch {epoch}, batch {batch} ({s.loss}, "
        f"seed {s.seed}, lr {s.lr}); no result written. Lower training.lr."
    )


def _atomic_torch_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: np.ndarray,
    settings: TrainSettings,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_key: str = "",
    device: str = "cpu",
    diag_x: torch.Tensor | None = None,
    diag_y: np.ndarray | None = None,
) -> pd.DataFrame:
    """Train ``model`` in place; return the per-epoch history (row 0 = before any update).

    ``checkpoint``: file written atomically after every epoch; if it exists and its
    ``checkpoint_key`` matches, training resumes after its last epoch. A checkpoint from
    another configuration is ignored (and overwritten).
    ``diag_x``/``diag_y``: points whose embeddings give the per-epoch class distances
    (default: the training points).
    """
    s = settings
    dev = resolve_device(device)
    model.to(dev)
    x = x.to(dev)
    diag_x = x if diag_x is None else diag_x.to(dev)
    diag_y = y if diag_y is None else diag_y
    index = LabelIndex(y, s.outliers)
    class_distances = ClassDistances(diag_y)
    opt = make_optimizer(model, s)
    params = [p for p in model.parameters() if p.requires_grad]
    # Adam's first step moves a weight by up to lr / (1 - beta1). torch's for-loop Adam
    # raises when that overflows float32; fused/foreach would write inf into the weights.
    first_step_overflows = s.lr / (1 - _ADAM_BETA1) > _FLOAT32_MAX
    rows: list[dict] = []
    start_epoch = 0

    ckpt_path = Path(checkpoint) if checkpoint else None
    if ckpt_path is not None and ckpt_path.exists():
        try:
            state = torch.load(ckpt_path, map_location=dev, weights_only=False)
        except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as exc:
            # a damaged checkpoint only costs a restart, never a wrong result
            log.warning("checkpoint %s unreadable (%s); training from scratch", ckpt_path, exc)
            state = None
        if state is not None and state.get("key") == checkpoint_key:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            rows = state["history"]
            start_epoch = state["epoch"] + 1
            log.info("resuming from %s after epoch %d", ckpt_path, state["epoch"])
        elif state is not None:
            log.info("checkpoint %s belongs to another configuration; starting fresh", ckpt_path)

    for epoch in range(start_epoch, s.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        # Per-item losses and gradient norms stay tensors until the epoch ends (no per-batch
        # host conversions); they are reduced once, in float64.
        n_items, gnorms, items, b = 0, [], [], -1
        for b, (members, k, is_pos) in enumerate(_epoch_batches(index, s, epoch, dev)):
            per_item = _batch_losses(model, x.index_select(0, members), k, is_pos, s)
            loss = L.reduce(per_item, s.reduction)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise TrainingDivergedError(
                    f"loss is {loss_value} at epoch {epoch}, batch {b} ({s.loss}, seed {s.seed}); "
                    f"no result written. Lower training.lr or check the input data for NaN/inf."
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorms.append(param_grad_norms(params))
            if epoch > 0:  # epoch 0 measures the untrained model: no update
                if first_step_overflows:
                    raise _step_overflow(s, epoch, b)
                try:
                    opt.step()
                except RuntimeError as exc:  # the for-loop Adam's step size overflows
                    if "overflow" not in str(exc):
                        raise
                    raise _step_overflow(s, epoch, b) from exc
            per_item = per_item.detach()
            items.append(per_item)
            n_items += per_item.numel()
        opt.zero_grad(set_to_none=True)
        if b < 0:
            raise DmlStudyError(
                f"epoch {epoch}: no {s.loss} pairs/triplets could be drawn from {len(y)} training "
                f"points (every anchor lacks a positive: single-member classes or only outliers)"
            )
        all_items = torch.cat(items)
        loss_sum = float(all_items.double().sum())
        n_active = int(all_items.gt(0).sum())
        z = embed(model, diag_x).numpy()
        if not np.isfinite(z).all():  # the last step of the epoch diverged
            raise TrainingDivergedError(
                f"embeddings are not finite after epoch {epoch}, batch {b} ({s.loss}, seed "
                f"{s.seed}); no result written. Lower training.lr or check the input data."
            )
        intra, inter = class_distances(z)
        rows.append(
            {
                "epoch": epoch,
                "loss": loss_sum / max(n_items, 1),
                "active_ratio": n_active / max(n_items, 1),
                "grad_norm": float(total_grad_norms(gnorms).mean()) if gnorms else math.nan,
                "intra_class_distance": intra,
                "inter_class_distance": inter,
                "n_items": n_items,
                "seconds": time.perf_counter() - t0,
            }
        )
        r = rows[-1]
        log.info(
            "epoch %3d/%d  loss %.4f  active %.3f  |grad| %.4f  intra %.4f  inter %.4f  %.2fs",
            epoch,
            s.epochs,
            r["loss"],
            r["active_ratio"],
            r["grad_norm"],
            intra,
            inter,
            r["seconds"],
        )
        if ckpt_path is not None:
            _atomic_torch_save(
                {
                    "key": checkpoint_key,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "history": rows,
                },
                ckpt_path,
            )
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)
