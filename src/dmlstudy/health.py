"""A run's health check: did training diverge or collapse?

A run can exit 0 and still be broken: with ``training.lr: 1000`` the weights blow up, the
units saturate, the gradient vanishes and the embeddings stop changing, yet no value is NaN
and the run's numbers would enter the tables as if they were results. The
evaluation job runs :func:`check` on every run's history and evaluation embeddings and
writes the result into metrics.json (``health``), a WARNING into the job's log and on the
console, and the tables mark a flagged run (``report.health``).

Each check compares one measured quantity with one threshold; the measured values are
kept in ``health.measures`` so a reader sees how close a run came. The thresholds (module
constants below) lie between what healthy runs show and what broken ones show, measured on
the default config's 30 runs (5 seeds; synthetic MLP, MNIST CNN, EfficientNet head; both
losses), the tiny test configs, every registered loss and the semi-hard and batch-hard
samplers on the synthetic data, and learning rates from 1e-2 to 1e6 at 3 and 50 epochs
(docs/health.md has the table).

Torch-free: it needs the history table and the embeddings as arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .splits import OUTLIER

#: Embeddings collapsed to a point: their spread, the root mean squared distance to their
#: mean divided by their root mean squared norm (scale-free; about 1 for points spread over
#: a sphere around the origin, 0 for identical points), is below this. Healthy runs: 0.30
#: or more (the default config: 0.59-1.0); batch-hard triplet mining on the synthetic data
#: collapses to 0.05 (k-NN accuracy 0.54 instead of 0.78).
POINT_SPREAD = 0.1

#: Embeddings collapsed to a line (rank 1): the first principal axis of the centred
#: embeddings holds at least this share of their variance, with at least 3 classes (with
#: 2 classes, two compact, separated classes are rank 1 after centring, legitimately).
#: Healthy runs put at most 0.6 of the variance on one axis (the default config: 0.15-0.43).
RANK_ONE_SHARE = 0.99

#: Loss not decreasing: the mean loss of the last epochs (``LAST_EPOCHS``) is at least
#: this multiple of the loss before any update (epoch 0), i.e. training did not lower it at
#: all. Healthy runs end at 0.93 of it or less even after 2-3 epochs (the default config:
#: 0.007-0.19); triplet at lr 100 or more ends at 1.02-1.09.
LOSS_NOT_DECREASING = 1.0

#: Gradient vanished: the median gradient norm of the last epochs is below this multiple of
#: epoch 0's while the loss has not decayed (still above ``LOSS_DECAYED`` of its initial
#: value): the optimiser is stuck (units saturated behind the L2 normalisation), not done.
#: Healthy runs keep 0.04 or more (the default config: 0.05-0.45; lr 0.1, 100 times the
#: default: 0.015-0.044); lr 10 or more drops it to 0.005 or less, lr 1000 to 0.002 after
#: 50 epochs and 1e-4 after 3.
GRAD_VANISHED = 1e-2

#: The loss-decay criterion of §2.2 (``metrics.loss_decay_epoch``): a loss at or below
#: this fraction of its initial value has decayed, and a small gradient is then expected.
LOSS_DECAYED = 0.1

#: The "last epochs" of the loss and gradient checks: the last tenth of the trained epochs,
#: at least one (per-epoch values are noisy: each epoch draws new pairs).
LAST_EPOCHS = 0.1

THRESHOLDS = {
    "point_spread": POINT_SPREAD,
    "rank_one_share": RANK_ONE_SHARE,
    "loss_not_decreasing": LOSS_NOT_DECREASING,
    "grad_vanished": GRAD_VANISHED,
    "loss_decayed": LOSS_DECAYED,
    "last_epochs": LAST_EPOCHS,
}

#: History columns that must be finite in every epoch.
FINITE_COLUMNS = ("loss", "active_ratio", "grad_norm", "intra_class_distance")

LOWER_LR = "Lower training.lr (and check the input data for NaN/inf)"


def _last(trained: pd.DataFrame) -> pd.DataFrame:
    return trained.tail(max(1, math.ceil(LAST_EPOCHS * len(trained))))


def measures(history: pd.DataFrame, z: np.ndarray, y: np.ndarray) -> dict:
    """The measured quantities the checks compare with their thresholds (NaN where a
    quantity is undefined, e.g. a zero initial gradient)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y)
    trained = history[history["epoch"] > 0]
    out = {"spread": math.nan, "pc1_share": math.nan, "n_classes": 0}
    zk = z[y != OUTLIER]
    if len(zk) >= 2 and np.isfinite(zk).all():
        centred = zk - zk.mean(axis=0)
        sq_norm = float((zk**2).sum(axis=1).mean())
        var = float((centred**2).sum(axis=1).mean())
        out["spread"] = math.sqrt(var / sq_norm) if sq_norm > 0 else 0.0
        if var > 0:
            top = float(np.linalg.svd(centred, compute_uv=False)[0] ** 2) / len(zk)
            out["pc1_share"] = top / var
        out["n_classes"] = int(len(np.unique(y[y != OUTLIER])))
    loss0 = float(history["loss"].iloc[0]) if len(history) else math.nan
    grad0 = float(history["grad_norm"].iloc[0]) if len(history) else math.nan
    out["loss_ratio"] = out["grad_ratio"] = math.nan
    if len(trained):
        last = _last(trained)
        if loss0 > 0:
            out["loss_ratio"] = float(last["loss"].mean()) / loss0
        if grad0 > 0:
            out["grad_ratio"] = float(last["grad_norm"].median()) / grad0
    return out


