"""Benchmark: one training epoch of our loop against pure compute and the authors' loop.

For each workload and loss, interleaved round by round in one process (1 thread, as each
workflow training job runs):

* ``loop``    - the real ``dmlstudy.train.train`` (training/loop.py: CPU of 1 + m epochs
  minus CPU of 1 epoch, so set-up and the untrained epoch 0 cancel);
* ``pure``    - forward + loss + backward + Adam on the same epoch's batches gathered
  beforehand (what any loop must spend);
* ``authors`` - the authors' released loop (training/baselines.py): per-anchor Python
  sampling and a single-sample forward for each positive and negative partner.

Workloads (training/workloads.py): ``mlp_syn`` (§3.1 synthetic, 1,680 train points, MLP)
and ``cnn_mnist`` (the §3.2 CNN on MNIST-size 28 x 28 uint8 images, timed on
``--cnn-points`` points and scaled to a 60,000-point epoch; every cost is linear in the
points). Public entry points only: nothing in the package is patched.

Usage::

    python benchmarks/bench_training.py                 # about 3 min on 2 quiet cores
    python benchmarks/bench_training.py --quick         # about 1 min
    python benchmarks/bench_training.py --no-authors    # our loop and pure compute only

Writes ``bench_training.json`` and ``bench_training.md`` under ``--out``. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import _common
import numpy as np
import torch
from training import loop, report, workloads

from dmlstudy.scripting import set_threads
from dmlstudy.train import deterministic_mode


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workloads", nargs="+", default=["mlp_syn", "cnn_mnist"])
    p.add_argument("--losses", nargs="+", default=["contrastive", "triplet"])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (MLP)")
    p.add_argument("--cnn-rounds", type=int, default=3)
    p.add_argument("--cnn-points", type=int, default=512, help="CNN points timed per epoch")
    p.add_argument("--extra-epochs", type=int, default=2, help="m in CPU(1+m) - CPU(1)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-authors", action="store_true", help="skip the authors' loop")
    p.add_argument("--quick", action="store_true", help="2 rounds, 256 CNN points")
    p.add_argument("--out", default="results/benchmarks/suite")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.cnn_rounds, args.cnn_points = 2, 1, 256

    set_threads(args.threads)
    deterministic_mode()  # as the workflow's training jobs
    info = _common.machine_info(torch=torch.__version__, numpy=np.__version__)
    results = []
    for w in workloads.build(args.workloads, args.cnn_points):
        rounds = args.cnn_rounds if w.name.startswith("cnn") else args.rounds
        for loss in args.losses:
            d = loop.compare(w, loss, rounds, args.extra_epochs, authors=not args.no_authors)
            e = d["epoch_cpu_s"]
            print(
                f"{w.name:<10} {loss:<11} loop {e['loop']:.3f} s  pure {e['pure']:.3f} s  "
                f"loop/pure {d['loop_over_pure']:.3f}"
                + (
                    f"  authors {e['authors']:.2f} s  authors/loop {d['authors_over_loop']:.1f}x"
                    if "authors_over_loop" in d
                    else ""
                ),
                flush=True,
            )
            results.append(d)
    res = {
        "machine": info,
        "threads": args.threads,
        "args": vars(args),
        "datapath": results,
        "loadavg_end": list(os.getloadavg()),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_training.json").write_text(json.dumps(res, indent=1))
    (out / "bench_training.md").write_text(report.markdown(res))
    print(f"wrote {out / 'bench_training.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
