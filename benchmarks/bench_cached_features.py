"""Benchmark: one head-training epoch on cached features vs recomputing the frozen backbone.

The retrieval experiments train a Linear(F -> 512) + L2-norm head on a frozen backbone.
The authors' code runs the backbone on every batch of every epoch; this workflow runs it
once (``dmlstudy.features.extract_features``) and trains on the cached vectors. This
script times, in one run and on the same images, backbone and head:

* the one-off extraction (what the ``extract_features`` rule costs once);
* one epoch on cached features (triplet loss, squared distances, margin 1, Adam, batch 64);
* one epoch that recomputes the frozen backbone for every batch, through the same
  DataLoader pipeline (decode/resize/normalise in workers), then the same head step.

Both epochs sample triplets inside the batch (one random positive and one random negative
per anchor), so the recompute epoch runs the backbone once per image. The authors'
``TripletDataset`` runs it on anchor, positive and negative, three times per image: the
ratio printed here is therefore a lower bound on the saving against their code.

Usage::

    python benchmarks/bench_cached_features.py            # about 1-2 min on 2 CPU cores
    python benchmarks/bench_cached_features.py --n 512 --repeats 3 --device auto

The backbone is the real EfficientNet-Lite0 (ImageNet weights, installs offline). This is
a benchmark, not a test: it prints timings and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from dmlstudy import features, h5io

try:
    from dmlstudy.losses import triplet_loss
except ImportError:  # the losses module is not there yet: Eq. 2 inline

    def triplet_loss(anchor, positive, negative, margin=1.0, squared=True):
        dp = (anchor - positive).pow(2).sum(1)
        dn = (anchor - negative).pow(2).sum(1)
        if not squared:
            dp, dn = dp.sqrt(), dn.sqrt()
        return torch.clamp(dp - dn + margin, min=0)


def make_images(n: int, size: int, classes: int, seed: int = 0):
    """Random uint8 RGB images with a class-dependent tint (content does not affect time)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    tint = rng.integers(0, 128, size=(classes, 3, 1, 1))
    x = rng.integers(0, 128, size=(n, 3, size, size)) + tint[y]
    return x.astype(np.uint8), y.astype(np.int64)


def in_batch_triplets(y: torch.Tensor, gen: torch.Generator):
    """For each anchor with a positive and a negative in the batch: one of each at random."""
    same = y[:, None] == y[None, :]
    eye = torch.eye(len(y), dtype=torch.bool, device=y.device)
    pos_mask, neg_mask = same & ~eye, ~same
    r = torch.rand(len(y), len(y), generator=gen, device=y.device)
    pos = r.masked_fill(~pos_mask, -1).argmax(1)
    neg = r.masked_fill(~neg_mask, -1).argmax(1)
    keep = pos_mask.any(1) & neg_mask.any(1)
    idx = torch.nonzero(keep).squeeze(1)
    return idx, pos[idx], neg[idx]


class Head(nn.Module):
    def __init__(self, in_dim: int, out_dim: int = 512):
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)

    def forward(self, x):
        return F.normalize(self.fc(x), dim=1)


def head_step(head, opt, feats, y, gen):
    a, p, n = in_batch_triplets(y, gen)
    emb = head(feats)
    loss = triplet_loss(emb[a], emb[p], emb[n], margin=1.0, squared=True).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def epoch_cached(head, opt, x, y, batch_size, gen, device):
    sync(device)
    t = time.perf_counter()
    perm = torch.randperm(len(x), generator=gen)
    for i in range(0, len(x), batch_size):
        idx = perm[i : i + batch_size]
        head_step(head, opt, x[idx].to(device), y[idx].to(device), gen)
    sync(device)
    return time.perf_counter() - t


def epoch_recompute(head, opt, backbone, loader, device, gen):
    fmt = torch.channels_last if backbone.channels_last else torch.contiguous_format
    autocast, _ = _common.autocast(device)
    sync(device)
    t = time.perf_counter()
    for images, y in loader:
        with torch.inference_mode(), autocast:
            f = backbone(images.to(device, non_blocking=True, memory_format=fmt)).float()
        head_step(head, opt, f.clone(), y.to(device), gen)  # clone: leave inference mode
    sync(device)
    return time.perf_counter() - t


