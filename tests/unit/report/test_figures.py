"""Figures 1-3, the spectra and the sensitivity figure from constructed metrics, histories
and HDF5 files: produced, and set for print (every save is checked: at most 7 in wide, no
text under 7 pt, no baked-in title, no legend on the data)."""

import re

import matplotlib.figure
import matplotlib.text
import numpy as np
import pandas as pd
import pytest

from dmlstudy import h5io
from dmlstudy.report import figures
from dmlstudy.report import pca as figures_pca

SAVED = []


@pytest.fixture(autouse=True)
def print_checks(monkeypatch):
    """Check every figure as it is saved."""
    original = matplotlib.figure.Figure.savefig

    def checked(fig, fname, *args, **kwargs):
        width, _ = fig.get_size_inches()
        assert width <= figures.PAGE_IN + 1e-6, f"{width} in wide"
        assert kwargs.get("bbox_inches") is None, "a tight crop changes the printed width"
        assert fig._suptitle is None, "no baked-in figure title"
        fig.canvas.draw()
        for t in fig.findobj(matplotlib.text.Text):
            if t.get_visible() and t.get_text().strip():
                assert t.get_fontsize() >= 7, (t.get_text(), t.get_fontsize())
                assert not re.match(r"Fig\. \d", t.get_text())
        for ax in fig.axes:
            leg = ax.get_legend()
            if leg is not None and ax.get_visible():
                assert not leg.get_window_extent().overlaps(ax.get_window_extent()), (
                    "legend on data"
                )
        SAVED.append(str(fname))
        return original(fig, fname, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", checked)
    SAVED.clear()


def pdf_width_pt(path) -> float:
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)", path.read_bytes())
    return float(box.group(1))


LOSSES = ("contrastive", "triplet")
LOSS_LABELS = {"contrastive": "Contrastive", "triplet": "Triplet"}


def check_outputs(stem, min_png_kb=20):
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    assert png.stat().st_size > min_png_kb * 1024
    assert pdf.stat().st_size > 2 * 1024
    assert pdf_width_pt(pdf) <= 72 * figures.PAGE_IN + 0.5
    assert str(pdf) in SAVED and str(png) in SAVED
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"


def write_experiment(tmp_path, name, x_train, x_test, y_test, attrs, emb_dim=8, seed=0):
    """A training-input file and one embeddings file per loss, as the workflow writes them."""
    rng = np.random.default_rng(seed)
    y_train = np.resize(np.unique(y_test), len(x_train))
    data = tmp_path / "data" / f"{name}.h5"
    h5io.write_splits(
        data, {"train": {"x": x_train, "y": y_train}, "test": {"x": x_test, "y": y_test}}, attrs
    )
    embeddings = {}
    for i, loss in enumerate(LOSSES):
        z = rng.normal(size=(len(y_test), emb_dim)) * 0.2 + np.eye(emb_dim)[
            np.abs(y_test) % emb_dim
        ] * (1 + i)
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        path = tmp_path / "runs" / name / loss / "seed0" / "embeddings.h5"
        h5io.write_splits(
            path,
            {
                "train": {"x": z[:5], "y": y_test[:5]},
                "test": {"x": z.astype(np.float32), "y": y_test},
            },
            {"kind": "vectors"},
        )
        embeddings[loss] = str(path)
    return str(data), embeddings


@pytest.fixture
def pca_files(tmp_path):
    rng = np.random.default_rng(0)
    # vectors with outliers (-1), like the synthetic data
    y_syn = np.concatenate([np.repeat(np.arange(4), 30), np.full(10, -1)])
    x_syn = (rng.normal(size=(len(y_syn), 16)) + 4 * np.eye(16)[y_syn % 16]).astype(np.float32)
    syn = write_experiment(
        tmp_path, "synthetic", x_syn[:20], x_syn, y_syn, {"kind": "vectors", "num_classes": 4}
    )
    # uint8 images (N, C, H, W), like MNIST
    y_img = np.repeat(np.arange(10), 12)
    x_img = rng.integers(0, 255, size=(len(y_img), 1, 8, 8), dtype=np.uint8)
    names = [f"digit {i}" for i in range(10)]
    img = write_experiment(
        tmp_path,
        "digits",
        x_img[:20],
        x_img,
        y_img,
        {"kind": "images", "num_classes": 10, "class_names": names},
        seed=1,
    )
    return {"synthetic": syn, "digits": img}


