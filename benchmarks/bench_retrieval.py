"""Benchmark dmlstudy.retrieval against faiss and scikit-learn (not a test).

Task per method, on n clustered, L2-normalised float32 embeddings (default 512-d):
  * retrieval: recall@1/5/10 with all n items as queries and gallery, self excluded;
  * classification: 5-NN accuracy, train = first 80 % of the items, test = the rest.

Methods:
  ours      dmlstudy.retrieval.recall_at_k + knn_accuracy(metric="cosine")
  ours_map  dmlstudy.retrieval.retrieval_metrics (recall@k and MAP@R, one pass) + knn_accuracy
  faiss     IndexFlatIP, search k = 11 (self dropped) and k = 5 for the vote
  faiss_map faiss (SkylakeX kernels as faiss_skx) for recall@k and MAP@R: search k = R + 1
            (R = largest class size - 1) in chunks of 2,048 queries, then the 5-NN vote
  faiss_skx the same as faiss with OPENBLAS_CORETYPE=SkylakeX in that worker's environment: faiss-cpu's
            bundled OpenBLAS 0.3.15 does not recognise newer CPUs (here an AVX-512 AMD EPYC)
            and falls back to its "Barcelona" kernels when the variable is unset (faiss at
            its best here)
  sklearn   NearestNeighbors(algorithm="brute").kneighbors() (self excluded) for recall,
            KNeighborsClassifier(5, algorithm="brute").score() for accuracy
  before    another retrieval.py (--before FILE, e.g. ``git show 413ae6c:src/dmlstudy/
            retrieval.py``: the torch implementation), same calls as ``ours``

Environment: every worker reports what threadpoolctl sees (each BLAS/OpenMP library, its
version, kernel ("architecture") and thread count). For a fair run unset the OpenBLAS
variables in the benchmark command alone::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_retrieval.py ...

Each (method, n_classes) runs in its own subprocess, so peak memory is that method's
alone: the peak resident set (VmHWM, reset after data generation where the kernel
allows it, else ru_maxrss) is reported, and "extra" = peak - RSS before the first call.
Times are medians over --repeats runs, all methods with the same thread count: wall
time, and process CPU time (all threads), which is less disturbed by other load on a
shared machine (but counts OpenMP spin-waiting, which grows under contention).

At n = 100,000 a single all-pairs pass costs ~1e13 flop (about 2 minutes on 2 cores for
each method), so the default n is 20,000 to keep the whole benchmark near 5 minutes.
Check memory at full size with, e.g.::

    python benchmarks/bench_retrieval.py --n 100000 --classes 10 --repeats 1 --methods ours_map

Usage: python benchmarks/bench_retrieval.py [--n 20000] [--classes 10 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

METHODS = ("ours", "ours_map", "faiss", "faiss_skx", "faiss_map", "sklearn", "before")
# extra environment of a method's worker
WORKER_ENV = {m: {"OPENBLAS_CORETYPE": "SkylakeX"} for m in ("faiss_skx", "faiss_map")}
KS = (1, 5, 10)
K_NN = 5


def make_data(n: int, dim: int, n_classes: int, noise: float, seed: int):
    """Gaussian clusters around random centres, L2-normalised; generated in blocks so the
    peak memory is the output array plus one block."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim), dtype=np.float32)
    y = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    x = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 8192):
        e = min(s + 8192, n)
        block = centres[y[s:e]] + noise * rng.standard_normal((e - s, dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        x[s:e] = block
    return x, y


def vote(nn_labels: np.ndarray) -> np.ndarray:
    """Uniform vote over rows of neighbour labels (nearest first); ties go to the class
    of the nearest neighbour among the tied ones (same rule as dmlstudy.retrieval)."""
    votes = (nn_labels[:, :, None] == nn_labels[:, None, :]).sum(axis=2)
    first = (votes == votes.max(axis=1, keepdims=True)).argmax(axis=1)
    return nn_labels[np.arange(len(nn_labels)), first]


def recall_from_neighbours(nbr: np.ndarray, y: np.ndarray) -> dict:
    match = y[nbr] == y[:, None]
    return {f"recall@{k}": float(match[:, :k].any(axis=1).mean()) for k in KS}


def load_module(path):
    """Another version of dmlstudy/retrieval.py, loaded inside the dmlstudy package."""
    import importlib.util

    name = "dmlstudy.retrieval_before"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "dmlstudy"
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def run_ours(x, y, tr, te, with_map, module=None):
    if module is None:
        from dmlstudy import retrieval as module
    knn_accuracy, recall_at_k = module.knn_accuracy, module.recall_at_k
    retrieval_metrics = module.retrieval_metrics

    if with_map:
        out = retrieval_metrics(x, y, KS)
    else:
        out = {f"recall@{k}": v for k, v in recall_at_k(x, y, KS).items()}
    out["acc5"] = knn_accuracy(x[tr], y[tr], x[te], y[te], k=K_NN, metric="cosine")
    return out


def run_faiss(x, y, tr, te):
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    _, nbr = index.search(x, max(KS) + 1)
    # Drop the query itself wherever it appears (normally rank 0).
    not_self = nbr != np.arange(len(x))[:, None]
    order = np.argsort(~not_self, axis=1, kind="stable")
    nbr = np.take_along_axis(nbr, order, axis=1)[:, : max(KS)]
    out = recall_from_neighbours(nbr, y)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x[tr])
    _, nn = index.search(x[te], K_NN)
    out["acc5"] = float((vote(y[tr][nn]) == y[te]).mean())
    return out


def run_faiss_map(x, y, tr, te):
    """recall@k and MAP@R from one search of k = max R + 1 per query chunk."""
    import faiss

    _, counts = np.unique(y, return_counts=True)
    kk = max(int(counts.max()) - 1, max(KS)) + 1
    r = np.bincount(y)[y] - 1
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    hits = dict.fromkeys(KS, 0)
    ap = 0.0
    rank = np.arange(1, kk)
    for s in range(0, len(x), 2048):
        q = np.arange(s, min(s + 2048, len(x)))
        _, nbr = index.search(x[q], kk)
        not_self = nbr != q[:, None]
        order = np.argsort(~not_self, axis=1, kind="stable")
        nbr = np.take_along_axis(nbr, order, axis=1)[:, : kk - 1]
        match = y[nbr] == y[q, None]
        for k in KS:
            hits[k] += int(match[:, :k].any(axis=1).sum())
        rel = match & (rank[None, :] <= r[q, None])
        ap += float(((rel.cumsum(axis=1) / rank * rel).sum(axis=1) / r[q]).sum())
    out = {f"recall@{k}": hits[k] / len(x) for k in KS}
    out["map@r"] = ap / len(x)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x[tr])
    _, nn = index.search(x[te], K_NN)
    out["acc5"] = float((vote(y[tr][nn]) == y[te]).mean())
    return out


