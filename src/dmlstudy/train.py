"""The training loop with the greediness diagnostics of §2.2, checkpointing and resume.

The loop knows nothing about datasets: it gets tensors (vectors, uint8 images or frozen
features) and labels. Every epoch it draws fresh pairs/triplets (``sampling``), runs one
forward pass over anchors and partners together, and records per epoch:

- ``loss``: mean per-pair/per-triplet loss over the epoch (independent of the reduction);
- ``active_ratio``: fraction of pairs/triplets with non-zero loss; for a loss on pairs also
  ``active_ratio_positive`` and ``active_ratio_negative``, the same fraction among the
  positive and among the negative pairs (a positive pair of Eq. 1 has a non-zero loss
  unless its two embeddings coincide, so the overall ratio of contrastive is at least about
  ``sampling.positive_fraction`` by construction; the negatives are what it measures);
- ``grad_norm``: total L2 norm of all parameter gradients before each step, averaged
  over the epoch's batches;
- ``intra_class_distance`` / ``inter_class_distance``: on the embeddings of the diagnostic
  points (the training points, or the fixed subsample ``runs`` passes) after the epoch
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

import dataclasses
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

from . import losses, sampling
from .config import section_defaults
from .device import resolve_device
from .errors import ConfigError, DmlStudyError, TrainingDivergedError
from .io import atomic_write
from .metrics import ClassDistances
from .params import TRAINING_SECTIONS
from .sampling import LabelIndex

log = logging.getLogger("dmlstudy.train")

HISTORY_COLUMNS = [
    "epoch",
    "loss",
    "active_ratio",
    "active_ratio_positive",
    "active_ratio_negative",
    "grad_norm",
    "intra_class_distance",
    "inter_class_distance",
    "n_items",
    "seconds",
]


@dataclass
class TrainSettings:
    """Everything the loop needs, read from the validated config (``from_resolved``); the
    schema holds every default, so none is repeated here. The first three fields are the
    run's loss, seed and loss section; every later field is a key of the sampling or
    training section, by name."""

    loss: str
    seed: int
    loss_options: dict  #: the resolved ``loss`` section (margin, triplet_distance, reduction)
    sampler: str
    m_per_class: int
    positive_fraction: float
    outliers: str
    allow_self_positive: bool
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    adam: str

    @classmethod
    def from_resolved(cls, resolved: dict, loss: str, seed: int) -> TrainSettings:
        """From what a training job depends on (``params.training_params``, or
        ``params.resolve_experiment``): ``loss_options`` is the loss section, every other
        field is the key of that name in one of the other training sections
        (``params.TRAINING_SECTIONS``)."""
        values = {}
        for section in TRAINING_SECTIONS:
            if section != "loss":
                values.update(resolved[section])
        fields = [f.name for f in dataclasses.fields(cls)][3:]
        missing = [f for f in fields if f not in values]
        if missing:
            raise KeyError(f"training settings {missing} are in none of {TRAINING_SECTIONS}")
        return cls(loss, seed, dict(resolved["loss"]), **{f: values[f] for f in fields})

    @classmethod
    def defaults(cls, loss: str, seed: int = 0, **overrides) -> TrainSettings:
        """The schema's defaults, with ``overrides`` (field names of this class, or keys of
        the loss section such as ``margin``): for tests and benchmarks."""
        resolved = {s: section_defaults(s) for s in TRAINING_SECTIONS}
        for key in list(overrides):
            if key in resolved["loss"]:
                resolved["loss"][key] = overrides.pop(key)
        out = cls.from_resolved(resolved, loss, seed)
        for key, value in overrides.items():
            if not hasattr(out, key):
                raise TypeError(f"TrainSettings has no field {key!r}")
            setattr(out, key, value)
        return out


def deterministic_mode() -> None:
    """Deterministic kernels (warn where an op has none), without the debugging fill.

    ``use_deterministic_algorithms(True)`` also makes torch fill every new uninitialised
    tensor with NaN (``fill_uninitialized_memory``), a check for code that reads memory it
    never wrote. Kernels overwrite their outputs, so results are the same bit for bit
    without it, and on a CPU the fill costs 9-27% of a CNN training step
    (docs/benchmarks.md)."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False


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


