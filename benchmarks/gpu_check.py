"""GPU check of the paper's workload (target 4, docs/benchmarks.md): per-step times and the
projected time of ``config/paper.yaml`` on this machine. Run by ``benchmarks/gpu_check.sh``.

Steps, each on ``--device`` (default: cuda when torch sees a GPU, else cpu):

1. training through ``dmlstudy.train.train`` (1 + E epochs; the epoch times are the
   ``seconds`` column of the history it returns): the MLP on §3.1 synthetic data, the
   CNN on MNIST-size (1 x 28 x 28) and CIFAR-size (3 x 32 x 32) uint8 images, and the
   512-d head on 768-d frozen features, both losses;
2. feature extraction at ViT-B/32 size: a randomly initialised torchvision ``vit_b_32``
   (the paper backbone's architecture and cost) on synthetic 224 x 224 images, under the
   mixed precision ``dmlstudy.features`` uses on a GPU; forward only (JPEG decoding runs
   in DataLoader workers beside it in the real job);
3. evaluation through ``dmlstudy.retrieval`` (5-NN accuracy and recall@1/5/10 with
   MAP@R) at the size of the paper's largest test sets.

The projection multiplies these costs by the paper config's work (sizes of the standard
splits, 50 epochs, 5 seeds, 2 losses): see ``PAPER`` below and docs/benchmarks.md.
``--quick`` shrinks every step so that a CPU finishes in about a minute (a smoke test of
the script; its projection is of that CPU).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import _common
import numpy as np
import torch

from dmlstudy import retrieval
from dmlstudy.models import CNN, MLP, Head
from dmlstudy.scripting import set_threads
from dmlstudy.train import TrainSettings, train

# config/paper.yaml's work: (train points, test points, model, image shape or feature dim).
# Sizes are the datasets' standard splits (synthetic: 2,100 points, 20 % test).
PAPER = {
    "synthetic_mlp": (1_680, 420, "mlp", 128),
    "mnist_cnn": (60_000, 10_000, "cnn", (1, 28, 28)),
    "cifar10_cnn": (50_000, 10_000, "cnn", (3, 32, 32)),
    "cifar10_vit": (50_000, 10_000, "head", 768),
    "cub200": (5_994, 5_794, "head", 768),
    "cars196": (8_144, 8_041, "head", 768),
}
PAPER_EPOCHS, PAPER_SEEDS, LOSSES = 50, 5, ("contrastive", "triplet")
VIT_IMAGES = 60_000 + 11_788 + 16_185  # CIFAR-10, CUB-200-2011, Cars196, extracted once each


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_cost(name, model_fn, x, y, epochs, device) -> dict:
    """Median wall seconds of one training epoch (epochs 1..E) per point, for each loss."""
    out = {}
    for loss in LOSSES:
        s = TrainSettings.defaults(loss, seed=0, epochs=epochs)
        torch.manual_seed(0)
        sync(device)
        t = time.perf_counter()
        hist = train(model_fn(), x, y, s, device=str(device))
        sync(device)
        total = time.perf_counter() - t
        epoch_s = statistics.median(hist["seconds"].iloc[1:].tolist())
        out[loss] = {"epoch_s": epoch_s, "per_point_s": epoch_s / len(y), "call_s": total}
        print(
            f"  train {name:<14} {loss:<11} {len(y):>7,} points: epoch {epoch_s:8.3f} s "
            f"({epoch_s / math.ceil(len(y) / 64) * 1000:7.2f} ms/step)",
            flush=True,
        )
    return out


def images(n, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)


def vit_cost(n_images, batch, device) -> dict:
    from torchvision.models import vit_b_32

    model = vit_b_32(weights=None).eval().to(device)  # random weights, the real cost
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    autocast, dtype = _common.autocast(device)
    x = torch.randn(batch, 3, 224, 224, device=device)
    times = []
    with torch.inference_mode(), autocast:
        model(x)  # warm-up (kernel selection)
        sync(device)
        for _ in range(max(1, n_images // batch)):
            t = time.perf_counter()
            model(x)
            sync(device)
            times.append(time.perf_counter() - t)
    per_image = statistics.median(times) / batch
    print(
        f"  extract vit_b_32 {dtype}, batch {batch}: {per_image * 1000:.3f} ms/image "
        f"({1 / per_image:,.0f} images/s)",
        flush=True,
    )
    return {"per_image_s": per_image, "batch": batch, "dtype": dtype, "batches": len(times)}


def eval_cost(n_train, n_test, dim, device) -> dict:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, dim)).astype(np.float32)
    ytr, yte = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    xtr = centres[ytr] + 2 * rng.standard_normal((n_train, dim), dtype=np.float32)
    xte = centres[yte] + 2 * rng.standard_normal((n_test, dim), dtype=np.float32)
    dev = "cuda" if device.type == "cuda" else "cpu"
    t = time.perf_counter()
    acc = retrieval.knn_accuracy(xtr, ytr, xte, yte, k=5, device=dev)
    rec = retrieval.retrieval_metrics(xte, yte, (1, 5, 10), device=dev)
    sec = time.perf_counter() - t
    print(
        f"  evaluate {n_test:,} test vs {n_train:,} train, {dim}-d: {sec:.2f} s "
        f"(5-NN {acc:.3f}, R@1 {rec['recall@1']:.3f}, MAP@R {rec['map@r']:.3f})",
        flush=True,
    )
    return {"seconds": sec, "n_train": n_train, "n_test": n_test, "dim": dim}


def project(costs: dict) -> dict:
    """Seconds of config/paper.yaml from the measured costs (one job after another)."""
    runs = PAPER_SEEDS  # per loss
    rows = {}
    for exp, (n_train, n_test, model, _) in PAPER.items():
        key = {"mlp": "mlp", "head": "head"}.get(model) or (
            "cnn_mnist" if exp == "mnist_cnn" else "cnn_cifar"
        )
        # epochs 0..50: epoch 0 measures without updating (about the cost of an epoch)
        train_s = sum(
            costs["train"][key][loss]["per_point_s"] * n_train * (PAPER_EPOCHS + 1) * runs
            for loss in LOSSES
        )
        ev = costs["evaluate"]
        eval_s = (
            ev["seconds"]
            * (n_train * n_test + n_test**2)
            / (ev["n_train"] * ev["n_test"] + ev["n_test"] ** 2)
        )
        rows[exp] = {"train_s": train_s, "evaluate_s": eval_s * runs * len(LOSSES)}
    extract_s = costs["extract"]["per_image_s"] * VIT_IMAGES
    total = sum(r["train_s"] + r["evaluate_s"] for r in rows.values()) + extract_s
    return {"experiments": rows, "extract_s": extract_s, "total_s": total}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    p.add_argument("--quick", action="store_true", help="tiny sizes (a CPU smoke test)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", default="results/benchmarks/gpu_check")
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    if args.device == "cuda" and not cuda:
        print("gpu_check: --device cuda, but torch sees no GPU", file=sys.stderr)
        return 2
    name = ("cuda" if cuda else "cpu") if args.device == "auto" else args.device
    device = torch.device(name)
    set_threads(args.threads)
    q = args.quick
    t_start = time.perf_counter()
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "none"
    info = _common.machine_info(torch=torch.__version__, gpu=gpu, device=str(device))
    print(f"gpu_check on {device} ({gpu}), torch {torch.__version__}, quick={q}", flush=True)

    costs: dict = {"train": {}}
    epochs = 1 if q else 2
    x = torch.randn(1_680, 128)
    x = x / x.norm(dim=1, keepdim=True)
    y = np.arange(1_680) % 10
    costs["train"]["mlp"] = train_cost("mlp", lambda: MLP(in_dim=128), x, y, epochs, device)
    for key, shape, n_gpu, mean, std in (
        ("cnn_mnist", (1, 28, 28), 60_000, (0.1307,), (0.3081,)),
        ("cnn_cifar", (3, 32, 32), 20_000, (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)),
    ):
        n = 512 if q else n_gpu
        xi, yi = images(n, shape), np.arange(n) % 10

        def cnn(shape=shape, mean=mean, std=std):
            return CNN(image_shape=shape, mean=mean, std=std)

        costs["train"][key] = train_cost(key, cnn, xi, yi, epochs, device)
    n = 2_000 if q else 50_000
    xf, yf = torch.randn(n, 768), np.arange(n) % 100
    costs["train"]["head"] = train_cost("head", lambda: Head(768, 512), xf, yf, epochs, device)
    costs["extract"] = vit_cost(16 if q else 2_048, 8 if q else 256, device)
    costs["evaluate"] = (
        eval_cost(4_000, 1_000, 512, device) if q else eval_cost(50_000, 10_000, 512, device)
    )
    proj = project(costs)
    print("\nprojected time of config/paper.yaml on this device, jobs one after another:")
    for exp, r in proj["experiments"].items():
        print(f"  {exp:<14} train {r['train_s'] / 60:8.1f} min   evaluate {r['evaluate_s']:7.1f} s")
    print(f"  ViT-B/32 extraction of {VIT_IMAGES:,} images: {proj['extract_s'] / 60:.1f} min")
    print(
        f"  total: {proj['total_s'] / 3600:.2f} h  (measured in {time.perf_counter() - t_start:.0f} s)"
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res = {"machine": info, "args": vars(args), "costs": costs, "projection": proj}
    (out / "gpu_check.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {out / 'gpu_check.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
