"""Timing our loop through its public entry point, ``dmlstudy.train.train``.

One training epoch's CPU time = CPU(train for 1 + m epochs) - CPU(train for 1 epoch),
divided by m: both calls pay the same set-up and the same epoch 0 (the untrained
model's measurement, no update), so the difference is m real epochs (sampling,
batches, grad norm, Adam, bookkeeping, the class-distance diagnostic). The wall time of
each epoch is the ``seconds`` column of the history ``train`` returns.
"""

from __future__ import annotations

import copy
import statistics
import time

import torch

from dmlstudy.train import make_optimizer, train

from .baselines import authors_epoch, epoch_batches, pure_epoch
from .workloads import Workload, settings_for


def cpu_of(fn):
    """(CPU seconds of this process, wall seconds, result)."""
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c, time.perf_counter() - w, out


def fresh(model_fn, init_state):
    model = model_fn()
    model.load_state_dict(init_state)
    return model


def loop_epoch(w: Workload, loss: str, init_state, extra_epochs: int) -> dict:
    def run(epochs):
        s = settings_for(loss, epochs)
        return cpu_of(lambda: train(fresh(w.model_fn, init_state), w.x, w.y, s))

    c1, _, _ = run(1)
    cm, _, hist = run(1 + extra_epochs)
    return {
        "cpu": (cm - c1) / extra_epochs,
        "wall": statistics.median(hist["seconds"].iloc[1:].tolist()),
    }


def compare(w: Workload, loss: str, rounds: int, extra_epochs: int, authors: bool) -> dict:
    """Our loop, pure compute and the authors' loop, interleaved round by round. Per-epoch
    CPU seconds scaled to the full epoch; ratios are medians of per-round ratios."""
    s = settings_for(loss)
    torch.manual_seed(0)
    init_state = copy.deepcopy(w.model_fn().state_dict())
    batches = epoch_batches(w.x, w.y, s)
    per = {"loop": [], "pure": [], "authors": [], "loop_wall": []}
    for r in range(rounds):
        lp = loop_epoch(w, loss, init_state, extra_epochs)
        per["loop"].append(lp["cpu"] * w.scale)
        per["loop_wall"].append(lp["wall"] * w.scale)
        model = fresh(w.model_fn, init_state)
        opt = make_optimizer(model, s)
        per["pure"].append(cpu_of(lambda m=model, o=opt: pure_epoch(m, o, batches, s))[0] * w.scale)
        if authors:
            model = fresh(w.authors_model_fn, init_state)
            opt = torch.optim.Adam(model.parameters(), lr=s.lr)  # their optimiser, defaults
            c, _, _ = cpu_of(
                lambda m=model, o=opt, r=r: authors_epoch(
                    m, o, w.x, w.y, s, seed=r, n_full=w.n_full
                )
            )
            per["authors"].append(c * w.scale)
    med = {k: statistics.median(v) if v else None for k, v in per.items()}
    ratios = {
        "loop_over_pure": statistics.median(
            a / b for a, b in zip(per["loop"], per["pure"], strict=True)
        ),
    }
    if authors:
        ratios["authors_over_loop"] = statistics.median(
            a / b for a, b in zip(per["authors"], per["loop"], strict=True)
        )
    return {
        "workload": w.name,
        "description": w.description,
        "loss": loss,
        "rounds": rounds,
        "points_timed": len(w.y),
        "scale": w.scale,
        "epoch_cpu_s": med,
        "per_round": per,
        **ratios,
    }