def make_optimizer(model: nn.Module, s: TrainSettings, extra=()) -> torch.optim.Adam:
    """Adam with the paper's lr and weight decay, in the implementation ``s.adam``, over the
    model's parameters and ``extra`` ones (a loss's trained proxies)."""
    try:
        kwargs = ADAM_IMPLEMENTATIONS[s.adam]
    except KeyError:
        allowed = ", ".join(ADAM_IMPLEMENTATIONS)
        raise ValueError(f"unknown training.adam {s.adam!r}; allowed: {allowed}") from None
    return torch.optim.Adam(
        [*model.parameters(), *extra],
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


def total_grad_norms(per_batch: list[list[torch.Tensor]] | torch.Tensor) -> np.ndarray:
    """Total gradient norm of each batch from its per-parameter norms (float64): a list per
    batch, or one (batches, parameters) tensor."""
    if len(per_batch) == 0:
        return np.empty(0)
    if isinstance(per_batch, torch.Tensor):
        parts = per_batch.double()
    else:
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


def _step_overflow(s: TrainSettings, epoch: int, batch: int) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"the optimiser step overflowed at epoch {epoch}, batch {batch} ({s.loss}, "
        f"seed {s.seed}, lr {s.lr}); no result written. Lower training.lr."
    )


def _resume(ckpt_path: Path | None, key: str, lp: _Loop) -> tuple[list[dict], int]:
    """History rows and the first epoch to run, from a checkpoint of this configuration
    (none, another configuration's, or an unreadable one: start from scratch)."""
    if ckpt_path is None or not ckpt_path.exists():
        return [], 0
    try:
        state = torch.load(ckpt_path, map_location=lp.dev, weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as exc:
        # a damaged checkpoint only costs a restart, never a wrong result
        log.warning("checkpoint %s unreadable (%s); training from scratch", ckpt_path, exc)
        return [], 0
    if state.get("key") != key:
        log.info("checkpoint %s belongs to another configuration; starting fresh", ckpt_path)
        return [], 0
    lp.model.load_state_dict(state["model"])
    lp.opt.load_state_dict(state["optimizer"])
    if "loss" in state:
        lp.loss_fn.load_state_dict(state["loss"])
    log.info("resuming from %s after epoch %d", ckpt_path, state["epoch"])
    return state["history"], state["epoch"] + 1


class _Rows:
    """Tensors appended along their first dimension into one buffer that doubles when full.

    Each batch's per-item losses and gradient norms used to stay until the epoch's end as
    tiny tensors of their own (nine per batch); held between the batches' large short-lived
    activations they fragment the C heap, and one epoch of the CNN on 60,000 MNIST images
    (938 batches) grew its process by 5-7 GB (docs/benchmarks.md, "Rehearsal"). The buffer
    holds the same values in the same order."""

    def __init__(self):
        self.buf: torch.Tensor | None = None
        self.n = 0

    def append(self, rows: torch.Tensor) -> None:
        k = rows.shape[0]
        if self.buf is None or self.n + k > len(self.buf):
            new = rows.new_empty((max(1024, 2 * (self.n + k)), *rows.shape[1:]))
            if self.buf is not None:
                new[: self.n] = self.buf[: self.n]
            self.buf = new
        self.buf[self.n : self.n + k] = rows
        self.n += k

    def __len__(self) -> int:
        return self.n

    def values(self) -> torch.Tensor:
        return self.buf[: self.n] if self.buf is not None else torch.empty(0)


class _Epoch:
    """One pass over the epoch's batches. Per-item losses and gradient norms stay tensors
    until the epoch ends (no per-batch host conversions); they are reduced once, in float64."""

    def __init__(self, loop: _Loop, epoch: int):
        self.loop, self.epoch = loop, epoch
        self.items = _Rows()  # per-item losses
        self.positive = _Rows()  # pairs: which items are positive pairs
        self.gnorms = _Rows()  # (batches, parameters) gradient norms
        self.last_batch = -1

    def run(self) -> None:
        lp, s = self.loop, self.loop.s
        batches = lp.sampler.batches(lp.index, lp.loss.partners, s, self.epoch, lp.dev)
        for b, batch in enumerate(batches):
            self.last_batch = b
            z = lp.model(lp.x.index_select(0, batch.members))
            args = batch.args(z)
            per_item = lp.loss_fn(*args)
            if per_item.numel() == 0:  # a miner found nothing to learn from in this batch
                continue
            value = losses.reduce(per_item, s.loss_options["reduction"])
            if not math.isfinite(value.item()):
                raise TrainingDivergedError(
                    f"loss is {value.item()} at epoch {self.epoch}, batch {b} ({s.loss}, seed "
                    f"{s.seed}); no result written. Lower training.lr or check the input data "
                    f"for NaN/inf."
                )
            lp.opt.zero_grad(set_to_none=True)
            value.backward()
            self.gnorms.append(torch.stack(param_grad_norms(lp.params))[None])
            if self.epoch > 0:  # epoch 0 measures the untrained model: no update
                lp.step(self.epoch, b)
            self.items.append(per_item.detach().reshape(-1))
            if lp.loss.partners == "pairs":
                self.positive.append(args[2].reshape(-1))
        lp.opt.zero_grad(set_to_none=True)
        if not len(self.items):
            raise DmlStudyError(
                f"epoch {self.epoch}: no {s.loss} pairs/triplets could be drawn from "
                f"{lp.index.n} training points (every anchor lacks a positive: single-member "
                f"classes or only outliers)"
            )

    def row(self, seconds_from: float) -> dict:
        lp, s = self.loop, self.loop.s
        all_items = self.items.values()
        n_items = all_items.numel()
        z = embed(lp.model, lp.diag_x).numpy()
        if not np.isfinite(z).all():  # the last step of the epoch diverged
            raise TrainingDivergedError(
                f"embeddings are not finite after epoch {self.epoch}, batch {self.last_batch} "
                f"({s.loss}, seed {s.seed}); no result written. Lower training.lr or check the "
                f"input data."
            )
        intra, inter = lp.class_distances(z)
        active = all_items.gt(0)
        by_kind = {"positive": math.nan, "negative": math.nan}
        if len(self.positive):
            pos = self.positive.values()
            for kind, mask in (("positive", pos), ("negative", ~pos)):
                n = int(mask.sum())
                by_kind[kind] = int((active & mask).sum()) / n if n else math.nan
        return {
            "epoch": self.epoch,
            "loss": float(all_items.double().sum()) / max(n_items, 1),
            "active_ratio": int(active.sum()) / max(n_items, 1),
            "active_ratio_positive": by_kind["positive"],
            "active_ratio_negative": by_kind["negative"],
            "grad_norm": float(total_grad_norms(self.gnorms.values()).mean())
            if len(self.gnorms)
            else math.nan,
            "intra_class_distance": intra,
            "inter_class_distance": inter,
            "n_items": n_items,
            "seconds": time.perf_counter() - seconds_from,
        }


class _Loop:
    """The state one training run shares across epochs."""

    def __init__(self, model, x, y, s: TrainSettings, device, diag_x, diag_y):
        self.s = s
        self.loss = losses.get(s.loss)
        if problem := sampling.problem(s.sampler, s.loss):
            raise ConfigError(f"sampling.sampler: {problem}")
        self.sampler = sampling.get(s.sampler)
        self.dev = resolve_device(device)
        self.model = model.to(self.dev)
        self.x = x.to(self.dev)
        self.diag_x = self.x if diag_x is None else diag_x.to(self.dev)
        self.index = LabelIndex(y, s.outliers)
        if problem := self.index.pair_problem():
            raise DmlStudyError(f"{s.loss}, seed {s.seed}: {problem}")
        self.class_distances = ClassDistances(y if diag_y is None else diag_y)
        self.loss_fn = self._build_loss(y)
        extra = list(self.loss_fn.parameters()) if isinstance(self.loss_fn, nn.Module) else []
        self.opt = make_optimizer(model, s, extra)
        self.params = [p for p in [*model.parameters(), *extra] if p.requires_grad]
        # Adam's first step moves a weight by up to lr / (1 - beta1). torch's for-loop Adam
        # raises when that overflows float32; fused/foreach would write inf into the weights.
        self.first_step_overflows = s.lr / (1 - _ADAM_BETA1) > _FLOAT32_MAX

    def _build_loss(self, y):
        if self.loss.module is None:
            return losses.build(self.loss, self.s.loss_options, 0, None)
        dim = embed(self.model, self.x[:1]).shape[1]
        classes, _ = self.index.label_index(self.s.outliers == "exclude_from_positives")
        torch.manual_seed(self.s.seed)  # proxies: initialised from the run's seed
        return losses.build(self.loss, self.s.loss_options, dim, classes).to(self.dev)

    def state(self) -> dict:
        """Model, optimiser and (for losses with parameters) loss state for a checkpoint."""
        out = {"model": self.model.state_dict(), "optimizer": self.opt.state_dict()}
        if isinstance(self.loss_fn, nn.Module):
            out["loss"] = self.loss_fn.state_dict()
        return out

    def step(self, epoch: int, batch: int) -> None:
        if self.first_step_overflows:
            raise _step_overflow(self.s, epoch, batch)
        try:
            self.opt.step()
        except RuntimeError as exc:  # the for-loop Adam's step size overflows
            if "overflow" not in str(exc):
                raise
            raise _step_overflow(self.s, epoch, batch) from exc


#: About this many epoch lines per run in the job log, plus the first epoch a process runs
#: and the last: Snakemake prints a failed or interrupted job's whole log, and every epoch's
#: numbers are in history.csv (and the checkpoint) anyway.
PROGRESS_LINES = 10


def _progress_epoch(epoch: int, first: int, epochs: int) -> bool:
    """Whether epoch ``epoch`` gets a log line (``first``: the first this process runs)."""
    every = max(1, math.ceil(epochs / PROGRESS_LINES))
    return epoch in (first, epochs) or epoch % every == 0


def _log_row(r: dict, epochs: int) -> None:
    log.info(
        "epoch %3d/%d  loss %.4f  active %.3f  |grad| %.4f  intra %.4f  inter %.4f  %.2fs",
        r["epoch"],
        epochs,
        r["loss"],
        r["active_ratio"],
        r["grad_norm"],
        r["intra_class_distance"],
        r["inter_class_distance"],
        r["seconds"],
    )


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

    The loss and the sampler are looked up once in their registries (``losses.LOSSES``,
    ``sampling.SAMPLERS``). ``checkpoint``: file written atomically after every epoch; if it
    exists and its ``checkpoint_key`` matches, training resumes after its last epoch. A
    checkpoint from another configuration is ignored (and overwritten).
    ``diag_x``/``diag_y``: points whose embeddings give the per-epoch class distances
    (default: the training points).
    """
    lp = _Loop(model, x, y, settings, device, diag_x, diag_y)
    ckpt_path = Path(checkpoint) if checkpoint else None
    rows, start_epoch = _resume(ckpt_path, checkpoint_key, lp)
    for epoch in range(start_epoch, settings.epochs + 1):
        t0 = time.perf_counter()
        lp.model.train()
        ep = _Epoch(lp, epoch)
        ep.run()
        rows.append(ep.row(t0))
        if _progress_epoch(epoch, start_epoch, settings.epochs):
            _log_row(rows[-1], settings.epochs)
        if ckpt_path is not None:
            state = {"key": checkpoint_key, "epoch": epoch, **lp.state(), "history": rows}
            atomic_write(ckpt_path, lambda p, state=state: torch.save(state, p))
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)