def test_load_pca_panel_subsamples_the_same_points(pca_files):
    data, emb = pca_files["digits"]
    panel = figures_pca.load_pca_panel(data, emb, n_samples=50, seed=3)
    x, y = panel["input"]
    assert x.shape == (50, 64) and x.dtype == np.float32  # images flattened
    assert panel["n_total"] == 120
    for loss in LOSSES:
        z, yz = panel["embeddings"][loss]
        assert z.shape == (50, 8)
        np.testing.assert_array_equal(yz, y)
    again = figures_pca.load_pca_panel(data, emb, n_samples=50, seed=3)
    np.testing.assert_array_equal(again["input"][0], x)  # seeded
    assert panel["class_names"][3] == "digit 3"
    full = figures_pca.load_pca_panel(data, emb, n_samples=10_000, seed=0)
    assert full["input"][0].shape[0] == 120


def test_load_pca_panel_rejects_mismatched_embeddings(pca_files):
    data, _ = pca_files["digits"]
    _, emb_other = pca_files["synthetic"]
    with pytest.raises(ValueError, match="test labels differ"):
        figures_pca.load_pca_panel(data, emb_other, n_samples=50)


def test_fig2_pca(tmp_path, pca_files):
    panels = {
        name: figures_pca.load_pca_panel(d, e, n_samples=100, seed=0)
        for name, (d, e) in pca_files.items()
    }
    stem = tmp_path / "figures" / "fig2_pca"
    labels = {"synthetic": "Synthetic", "digits": "MNIST"}
    figures_pca.fig2_pca(panels, labels, LOSS_LABELS, stem, dpi=80, seed=0)
    check_outputs(stem)


def test_fig2_pca_one_loss_and_many_classes(tmp_path):
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(30), 4)  # more classes than a legend can hold
    x = rng.normal(size=(len(y), 12)).astype(np.float32)
    data, emb = write_experiment(tmp_path, "many", x[:10], x, y, {"kind": "vectors"})
    panel = figures_pca.load_pca_panel(data, {"triplet": emb["triplet"]}, n_samples=200)
    stem = tmp_path / "fig2_one"
    figures_pca.fig2_pca({"many": panel}, {}, LOSS_LABELS, stem, dpi=60)
    check_outputs(stem, min_png_kb=10)


def histories(exps=("synthetic_mlp", "mnist_cnn"), seeds=(0, 1), epochs=6):
    rng = np.random.default_rng(2)
    rows = []
    for exp in exps:
        for loss in LOSSES:
            for s in seeds:
                for e in range(epochs + 1):
                    rows.append(
                        {
                            "epoch": e,
                            "loss": (1.0 if loss == "triplet" else 0.5) * 0.7**e
                            + rng.uniform(0, 0.02),
                            "active_ratio": 0.9 * 0.9**e if loss == "triplet" else 0.95,
                            "grad_norm": 0.3 + rng.uniform(0, 0.05) if loss == "triplet" else 0.12,
                            "intra_class_distance": 0.5 - 0.03 * e * (loss == "contrastive"),
                            "experiment": exp,
                            "loss_name": loss,
                            "seed": s,
                        }
                    )
    return pd.DataFrame(rows)


def test_fig3_greediness(tmp_path):
    stem = tmp_path / "fig3"
    figures.fig3_greediness(
        histories(), {"synthetic_mlp": "Synthetic", "mnist_cnn": "MNIST"}, LOSS_LABELS, stem, dpi=80
    )
    check_outputs(stem)


def test_fig3_single_seed(tmp_path):
    stem = tmp_path / "fig3_one"
    figures.fig3_greediness(histories(exps=("x",), seeds=(0,)), {}, LOSS_LABELS, stem, dpi=60)
    check_outputs(stem, min_png_kb=10)


def test_fig1_intra_class_variance(tmp_path):
    rows = [
        {
            "experiment": exp,
            "label": exp,
            "loss": loss,
            "seed": s,
            "per_class_intra_variance": {
                str(c): 0.1 * (c + 1) * (2 if loss == "triplet" else 1) + 0.01 * s for c in range(5)
            },
        }
        for exp in ("a", "b")
        for loss in LOSSES
        for s in (0, 1)
    ]
    stem = tmp_path / "fig1"
    figures.fig1_intra_class_variance(pd.DataFrame(rows), LOSS_LABELS, stem, dpi=80)
    check_outputs(stem, min_png_kb=5)


