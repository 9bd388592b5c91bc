"""Figures 1, 2 and 3 of the paper: per-class intra-class variance, PCA of the input data
and of each loss's embeddings, and the greediness metrics per epoch; the singular-value
spectra and the sweeps' sensitivity. The losses are those the runs used, labelled and
coloured by their order in ``loss_labels``.

Every figure is set for print: 3.5 in (a column) or 7 in (a page) wide, its text at 7-8 pt
at that size (``STYLE``), with no figure number baked in (the caption is the paper's), its
legend outside the data, and every band or error bar named in the legend."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt  # headless: matplotlib falls back to Agg without a display
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, NullFormatter

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


#: Widths a figure may have, in inches: a column and a page.
COLUMN_IN, PAGE_IN = 3.5, 7.0
#: Text sizes at print size (pt): nothing below 7.
STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "figure.titlesize": 8,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "pdf.fonttype": 42,
}


def styled(fn):
    """Run a figure function in the print style (every text it creates gets its size)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def figure(nrows: int, ncols: int, width: float, row_height: float, **kw):
    """A figure of ``width`` inches (``COLUMN_IN`` or ``PAGE_IN``) with the print style and
    constrained layout (legends outside the axes keep the size)."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(width, row_height * nrows + 0.35),
            squeeze=False,
            layout="constrained",
            **kw,
        )
    return fig, axes


def loss_colors(loss_labels: Mapping[str, str]) -> dict[str, str]:
    """A colour per loss, by its position in ``loss_labels``."""
    return {lo: PALETTE[i % len(PALETTE)] for i, lo in enumerate(loss_labels)}


def _losses(names, loss_labels: Mapping[str, str]) -> list[str]:
    present = set(names)
    return [lo for lo in loss_labels if lo in present]


def save(fig, stem: str | Path, dpi: int = 150) -> None:
    """Save ``stem.pdf`` and ``stem.png`` at the figure's own size (no tight crop, which
    would change the printed width)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        fig.savefig(stem.with_suffix(".pdf"))
        fig.savefig(stem.with_suffix(".png"), dpi=dpi)
    plt.close(fig)


def wrap(text, ncols: int) -> str:
    """A panel title broken into lines that fit one of ``ncols`` panels of a page."""
    import textwrap

    return "\n".join(textwrap.wrap(str(text), max(14, int(90 / max(ncols, 1))))) or str(text)


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols)
    return (n + cols - 1) // cols, cols


def _hide_unused(axes, used: int) -> None:
    for ax in axes.flat[used:]:
        ax.set_visible(False)


def _seed_counts(frame: pd.DataFrame, loss_col: str, loss_labels) -> dict[str, str]:
    """Loss → its seeds per experiment, as text (``5``, or ``3/5`` when they differ)."""
    counts = frame.groupby(["experiment", loss_col])["seed"].nunique()
    out = {}
    for loss in _losses(frame[loss_col], loss_labels):
        ns = sorted(set(counts.xs(loss, level=loss_col)))
        out[loss] = "/".join(map(str, ns))
    return out


@styled
def fig1_intra_class_variance(
    metrics: pd.DataFrame, loss_labels: Mapping[str, str], stem, dpi: int = 150
) -> None:
    """Per-class intra-class variance of each loss, one panel per experiment: bars of the
    mean over seeds with std error bars (points on a sorted axis above 20 classes)."""
    colors = loss_colors(loss_labels)
    exps = list(dict.fromkeys(metrics["experiment"]))
    nrows, ncols = _grid(len(exps))
    fig, axes = figure(nrows, ncols, PAGE_IN, 2.0)
    for ax, exp in zip(axes.flat, exps, strict=False):
        sub = metrics[metrics["experiment"] == exp]
        losses = _losses(sub["loss"], loss_labels)
        width = 0.8 / max(len(losses), 1)
        for i, loss in enumerate(losses):
            per = pd.DataFrame(list(sub[sub["loss"] == loss]["per_class_intra_variance"]))
            per = per[sorted(per.columns, key=int)]
            mean = per.mean(axis=0)
            err = per.std(axis=0, ddof=1) if len(per) > 1 else None
            if len(per.columns) <= 20:
                xs = np.arange(len(per.columns)) + (i - (len(losses) - 1) / 2) * width
                ax.bar(
                    xs,
                    mean,
                    width,
                    yerr=err,
                    capsize=1.5,
                    color=colors[loss],
                    error_kw={"elinewidth": 0.6},
                )
                ax.set_xticks(np.arange(len(per.columns)))
                ax.set_xticklabels(per.columns)
                ax.set_xlabel("class")
            else:
                order = np.argsort(mean.to_numpy())
                ax.plot(
                    np.arange(len(order)), mean.to_numpy()[order], ".", ms=2, color=colors[loss]
                )
                ax.set_xlabel("class (sorted by variance)")
        ax.set_title(wrap(sub["label"].iloc[0] if "label" in sub else exp, ncols))
        ax.set_ylabel("intra-class variance")
    _hide_unused(axes, len(exps))
    n = _seed_counts(metrics, "loss", loss_labels)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[lo]) for lo in n]
    names = [f"{loss_labels[lo]}" for lo in n]
    handles.append(Line2D([], [], color="k", lw=0.6, marker="_", ms=6))
    names.append(f"error bar: std over seeds (n = {'/'.join(dict.fromkeys(n.values()))})")
    fig.legend(handles, names, loc="outside upper center", ncol=len(handles), frameon=False)
    save(fig, stem, dpi)