def _problem(check: str, value, threshold, message: str) -> dict:
    return {"check": check, "value": value, "threshold": threshold, "message": message}


def _non_finite(history: pd.DataFrame, z: np.ndarray) -> list[dict]:
    out = []
    cols = [c for c in FINITE_COLUMNS if c in history]
    values = history[cols].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        where = ", ".join(
            f"{c} (epoch {int(history['epoch'].iloc[np.flatnonzero(bad[:, j])[0]])})"
            for j, c in enumerate(cols)
            if bad[:, j].any()
        )
        out.append(
            _problem(
                "non_finite",
                int(bad.sum()),
                0,
                f"non-finite values in the training history: {where}; training diverged. "
                f"{LOWER_LR}.",
            )
        )
    rows = int((~np.isfinite(np.asarray(z, dtype=np.float64))).any(axis=1).sum())
    if rows:
        out.append(
            _problem(
                "non_finite_embeddings",
                rows,
                0,
                f"{rows} of {len(z)} evaluation embeddings are not finite: no metric of "
                f"them means anything. Check the input data for NaN/inf (also the points "
                f"training never sees), or lower training.lr.",
            )
        )
    return out


def check(history: pd.DataFrame, z: np.ndarray, y: np.ndarray) -> dict:
    """The health of one run from its history (``train.HISTORY_COLUMNS``) and its
    evaluation embeddings ``z`` with labels ``y``: ``{"status": "ok" | "warning",
    "problems": [{"check", "value", "threshold", "message"}], "measures": {...},
    "thresholds": THRESHOLDS}``. Each message names the problem and the fix."""
    m = measures(history, z, y)
    problems = _non_finite(history, z)
    if m["spread"] < POINT_SPREAD:
        problems.append(
            _problem(
                "collapsed_to_point",
                m["spread"],
                POINT_SPREAD,
                f"the embeddings collapsed to a point: their spread is {m['spread']:.2g} of "
                f"their norm (threshold {POINT_SPREAD}); every input maps to almost the same "
                f"embedding. {LOWER_LR}.",
            )
        )
    elif m["pc1_share"] >= RANK_ONE_SHARE and m["n_classes"] >= 3:
        problems.append(
            _problem(
                "collapsed_to_rank_one",
                m["pc1_share"],
                RANK_ONE_SHARE,
                f"the embeddings collapsed to a line (rank 1): one axis holds "
                f"{m['pc1_share']:.1%} of their variance (threshold {RANK_ONE_SHARE:.0%}) "
                f"across {m['n_classes']} classes. {LOWER_LR}.",
            )
        )
    if m["loss_ratio"] >= LOSS_NOT_DECREASING:
        problems.append(
            _problem(
                "loss_not_decreasing",
                m["loss_ratio"],
                LOSS_NOT_DECREASING,
                f"the loss did not decrease: the last epochs average {m['loss_ratio']:.2f} "
                f"times the loss before training (threshold {LOSS_NOT_DECREASING}). "
                f"{LOWER_LR}, or train longer.",
            )
        )
    if m["grad_ratio"] < GRAD_VANISHED and m["loss_ratio"] > LOSS_DECAYED:
        problems.append(
            _problem(
                "gradient_vanished",
                m["grad_ratio"],
                GRAD_VANISHED,
                f"the gradient vanished before the loss decayed: the last epochs' gradient "
                f"norm is {m['grad_ratio']:.1e} times epoch 0's (threshold {GRAD_VANISHED}) "
                f"while the loss is still {m['loss_ratio']:.0%} of its initial value; the "
                f"optimiser is stuck (saturated units), typically from too large a learning "
                f"rate. {LOWER_LR}.",
            )
        )
    return {
        "status": "warning" if problems else "ok",
        "problems": problems,
        "measures": m,
        "thresholds": dict(THRESHOLDS),
    }


def summary(health: dict) -> str:
    """One line for a log: the problems' messages, joined."""
    return " | ".join(p["message"] for p in health["problems"])
