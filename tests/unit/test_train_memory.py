"""Training memory at scale: a long epoch keeps the process's memory flat.

The loop keeps every batch's per-item losses and gradient norms until the epoch ends. Kept as
thousands of tiny tensors between the batches' large, short-lived activations, they
fragmented the C heap: one epoch of the CNN on 60,000 MNIST-size images grew its process by
5-7 GB, and 300 batches by 0.6-2.2 GB. The test runs in a fresh interpreter, so the heap it
measures is the training's alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from dmlstudy import train as T
from dmlstudy.models import build_model

SRC = Path(__file__).resolve().parents[2] / "src"
SCRIPT = """
import json, sys
import numpy as np, psutil, torch
from dmlstudy import train as T
from dmlstudy.models import CNN
T.deterministic_mode()
torch.set_num_threads(1)
n = 64 * 250
g = torch.Generator().manual_seed(0)
x = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
y = np.arange(n) % 10
torch.manual_seed(0)
model = CNN(image_shape=(1, 28, 28), mean=(0.13,), std=(0.31,))
settings = T.TrainSettings.defaults("contrastive", epochs=1)
proc = psutil.Process()
start = proc.memory_info().rss
history = T.train(model, x, y, settings, diag_x=x[:500], diag_y=y[:500])
print(json.dumps({"growth_mb": (proc.memory_info().rss - start) / 1e6, "rows": len(history)}))
"""


def test_a_long_epoch_keeps_the_process_memory_flat():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=900, env=env
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rows"] == 2  # epoch 0 and epoch 1: 500 batches of 128 images
    # a few batches' activations (about 15 MB each) and the allocator's slack
    assert out["growth_mb"] < 300, out


def test_rows_buffer_holds_what_was_appended_in_order():
    rows = T._Rows()
    pieces = [torch.arange(k, dtype=torch.float32) + 100 * k for k in (3, 0, 700, 1, 900)]
    for p in pieces:
        rows.append(p)
    assert len(rows) == sum(len(p) for p in pieces)
    assert torch.equal(rows.values(), torch.cat(pieces))
    norms = T._Rows()
    per_batch = [[torch.tensor(float(b + i)) for i in range(4)] for b in range(1500)]
    for g in per_batch:
        norms.append(torch.stack(g)[None])
    np.testing.assert_array_equal(T.total_grad_norms(norms.values()), T.total_grad_norms(per_batch))
    assert len(T._Rows()) == 0 and T._Rows().values().numel() == 0


def test_an_epoch_keeps_its_records_in_two_tensors():
    """The mechanism: however many batches, the records are two buffers, not one tensor per
    batch (the tiny per-batch tensors were what fragmented the heap)."""
    n = 64 * 40
    x = torch.randn(n, 16)
    y = np.arange(n) % 8
    model = build_model("mlp", {}, (16,), {})
    lp = T._Loop(model, x, y, T.TrainSettings.defaults("triplet"), "cpu", None, None)
    ep = T._Epoch(lp, 1)
    ep.run()
    assert len(ep.items) == n and len(ep.gnorms) == 40
    assert ep.items.values().shape == (n,) and ep.gnorms.values().shape == (40, len(lp.params))
    row = ep.row(0.0)
    assert row["n_items"] == n and np.isfinite(row["grad_norm"])
