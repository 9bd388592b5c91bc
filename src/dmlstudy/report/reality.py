"""The reality check (``sweeps.search: tpe``) as a table:
``results/tables/reality_check.{csv,tex,html}``.

Per experiment and loss: the search space, the best trial's point, its validation score
(mean over folds x tuning seeds) ± its spread over folds, and the test metrics of its
reproductions (``seeds``, trained on the whole training split, scored once on test), each
as the mean with its 95% t-interval over the reproductions (:func:`stats.mean_ci`). Then,
per experiment and metric, the paired test of "triplet beats contrastive" over the shared
seeds (``stats.compare_paired``), corrected with every other test of this table as a family
of its own (:data:`REALITY_FAMILY`, ``statistics.correction``) by
``comparisons.correct``, with its three-way verdict.

Beside the losses, one row per experiment scores the models' *input*, untrained (the data,
or the frozen backbone's features; ``evaluate.input_metrics``) on the same test split: what
training has to beat. It is one deterministic value, with no interval and no test.

The CSV holds three kinds of row (column ``kind``: ``loss``, ``input`` or ``comparison``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from .. import catalog
from .claims import C, T
from .comparisons import correct
from .doc import Doc, Group, Panel, fits
from .latex import fmt_p, interval, minus, pm, signed, std_decimals
from .stats import NO_TEST, compare_paired, mean_ci

#: The test metrics of the reality check (Musgrave et al. 2020) and k-NN accuracy (Table 3).
TEST_METRICS = ("precision@1", "r_precision", "map@r", "knn_accuracy")
#: The family of this table's tests: its own, corrected with ``statistics.correction``.
REALITY_FAMILY = "reality_check"
INT_COLUMNS = (
    "best_trial",
    "folds",
    "n_tuning_seeds",
    "n_trials",
    "n_failed",
    "n_reproductions",
    "n",
    "family_size",
    "b_first",
    "a_first",
    "ties",
)


def _seed_values(runs: pd.DataFrame, exp: str, loss: str, metric: str) -> dict[int, float]:
    r = runs[(runs["experiment"] == exp) & (runs["loss"] == loss)]
    if metric not in r:
        return {}
    return {int(s): float(v) for s, v in zip(r["seed"], r[metric], strict=True) if not pd.isna(v)}


def loss_rows(best: Sequence[dict], runs: pd.DataFrame, experiments: Mapping, loss_labels):
    """One row per experiment and loss: its study and its reproductions on test."""
    rows = []
    for b in best:
        exp, loss = b["experiment"], b["loss"]
        row = {
            "kind": "loss",
            "experiment": exp,
            "label": experiments[exp]["label"],
            "loss": loss,
            "loss_label": loss_labels.get(loss, loss),
            "space": b["space"],
            "best_point": b["label"],
            "segment": b["segment"],
            "values": json.dumps(b["values"], sort_keys=True),
            "best_trial": b["number"],
            "selection_metric": b["metric"],
            "validation_kind": b["validation_kind"],
            "validation_mean": b["mean"],
            "validation_fold_std": b["fold_std"],
            "folds": b["folds"],
            "n_tuning_seeds": len(b["tuning_seeds"]),
            "n_trials": b["n_trials"],
            "n_failed": b["n_failed"],
        }
        for m in TEST_METRICS:
            vals = list(_seed_values(runs, exp, loss, m).values())
            mean, lo, hi, n = mean_ci(vals)
            std = pd.Series(vals, dtype=float).std(ddof=1) if n > 1 else math.nan
            row |= {f"{m}_mean": mean, f"{m}_ci_low": lo, f"{m}_ci_high": hi, f"{m}_std": std}
        # the reproductions run: not one metric's count (k-NN accuracy is NaN on every
        # seed of a class-disjoint split)
        row["n_reproductions"] = int(((runs["experiment"] == exp) & (runs["loss"] == loss)).sum())
        rows.append(row)
    return pd.DataFrame(rows)


#: The input row's names in the CSV and in the tables.
INPUT, INPUT_LABEL = "input", "Input, untrained"


def input_rows(inputs: Mapping[str, Mapping], experiments: Mapping) -> pd.DataFrame:
    """One row per experiment: the test metrics of its models' input, untrained
    (``evaluate.input_metrics``), one value each, so no interval."""
    rows = []
    for exp, metrics in inputs.items():
        row = {
            "kind": INPUT,
            "experiment": exp,
            "label": experiments[exp]["label"],
            "loss": INPUT,
            "loss_label": INPUT_LABEL,
        }
        for m in TEST_METRICS:
            row |= {
                f"{m}_mean": float(metrics.get(m, math.nan)),
                f"{m}_ci_low": math.nan,
                f"{m}_ci_high": math.nan,
                f"{m}_std": math.nan,
            }
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_rows(runs: pd.DataFrame, experiments: Mapping, statistics: Mapping):
    """Triplet against contrastive on every test metric, paired over the shared seeds,
    corrected as one family (``comparisons.correct``)."""
    rows = []
    for exp in [e for e in experiments if e in set(runs["experiment"])]:
        here = set(runs.loc[runs["experiment"] == exp, "loss"])
        if not {C, T} <= here:
            continue
        for m in TEST_METRICS:
            va, vb = (_seed_values(runs, exp, lo, m) for lo in (C, T))
            seeds = sorted(set(va) & set(vb))
            if not seeds:  # undefined for both (k-NN accuracy on unseen test classes)
                continue
            res = compare_paired([va[s] for s in seeds], [vb[s] for s in seeds])
            rows.append(
                {
                    "kind": "comparison",
                    "experiment": exp,
                    "label": experiments[exp]["label"],
                    "metric": m,
                    "metric_name": catalog.label(m),
                    "loss_a": C,
                    "loss_b": T,
                    "claim_id": f"triplet_higher_{m}",
                    "claim_direction": 1,
                    "family": REALITY_FAMILY,
                    **{("difference" if k == "diff" else k): v for k, v in res.as_dict().items()},
                }
            )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return correct(out, statistics, {REALITY_FAMILY: statistics["correction"]})


def reality_check(
    best: Sequence[dict],
    runs: pd.DataFrame,
    experiments: Mapping,
    loss_labels: Mapping[str, str],
    statistics: Mapping,
    inputs: Mapping[str, Mapping] | None = None,
) -> tuple[pd.DataFrame, list[Doc]]:
    """reality_check.csv (loss rows, input rows, then comparison rows) and one document
    per experiment. ``best``: every study's best.json; ``runs``: the reproductions
    (``load.load_metrics``); ``inputs``: per experiment, its input's metrics
    (``evaluate.input_metrics``), or None for no input rows."""
    losses = loss_rows(best, runs, experiments, loss_labels)
    baseline = input_rows(inputs or {}, experiments)
    tests = comparison_rows(runs, experiments, statistics)
    frame = pd.concat([f for f in (losses, baseline, tests) if not f.empty], ignore_index=True)
    for col in INT_COLUMNS:  # counts stay integers beside the other kind's empty cells
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    docs = [
        _doc(
            exp,
            losses[losses["experiment"] == exp],
            baseline[baseline["experiment"] == exp] if not baseline.empty else baseline,
            tests,
            experiments,
            loss_labels,
        )
        for exp in experiments
        if exp in set(losses["experiment"])
    ]
    return frame, docs


# --------------------------------------------------------------------------- document
def ci_cell(mean: float, low: float, high: float) -> str:
    """``0.812 [0.801, 0.823]``: the mean at the precision of its interval."""
    if pd.isna(mean):
        return "n/a"
    if pd.isna(low) or pd.isna(high) or high <= low:
        return minus(f"{mean:.4g}")
    d = min(max(std_decimals((high - low) / 2), 0), 6)
    return f"{minus(f'{mean:.{d}f}')} {interval(low, high)}"


def _metric_panels(rows: pd.DataFrame, inputs: pd.DataFrame, loss_labels, title: str):
    """The test metrics with CIs, the input's row below the losses': one panel if it fits
    the text width, else two."""

    def value_cell(value: float, m: str) -> str:
        half = ((rows[f"{m}_ci_high"] - rows[f"{m}_ci_low"]) / 2).dropna()
        half = half[half > 0]
        d = max((std_decimals(h) for h in half), default=3)
        return minus(f"{value:.{min(max(d, 3), 6)}f}")

    def panel(metrics, suffix=""):
        cols = ["Loss"] + [catalog.get(m).header for m in metrics]

        groups = [
            Group(
                "",
                [
                    [loss_labels.get(r["loss"], r["loss"])]
                    + [
                        ci_cell(r[f"{m}_mean"], r[f"{m}_ci_low"], r[f"{m}_ci_high"])
                        for m in metrics
                    ]
                    for _, r in rows.iterrows()
                ],
            )
        ]
        if not inputs.empty:  # one value each, at its column's finest loss precision
            groups.append(
                Group(
                    "",
                    [
                        [INPUT_LABEL]
                        + [
                            "n/a" if pd.isna(r[f"{m}_mean"]) else value_cell(r[f"{m}_mean"], m)
                            for m in metrics
                        ]
                        for _, r in inputs.iterrows()
                    ],
                )
            )
        return Panel(title + suffix, cols, groups)

    whole = panel(TEST_METRICS)
    if fits(whole):
        return [whole]
    half = len(TEST_METRICS) // 2
    return [panel(TEST_METRICS[:half]), panel(TEST_METRICS[half:], ", continued")]


def _doc(exp, rows, inputs, tests, experiments, loss_labels) -> Doc:
    label = experiments[exp]["label"]
    first = rows.iloc[0]
    metric = catalog.get(first["selection_metric"]).header
    folds, seeds = int(first["folds"]), int(first["n_tuning_seeds"])
    search = Panel(
        f"Search: best of {int(first['n_trials'])} trials, validation over {folds} folds",
        ["Loss", "Best point", f"{metric} ± sd", "Failed"],
        [
            Group(
                "",
                [
                    [
                        loss_labels.get(r["loss"], r["loss"]),
                        r["best_point"],
                        pm(r["validation_mean"], r["validation_fold_std"], folds),
                        str(int(r["n_failed"])),
                    ]
                    for _, r in rows.iterrows()
                ],
            )
        ],
        align="lrr",
    )
    n = int(rows["n_reproductions"].max())
    panels = [search] + _metric_panels(
        rows, inputs, loss_labels, f"Test: mean [95% CI] over {n} reproductions"
    )
    notes = [
        "Spaces searched: "
        + "; ".join(
            f"{loss_labels.get(r['loss'], r['loss'])}: {r['space']}" for _, r in rows.iterrows()
        )
        + ".",
        f"Validation: mean {metric} over {folds} "
        + ("class-disjoint" if first["validation_kind"] == "class_disjoint" else "stratified")
        + f" folds x {seeds} tuning seed{'s' if seeds != 1 else ''} of the training split; "
        "sd: standard deviation of the per-fold means. Failed: trials with a diverged run.",
    ]
    if not inputs.empty:
        notes.append(
            f"{INPUT_LABEL}: the same metrics of the models' input (the data, or the frozen "
            "backbone's features), untrained, on the same test split; one deterministic "
            "value, no interval. A loss below it made the input's neighbours worse."
        )
    if rows["knn_accuracy_mean"].isna().all():
        notes.append(
            "k-NN accuracy: n/a, the test classes are none of the training classes "
            "(a class-disjoint split), so a classifier fitted on training cannot name them."
        )
    mine = tests[tests["experiment"] == exp] if not tests.empty else tests
    if not mine.empty:
        method, alpha = mine["correction"].iloc[0], float(mine["alpha"].iloc[0])
        body = [
            [
                r["metric_name"],
                "--"
                if r["test"] == NO_TEST
                else f"{signed(r['difference'], r['ci_low'], r['ci_high'])} "
                f"{interval(r['ci_low'], r['ci_high'])}".replace(" n/a", ""),
                fmt_p(r["p_corrected"]),
                r["verdict"],
            ]
            for _, r in mine.iterrows()
        ]
        panels.append(
            Panel(
                "Triplet − contrastive on test",
                ["Metric", "T − C [95% CI]", "p", "T > C?"],
                [Group("", body)],
                align="rrl",
            )
        )
        notes.append(
            f"T − C: paired over the {int(mine['n'].max())} shared seeds (paired t; exact "
            f"sign-flip when every difference is equal); p {method}-corrected over the "
            f"{int(mine['family_size'].max())} tests of this table (a family of its own). "
            f"T > C?: supported (p < {alpha:g}, triplet higher), contradicted (p < {alpha:g}, "
            "contrastive higher), else inconclusive."
        )
    return Doc(
        f"Reality check on {label}: each loss tuned by the same seeded search, its best "
        "trial reproduced and scored once on test.",
        f"tab:reality_{exp}",
        panels,
        notes,
    )
