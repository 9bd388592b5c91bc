"""Figures 1, 2 and 3 of the paper: per-class intra-class variance, PCA of the input data
and of each loss's embeddings, and the greediness metrics per epoch. The losses are those
the runs used, labelled and coloured by their order in ``loss_labels``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt  # headless: matplotlib falls back to Agg without a display
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

#: Colours of the losses in registry order: the first two keep the figures as they were
#: (blue, red), the rest follow the tab10 palette.
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def loss_colors(loss_labels: Mapping[str, str]) -> dict[str, str]:
    """A colour per loss, by its position in ``loss_labels``."""
    return {lo: PALETTE[i % len(PALETTE)] for i, lo in enumerate(loss_labels)}


def _losses(names, loss_labels: Mapping[str, str]) -> list[str]:
    present = set(names)
    return [lo for lo in loss_labels if lo in present]


def save(fig, stem: str | Path, dpi: int = 150) -> None:
    """Save ``stem.pdf`` and ``stem.png``."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(stem.with_suffix(".pdf"), bbox_inches="tight")
    fig.savefig(stem.with_suffix(".png"), dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def fig1_intra_class_variance(
    metrics: pd.DataFrame, loss_labels: Mapping[str, str], stem, dpi: int = 150
) -> None:
    """Per-class intra-class variance for each loss, one panel per experiment (mean ± std
    over seeds as bars with error bars)."""
    colors = loss_colors(loss_labels)
    exps = list(dict.fromkeys(metrics["experiment"]))
    fig, axes = plt.subplots(1, len(exps), figsize=(5.5 * len(exps), 3.8), squeeze=False)
    for ax, exp in zip(axes[0], exps, strict=True):
        sub = metrics[metrics["experiment"] == exp]
        losses = _losses(sub["loss"], loss_labels)
        width = 0.8 / max(len(losses), 1)
        classes = None
        for i, loss in enumerate(losses):
            per = pd.DataFrame(list(sub[sub["loss"] == loss]["per_class_intra_variance"]))
            per = per[sorted(per.columns, key=int)]
            classes = per.columns
            xs = np.arange(len(classes)) + (i - (len(losses) - 1) / 2) * width
            err = per.std(axis=0, ddof=1) if len(per) > 1 else None
            ax.bar(
                xs,
                per.mean(axis=0),
                width,
                yerr=err,
                capsize=2,
                color=colors[loss],
                label=f"{loss_labels[loss]} (n={len(per)} seeds)",
            )
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


def fig_spectrum(
    metrics: pd.DataFrame, labels: Mapping[str, str], loss_labels: Mapping[str, str], stem, dpi=150
) -> None:
    """Each loss's normalised singular-value spectrum of the evaluation embeddings (the
    ``singular_value_spectrum`` of metrics.json; ``dmlstudy.geometry``), mean over seeds
    with a min-max band, log scale: a spectrum that falls off fast is a low-dimensional
    (collapsed) embedding. One panel per experiment."""
    colors = loss_colors(loss_labels)
    exps = list(dict.fromkeys(metrics["experiment"]))
    fig, axes = plt.subplots(1, len(exps), figsize=(4.2 * len(exps), 3.4), squeeze=False)
    for ax, exp in zip(axes[0], exps, strict=True):
        sub = metrics[metrics["experiment"] == exp]
        for loss in _losses(sub["loss"], loss_labels):
            spectra = [
                np.asarray(v, float) for v in sub[sub["loss"] == loss]["singular_value_spectrum"]
            ]
            k = min(len(v) for v in spectra)
            arr = np.stack([v[:k] for v in spectra])
            idx = np.arange(1, k + 1)
            ax.plot(
                idx,
                arr.mean(0),
                color=colors[loss],
                label=f"{loss_labels.get(loss, loss)} (n={len(arr)})",
            )
            ax.fill_between(idx, arr.min(0), arr.max(0), color=colors[loss], alpha=0.2, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel("singular value index")
        ax.set_title(labels.get(exp, exp), fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_ylabel("normalised singular value")
    axes[0, -1].legend(fontsize=8)
    fig.tight_layout()
    save(fig, stem, dpi)


def fig3_greediness(
    histories: pd.DataFrame,
    labels: Mapping[str, str],
    loss_labels: Mapping[str, str],
    stem,
    dpi: int = 150,
) -> None:
    """Loss, active ratio, gradient norm and intra-class distance per epoch, each loss,
    mean line and min–max band over seeds; one row per experiment. Epoch 0 is measured
    before any update; the loss panel marks 10% of each loss's initial value (the
    loss-decay threshold of §2.2)."""
    colors = loss_colors(loss_labels)
    exps = list(dict.fromkeys(histories["experiment"]))
    fig, axes = plt.subplots(
        len(exps), len(FIG3_PANELS), figsize=(15, 3.0 * len(exps) + 0.6), squeeze=False
    )
    for r, exp in enumerate(exps):
        sub = histories[histories["experiment"] == exp]
        for c, (col, name) in enumerate(FIG3_PANELS):
            ax = axes[r, c]
            for loss in _losses(sub["loss_name"], loss_labels):
                runs = sub[sub["loss_name"] == loss]
                if col not in runs:
                    continue
                g = runs.groupby("epoch")[col]
                mean, lo_, hi = g.mean(), g.min(), g.max()
                n = runs["seed"].nunique()
                ax.plot(
                    mean.index,
                    mean.values,
                    color=colors[loss],
                    marker="o" if len(mean) <= 12 else None,
                    markersize=3,
                )
                if n > 1:
                    ax.fill_between(
                        mean.index,
                        lo_.values,
                        hi.values,
                        color=colors[loss],
                        alpha=0.2,
                        linewidth=0,
                    )
                if col == "loss" and 0 in mean.index:
                    ax.axhline(0.1 * mean.loc[0], color=colors[loss], linestyle=":", linewidth=1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            if c == 0:
                ax.set_title(str(labels.get(exp, exp)), loc="left", fontsize=10, fontweight="bold")
    handles, names = [], []
    seeds = histories.groupby(["experiment", "loss_name"])["seed"].nunique()
    for loss in _losses(histories["loss_name"], loss_labels):
        ns = sorted(set(seeds.xs(loss, level="loss_name")))
        n_text = "/".join(map(str, ns))
        many = ns[-1] > 1
        handles.append(Line2D([], [], color=colors[loss], marker="o", markersize=3))
        names.append(
            f"{loss_labels[loss]} ({'mean of ' if many else ''}{n_text} seed{'s' if many else ''})"
        )
    handles.append(Line2D([], [], color="grey", linestyle=":", linewidth=1))
    names.append("10% of initial loss (loss-decay threshold)")
    if seeds.max() > 1:
        handles.append(plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.2))
        names.append("min–max over seeds")
    fig.legend(
        handles,
        names,
        loc="upper center",
        ncol=len(handles),
        fontsize=9,
        bbox_to_anchor=(0.5, 1.0),
        frameon=False,
    )
    fig.suptitle(
        "Fig. 3: greediness metrics over training epochs (epoch 0: before any update)", y=1.04
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    save(fig, stem, dpi)


# --------------------------------------------------------------------------- Fig. 2
def load_pca_panel(
    input_path, embedding_paths: Mapping[str, str | Path], n_samples: int, seed=0, split="test"
) -> dict:
    """The split that ``evaluation.split`` scores (``test``, ``train`` or ``all``; the
    authors' preset has no test split and scores its training points) of an experiment's
    training input (flattened) and of each loss's embeddings, on the same seeded subsample
    of at most ``n_samples`` points. Returns ``{"input": (x, y), "embeddings": {loss: (z,
    y)}, "class_names": [...] | None, "n_total": N, "split": split}``."""
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


def fig2_pca(
    panels: Mapping[str, dict],
    labels: Mapping[str, str],
    loss_labels: Mapping[str, str],
    stem,
    dpi: int = 150,
    seed: int = 0,
) -> None:
    """Fig. 2: PCA (2 components, fitted per panel) of the input data and of each loss's
    test embeddings, coloured by class, outliers (-1) grey crosses; one row per
    experiment, columns input then one per loss. ``panels`` maps experiment →
    :func:`load_pca_panel`'s result."""
    exps = list(panels)
    colors_of = loss_colors(loss_labels)
    present = [lo for lo in loss_labels if any(lo in panels[e]["embeddings"] for e in exps)]
    ncols = 1 + len(present)
    fig, axes = plt.subplots(
        len(exps), ncols, figsize=(4.2 * ncols + 1.8, 3.9 * len(exps)), squeeze=False
    )
    for r, exp in enumerate(exps):
        panel = panels[exp]
        x, y = panel["input"]
        classes = sorted(int(c) for c in np.unique(y) if c != -1)
        colors = _class_colors(classes)
        size = float(np.clip(3000 / max(len(y), 1), 3, 25))
        cols = [("input", "Input data", "black", (x, y))]
        cols += [
            (lo, f"{loss_labels[lo]} embeddings", colors_of[lo], panel["embeddings"].get(lo))
            for lo in present
        ]
        for c, (key, title, color, data) in enumerate(cols):
            ax = axes[r, c]
            if data is None:
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
                continue
            pts, ratio = _pca2(data[0], seed)
            _scatter(ax, pts, data[1], colors, size)
            ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f}% of variance)")
            ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f}%)")
            ax.tick_params(labelsize=7)
            if key != "input":
                for side in ax.spines.values():
                    side.set_edgecolor(color)
                    side.set_linewidth(1.6)
            head = f"{labels.get(exp, exp)}: {title}" if c == 0 else title
            ax.set_title(
                head, color=color, fontsize=10, fontweight="bold" if key != "input" else None
            )
        names = panel.get("class_names")
        if len(classes) <= 20:
            handles = [
                Line2D([], [], marker="o", linestyle="", color=colors[c], markersize=5)
                for c in classes
            ]
            text = [str(names[c]) if names and 0 <= c < len(names) else str(c) for c in classes]
            if (y == -1).any():
                handles.append(
                    Line2D([], [], marker="x", linestyle="", color=OUTLIER_COLOR, markersize=5)
                )
                text.append("outlier (-1)")
            axes[r, -1].legend(
                handles,
                text,
                title="class",
                fontsize=7,
                title_fontsize=8,
                loc="center left",
                bbox_to_anchor=(1.02, 0.5),
                frameon=False,
            )
        else:
            axes[r, -1].text(
                1.03,
                0.5,
                f"{len(classes)} classes\n(colour = class id)",
                fontsize=8,
                transform=axes[r, -1].transAxes,
                va="center",
            )
        n_pts, n_tot = len(y), panel.get("n_total", len(y))
        axes[r, 0].annotate(
            f"{panel.get('split', 'test')} split: {n_pts} of {n_tot} points",
            xy=(0.01, 0.01),
            xycoords="axes fraction",
            fontsize=7,
            color="dimgray",
        )
    splits = {p.get("split", "test") for p in panels.values()}
    which = "test" if splits == {"test"} else "evaluation-split"
    fig.suptitle(
        f"Fig. 2: PCA of the input data and of the {which} embeddings of each loss "
        "(coloured by class)",
        y=1.0,
    )
    fig.tight_layout()
    save(fig, stem, dpi)