class _Labelled(torch.utils.data.Dataset):
    def __init__(self, images, y, prep):
        self.ds, self.y = features.ImageDataset(images, prep), y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.ds[i], int(self.y[i])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=256, help="training images (default 256)")
    ap.add_argument("--source-size", type=int, default=64, help="stored image side (pixels)")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="recompute epochs to time")
    ap.add_argument("--cached-repeats", type=int, default=30, help="cached epochs to time")
    ap.add_argument("--num-workers", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--epochs-for-total", type=int, default=50, help="paper: 50 epochs")
    args = ap.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = features.resolve_device(args.device)
    spec = {"kind": "efficientnet_lite0", "name": "efficientnet_lite0"}
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, cores {os.cpu_count()}, "
        f"{args.n} images {args.source_size}x{args.source_size} -> 224, "
        f"batch {args.batch_size}, workers {args.num_workers}, backbone EfficientNet-Lite0, "
        f"load average {os.getloadavg()[0]:.1f} (timings are wall-clock: run on an idle machine)"
    )
    x_img, y = make_images(args.n, args.source_size, args.classes)
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.h5", Path(tmp) / "features.h5"
        small = {"x": x_img[:8], "y": y[:8]}
        h5io.write_splits(
            data,
            {"train": {"x": x_img, "y": y}, "test": small},
            {"kind": "images", "description": "benchmark images", "num_classes": args.classes},
        )
        t = time.perf_counter()
        features.extract_features(
            data,
            out,
            spec,
            device=str(device),
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            progress=False,
        )
        t_extract = time.perf_counter() - t
        cached = h5io.read_split(out, "train")
    fx = torch.from_numpy(cached["x"])
    fy = torch.from_numpy(cached["y"])
    feat_dim = fx.shape[1]

    backbone, prep = features.load_backbone(spec, device)
    loader = DataLoader(
        _Labelled(x_img, y, prep),
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.num_workers > 0,
    )

    torch.manual_seed(0)
    gen = torch.Generator(device=device).manual_seed(0)
    head = Head(feat_dim).to(device)
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    fx_dev, fy_dev = fx.to(device), fy.to(device)

    epoch_cached(head, opt, fx_dev, fy_dev, args.batch_size, gen, device)  # warm-up
    cached_times = [
        epoch_cached(head, opt, fx_dev, fy_dev, args.batch_size, gen, device)
        for _ in range(args.cached_repeats)
    ]
    recompute_times = []
    for i in range(args.repeats):
        recompute_times.append(epoch_recompute(head, opt, backbone, loader, device, gen))
        print(f"  recompute epoch {i + 1}/{args.repeats}: {recompute_times[-1]:.2f} s", flush=True)

    med_c, med_r = statistics.median(cached_times), statistics.median(recompute_times)
    e = args.epochs_for_total
    total_cached = t_extract + e * med_c
    total_recompute = e * med_r
    print(f"one-off extraction ({args.n + 8} images): {t_extract:.2f} s")
    print(
        f"epoch on cached features: median {med_c * 1e3:.2f} ms over {len(cached_times)} epochs "
        f"(min {min(cached_times) * 1e3:.2f}, max {max(cached_times) * 1e3:.2f})"
    )
    print(
        f"epoch recomputing backbone: median {med_r:.2f} s over {len(recompute_times)} epochs "
        f"(min {min(recompute_times):.2f}, max {max(recompute_times):.2f})"
    )
    ratio = med_r / med_c
    print(f"per-epoch speed-up (cached vs recompute): {ratio:.0f}x (target >= 50x)")
    print(
        f"{e}-epoch run incl. the one-off extraction: {total_cached:.1f} s vs "
        f"{total_recompute:.1f} s recomputing = {total_recompute / total_cached:.1f}x"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(
        "note: the recompute epoch runs the backbone once per image (in-batch triplets); "
        "the authors' TripletDataset runs it on anchor, positive and negative (3x)."
    )
    return ratio


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
