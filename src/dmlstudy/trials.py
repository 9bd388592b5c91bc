"""One search trial as one job: every fold x tuning seed of a trial trained and scored in one
process (the reality check; ``workflow/rules/search.smk``, rule ``search_trial``).

A trial (``dmlstudy.search``) is a point of a study's search space. Its job trains the point
on each fold's fit part (:func:`dmlstudy.splits.validation_fold`, through
``runs.train_run``) with each tuning seed, scores it on that fold's validation part
(``evaluate.evaluate_run``), and writes each run's metrics.json beside a small summary,
``trial.json``: the scores ``[fold][seed]`` on the selection metric. One process for all of
them because 80-99% of a per-fold job is start-up (``docs/benchmarks.md``,
``benchmarks/bench_fold_jobs.py``).

A run whose training diverges (``TrainingDivergedError``: a learning rate too high for the
point) is a result of the search, not an error of the job: its metrics.json says so, its
score is NaN, and the trial is *failed* (``search.TrialResult.failed``), which the sampler
ranks below every complete trial. Any other error fails the job.

Models and embeddings are not kept (a trial's runs are only ever scored); each run's
``checkpoint.pt`` lives in its fold folder while it trains, so a killed job resumes the run
it was in, and is removed once the run is scored.
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path

from . import h5io, sweeps
from .errors import TrainingDivergedError
from .evaluate import evaluate_run
from .io import write_json
from .runs import train_run
from .splits import validation_kind

log = logging.getLogger("dmlstudy.trials")

#: What a run leaves behind for a moment (runs.train_run's outputs), inside a temporary folder.
RUN_FILES = {
    "model": "model.pt",
    "history": "history.csv",
    "embeddings": "embeddings.h5",
    "config": "config.json",
}


def run_trial(
    data_path,
    trial: dict,
    loss: str,
    segment: str,
    metrics_paths: list,
    summary_path,
    threads: int = 1,
    device: str = "cpu",
) -> dict:
    """Train and score every fold x tuning seed of one trial; write each run's metrics.json
    (``metrics_paths``: fold-major, seed-minor, as ``params.trial_params`` orders them) and
    the trial's summary (returned too).

    ``trial``: ``params.trial_params`` (``resolved`` training parameters at the trial's
    point, ``evaluation``, ``folds``, ``tuning_seeds``, ``validation``,
    ``selection_metric``)."""
    folds, seeds = int(trial["folds"]), list(trial["tuning_seeds"])
    if len(metrics_paths) != folds * len(seeds):
        raise ValueError(
            f"{len(metrics_paths)} metrics files for {folds} folds x {len(seeds)} tuning seeds"
        )
    y_train = h5io.read_split(data_path, "train", names=("y",))["y"]
    y_test = h5io.read_split(data_path, "test", names=("y",))["y"]
    kind = validation_kind(y_train, y_test)
    metric = sweeps.selection_metric(trial["selection_metric"], kind)
    scores, diverged = [], []
    paths = iter(metrics_paths)
    for fold in range(folds):
        row = []
        for seed in seeds:
            path = Path(next(paths))
            value, note = _run_one(
                data_path, trial, loss, fold, seed, path, metric, threads, device
            )
            row.append(value)
            if note:
                diverged.append({"fold": fold, "seed": seed, "error": note})
        scores.append(row)
    finite = [v for fold in scores for v in fold if not math.isnan(v)]
    summary = {
        "experiment": trial["resolved"]["experiment"],
        "loss": loss,
        "segment": segment,
        "values": trial["resolved"]["point"],
        "metric": metric,
        "validation_kind": kind,
        "folds": folds,
        "tuning_seeds": seeds,
        # [fold][seed]; NaN (a diverged run) as null, as search.write_history writes it
        "scores": [[None if math.isnan(v) else v for v in fold] for fold in scores],
        "mean": math.fsum(finite) / len(finite) if finite and not diverged else None,
        "diverged": diverged,
    }
    write_json(summary_path, summary)
    log.info(
        "trial %s%s: %s = %s over %d folds x %d seeds%s",
        loss + "/",
        segment,
        metric,
        "n/a" if summary["mean"] is None else f"{summary['mean']:.4f}",
        folds,
        len(seeds),
        f", {len(diverged)} diverged" if diverged else "",
    )
    return summary


def _run_one(data_path, trial, loss, fold, seed, metrics_path, metric, threads, device):
    """One fold x seed: ``(score, None)``, or ``(NaN, message)`` when training diverged."""
    resolved = {**trial["resolved"], "validation": {**trial["validation"], "fold": fold}}
    folder = metrics_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / "checkpoint.pt"
    with tempfile.TemporaryDirectory(dir=folder, prefix=".run-") as tmp:
        out = {k: str(Path(tmp) / name) for k, name in RUN_FILES.items()}
        try:
            train_run(data_path, resolved, loss, seed, out, checkpoint, threads, device)
        except TrainingDivergedError as exc:
            log.warning("fold %d, seed %d diverged: %s", fold, seed, exc)
            write_json(
                metrics_path,
                {
                    "experiment": resolved["experiment"],
                    "loss": loss,
                    "seed": seed,
                    "point": resolved["point"],
                    "fold": fold,
                    "diverged": str(exc),
                    metric: None,
                },
            )
            checkpoint.unlink(missing_ok=True)
            return math.nan, str(exc)
        metrics = evaluate_run(out["embeddings"], out["history"], trial["evaluation"], metrics_path)
    checkpoint.unlink(missing_ok=True)
    value = metrics.get(metric)
    return (math.nan if value is None else float(value)), None
