"""The search studies as a figure: ``results/figures/fig_search.{pdf,png}`` (the reality check).

One panel per experiment: each loss's best-so-far validation score against the trial
number, the way the metric learning reality check plotted its searches, with each trial's
own score as a dot (a failed trial has none; the axis spans the best-so-far values, so the
trials that scored below every loss's first trial lie under it) and the end of the random
start-up trials dashed. Set for print like every figure of ``report.figures``."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .. import catalog
from .figures import COLUMN_IN, PAGE_IN, _grid, _hide_unused, figure, loss_colors, save


def load_studies(paths: Sequence, best: Sequence[dict]) -> pd.DataFrame:
    """Every study's trials.csv (``search.write_history``), one row per trial, with
    ``experiment``, ``loss`` and the selection ``metric`` from its best.json (aligned)."""
    frames = []
    for path, b in zip(paths, best, strict=True):
        h = pd.read_csv(path)
        h["experiment"], h["loss"], h["metric"] = b["experiment"], b["loss"], b["metric"]
        h["folds"] = b["folds"]
        frames.append(h)
    return pd.concat(frames, ignore_index=True)


def fig_search(
    trials: pd.DataFrame,
    labels: Mapping[str, str],
    loss_labels: Mapping[str, str],
    stem,
    n_startup: int | None = None,
    dpi: int = 150,
) -> None:
    """Best-so-far validation score (a step line per loss) and each trial's score (dots)
    against the trial number (1-based), one panel per experiment; ``n_startup``: the
    random start-up trials, ended by a dashed line."""
    colors = loss_colors(loss_labels)
    exps = [e for e in labels if e in set(trials["experiment"])]
    nrows, ncols = _grid(max(len(exps), 1))
    fig, axes = figure(nrows, ncols, PAGE_IN if ncols > 1 else COLUMN_IN, 2.0)
    for ax, exp in zip(axes.flat, exps, strict=False):
        sub = trials[trials["experiment"] == exp]
        for loss in [lo for lo in loss_labels if lo in set(sub["loss"])]:
            t = sub[sub["loss"] == loss].sort_values("trial")
            x = t["trial"].to_numpy() + 1
            c = colors[loss]
            ax.step(x, t["best_so_far"].to_numpy(float), where="post", color=c)
            ok = ~t["failed"].astype(bool).to_numpy()
            ax.plot(x[ok], t["mean"].to_numpy(float)[ok], ".", color=c, ms=3, alpha=0.45)
        if n_startup:
            ax.axvline(n_startup + 0.5, color="0.5", ls="--", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("trial")
        folds = int(sub["folds"].iloc[0])
        ax.set_ylabel(f"{catalog.label(sub['metric'].iloc[0])} (validation, {folds} folds)")
        ax.set_title(textwrap.fill(labels[exp], 26 if ncols > 1 else 60))
        ax.grid(alpha=0.3, lw=0.4)
        best = sub["best_so_far"].to_numpy(float)
        if np.isfinite(best).any():  # every best-so-far value shows; worse trials fall below
            lo, hi = np.nanmin(best), np.nanmax(best)
            pad = 0.08 * (hi - lo) if hi > lo else 0.01
            ax.set_ylim(lo - pad, hi + pad)
    _hide_unused(axes, len(exps))
    present = [lo for lo in loss_labels if lo in set(trials["loss"])]
    handles = [Line2D([], [], color=colors[lo], drawstyle="steps-post") for lo in present]
    names = [f"{loss_labels[lo]} (best so far)" for lo in present]
    handles.append(Line2D([], [], marker=".", color="0.4", ls="", ms=4))
    names.append("a trial (mean over folds)")
    if n_startup:
        handles.append(Line2D([], [], color="0.5", ls="--", lw=0.8))
        names.append("random start-up ends")
    ncol = 3 if ncols > 1 else 2
    fig.legend(handles, names, loc="outside upper center", ncol=ncol, frameon=False)
    save(fig, stem, dpi)