def test_loss_colors_keep_the_paper_pair_and_extend_by_order():
    colors = figures.loss_colors({**LOSS_LABELS, "toy": "Toy"})
    assert colors == {"contrastive": "#1f77b4", "triplet": "#d62728", "toy": "#2ca02c"}


def test_fig1_with_a_third_loss(tmp_path):
    rows = [
        {"experiment": "a", "label": "A", "loss": loss, "seed": s,
         "per_class_intra_variance": {str(c): 0.1 * (c + 1) + 0.01 * s for c in range(3)}}
        for loss in ("contrastive", "triplet", "toy")
        for s in (0, 1)
    ]  # fmt: skip
    stem = tmp_path / "fig1_three"
    figures.fig1_intra_class_variance(
        pd.DataFrame(rows), {**LOSS_LABELS, "toy": "Toy"}, stem, dpi=60
    )
    check_outputs(stem, min_png_kb=5)


def test_fig_spectrum(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        {
            "experiment": exp,
            "loss": loss,
            "seed": s,
            "singular_value_spectrum": list(np.sort(rng.uniform(0.01, 1, 16))[::-1]),
        }
        for exp in ("a", "b")
        for loss in LOSSES
        for s in (0, 1)
    ]
    stem = tmp_path / "spectrum"
    figures.fig_spectrum(pd.DataFrame(rows), {"a": "A"}, LOSS_LABELS, stem, dpi=60)
    check_outputs(stem, min_png_kb=10)


def test_fig2_names_a_heads_input_as_the_backbones_features(tmp_path):
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), 10)
    x = rng.normal(size=(len(y), 6)).astype(np.float32)
    attrs = {"kind": "vectors", "backbone": "efficientnet_lite0", "backbone_name": "effnet_lite0"}
    data, emb = write_experiment(tmp_path, "head", x[:6], x, y, attrs)
    panel = figures_pca.load_pca_panel(data, emb, n_samples=30)
    assert panel["input_title"] == "effnet_lite0 features"
    raw, _ = write_experiment(tmp_path, "raw", x[:6], x, y, {"kind": "vectors"})
    assert figures_pca.load_pca_panel(raw, emb, n_samples=30)["input_title"] == "input data"


def test_fig_sensitivity_is_set_for_print(tmp_path):
    table = pd.DataFrame(
        [
            {"experiment": "e", "label": "Exp", "loss": lo, "point": f"margin = {m}",
             "segment": f"loss.margin~{m}/", "values": f'{{"loss.margin": {m}}}',
             "scored_on": "validation", "metric": "knn_accuracy", "mean": 0.8 + 0.01 * m,
             "std": 0.01, "n_seeds": 3}
            for lo in LOSSES for m in (0.25, 1.0, 4.0)
        ]
    )  # fmt: skip
    exps = {"e": {"label": "Exp", "fixed_values": {lo: {"loss.margin": 1.0} for lo in LOSSES}}}
    stem = tmp_path / "sens"
    figures.fig_sensitivity(table, exps, LOSS_LABELS, stem, [], dpi=60)
    check_outputs(stem, min_png_kb=5)


def test_fig_search_is_set_for_print(tmp_path):
    """Best-so-far validation score per loss against the trial, one panel per experiment,
    from the studies' trials.csv files (search.write_history)."""
    from dmlstudy import search
    from dmlstudy.report import searches

    space, _ = search.parse_space({"loss.margin": {"float": [0.1, 4.0], "log": True}})
    rng = np.random.default_rng(0)
    paths, best = [], []
    for exp in ("e1", "e2"):
        for lo in LOSSES:
            trials = [
                search.TrialResult(
                    i, i // 5, {"loss.margin": round(0.1 + 0.15 * i, 3)},
                    [[None if i == 3 else 0.5 + rng.normal(0, 0.05)] for _ in range(4)],
                )
                for i in range(20)
            ]  # fmt: skip
            path = tmp_path / f"{exp}_{lo}.csv"
            search.write_history(path, space, trials)
            paths.append(path)
            b = search.best_trial(trials)
            best.append({"experiment": exp, "loss": lo, "metric": "map@r", "folds": 4})
            assert b.mean == max(t.mean for t in trials if not t.failed)
    frame = searches.load_studies(paths, best)
    assert len(frame) == 80 and frame["failed"].sum() == 4
    stem = tmp_path / "fig_search"
    searches.fig_search(frame, {"e1": "Exp 1", "e2": "Exp 2"}, LOSS_LABELS, stem, 10, dpi=60)
    check_outputs(stem, min_png_kb=5)
