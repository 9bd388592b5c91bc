"""Runs' metrics built by hand for the reporting tests (tests/unit/report/)."""

from __future__ import annotations

import json

import numpy as np

from dmlstudy.paper_settings import paper_settings
from dmlstudy.report import load

EXPS = {
    "synthetic_mlp": {"label": "Synthetic", "preset": "paper"},
    "mnist_cnn": {"label": "MNIST (5k subset)", "preset": "paper"},
}
LOSSES = ("contrastive", "triplet")
LOSS_LABELS = {"contrastive": "Contrastive", "triplet": "Triplet"}
SEEDS = (0, 1, 2)
PAPER = paper_settings()
STATISTICS = {"correction": "holm", "exploratory_correction": "bh", "alpha": 0.05}


def make_metrics(exp, loss, seed, rng, shift=None, **overrides):
    """A metrics.json as evaluate_run writes it; ``shift`` adds to the triplet values
    (so the triplet is larger by about ``shift`` for every metric)."""
    up = (shift or 0.0) if loss == "triplet" else 0.0
    m = {
        "experiment": exp,
        "loss": loss,
        "seed": seed,
        "data_description": f"data of {exp}",
        "intra_mean": 0.1 + up + rng.normal(0, 0.01),
        "intra_var": 0.01 + rng.normal(0, 0.001),
        "inter_mean": 1.0 + up + rng.normal(0, 0.01),
        "inter_var": 0.05 + rng.normal(0, 0.001),
        "inter_dist_mean": 0.9 + rng.normal(0, 0.01),
        "inter_dist_std": 0.2 + rng.normal(0, 0.01),
        "per_class_intra_variance": {
            str(c): 0.1 + up + 0.01 * c + rng.normal(0, 0.002) for c in range(4)
        },
        "loss_decay_epoch": 5 + seed,
        "loss_decay_reached": True,
        "epochs": 10,
        "mean_active_ratio": 0.5 + rng.normal(0, 0.01),
        "mean_active_ratio_positive": 1.0 if loss == "contrastive" else float("nan"),
        "mean_active_ratio_negative": 0.2 + rng.normal(0, 0.01)
        if loss == "contrastive"
        else float("nan"),
        "intra_collapse_epoch": 3 + seed,
        "intra_collapse_reached": True,
        "mean_grad_norm": 0.2 + up + rng.normal(0, 0.01),
        "knn_k": 5,
        "knn_accuracy": 0.8 + up / 10 + rng.normal(0, 0.005),
        "linear_probe_accuracy": 0.7 + rng.normal(0, 0.005),
        "recall@10": 0.95 + rng.normal(0, 0.005),
        "recall@1": 0.6 + up / 10 + rng.normal(0, 0.005),
        "recall@5": 0.85 + rng.normal(0, 0.005),
        "map@r": 0.4 + rng.normal(0, 0.005),
        "effective_rank": 8.0 + 10 * up + rng.normal(0, 0.1),
        "rankme": 9.0 + rng.normal(0, 0.1),
        "spectral_decay": 0.5 + rng.normal(0, 0.01),
        "alignment": 0.2 + rng.normal(0, 0.01),
        "uniformity": -2.0 + rng.normal(0, 0.01),
        "nc1": 0.3 + rng.normal(0, 0.01),
        "cdnv": 0.1 + rng.normal(0, 0.01),
        "singular_value_spectrum": list(0.5 ** (1 + up + np.arange(8)) + rng.uniform(0, 1e-3, 8)),
    }
    m.update(overrides)
    return m


def write_runs(tmp_path, metrics_list):
    """The metrics.json files and their run records, aligned."""
    paths, runs = [], []
    for m in metrics_list:
        p = tmp_path / "runs" / m["experiment"] / m["loss"] / f"seed{m['seed']}" / "metrics.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(m))
        paths.append(p)
        runs.append({k: m[k] for k in ("experiment", "loss", "seed")})
    return paths, runs


def frame(tmp_path, metrics_list, experiments=EXPS):
    paths, runs = write_runs(tmp_path, metrics_list)
    return load.load_metrics(paths, runs, experiments)


def info(source, model, paper_dataset, **kw):
    """An experiment-info dict as workflow/rules/aggregate_inputs.smk builds it."""
    base = {
        "label": kw.pop("label", source),
        "preset": "paper",
        "source": source,
        "model": model,
        "paper_dataset": paper_dataset,
        "dataset_spec": kw.pop("dataset_spec", {"source": source}),
        "backbone_spec": kw.pop("backbone_spec", None),
        "training": {"epochs": 50, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-5,
                     "max_train_samples": None},
        "loss": {"margin": 1.0, "triplet_distance": "squared", "reduction": "mean"},
        "sampling": {"positive_fraction": 0.5, "outliers": "exclude_from_positives"},
        "evaluation": {"knn_k": 5, "recall_ks": [1, 5, 10]},
        "model_options": {},
    }  # fmt: skip
    base.update(kw)
    return base


def context(df, experiments=None, loss_labels=LOSS_LABELS, statistics=STATISTICS):
    """What a table job gets: the loss labels and every comparison of the runs."""
    from dmlstudy.report.comparisons import compare_runs
    from dmlstudy.report.tables import Context

    experiments = experiments or {
        e: {**v, "paper_dataset": PAPER_DATASET.get(e)} for e, v in EXPS.items()
    }
    return Context(loss_labels, compare_runs(df, experiments, loss_labels, statistics))


#: the paper's dataset each fixture experiment stands for
PAPER_DATASET = {"synthetic_mlp": "synthetic", "mnist_cnn": "mnist"}
