"""The catalogue: a new metric is one entry plus its function, and shows in its table and
its comparisons; a new table is one entry plus its function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_fixtures import EXPS, LOSSES, SEEDS, context, frame, make_metrics

from dmlstudy import catalog, h5io
from dmlstudy.evaluate import evaluate_run
from dmlstudy.report import comparisons, tables


def test_every_table_metric_has_a_header_and_a_name():
    for m in catalog.METRICS.values():
        assert m.header and m.name
        assert m.table is None or m.table in catalog.TABLES
        assert not m.panel or m.panel in catalog.TABLES[m.table].panels
    assert catalog.get("recall@7").header == "R@7" and catalog.get("recall@7").table
    with pytest.raises(KeyError, match="not in the catalogue"):
        catalog.get("no_such_metric")
    assert catalog.label("no_such_metric") == "no_such_metric"


@pytest.fixture
def toy_metric(monkeypatch):
    """A metric registered with its own function: the mean norm of the embeddings."""
    spec = catalog.Metric(
        "mean_norm",
        "Mean norm",
        "mean embedding norm",
        "table5_geometry",
        "Spectrum",
        compute=lambda ctx: float(np.linalg.norm(ctx.z[ctx.y != -1], axis=1).mean()),
    )
    monkeypatch.setitem(catalog.METRICS, spec.key, spec)
    return spec


def test_a_registered_metric_reaches_metrics_json(tmp_path, toy_metric):
    rng = np.random.default_rng(0)
    split = {
        name: {"x": rng.normal(size=(n, 4)).astype(np.float32), "y": np.arange(n) % 3}
        for name, n in (("train", 30), ("test", 24))
    }
    emb = tmp_path / "embeddings.h5"
    h5io.write_splits(emb, split, {"kind": "vectors", "loss": "triplet", "loss_label": "T",
                                   "seed": 0, "data_description": "d"})  # fmt: skip
    hist = tmp_path / "history.csv"
    pd.DataFrame({"epoch": [0, 1], "loss": [1.0, 0.5], "active_ratio": [1.0, 0.5],
                  "grad_norm": [0.2, 0.1], "seconds": [0.1, 0.1],
                  "intra_class_distance": [0.8, 0.3]}).to_csv(hist, index=False)  # fmt: skip
    ev = {"split": "test", "include_outliers": False, "knn_k": 3, "chunk_size": 16,
          "linear_probe": False, "recall_ks": [1]}  # fmt: skip
    m = evaluate_run(emb, hist, {"experiment": "e", "evaluation": ev}, tmp_path / "m.json")
    want = np.linalg.norm(split["test"]["x"], axis=1).mean()
    assert m["mean_norm"] == pytest.approx(want)


def test_a_registered_metric_shows_in_its_table_and_is_compared(tmp_path, toy_metric):
    rng = np.random.default_rng(1)
    ms = [make_metrics(e, lo, s, rng, mean_norm=1.0 + (lo == "triplet") + 0.01 * s)
          for e in EXPS for lo in LOSSES for s in SEEDS]  # fmt: skip
    df = frame(tmp_path, ms)
    ctx = context(df)
    out, doc = tables.table5(df, ctx)
    assert "mean_norm_mean" in out and any("Mean norm" in p.columns for p in doc.panels)
    row = comparisons.lookup(ctx.comparisons, "mnist_cnn", "mean_norm", "contrastive", "triplet")
    assert row is not None and row["difference"] == pytest.approx(1.0)
    assert row["family"] == "exploratory"


def test_a_registered_table_is_one_entry_and_its_function(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from dmlstudy.report import jobs

    def norms_table(df, ctx):
        return tables.metric_table(df, ctx, "toy_table", "Norms.", "tab:toy", [])

    spec = catalog.Table("toy_table", "Table T", "norms", f"{__name__}:norms_table", "Norms.")
    monkeypatch.setitem(catalog.TABLES, "toy_table", spec)
    toy = catalog.Metric("intra_var", "σ²", "variance", "toy_table")
    monkeypatch.setitem(catalog.METRICS, "intra_var", toy)
    monkeypatch.setitem(globals(), "norms_table", norms_table)
    rng = np.random.default_rng(2)
    ms = [make_metrics(e, lo, s, rng) for e in EXPS for lo in LOSSES for s in SEEDS]
    paths, runs = [], []
    for m in ms:
        p = tmp_path / f"{m['experiment']}-{m['loss']}-{m['seed']}.json"
        p.write_text(pd.Series(m).to_json())
        paths.append(p)
        runs.append({k: m[k] for k in ("experiment", "loss", "seed")})
    cmp = tmp_path / "comparisons.csv"
    context(frame(tmp_path, ms)).comparisons.to_csv(cmp, index=False)
    outputs = SimpleNamespace(**{k: tmp_path / f"toy.{k}" for k in ("csv", "tex", "html")})
    params = SimpleNamespace(runs=runs, experiments=EXPS, loss_labels={lo: lo for lo in LOSSES})
    jobs.table(SimpleNamespace(metrics=paths, comparisons=cmp), outputs, params, "toy_table")
    assert "σ²" in outputs.html.read_text() and "\\toprule" in outputs.tex.read_text()
    assert len(pd.read_csv(outputs.csv)) == len(EXPS) * len(LOSSES)
