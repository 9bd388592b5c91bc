"""Fig. 2 of the paper: PCA of each experiment's input (the data, or a head's backbone
features) and of each loss's test embeddings, coloured by class. Print style and colours:
``report.figures``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from .figures import PAGE_IN, loss_colors, save, styled


def load_pca_panel(
    input_path, embedding_paths: Mapping[str, str | Path], n_samples: int, seed=0, split="test"
) -> dict:
    """The split that ``evaluation.split`` scores (``test``, ``train`` or ``all``; the
    authors' preset has no test split and scores its training points) of an experiment's
    training input (flattened) and of each loss's embeddings, on the same seeded subsample
    of at most ``n_samples`` points. Returns ``{"input": (x, y), "embeddings": {loss: (z,
    y)}, "class_names": [...] | None, "n_total": N, "split": split, "input_title": ...}``."""
    from .. import h5io

    def read(path):
        parts = [h5io.read_split(path, s) for s in ("train", "test") if split in (s, "all")]
        return np.concatenate([p["x"] for p in parts]), np.concatenate([p["y"] for p in parts])

    attrs = h5io.read_attrs(input_path)
    x, y = read(input_path)
    if not len(y):
        raise ValueError(f"{input_path}: the {split} split is empty; nothing to plot")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(y), size=min(n_samples, len(y)), replace=False))
    out = {
        "input": (np.asarray(x[idx], dtype=np.float32).reshape(len(idx), -1), y[idx]),
        "embeddings": {},
        "class_names": attrs.get("class_names"),
        "n_total": int(len(y)),
        "split": split,
        "input_title": input_title(attrs),
    }
    for loss, path in embedding_paths.items():
        z, yz = read(path)
        if len(yz) != len(y) or not np.array_equal(yz, y):
            raise ValueError(
                f"{path}: {split} labels differ from {input_path}'s; the embeddings were not "
                "computed from this input (rerun the workflow so both are current)"
            )
        out["embeddings"][loss] = (z[idx].astype(np.float32), yz[idx])
    return out


def input_title(attrs: Mapping) -> str:
    """What the left column of Fig. 2 shows: the data itself, or a backbone's features."""
    if attrs.get("backbone_name") or attrs.get("backbone"):
        return f"{attrs.get('backbone_name') or attrs.get('backbone')} features"
    return "input data"


def _pca2(x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    x = np.asarray(x, dtype=np.float64)
    n_comp = min(2, x.shape[0], x.shape[1])
    pca = PCA(n_components=n_comp, random_state=seed)
    pts = pca.fit_transform(x)
    ratio = pca.explained_variance_ratio_
    if n_comp < 2:  # one-dimensional data: plot on a line
        pts = np.column_stack([pts, np.zeros(len(pts))])
        ratio = np.append(ratio, 0.0)
    return pts, ratio


def _class_colors(classes: list[int]):
    n = len(classes)
    if n <= 10:
        cmap = plt.get_cmap("tab10")
        return {c: cmap(i) for i, c in enumerate(classes)}
    if n <= 20:
        cmap = plt.get_cmap("tab20")
        return {c: cmap(i) for i, c in enumerate(classes)}
    cmap = plt.get_cmap("turbo")
    return {c: cmap(i / max(n - 1, 1)) for i, c in enumerate(classes)}


OUTLIER_COLOR = "#9e9e9e"


def _scatter(ax, pts: np.ndarray, y: np.ndarray, colors: dict, size: float) -> None:
    out = y == -1
    if out.any():
        ax.scatter(
            pts[out, 0],
            pts[out, 1],
            s=size,
            c=OUTLIER_COLOR,
            marker="x",
            linewidths=0.6,
            alpha=0.7,
            zorder=1,
        )
    keep = ~out
    ax.scatter(
        pts[keep, 0],
        pts[keep, 1],
        s=size,
        c=[colors[int(c)] for c in y[keep]],
        alpha=0.75,
        linewidths=0,
        zorder=2,
    )


@styled
def fig2_pca(
    panels: Mapping[str, dict],
    labels: Mapping[str, str],
    loss_labels: Mapping[str, str],
    stem,
    dpi: int = 150,
    seed: int = 0,
) -> None:
    """Fig. 2: PCA (2 components, fitted per panel) of the input (the data, or a head's
    backbone features) and of each loss's test embeddings, coloured by class, outliers (-1)
    grey crosses; one row per experiment, columns input then one per loss. ``panels`` maps
    experiment → :func:`load_pca_panel`'s result."""
    exps = list(panels)
    colors_of = loss_colors(loss_labels)
    present = [lo for lo in loss_labels if any(lo in panels[e]["embeddings"] for e in exps)]
    ncols = 1 + len(present)
    side = min(1.75, (PAGE_IN - 1.3) / ncols)
    fig = plt.figure(figsize=(PAGE_IN, (side + 0.55) * len(exps)), layout="constrained")
    rows = fig.subfigures(len(exps), 1, squeeze=False)[:, 0]
    for exp, sub_fig in zip(exps, rows, strict=True):
        axes = sub_fig.subplots(1, ncols, squeeze=False)
        sub_fig.suptitle(str(labels.get(exp, exp)), x=0.0, ha="left", fontweight="bold")
        panel = panels[exp]
        x, y = panel["input"]
        classes = sorted(int(c) for c in np.unique(y) if c != -1)
        colors = _class_colors(classes)
        size = float(np.clip(1500 / max(len(y), 1), 1.5, 12))
        cols = [("input", panel.get("input_title", "input data"), "black", (x, y))]
        cols += [
            (lo, loss_labels[lo], colors_of[lo], panel["embeddings"].get(lo)) for lo in present
        ]
        for c, (key, title, color, data) in enumerate(cols):
            ax = axes[0, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if data is None:
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
                continue
            pts, ratio = _pca2(data[0], seed)
            _scatter(ax, pts, data[1], colors, size)
            ax.set_xlabel(f"PC1 {100 * ratio[0]:.0f}%", labelpad=1)
            ax.set_ylabel(f"PC2 {100 * ratio[1]:.0f}%", labelpad=1)
            if key != "input":
                for spine in ax.spines.values():
                    spine.set_edgecolor(color)
                    spine.set_linewidth(1.2)
            ax.set_title(title, color=color)
        n_pts, n_tot = len(y), panel.get("n_total", len(y))
        names = panel.get("class_names")
        if len(classes) <= 20:
            handles = [
                Line2D([], [], marker="o", linestyle="", color=colors[c], markersize=3.5)
                for c in classes
            ]
            text = [str(names[c]) if names and 0 <= c < len(names) else str(c) for c in classes]
            if (y == -1).any():
                handles.append(
                    Line2D([], [], marker="x", linestyle="", color=OUTLIER_COLOR, markersize=3.5)
                )
                text.append("outlier")
            axes[0, -1].legend(
                handles,
                text,
                title=f"class ({n_pts} of {n_tot} {panel.get('split', 'test')} points)",
                loc="center left",
                bbox_to_anchor=(1.02, 0.5),
                frameon=False,
                handletextpad=0.1,
                labelspacing=0.2,
                ncol=1 if len(classes) <= 10 else 2,
            )
        else:
            axes[0, -1].text(
                1.04,
                0.5,
                f"{len(classes)} classes\n(colour = class)\n{n_pts} of {n_tot}\n"
                f"{panel.get('split', 'test')} points",
                transform=axes[0, -1].transAxes,
                va="center",
            )
    save(fig, stem, dpi)
