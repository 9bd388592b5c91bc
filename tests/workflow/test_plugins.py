"""A loss from a file outside the package, end to end (tests/config/tiny_plugin.yaml): the
worked example examples/plugins/circle_loss.py, listed under ``plugins:``, is trained beside
the paper's two losses and has its rows in every per-loss table, its curves in every figure,
and its own rerun key: editing the file reruns exactly its runs."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zlib

import pandas as pd
import pytest
from conftest import (
    CONFIG_DIR,
    REPO,
    copy_run,
    output_of,
    planned_jobs,
    require_success,
    run_snakemake,
)

pytestmark = pytest.mark.slow

CONFIG = CONFIG_DIR / "tiny_plugin.yaml"
EXAMPLE = REPO / "examples" / "plugins" / "circle_loss.py"
LOSSES = ["contrastive", "triplet", "circle"]
SEEDS = ["0", "1"]
#: A second plugin whose loss this config does not train: editing it must rerun nothing.
UNUSED = """
from dmlstudy.losses import LossSpec, get, register

register(LossSpec(**{**get("triplet").__dict__, "name": "unused", "label": "Unused"}))
"""
#: The tables with one row per loss; paper_comparison and claims hold the paper's own
#: numbers and claims, which are about contrastive and triplet only.
PER_LOSS_TABLES = [
    "table1_variance",
    "table2_greediness",
    "table3_classification",
    "table4_retrieval",
    "table5_geometry",
]
FIGURES = ["fig1_intra_class_variance", "fig2_pca", "fig3_greediness", "fig_spectrum"]


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory):
    """``all`` completed on tiny_plugin.yaml, the plugin files in the working directory.
    Read-only: copy it (``copy_run``) to change anything."""
    root = tmp_path_factory.mktemp("plugin_run")
    shutil.copy(EXAMPLE, root / "circle_loss.py")
    (root / "unused_loss.py").write_text(UNUSED)
    require_success(run_snakemake(root, CONFIG, "all"), "the tiny plugin workflow run")
    return root


def pdf_text(path) -> str:
    """The text a matplotlib PDF draws: the strings of its ``Tj``/``TJ`` operators (two-byte
    codes of the embedded TrueType fonts read as their characters)."""
    data = path.read_bytes()
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        for op in re.findall(rb"\[(.*?)\]\s*TJ|(\((?:\\.|[^\\)])*\))\s*Tj", content, re.S):
            parts = re.findall(rb"\(((?:\\.|[^\\)])*)\)", op[0] or op[1])
            text = b"".join(re.sub(rb"\\(.)", rb"\1", p) for p in parts).decode("latin-1")
            out.append(text.replace("\x00", ""))
    return "\n".join(out)


def test_the_plugin_loss_has_its_rows_in_every_table(plugin_run):
    tables = plugin_run / "results" / "tables"
    for name in PER_LOSS_TABLES:
        df = pd.read_csv(tables / f"{name}.csv")
        assert df["loss"].tolist().count("circle") == 1, name
        assert set(df["loss"]) == set(LOSSES), name
        row = df[df["loss"] == "circle"].iloc[0]
        assert row["n_seeds"] == len(SEEDS), name
        assert "Circle" in (tables / f"{name}.tex").read_text(), name  # its label
    t2 = pd.read_csv(tables / "table2_greediness.csv").set_index("loss")
    # the greediness diagnostics of §2.2, measured as for the built-in losses
    assert t2.loc["circle", "mean_active_ratio_mean"] == pytest.approx(1.0)
    assert t2.loc["circle", "mean_grad_norm_mean"] > 0
    runtime = pd.read_csv(tables / "runtime.csv")
    assert runtime["job"].str.contains("loss=circle").sum() == 2 * len(SEEDS)  # train, evaluate
    claims = pd.read_csv(tables / "claims.csv")  # the paper's claims, contrastive vs triplet
    assert len(claims) > 0 and set(claims["higher"]) | set(claims["lower"]) <= set(LOSSES)


def test_the_plugin_loss_appears_in_every_figure(plugin_run):
    figures = plugin_run / "results" / "figures"
    for name in FIGURES:
        text = pdf_text(figures / f"{name}.pdf")
        for label in ("Contrastive", "Triplet", "Circle"):
            assert label in text, (name, label, text[:500])
        assert (figures / f"{name}.png").stat().st_size > 5000


def test_a_plugin_run_records_the_plugins_hash(plugin_run):
    digest = hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    for loss in LOSSES:
        run = plugin_run / "results" / "runs" / "synthetic_mlp" / loss / "seed0"
        resolved = json.loads((run / "config.json").read_text())["resolved"]
        if loss == "circle":
            assert resolved["plugins"] == {"circle_loss.py": digest}
        else:
            assert "plugins" not in resolved
        history = pd.read_csv(run / "history.csv")
        assert history[["loss", "active_ratio", "grad_norm"]].iloc[1:].notna().all().all()


def test_editing_a_plugin_reruns_exactly_the_runs_of_what_it_registers(plugin_run, tmp_path):
    run = copy_run(plugin_run, tmp_path / "run")
    # the plugin of a loss this config does not train: nothing to do
    with open(run / "unused_loss.py", "a") as fh:
        fh.write("# edited\n")
    proc = run_snakemake(run, CONFIG, "-n")
    require_success(proc, "dry run after editing unused_loss.py")
    assert "Nothing to be done" in output_of(proc)

    # the circle loss's own file: its training and what depends on it, nothing else
    text = (run / "circle_loss.py").read_text()
    (run / "circle_loss.py").write_text(text.replace("GAMMA = 80.0", "GAMMA = 64.0"))
    proc = run_snakemake(run, CONFIG, "-n")
    require_success(proc, "dry run after editing circle_loss.py")
    jobs = planned_jobs(output_of(proc))
    per_run = {(r, w["loss"], w["seed"]) for r, w in jobs if "loss" in w}
    assert per_run == {(r, "circle", s) for r in ("train_model", "evaluate_run") for s in SEEDS}
    assert "prepare_data" not in {r for r, _ in jobs}
    assert {r for r, w in jobs if "loss" not in w} == {
        "compare_losses",
        "make_table",
        "compare_with_paper",
        "make_figures",
        "make_pca_figure",
        "collect_runtime",
        "all",
    }