FIG3_PANELS = [
    ("loss", "mean loss (log)"),
    ("active_ratio", "active ratio"),
    ("grad_norm", "gradient norm"),
    ("intra_class_distance", "intra-class distance"),
]


def _band_legend(handles, names, n_text: str, what: str = "min–max") -> None:
    handles.append(plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.25, lw=0))
    names.append(f"band: {what} over seeds (n = {n_text})")


@styled
def fig_spectrum(
    metrics: pd.DataFrame, labels: Mapping[str, str], loss_labels: Mapping[str, str], stem, dpi=150
) -> None:
    """Each loss's normalised singular-value spectrum of the evaluation embeddings (the
    ``singular_value_spectrum`` of metrics.json; ``dmlstudy.geometry``), mean over seeds
    with a min-max band, log scale: a spectrum that falls off fast is a low-dimensional
    (collapsed) embedding. One panel per experiment."""
    colors = loss_colors(loss_labels)
    exps = list(dict.fromkeys(metrics["experiment"]))
    nrows, ncols = _grid(len(exps))
    fig, axes = figure(nrows, ncols, PAGE_IN, 1.9)
    for ax, exp in zip(axes.flat, exps, strict=False):
        sub = metrics[metrics["experiment"] == exp]
        for loss in _losses(sub["loss"], loss_labels):
            spectra = [
                np.asarray(v, float) for v in sub[sub["loss"] == loss]["singular_value_spectrum"]
            ]
            k = min(len(v) for v in spectra)
            arr = np.stack([v[:k] for v in spectra])
            idx = np.arange(1, k + 1)
            ax.plot(idx, arr.mean(0), color=colors[loss])
            ax.fill_between(idx, arr.min(0), arr.max(0), color=colors[loss], alpha=0.25, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel("singular value index")
        ax.set_title(wrap(labels.get(exp, exp), ncols))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    for ax in axes[:, 0]:
        ax.set_ylabel("normalised singular value")
    _hide_unused(axes, len(exps))
    n = _seed_counts(metrics, "loss", loss_labels)
    handles = [Line2D([], [], color=colors[lo]) for lo in n]
    names = [f"{loss_labels[lo]} (mean)" for lo in n]
    _band_legend(handles, names, "/".join(dict.fromkeys(n.values())))
    fig.legend(handles, names, loc="outside upper center", ncol=len(handles), frameon=False)
    save(fig, stem, dpi)


@styled
def fig3_greediness(
    histories: pd.DataFrame,
    labels: Mapping[str, str],
    loss_labels: Mapping[str, str],
    stem,
    dpi: int = 150,
) -> None:
    """Loss, active ratio, gradient norm and intra-class distance per epoch, each loss,
    mean line and min–max band over seeds; one row per experiment. Epoch 0 is measured
    before any update. The loss is on a log axis, with 10% of each loss's initial value
    (the loss-decay threshold of §2.2) dotted; the active ratio of negative pairs (pair
    losses) is dashed; the intra-class distance's half (Fig. 3's collapse) is dotted."""
    colors = loss_colors(loss_labels)
    exps = list(dict.fromkeys(histories["experiment"]))
    fig = plt.figure(figsize=(PAGE_IN, 1.6 * len(exps) + 0.45), layout="constrained")
    rows = fig.subfigures(len(exps), 1, squeeze=False)[:, 0]
    for r, (exp, sub_fig) in enumerate(zip(exps, rows, strict=True)):
        sub = histories[histories["experiment"] == exp]
        axes = sub_fig.subplots(1, len(FIG3_PANELS))
        sub_fig.suptitle(str(labels.get(exp, exp)), x=0.0, ha="left", fontweight="bold")
        for c, (col, name) in enumerate(FIG3_PANELS):
            ax = axes[c]
            for loss in _losses(sub["loss_name"], loss_labels):
                runs = sub[sub["loss_name"] == loss]
                series = [(col, "-")]
                if col == "active_ratio" and "active_ratio_negative" in runs:
                    if runs["active_ratio_negative"].notna().any():
                        series.append(("active_ratio_negative", "--"))
                for key, style in series:
                    g = runs.groupby("epoch")[key]
                    mean = g.mean()
                    ax.plot(mean.index, mean.values, style, color=colors[loss])
                    if runs["seed"].nunique() > 1:
                        ax.fill_between(
                            mean.index,
                            g.min().values,
                            g.max().values,
                            color=colors[loss],
                            alpha=0.25,
                            lw=0,
                        )
                if col in ("loss", "intra_class_distance") and 0 in runs["epoch"].values:
                    start = runs[runs["epoch"] == 0][col].mean()
                    frac = 0.1 if col == "loss" else 0.5
                    ax.axhline(frac * start, color=colors[loss], ls=":", lw=0.8)
            if col == "loss":
                ax.set_yscale("log")
                ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(0, int(sub["epoch"].max()) if len(sub) else 1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
            ax.grid(alpha=0.3, lw=0.4)
            ax.set_title(name)
            if r == len(exps) - 1:
                ax.set_xlabel("epoch")
    n = _seed_counts(histories, "loss_name", loss_labels)
    handles = [Line2D([], [], color=colors[lo]) for lo in n]
    names = [f"{loss_labels[lo]} (mean)" for lo in n]
    handles += [Line2D([], [], color="grey", ls="--"), Line2D([], [], color="grey", ls=":")]
    names += ["active ratio of negative pairs", "10% of initial loss; half the initial distance"]
    _band_legend(handles, names, "/".join(dict.fromkeys(n.values())))
    fig.legend(handles, names, loc="outside upper center", ncol=3, frameon=False)
    save(fig, stem, dpi)


# --------------------------------------------------------------------------- sweeps
def _swept_value(values: Mapping):
    """The value on the x axis: the point's one swept value (its first with several)."""
    return next(iter(values.values()))


@styled
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
    from .. import catalog
    from ..params import format_value

    exps = [e for e in experiments if e in set(table["experiment"])]
    colors = loss_colors(loss_labels)
    chosen = {
        (sel["experiment"], lo): s["segment"]
        for sel in selections
        for lo, s in sel["losses"].items()
    }
    nrows, ncols = _grid(max(len(exps), 1))
    fig, axes = figure(nrows, ncols, PAGE_IN if ncols > 1 else COLUMN_IN, 2.0)
    for ax, exp in zip(axes.flat, exps, strict=False):
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
            ax.plot(x, m, "o-", color=c, ms=3)
            ax.fill_between(x, m - s, m + s, color=c, alpha=0.25, lw=0)
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
                ax.axvline(value, color="0.5", ls="--", lw=0.8)
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
        ax.set_ylabel(f"{catalog.label(rows['metric'].iloc[0])} ({split})")
        ax.set_title(wrap(experiments[exp]["label"], ncols))
        ax.grid(alpha=0.3, lw=0.4)
    _hide_unused(axes, len(exps))
    present = [lo for lo in loss_labels if lo in set(table["loss"])]
    n_seeds = "/".join(map(str, sorted(set(table["n_seeds"])))) if len(table) else "0"
    handles = [Line2D([], [], color=colors[lo], marker="o", ms=3) for lo in present]
    names = [f"{loss_labels[lo]} (mean)" for lo in present]
    handles += [
        Line2D([], [], marker="o", ms=7, mfc="none", mec="k", ls=""),
        Line2D([], [], color="0.5", ls="--", lw=0.8),
    ]
    names += ["selected point", "fixed setting"]
    _band_legend(handles, names, n_seeds, "± one std")
    fig.legend(handles, names, loc="outside upper center", ncol=3, frameon=False)
    save(fig, stem, dpi)
