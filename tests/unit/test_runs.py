import copy

import numpy as np
import pytest
import torch
from conftest import run_outputs

from dmlstudy import config as C
from dmlstudy import h5io, runs, sources
from dmlstudy import params as P
from dmlstudy.metrics import ClassDistances
from dmlstudy.models import build_model
from dmlstudy.train import (
    embed,
)


def test_diagnostic_points_leave_out_outliers_and_cap():
    y = np.array([0] * 60 + [1] * 30 + [-1] * 10)
    d = runs.diagnostic_points(y, "exclude_from_positives", 30)
    assert len(d) == 30 and (y[d] != -1).all() and (y[d] == 0).sum() == 20
    assert len(runs.diagnostic_points(y, "exclude_from_positives", None)) == 90
    with_out = runs.diagnostic_points(y, "as_class", None)
    assert len(with_out) == 100


def test_history_class_distances_are_those_of_the_subsample(tmp_path):
    """The per-epoch class distances of a real training job are ClassDistances of the
    final model's embeddings of exactly the stratified subsample."""
    cfg = C.validate(
        {
            "training": {"epochs": 2, "batch_size": 32, "class_distance_points": 50},
            "datasets": {
                "synthetic": {"source": "synthetic", "n_classes": 4, "n_per_class": 40, "dim": 16}
            },
            "experiments": {"synthetic_mlp": {"dataset": "synthetic", "model": "mlp"}},
        }
    )
    data = tmp_path / "synthetic.h5"
    sources.prepare_to_file(cfg["datasets"]["synthetic"], "synthetic", data)
    resolved = P.training_params(cfg, "synthetic_mlp")
    outputs = run_outputs(tmp_path)
    runs.train_run(data, resolved, "triplet", 0, outputs, tmp_path / "ckpt.pt")
    import pandas as pd

    last = pd.read_csv(outputs["history"]).iloc[-1]
    tr = h5io.read_split(data, "train")
    d = runs.diagnostic_points(tr["y"], "exclude_from_positives", 50)
    assert len(d) == 50
    model = build_model("mlp", {}, tr["x"].shape[1:])
    model.load_state_dict(torch.load(outputs["model"], weights_only=False)["state_dict"])
    z = embed(model, torch.from_numpy(tr["x"][d])).numpy()
    intra, inter = ClassDistances(tr["y"][d])(z)
    assert last["intra_class_distance"] == pytest.approx(intra, rel=1e-6)
    assert last["inter_class_distance"] == pytest.approx(inter, rel=1e-6)
    full = copy.deepcopy(resolved)
    full["training"]["class_distance_points"] = None
    assert P.config_hash(full) != P.config_hash(resolved)  # the cap is part of the job's key


def test_carve_validation_takes_a_fold_and_one_fold_is_the_old_split():
    """A search trial carves fold k of sweeps.folds; one fold is exactly the single split
    that every tuned grid run carves (and its record keeps the old keys)."""
    from dmlstudy.splits import validation_folds, validation_split

    rng = np.random.default_rng(0)
    tr = {"x": rng.normal(size=(40, 3)), "y": np.repeat(np.arange(4), 10)}
    te = {"x": rng.normal(size=(8, 3)), "y": np.repeat(np.arange(4), 2)}
    old_fit, old_val, record = runs.carve_validation(tr, te, {"fraction": 0.25, "seed": 3})
    assert set(record) == {"fraction", "seed", "kind", "n_fit", "n_validation", "text"}
    fit, val, rec = runs.carve_validation(
        tr, te, {"fraction": 0.25, "seed": 3, "folds": 1, "fold": 0}
    )
    np.testing.assert_array_equal(fit["x"], old_fit["x"])
    np.testing.assert_array_equal(val["y"], old_val["y"])
    _, v = validation_split(tr["y"], te["y"], 0.25, 3)[:2]
    assert len(v) == rec["n_validation"] == record["n_validation"]
    folds, _ = validation_folds(tr["y"], te["y"], 4, 0.25, 3)
    seen = []
    for k in range(4):
        fit, val, rec = runs.carve_validation(
            tr, te, {"fraction": 0.25, "seed": 3, "folds": 4, "fold": k}
        )
        np.testing.assert_array_equal(val["x"], tr["x"][folds[k][1]])
        assert rec["fold"] == k and rec["text"].startswith(f"validation: fold {k + 1} of 4, ")
        seen += val["x"][:, 0].tolist()
    assert sorted(seen) == sorted(tr["x"][:, 0].tolist())  # every point validated once
