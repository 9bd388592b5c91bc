"""dmlstudy.trials: one search trial's job trains every fold x tuning seed in one process,
scores each on its fold's validation part, and records a diverged run as a failed score."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from conftest import CONFIG_DIR, load_yaml

from dmlstudy import config as C
from dmlstudy import params as P
from dmlstudy import search, sources, trials
from dmlstudy.errors import TrainingDivergedError
from dmlstudy.splits import validation_fold

SEG = "loss.margin~0.5/training.lr~0.00123/"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """tiny_search.yaml (2 folds) with 2 tuning seeds, and its data file."""
    cfg = copy.deepcopy(load_yaml(CONFIG_DIR / "tiny_search.yaml"))
    cfg["sweeps"]["tuning_seeds"] = [0, 1]
    cfg = C.validate(cfg)
    folder = tmp_path_factory.mktemp("trial")
    data = folder / "synthetic.h5"
    sources.prepare_to_file(cfg["datasets"]["synthetic"], "synthetic", data)
    return cfg, data


def run(cfg, data, folder):
    trial = P.trial_params(cfg, "synthetic_mlp", "triplet", SEG)
    paths = [folder / f"fold{f}/seed{s}/metrics.json" for f in range(2) for s in (0, 1)]
    summary = trials.run_trial(data, trial, "triplet", SEG, paths, folder / "trial.json")
    return summary, paths


def test_a_trial_trains_and_scores_every_fold_and_seed(setup, tmp_path):
    cfg, data = setup
    summary, paths = run(cfg, data, tmp_path)
    assert json.loads((tmp_path / "trial.json").read_text()) == summary
    assert summary["values"] == {"loss.margin": 0.5, "training.lr": 0.00123}
    assert summary["metric"] == "map@r" and summary["validation_kind"] == "stratified"
    assert np.shape(summary["scores"]) == (2, 2) and summary["diverged"] == []
    from dmlstudy import h5io

    y_tr = h5io.read_split(data, "train")["y"]
    y_te = h5io.read_split(data, "test")["y"]
    for i, path in enumerate(paths):
        fold, seed = divmod(i, 2)
        m = json.loads(path.read_text())
        assert summary["scores"][fold][seed] == m["map@r"]
        assert (m["seed"], m["evaluation_split"]) == (seed, "validation")
        assert m["point"] == summary["values"]  # the run trained with its path's values
        assert m["validation"]["fold"] == fold and m["validation"]["folds"] == 2
        _, val, _ = validation_fold(y_tr, y_te, fold, 2, 0.2, 0)
        assert m["n_eval_points"] == len(val)
        assert not (path.parent / "checkpoint.pt").exists()
        assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # nothing else kept
    mean = np.mean([[s for s in f] for f in summary["scores"]])
    assert summary["mean"] == pytest.approx(mean)
    # the history file reads the same scores back
    t = search.TrialResult(0, 0, summary["values"], summary["scores"])
    assert t.mean == pytest.approx(mean) and not t.failed
    again, _ = run(cfg, data, tmp_path / "again")
    assert again["scores"] == summary["scores"]  # deterministic on the CPU


def test_a_diverged_run_is_a_failed_score_not_a_failed_job(setup, tmp_path, monkeypatch):
    cfg, data = setup
    real = trials.train_run

    def diverge_fold1_seed0(data_path, resolved, loss, seed, *args, **kwargs):
        if resolved["validation"]["fold"] == 1 and seed == 0:
            raise TrainingDivergedError("loss is nan at epoch 1, batch 0")
        return real(data_path, resolved, loss, seed, *args, **kwargs)

    monkeypatch.setattr(trials, "train_run", diverge_fold1_seed0)
    summary, paths = run(cfg, data, tmp_path)
    assert summary["scores"][1][0] is None and summary["mean"] is None
    assert summary["diverged"] == [
        {"fold": 1, "seed": 0, "error": "loss is nan at epoch 1, batch 0"}
    ]
    m = json.loads(paths[2].read_text())
    assert m["diverged"].startswith("loss is nan") and m["map@r"] is None
    t = search.TrialResult(0, 0, summary["values"], summary["scores"])
    assert t.failed and math.isnan(t.mean)


def test_other_errors_fail_the_job(setup, tmp_path, monkeypatch):
    cfg, data = setup

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(trials, "train_run", broken)
    with pytest.raises(OSError, match="disk full"):
        run(cfg, data, tmp_path)
    assert not (tmp_path / "trial.json").exists()
