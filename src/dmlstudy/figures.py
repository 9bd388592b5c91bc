"""Figures 1 and 3 of the paper (Fig. 2, the PCA panels, lives in figures_pca)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt  # headless: matplotlib falls back to Agg without a display
import numpy as np
import pandas as pd

COLORS = {"contrastive": "#1f77b4", "triplet": "#d62728"}
LABELS = {"contrastive": "Contrastive", "triplet": "Triplet"}


def save(fig, stem: str | Path, dpi: int = 150) -> None:
    """Save ``stem.pdf`` and ``stem.png``."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(stem.with_suffix(".pdf"), bbox_inches="tight")
    fig.savefig(stem.with_suffix(".png"), dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def fig1_intra_class_variance(metrics: pd.DataFrame, stem, dpi: int = 150) -> None:
    """Per-class intra-class variance for both losses, one panel per experiment (mean ± std
    over seeds as bars with error bars)."""
    exps = list(dict.fromkeys(metrics["experiment"]))
    fig, axes = plt.subplots(1, len(exps), figsize=(5.5 * len(exps), 3.8), squeeze=False)
    for ax, exp in zip(axes[0], exps, strict=True):
        sub = metrics[metrics["experiment"] == exp]
        losses = [lo for lo in LABELS if lo in set(sub["loss"])]
        width = 0.8 / max(len(losses), 1)
        classes = None
        for i, loss in enumerate(losses):
            per = pd.DataFrame(list(sub[sub["loss"] == loss]["per_class_intra_variance"]))
            per = per[sorted(per.columns, key=int)]
            classes = per.columns
            xs = np.arange(len(classes)) + (i - (len(losses) - 1) / 2) * width
            err = per.std(axis=0, ddof=1) if len(per) > 1 else None
            ax.bar(xs, per.mean(axis=0), width, yerr=err, capsize=2, color=COLORS[loss], label=f"{LABELS[loss]} (n={len(per)} seeds)")
        if classes is not None:
            ax.set_xticks(np.arange(len(classes)))
            ax.set_xticklabels(classes)
        label = sub["label"].iloc[0] if "label" in sub else exp
        ax.set_title(str(label))
        ax.set_xlabel("class")
        ax.set_ylabel("intra-class variance")
        ax.legend(fontsize=8)
    fig.suptitle("Fig. 1: intra-class variance per class")
    fig.tight_layout()
    save(fig, stem, dpi)


FIG3_PANELS = [
    ("loss", "mean loss"),
    ("active_ratio", "active ratio"),
    ("grad_norm", "gradient norm"),
    ("intra_class_distance", "intra-class distance"),
]


def fig3_greediness(histories: pd.DataFrame, labels: dict, stem, dpi: int = 150) -> None:
    """Loss, active ratio, gradient norm and intra-class distance per epoch, both losses,
    mean line and min–max band over seeds; one row per experiment."""
    exps = list(dict.fromkeys(histories["experiment"]))
    fig, axes = plt.subplots(len(exps), len(FIG3_PANELS), figsize=(15, 3.0 * len(exps)), squeeze=False)
    for r, exp in enumerate(exps):
        sub = histories[histories["experiment"] == exp]
        for c, (col, name) in enumerate(FIG3_PANELS):
            ax = axes[r, c]
            for loss in [lo for lo in LABELS if lo in set(sub["loss_name"])]:
                runs = sub[sub["loss_name"] == loss]
                g = runs.groupby("epoch")[col]
                mean, lo_, hi = g.mean(), g.min(), g.max()
                n = runs["seed"].nunique()
                ax.plot(mean.index, mean.values, color=COLORS[loss], label=f"{LABELS[loss]} ({n} seeds)")
                ax.fill_between(mean.index, lo_.values, hi.values, color=COLORS[loss], alpha=0.2, linewidth=0)
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            if c == 0:
                ax.set_title(str(labels.get(exp, exp)), loc="left", fontsize=10)
            if r == 0 and c == 0:
                ax.legend(fontsize=8)
    fig.suptitle("Fig. 3: greediness metrics over training epochs (line: mean over seeds, band: min–max)")
    fig.tight_layout()
    save(fig, stem, dpi)
