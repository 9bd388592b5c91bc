"""A run whose health check failed is marked in the tables (report.health), never dropped."""

import numpy as np
import pytest
from report_fixtures import EXPS, LOSSES, SEEDS, context, frame, make_metrics

from dmlstudy.report import health, tables
from dmlstudy.report.doc import to_latex

OK = {"status": "ok", "problems": [], "measures": {}, "thresholds": {}}
STUCK = {
    "status": "warning",
    "problems": [{"check": "gradient_vanished", "value": 1e-4, "threshold": 0.01, "message": "x"}],
    "measures": {},
    "thresholds": {},
}


def runs(tmp_path, bad=None):
    """Every (experiment, loss, seed); ``bad`` = the one (experiment, loss, seed) flagged."""
    rng = np.random.default_rng(0)
    ms = [
        make_metrics(e, lo, s, rng, health=STUCK if (e, lo, s) == bad else OK)
        for e in EXPS
        for lo in LOSSES
        for s in SEEDS
    ]
    return ms, frame(tmp_path, ms)


def test_flagged_lists_the_failed_checks_per_experiment_and_loss(tmp_path):
    _, df = runs(tmp_path, bad=("mnist_cnn", "triplet", 1))
    assert health.flagged(df) == {("mnist_cnn", "triplet"): ["seed 1: gradient_vanished"]}
    _, clean = runs(tmp_path / "clean")
    assert health.flagged(clean) == {}
    assert health.flagged(clean.drop(columns="health")) == {}  # runs from before the check


@pytest.mark.parametrize("make", [tables.table1, tables.table2, tables.table3, tables.table4])
def test_a_flagged_run_is_marked_and_named_in_the_note(tmp_path, make):
    ms, df = runs(tmp_path, bad=("mnist_cnn", "triplet", 1))
    out, doc = make(df, context(df))
    tex = to_latex(doc)
    assert tex.count("Triplet\\textsuperscript{\\ddag}") == len(doc.panels)  # MNIST only
    assert "health check failed" in tex
    assert "MNIST (5k subset), Triplet: seed 1: gradient\\_vanished" in tex
    cell = out.set_index(["experiment", "loss"])["health"]
    assert cell[("mnist_cnn", "triplet")] == "seed 1: gradient_vanished"
    assert cell[("synthetic_mlp", "triplet")] == ""
    assert set(out["n_seeds"]) == {len(SEEDS)}  # the flagged run's numbers are still in


def test_no_mark_and_no_note_when_every_run_is_healthy(tmp_path):
    _, df = runs(tmp_path)
    for make in (tables.table1, tables.table2, tables.table3, tables.table4, tables.table5):
        out, doc = make(df, context(df))
        tex = to_latex(doc)
        assert "ddag" not in tex and "health check" not in tex
        assert (out["health"] == "").all()
