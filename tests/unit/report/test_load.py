"""Loading the runs a rule names: identities from the run records, not from paths."""

import json

import numpy as np
import pandas as pd
import pytest
from report_fixtures import EXPS, LOSS_LABELS, make_metrics, write_runs

from dmlstudy.report import load


def test_metrics_take_their_identity_from_the_records(tmp_path):
    rng = np.random.default_rng(0)
    ms = [make_metrics(e, lo, 0, rng) for e in reversed(list(EXPS)) for lo in LOSS_LABELS]
    paths, runs = write_runs(tmp_path, ms)
    df = load.load_metrics(paths, runs, EXPS)
    assert list(dict.fromkeys(df["experiment"])) == list(EXPS)  # config order
    assert set(df["label"]) == {e["label"] for e in EXPS.values()}
    # a file anywhere: the record says which run it is
    other = tmp_path / "elsewhere.json"
    m = {k: v for k, v in ms[0].items() if k not in ("experiment", "loss", "seed")}
    other.write_text(json.dumps(m))
    df = load.load_metrics([other], [{"experiment": "mnist_cnn", "loss": "triplet", "seed": 7}])
    assert df.loc[0, ["experiment", "loss", "seed"]].tolist() == ["mnist_cnn", "triplet", 7]


def test_misaligned_records_are_an_error(tmp_path):
    rng = np.random.default_rng(0)
    paths, runs = write_runs(
        tmp_path, [make_metrics("mnist_cnn", lo, 0, rng) for lo in LOSS_LABELS]
    )
    with pytest.raises(ValueError, match="run record"):
        load.load_metrics(paths, list(reversed(runs)))
    with pytest.raises(ValueError, match="align"):
        load.load_metrics(paths, runs[:1])


def test_histories(tmp_path):
    paths, runs = [], []
    for i, loss in enumerate(LOSS_LABELS):
        p = tmp_path / f"h{i}.csv"
        pd.DataFrame({"epoch": [0, 1], "loss": [1.0, 0.5]}).to_csv(p, index=False)
        paths.append(p)
        runs.append({"experiment": "e", "loss": loss, "seed": 3})
    h = load.load_histories(paths, runs)
    assert len(h) == 4 and set(h["loss_name"]) == set(LOSS_LABELS) and set(h["seed"]) == {3}
    assert h["loss"].tolist() == [1.0, 0.5, 1.0, 0.5]  # the loss value column is kept


def test_losses_present_in_label_order():
    df = pd.DataFrame({"loss": ["triplet", "toy", "contrastive"]})
    assert load.losses_present(df, LOSS_LABELS) == ["contrastive", "triplet", "toy"]
