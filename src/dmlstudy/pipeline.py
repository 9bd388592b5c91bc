"""What each workflow stage does, as plain functions (the Snakemake scripts only call these)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import h5io
from .config import config_hash
from .errors import CorruptFileError
from .metrics import loss_decay_epoch, variance_statistics
from .models import build_model
from .sampling import stratified_subset
from .train import TrainSettings, deterministic_mode, set_threads, train

log = logging.getLogger("dmlstudy.pipeline")


def setup_logging(log_path: str | os.PathLike | None = None) -> None:
    """Send stderr (log lines, progress bars, tracebacks) to the rule's log file when given,
    as the first thing a Snakemake script does; Snakemake prints that log when a job fails."""
    import sys

    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        sys.stderr = open(log_path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    handlers = [logging.StreamHandler(sys.stderr)]
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )


def run_stage(fn, *args, threads: int = 1, **kwargs):
    """Run one stage from a Snakemake script: threads pinned, and a user-facing error
    (missing data, corrupt file, diverged loss) logged as one clear line and turned into
    exit status 1 instead of a traceback."""
    import sys

    from .errors import DmlStudyError

    set_threads(threads)
    try:
        if _takes_threads(fn):
            kwargs = {"threads": threads, **kwargs}
        return fn(*args, **kwargs)
    except DmlStudyError as exc:
        log.error("%s", exc)
        sys.exit(1)


def _takes_threads(fn) -> bool:
    import inspect

    return "threads" in inspect.signature(fn).parameters


# --------------------------------------------------------------------------- training
def diagnostic_points(y: np.ndarray, outliers: str, n: int | None) -> np.ndarray:
    """Indices of the training points whose embeddings give the per-epoch class distances.

    Outliers (label -1) are left out unless ``outliers`` is ``as_class``; of the rest, a
    fixed stratified subsample of at most ``n`` points (seed 0, so every loss, seed and epoch
    is measured on the same points); ``None`` = all of them."""
    idx = np.arange(len(y)) if outliers == "as_class" else np.flatnonzero(y != -1)
    return idx[stratified_subset(y[idx], n, seed=0)]


def load_training_data(path) -> tuple[dict, dict, dict]:
    """Train and test arrays and attributes of a data or feature file."""
    attrs = h5io.read_attrs(path)
    if attrs.get("kind") == "image_files":
        raise CorruptFileError(
            f"{path} holds image file paths, which only a backbone can read; "
            f"train model 'head' with a backbone on this dataset"
        )
    return h5io.read_split(path, "train"), h5io.read_split(path, "test"), attrs


def train_run(
    data_path,
    resolved: dict,
    loss: str,
    seed: int,
    outputs: dict,
    checkpoint,
    threads: int = 1,
    device: str = "cpu",
) -> None:
    """Train one (experiment, loss, seed) and write model, history, embeddings and config.

    ``outputs`` maps ``model``, ``history``, ``embeddings``, ``config`` to file paths."""
    set_threads(threads)
    deterministic_mode()
    tr, te, attrs = load_training_data(data_path)
    settings = TrainSettings.from_resolved(resolved, loss, seed)
    keep = stratified_subset(tr["y"], resolved["training"].get("max_train_samples"), seed=0)
    x_train = torch.from_numpy(np.ascontiguousarray(tr["x"][keep]))
    y_train = tr["y"][keep]
    diag = diagnostic_points(
        y_train, settings.outliers, resolved["training"].get("class_distance_points")
    )
    torch.manual_seed(seed)
    model = build_model(resolved["model"], attrs, x_train.shape[1:], resolved["model_options"])
    key_obj = {"resolved": resolved, "loss": loss, "seed": seed, "data": _file_key(data_path)}
    log.info(
        "training %s / %s / seed %d on %s: %d train points, %d epochs, model %s",
        resolved["experiment"],
        loss,
        seed,
        attrs.get("description"),
        len(y_train),
        settings.epochs,
        resolved["model"],
    )
    history = train(
        model,
        x_train,
        y_train,
        settings,
        checkpoint=checkpoint,
        checkpoint_key=config_hash(key_obj),
        device=device,
        diag_x=x_train[torch.from_numpy(diag)],
        diag_y=y_train[diag],
    )
    model.cpu()
    from .train import embed

    emb = {
        "train": {"x": embed(model, torch.from_numpy(tr["x"])).numpy(), "y": tr["y"]},
        "test": {"x": embed(model, torch.from_numpy(te["x"])).numpy(), "y": te["y"]},
    }
    run_info = {
        "experiment": resolved["experiment"],
        "loss": loss,
        "seed": seed,
        "model": resolved["model"],
        "data_description": attrs.get("description", ""),
    }
    h5io.write_splits(outputs["embeddings"], emb, {"kind": "vectors", **run_info})
    _atomic_write(outputs["history"], lambda p: history.to_csv(p, index=False))
    tmp_model = {"state_dict": model.state_dict(), "model": resolved["model"], **run_info}
    _atomic_write(outputs["model"], lambda p: torch.save(tmp_model, p))
    full = {**run_info, "resolved": resolved, "data_file": str(data_path), "threads": threads}
    _atomic_write(outputs["config"], lambda p: Path(p).write_text(json.dumps(full, indent=2)))


def _file_key(path) -> dict:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _atomic_write(path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    write(tmp)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- evaluation
def evaluate_run(embeddings_path, history_path, resolved: dict, out_path, threads: int = 1) -> dict:
    """metrics.json of one run: Eq. 3 statistics, greediness, and (when the retrieval
    module is present) k-NN / linear-probe accuracy and recall@k."""
    set_threads(threads)
    ev = resolved["evaluation"]
    tr = h5io.read_split(embeddings_path, "train")
    te = h5io.read_split(embeddings_path, "test")
    if ev["split"] == "all":
        z = np.concatenate([tr["x"], te["x"]])
        y = np.concatenate([tr["y"], te["y"]])
    elif ev["split"] == "train":
        z, y = tr["x"], tr["y"]
    else:
        z, y = te["x"], te["y"]
    hist = pd.read_csv(history_path)
    run = h5io.read_attrs(embeddings_path)
    stats = variance_statistics(z, y, include_outliers=ev["include_outliers"])
    decay = loss_decay_epoch(hist["loss"].to_numpy())
    trained = hist[hist["epoch"] > 0]
    metrics = {
        "experiment": resolved["experiment"],
        "loss": run.get("loss"),
        "seed": run.get("seed"),
        "data_description": run.get("data_description", ""),
        "evaluation_split": ev["split"],
        "n_eval_points": int(len(y)),
        **{k: v for k, v in stats.items() if k != "per_class_intra_variance"},
        "per_class_intra_variance": {
            str(k): v for k, v in stats["per_class_intra_variance"].items()
        },
        "loss_initial": float(hist["loss"].iloc[0]),
        "loss_final": float(hist["loss"].iloc[-1]),
        "loss_decay_epoch": decay,
        "loss_decay_reached": decay is not None,
        "epochs": int(hist["epoch"].max()),
        "mean_active_ratio": float(trained["active_ratio"].mean()),
        "mean_grad_norm": float(trained["grad_norm"].mean()),
        "final_active_ratio": float(trained["active_ratio"].iloc[-1]),
        "final_grad_norm": float(trained["grad_norm"].iloc[-1]),
        "train_seconds": float(hist["seconds"].sum()),
    }
    if len(te["y"]):  # an empty test split (test_fraction 0) has no k-NN / retrieval scores
        metrics.update(_downstream_metrics(tr, te, ev))
    _atomic_write(out_path, lambda p: Path(p).write_text(json.dumps(metrics, indent=2)))
    return metrics


def _downstream_metrics(tr: dict, te: dict, ev: dict) -> dict:
    """Classification (Table 3) and retrieval (Table 4) metrics on the test embeddings."""
    from . import retrieval

    keep_tr, keep_te = tr["y"] != -1, te["y"] != -1
    xtr, ytr, xte, yte = tr["x"][keep_tr], tr["y"][keep_tr], te["x"][keep_te], te["y"][keep_te]
    out = {
        "knn_k": ev["knn_k"],
        "knn_accuracy": float(
            retrieval.knn_accuracy(xtr, ytr, xte, yte, k=ev["knn_k"], chunk_size=ev["chunk_size"])
        ),
    }
    if ev["linear_probe"]:
        out["linear_probe_accuracy"] = float(retrieval.linear_probe_accuracy(xtr, ytr, xte, yte))
    rec = retrieval.retrieval_metrics(
        xte, yte, ks=tuple(ev["recall_ks"]), chunk_size=ev["chunk_size"]
    )
    for k, v in rec.items():
        out[k] = v
    return out
