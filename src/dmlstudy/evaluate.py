"""The evaluation stage: one run's metrics.json from its saved embeddings and history
(Eq. 3 statistics, greediness, k-NN / linear-probe accuracy, recall@k, MAP@R), and the
run's health check (``health``: divergence, collapse; a WARNING in the log when it fails).

It needs no torch: a job on saved embeddings starts in well under a second."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import catalog, geometry, h5io, health
from .errors import TrainingDivergedError
from .io import write_json
from .metrics import intra_collapse_epoch, loss_decay_epoch, variance_statistics
from .splits import OUTLIER

log = logging.getLogger("dmlstudy.evaluate")


@dataclass(frozen=True)
class MetricContext:
    """What a catalogued metric's ``compute`` gets: the evaluated embeddings ``z`` and labels
    ``y`` (the split of ``evaluation.split``, outliers included as label -1), the train and
    test splits (``{"x", "y"}``), the run's history and its evaluation settings."""

    z: np.ndarray
    y: np.ndarray
    train: dict
    test: dict
    history: pd.DataFrame
    evaluation: dict


def evaluate_run(embeddings_path, history_path, resolved: dict, out_path) -> dict:
    """metrics.json of one run: Eq. 3 statistics, greediness, k-NN / linear-probe accuracy
    and recall@k / MAP@R."""
    ev = resolved["evaluation"]
    tr = h5io.read_split(embeddings_path, "train")
    te = h5io.read_split(embeddings_path, "test")
    if ev["split"] == "all":
        z = np.concatenate([tr["x"], te["x"]])
        y = np.concatenate([tr["y"], te["y"]])
    elif ev["split"] == "train":  # the authors' notebook: statistics on the points trained on
        z, y = tr["x"], tr["y"]
    else:
        z, y = te["x"], te["y"]
    hist = pd.read_csv(history_path)
    run = h5io.read_attrs(embeddings_path)
    checked = _health(hist, z, y, resolved, run)
    stats = variance_statistics(z, y, include_outliers=ev["include_outliers"])
    decay = loss_decay_epoch(hist["loss"].to_numpy())
    collapse = intra_collapse_epoch(hist["intra_class_distance"].to_numpy())
    trained = hist[hist["epoch"] > 0]
    metrics = {
        "experiment": resolved["experiment"],
        "loss": run["loss"],
        "loss_label": run["loss_label"],
        "seed": run["seed"],
        "data_description": run["data_description"],
        "evaluation_split": "validation" if resolved.get("validation") else ev["split"],
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
        "intra_collapse_epoch": collapse,
        "intra_collapse_reached": collapse is not None,
        "mean_active_ratio": float(trained["active_ratio"].mean()),
        **{
            f"mean_{col}": float(trained[col].mean()) if col in trained else math.nan
            for col in ("active_ratio_positive", "active_ratio_negative")
        },
        "mean_grad_norm": float(trained["grad_norm"].mean()),
        "final_active_ratio": float(trained["active_ratio"].iloc[-1]),
        "final_grad_norm": float(trained["grad_norm"].iloc[-1]),
        "train_seconds": float(hist["seconds"].sum()),
    }
    if run.get("point"):  # a grid point (dmlstudy.sweeps): its values, and how it was scored
        metrics["point"] = run["point"]
        train_classes = set(np.unique(tr["y"][tr["y"] != OUTLIER]).tolist())
        metrics["test_classes_disjoint"] = not (train_classes & set(np.unique(te["y"]).tolist()))
    if run.get("validation"):
        metrics["validation"] = run["validation"]
    # embedding geometry (Table 5) on the same points as Eq. 3, outliers left out
    metrics.update(geometry.embedding_geometry(z, y))
    metrics["singular_value_spectrum"] = geometry.spectrum(z[y != OUTLIER])
    if len(te["y"]):  # an empty test split (test_fraction 0) has no k-NN / retrieval scores
        metrics.update(_downstream_metrics(tr, te, ev))
    context = MetricContext(z=z, y=y, train=tr, test=te, history=hist, evaluation=ev)
    for spec in catalog.METRICS.values():  # metrics registered with their own function
        if spec.compute is not None:
            metrics[spec.key] = float(spec.compute(context))
    metrics["health"] = checked
    write_json(out_path, metrics)
    return metrics


def input_metrics(input_path, evaluation: dict) -> dict:
    """The k-NN and retrieval metrics of an experiment's *input*, untrained: the data file
    or the frozen backbone's features that its models are trained on (``training_input``),
    flattened to vectors and scored exactly as a run's embeddings are (no linear probe).
    What training has to beat: a loss that scores below it made the input's neighbours
    worse."""
    tr, te = (h5io.read_split(input_path, s) for s in ("train", "test"))
    for split in (tr, te):  # images to vectors; the metrics make them float32 themselves
        split["x"] = split["x"].reshape(len(split["x"]), -1)
    return _downstream_metrics(tr, te, {**evaluation, "linear_probe": False})


def _health(hist: pd.DataFrame, z: np.ndarray, y: np.ndarray, resolved: dict, run: dict):
    """The run's health check; a failed one is a WARNING (log and console). Non-finite
    embeddings stop the evaluation: no metric of them would mean anything."""
    checked = health.check(hist, z, y)
    if checked["status"] != "ok":
        name = f"{resolved['experiment']} / {run['loss']} / seed {run['seed']}"
        if run.get("point"):
            name += f" at {run['point']}"
        if any(p["check"] == "non_finite_embeddings" for p in checked["problems"]):
            raise TrainingDivergedError(f"{name}: {health.summary(checked)}")
        log.warning("health check of %s failed: %s", name, health.summary(checked))
    return checked


def _downstream_metrics(tr: dict, te: dict, ev: dict) -> dict:
    """Classification (Table 3) and retrieval (Table 4) metrics on the test embeddings."""
    from . import retrieval

    keep_tr, keep_te = tr["y"] != OUTLIER, te["y"] != OUTLIER
    xtr, ytr, xte, yte = tr["x"][keep_tr], tr["y"][keep_tr], te["x"][keep_te], te["y"][keep_te]
    # test classes that training never saw (a class-disjoint split): a classifier fitted on
    # the training classes cannot name them, so classification accuracy is undefined (NaN),
    # not 0; the retrieval metrics below are what such a split is scored on
    seen = bool(np.isin(yte, ytr).any())
    out = {
        "knn_k": ev["knn_k"],
        "knn_accuracy": float(
            retrieval.knn_accuracy(xtr, ytr, xte, yte, k=ev["knn_k"], chunk_size=ev["chunk_size"])
        )
        if seen
        else math.nan,
    }
    if ev["linear_probe"]:
        out["linear_probe_accuracy"] = (
            float(retrieval.linear_probe_accuracy(xtr, ytr, xte, yte)) if seen else math.nan
        )
    rec = retrieval.retrieval_metrics(
        xte, yte, ks=tuple(ev["recall_ks"]), chunk_size=ev["chunk_size"], precision=True
    )
    for k, v in rec.items():
        out[k] = v
    return out