def run_sklearn(x, y, tr, te):
    from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

    nn = NearestNeighbors(n_neighbors=max(KS), algorithm="brute").fit(x)
    nbr = nn.kneighbors(return_distance=False)  # X=None: each point's own entry excluded
    out = recall_from_neighbours(nbr, y)
    clf = KNeighborsClassifier(n_neighbors=K_NN, algorithm="brute").fit(x[tr], y[tr])
    out["acc5"] = float(clf.score(x[te], y[te]))
    return out


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_kb(reset_ok: bool) -> int:
    if reset_ok:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker(args) -> None:
    threads = args.threads
    before = None
    if args.worker == "before":
        import torch

        torch.set_num_threads(threads)
        before = load_module(args.before)
    from threadpoolctl import threadpool_info, threadpool_limits

    if args.worker in ("ours", "ours_map", "faiss", "faiss_skx", "faiss_map"):
        import faiss

        faiss.omp_set_num_threads(threads)
    if args.worker == "sklearn":
        import sklearn.neighbors  # noqa: F401  (loads its OpenMP runtime before the limits)
    threadpool_limits(threads)

    x, y = make_data(args.n, args.dim, args.n_classes, args.noise, args.seed)
    n_train = int(0.8 * args.n)
    tr, te = slice(0, n_train), slice(n_train, None)
    fn = {
        "ours": lambda: run_ours(x, y, tr, te, with_map=False),
        "ours_map": lambda: run_ours(x, y, tr, te, with_map=True),
        "faiss": lambda: run_faiss(x, y, tr, te),
        "faiss_skx": lambda: run_faiss(x, y, tr, te),
        "faiss_map": lambda: run_faiss_map(x, y, tr, te),
        "before": lambda: run_ours(x, y, tr, te, with_map=args.before_map, module=before),
        "sklearn": lambda: run_sklearn(x, y, tr, te),
    }[args.worker]
    reset_ok = _reset_peak()
    rss_before = _rss_kb()
    times, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    peak = _peak_kb(reset_ok)
    print(
        json.dumps(
            {
                "times": times,
                "cpu": cpu,
                "result": result,
                "rss_before_mb": rss_before / 1024,
                "peak_mb": peak / 1024,
                "peak_source": "VmHWM (reset)" if reset_ok else "ru_maxrss",
                "threadpools": [
                    {
                        k: d.get(k)
                        for k in ("internal_api", "version", "architecture", "num_threads")
                    }
                    | {"library": os.path.basename(d["filepath"])}
                    for d in threadpool_info()
                ],
                "openblas_env": {
                    v: os.environ.get(v) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                },
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=20_000, help="number of embeddings (default 20000)")
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--classes", type=int, nargs="+", default=[10, 100])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--noise", type=float, default=4.0, help="per-dim noise around centres")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--json", help="also write all results to this file")
    p.add_argument("--before", help="another retrieval.py, timed as method 'before'")
    p.add_argument(
        "--before-map", action="store_true", help="'before' runs retrieval_metrics (MAP@R too)"
    )
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--n-classes", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return

    print(
        f"n={args.n} dim={args.dim} repeats={args.repeats} threads={args.threads} "
        f"(5-NN: train {int(0.8 * args.n)}, test {args.n - int(0.8 * args.n)})"
    )
    print(f"load average at start: {os.getloadavg()}")
    t_start = time.perf_counter()
    all_rows = []
    for c in args.classes:
        rows = {}
        for m in args.methods:
            cmd = [
                sys.executable,
                os.path.abspath(__file__),
                "--worker",
                m,
                "--n-classes",
                str(c),
                "--n",
                str(args.n),
                "--dim",
                str(args.dim),
                "--repeats",
                str(args.repeats),
                "--noise",
                str(args.noise),
                "--seed",
                str(args.seed),
                "--threads",
                str(args.threads),
            ]
            if m == "before":
                if not args.before:
                    print("[before] needs --before FILE; skipped", file=sys.stderr)
                    continue
                cmd += ["--before", args.before] + (["--before-map"] if args.before_map else [])
            env = {**os.environ, **WORKER_ENV.get(m, {})}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                print(f"[{m}, {c} classes] failed:\n{proc.stderr}", file=sys.stderr)
                continue
            rows[m] = json.loads(proc.stdout.strip().splitlines()[-1])
        base = statistics.median(rows["ours"]["times"]) if "ours" in rows else None
        base_cpu = statistics.median(rows["ours"]["cpu"]) if "ours" in rows else None
        print(f"\n{c} classes")
        print(
            f"{'method':<9} {'median s':>9} {'min s':>7} {'vs ours':>8} {'CPU s':>7} {'vs ours':>8} "
            f"{'peak MB':>8} "
            f"{'extra MB':>9}  R@1     R@5     R@10    5NN acc  MAP@R"
        )
        for m, r in rows.items():
            med = statistics.median(r["times"])
            res = r["result"]
            ratio = f"{med / base:.2f}x" if base else "-"
            cpu = statistics.median(r["cpu"])
            ratio_cpu = f"{cpu / base_cpu:.2f}x" if base_cpu else "-"
            map_r = f"{res['map@r']:.4f}" if "map@r" in res else "-"
            print(
                f"{m:<9} {med:9.2f} {min(r['times']):7.2f} {ratio:>8} {cpu:7.2f} {ratio_cpu:>8} "
                f"{r['peak_mb']:8.0f} "
                f"{r['peak_mb'] - r['rss_before_mb']:9.0f}  "
                f"{res['recall@1']:.4f}  {res['recall@5']:.4f}  {res['recall@10']:.4f}  "
                f"{res['acc5']:.4f}   {map_r}"
            )
            all_rows.append({"n_classes": c, "method": m, **r})
    print("\nlibraries each method ran (threadpoolctl: api, version, kernel, threads):")
    seen = set()
    for r in all_rows:
        if r["method"] in seen:
            continue
        seen.add(r["method"])
        libs = "; ".join(
            f"{d['library']} {d['internal_api']} {d['version'] or ''} "
            f"{d['architecture'] or ''} x{d['num_threads']}"
            for d in r["threadpools"]
        )
        print(f"  {r['method']:<9} env {r['openblas_env']}: {libs}")
    sources = sorted({r["peak_source"] for r in all_rows})
    print(f"\npeak memory from: {', '.join(sources)}; extra = peak - RSS before the first call")
    print("CPU s = process CPU time (all threads), median; less sensitive than wall time")
    print(f"to other load on the machine (load average now: {os.getloadavg()})")
    print(f"total wall time {time.perf_counter() - t_start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": all_rows}, f, indent=1)


if __name__ == "__main__":
    main()
