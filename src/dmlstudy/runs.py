"""The training stage: one (experiment, loss, seed) from its data file to the run's outputs
(model, history, embeddings, resolved config). The loop itself is ``train.train``."""

from __future__ import annotations

import logging
import os

import numpy as np
import torch

from . import h5io, losses
from .errors import CorruptFileError
from .io import atomic_write, write_json
from .models import build_model
from .params import config_hash
from .scripting import set_threads
from .splits import OUTLIER, stratified_subset, validation_fold, validation_split
from .train import TrainSettings, deterministic_mode, embed, train

log = logging.getLogger("dmlstudy.runs")


def diagnostic_points(y: np.ndarray, outliers: str, n: int | None) -> np.ndarray:
    """Indices of the training points whose embeddings give the per-epoch class distances.

    Outliers (label -1) are left out unless ``outliers`` is ``as_class``; of the rest, a
    fixed stratified subsample of at most ``n`` points (seed 0, so every loss, seed and epoch
    is measured on the same points); ``None`` = all of them."""
    idx = np.arange(len(y)) if outliers == "as_class" else np.flatnonzero(y != OUTLIER)
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
    validation = resolved.get("validation")
    if validation:  # a tuning run (dmlstudy.sweeps): fit on train minus validation, score on it
        tr, te, validation = carve_validation(tr, te, validation)
        attrs = {**attrs, "description": f"{attrs.get('description', '')}; {validation['text']}"}
    settings = TrainSettings.from_resolved(resolved, loss, seed)
    keep = stratified_subset(tr["y"], resolved["training"]["max_train_samples"], seed=0)
    x_train = torch.from_numpy(np.ascontiguousarray(tr["x"][keep]))
    y_train = tr["y"][keep]
    diag = diagnostic_points(
        y_train, settings.outliers, resolved["training"]["class_distance_points"]
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
    emb = {
        "train": {"x": embed(model, torch.from_numpy(tr["x"])).numpy(), "y": tr["y"]},
        "test": {"x": embed(model, torch.from_numpy(te["x"])).numpy(), "y": te["y"]},
    }
    run_info = {
        "experiment": resolved["experiment"],
        "loss": loss,
        "seed": seed,
        "loss_label": losses.get(loss).label,
        "model": resolved["model"],
        "data_description": attrs.get("description", ""),
    }
    if resolved.get("point"):
        run_info["point"] = resolved["point"]
    if validation:
        run_info["validation"] = validation
    h5io.write_splits(outputs["embeddings"], emb, {"kind": "vectors", **run_info})
    atomic_write(outputs["history"], lambda p: history.to_csv(p, index=False))
    saved = {"state_dict": model.state_dict(), "model": resolved["model"], **run_info}
    atomic_write(outputs["model"], lambda p: torch.save(saved, p))
    write_json(
        outputs["config"],
        {**run_info, "resolved": resolved, "data_file": str(data_path), "threads": threads},
    )


def carve_validation(tr: dict, te: dict, spec: dict) -> tuple[dict, dict, dict]:
    """``(fit, validation, record)``: the training split divided by
    :func:`dmlstudy.splits.validation_split` (``spec``: ``fraction``, ``seed``), or, when
    ``spec`` has ``folds`` (a search trial, ``sweeps.folds``), fold ``spec["fold"]`` of
    :func:`dmlstudy.splits.validation_folds` (``folds: 1``, fold 0: the same split); the
    test split is not used. ``record`` says how, for the run's config.json and embeddings."""
    if "folds" in spec:
        fit, val, kind = validation_fold(
            tr["y"], te["y"], spec["fold"], spec["folds"], spec["fraction"], spec["seed"]
        )
    else:
        fit, val, kind = validation_split(tr["y"], te["y"], spec["fraction"], spec["seed"])
    n_cls = len(np.unique(tr["y"][val][tr["y"][val] != OUTLIER]))
    fold = f"fold {spec['fold'] + 1} of {spec['folds']}, " if "folds" in spec else ""
    text = f"validation: {fold}{len(val)} of {len(tr['y'])} training points, " + (
        f"{n_cls} held-out classes" if kind == "class_disjoint" else "stratified"
    )
    record = {
        **spec,
        "kind": kind,
        "n_fit": int(len(fit)),
        "n_validation": int(len(val)),
        "text": text,
    }
    return {k: v[fit] for k, v in tr.items()}, {k: v[val] for k, v in tr.items()}, record


def _file_key(path) -> dict:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
