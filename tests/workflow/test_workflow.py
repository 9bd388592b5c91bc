"""The workflow end to end on the tiny config (tests/config/tiny.yaml).

Uses the session fixture ``tiny_run`` (tests/conftest.py): a temporary folder in which
``snakemake --cores 2 all`` has completed on the tiny config.
"""

import json
import subprocess
import sys

import h5py
import pandas as pd
import pytest

from dmlstudy.train import HISTORY_COLUMNS

pytestmark = pytest.mark.slow

EXPERIMENTS = ["synthetic_mlp", "digits_cnn"]
LOSSES = ["contrastive", "triplet"]
SEEDS = [0, 1]


def test_every_output_parses(tiny_run):
    res = tiny_run / "results"
    for exp in EXPERIMENTS:
        for loss in LOSSES:
            for seed in SEEDS:
                run = res / "runs" / exp / loss / f"seed{seed}"
                h = pd.read_csv(run / "history.csv")
                assert list(h.columns) == HISTORY_COLUMNS
                assert h["epoch"].tolist() == list(range(len(h)))  # row 0 = before any update
                m = json.loads((run / "metrics.json").read_text())
                assert m["experiment"] == exp and m["loss"] == loss and m["seed"] == seed
                assert 0 <= m["mean_active_ratio"] <= 1
                assert m["loss_decay_epoch"] is None or 1 <= m["loss_decay_epoch"] <= len(h) - 1
                assert m["loss_decay_reached"] == (m["loss_decay_epoch"] is not None)
                assert -1 not in m["classes"]  # outliers excluded from class statistics
                cfg = json.loads((run / "config.json").read_text())
                assert cfg["resolved"]["experiment"] == exp
                with h5py.File(run / "embeddings.h5") as f:
                    assert f["test/x"].shape[0] == f["test/y"].shape[0]
                assert (run / "checkpoint.pt").exists() and (run / "model.pt").exists()
    with h5py.File(res / "data" / "synthetic.h5") as f:
        assert f.attrs["kind"] == "vectors"
        assert (f["train/y"][()] == -1).any()
    for name in ("table1_variance", "table2_greediness"):
        df = pd.read_csv(res / "tables" / f"{name}.csv")
        assert set(df["experiment"]) == set(EXPERIMENTS)
        tex = (res / "tables" / f"{name}.tex").read_text()
        assert r"\toprule" in tex and r"\bottomrule" in tex
    for fig in ("fig1_intra_class_variance", "fig3_greediness"):
        for ext in ("pdf", "png"):
            assert (res / "figures" / f"{fig}.{ext}").stat().st_size > 5000


def test_table1_values_come_from_metrics(tiny_run):
    res = tiny_run / "results"
    t1 = pd.read_csv(res / "tables" / "table1_variance.csv")
    for exp in EXPERIMENTS:
        for loss in LOSSES:
            vals = [
                json.loads((res / "runs" / exp / loss / f"seed{s}" / "metrics.json").read_text())[
                    "intra_mean"
                ]
                for s in SEEDS
            ]
            row = t1[(t1["experiment"] == exp) & (t1["loss"] == loss)].iloc[0]
            assert row["intra_mean_mean"] == pytest.approx(sum(vals) / len(vals))
            assert row["n_seeds"] == len(SEEDS)


def test_second_run_has_nothing_to_do(tiny_run, snakemake_cmd):
    out = subprocess.run(
        [*snakemake_cmd, "-n", "--directory", str(tiny_run), "all"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Nothing to be done" in out.stdout + out.stderr


def test_config_validator_cli(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "dmlstudy.config", "config/config.yaml"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiments: {a: {dataset: nope, model: mlp}}\n")
    out = subprocess.run(
        [sys.executable, "-m", "dmlstudy.config", str(bad)], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "'experiments.a.dataset' = 'nope'" in out.stderr


def _report_items(html: str) -> dict[str, str]:
    """File name -> decoded content of every result embedded in a Snakemake report."""
    import base64
    import re

    out = {}
    for m in re.finditer(
        r'"data_uri": *"data:[^;]+;charset=utf8;filename=([^;]+);base64,([^"]+)"', html
    ):
        out[m.group(1)] = base64.b64decode(m.group(2)).decode("utf-8", errors="replace")
    return out


def test_the_report_shows_every_table_and_the_verdicts(tiny_run, tmp_path):
    """`snakemake --report`: every table is an HTML page inside the report (no download
    needed), the landing page holds the claims' verdict counts, and no caption speaks of a
    test the tables no longer use."""
    from conftest import TINY_CONFIG, require_success, run_snakemake

    from dmlstudy import catalog

    report = tmp_path / "report.html"
    proc = run_snakemake(tiny_run, TINY_CONFIG, "--report", report)
    require_success(proc, "snakemake --report")
    html = report.read_text()
    items = _report_items(html)
    expected = [f"{t}.html" for t in catalog.TABLES] + ["claims.html", "paper_comparison.html"]
    for name in expected:
        assert name in items, (name, sorted(items))
        assert "<table" in items[name] and "<th" in items[name], name
    claims = pd.read_csv(tiny_run / "results" / "tables" / "claims.csv")
    conf = claims[claims["family"] == "confirmatory"]
    assert f"<b>Confirmatory</b> ({len(conf)} comparisons" in html
    assert items["table1_variance.html"].count("Contrastive") >= 2  # a row per experiment
    assert "Welch" not in html