# --------------------------------------------------------------------------- sweeps
def _swept_value(values: Mapping):
    """The value on the x axis: the point's one swept value (its first with several)."""
    return next(iter(values.values()))


def fig_sensitivity(
    table: pd.DataFrame,
    experiments: Mapping,
    loss_labels: Mapping[str, str],
    stem,
    selections: Sequence[dict] = (),
    dpi: int = 150,
) -> None:
    """One panel per experiment: the score against the swept value, a line per loss
    (mean over seeds) with a band of ± one std; a tuned loss's selected point is ringed and
    the config's own (fixed) value is a dashed line.
    A numeric axis is logarithmic when its values span more than a factor of 10."""
    from ..params import format_value
    from .tuning import metric_label

    exps = [e for e in experiments if e in set(table["experiment"])]
    colors = loss_colors(loss_labels)
    chosen = {
        (sel["experiment"], lo): s["segment"]
        for sel in selections
        for lo, s in sel["losses"].items()
    }
    n = max(len(exps), 1)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
    for ax, exp in zip(axes[0], exps, strict=False):
        rows = table[table["experiment"] == exp]
        keys = set()
        numeric = True
        for loss in [lo for lo in loss_labels if lo in set(rows["loss"])]:
            r = rows[rows["loss"] == loss].copy()
            vals = [json.loads(v) for v in r["values"]]
            keys.update(k for v in vals for k in v)
            xs = [_swept_value(v) for v in vals]
            numeric = numeric and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs
            )
            r["x"] = xs if numeric else [str(x) for x in xs]
            if numeric:
                r = r.sort_values("x")
            x, m, s = r["x"].to_list(), r["mean"].to_numpy(), r["std"].fillna(0).to_numpy()
            c = colors.get(loss, "k")
            ax.plot(x, m, "o-", color=c, label=loss_labels.get(loss, loss), ms=4)
            ax.fill_between(x, m - s, m + s, color=c, alpha=0.2, lw=0)
            seg = chosen.get((exp, loss))
            if seg is not None and seg in set(r["segment"]):
                pick = r[r["segment"] == seg].iloc[0]
                ax.plot([pick["x"]], [pick["mean"]], "o", ms=11, mfc="none", mec=c, mew=1.5)
        fixed = {
            json.dumps(next(iter(v.values()), None))
            for v in experiments[exp].get("fixed_values", {}).values()
            if v
        }
        if numeric and len(fixed) == 1:  # the config's own value, the same for every loss
            value = json.loads(fixed.pop())
            if isinstance(value, (int, float)):
                ax.axvline(value, color="0.5", ls="--", lw=1, label="fixed setting")
        xs_all = [_swept_value(json.loads(v)) for v in rows["values"]]
        if numeric and xs_all and min(xs_all) > 0 and max(xs_all) / min(xs_all) > 10:
            ax.set_xscale("log")
        if numeric and xs_all:  # a tick at every grid value, labelled as in its path
            from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

            ticks = sorted(set(xs_all))
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_major_formatter(FixedFormatter([format_value(t) for t in ticks]))
            ax.xaxis.set_minor_locator(NullLocator())
        key = " / ".join(sorted(keys))
        ax.set_xlabel(key)
        split = rows["scored_on"].iloc[0]
        ax.set_ylabel(f"{metric_label(rows['metric'].iloc[0])} ({split})")
        n_seeds = sorted(set(rows["n_seeds"]))
        ax.set_title(
            f"{experiments[exp]['label']}\nmean ± std over {'/'.join(map(str, n_seeds))} seeds",
            fontsize=9,
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[0][len(exps) :]:
        ax.set_visible(False)
    fig.tight_layout()
    save(fig, stem, dpi)
