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
