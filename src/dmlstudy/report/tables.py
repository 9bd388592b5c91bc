"""Tables 1-5 from the runs' metrics: each a CSV frame and a :class:`~report.doc.Doc`
(written as booktabs LaTeX and as HTML for the report).

Every table has the same shape: one row group per experiment, one row per loss (mean ± std
over seeds, one precision per column), then one ``p`` row per pair of losses compared. The
columns are the metrics the catalogue (``dmlstudy.catalog``) assigns to the table's panels,
so a new metric is a catalogue entry, not an edit here. No p-value is computed here: each
``p`` cell is the corrected p of that comparison in ``comparisons`` (the one test per
comparison, ``report.comparisons``), marked with its verdict when it is a claim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from .. import catalog
from . import health, undefined
from .comparisons import PER_CLASS, lookup, pairs_of
from .doc import Doc, Group, Panel, fits
from .latex import column_format, fmt_p, isnan, power_of_ten
from .load import experiment_order, losses_present
from .stats import mean_std

MARKS = {"supported": "ˢ", "contradicted": "ᶜ"}
EXPLORATORY_MARK = "*"


@dataclass
class Context:
    """What every table needs beside the runs."""

    loss_labels: Mapping[str, str]
    comparisons: pd.DataFrame | None = None


def runs_of(df: pd.DataFrame, exp: str, loss: str | None = None) -> pd.DataFrame:
    """The runs of ``exp`` with ``loss`` (every loss: None)."""
    if loss is None:
        return df[df["experiment"] == exp]
    return df[(df["experiment"] == exp) & (df["loss"] == loss)]


def group_name(df: pd.DataFrame, exp: str) -> str:
    """An experiment's heading: its label, then ``[preset]`` unless the preset is paper."""
    row = df[df["experiment"] == exp].iloc[0]
    label = row.get("label", exp)
    preset = row.get("preset", "")
    return f"{label} [{preset}]" if preset and preset != "paper" else str(label)


def p_cell(row) -> str:
    """A comparison's corrected p with its mark: ˢ / ᶜ a claim supported / contradicted,
    * significant in the exploratory family; n/a when untested."""
    if row is None or isnan(row["p_corrected"]):
        return "n/a"
    text = fmt_p(float(row["p_corrected"]))
    if row["verdict"] in MARKS:
        return text + MARKS[row["verdict"]]
    return text + (EXPLORATORY_MARK if bool(row["significant"]) and not row["claim_id"] else "")


def p_note(ctx: Context) -> str:
    c = ctx.comparisons
    if c is None or c.empty:
        return "No test: fewer than two seeds of two losses."
    sizes = {f: int(g["family_size"].max()) for f, g in c.groupby("family")}
    methods = {f: g["correction"].iloc[0] for f, g in c.groupby("family")}
    fam = "; ".join(f"{f}: {methods[f]} over {sizes[f]}" for f in sizes)
    return (
        "p: paired test over the seeds both losses ran (t; sign test for epochs), corrected "
        f"within its family ({fam}), as in claims.csv and comparisons.csv"
        + ("" if len(ctx.loss_labels) <= 2 else "; p, X: loss X against the first")
        + ". ˢ/ᶜ a claim supported/contradicted; * significant (exploratory)."
    )


def event_cell(runs: pd.DataFrame, key: str) -> tuple[str, float, float, int]:
    """An event epoch over seeds: ``mean ± std`` when every seed reached it, else a lower
    bound ``> m`` (censored seeds counted at their last epoch); and (mean, std, reached)."""
    vals = [None if pd.isna(v) else float(v) for v in runs[key]] if key in runs else []
    if not vals:
        return "n/a", math.nan, math.nan, 0
    epochs = [float(e) for e in runs["epochs"]]
    reached = [v for v in vals if v is not None]
    if len(reached) == len(vals):
        m, s, n = mean_std(reached)
        return "", m, s, n
    bound = sum(v if v is not None else e for v, e in zip(vals, epochs, strict=True)) / len(vals)
    text = f"> {int(max(epochs))}" if not reached else f"> {bound:.1f}"
    return text, math.nan, math.nan, len(reached)


#: The column a table keeps even when no run has its value (no test split: n/a, and a
#: note says why), so it never comes out empty.
ALWAYS = {"table3_classification": "knn_accuracy", "table4_retrieval": "map@r"}


def _columns(df: pd.DataFrame, table: str, panel: str | None) -> list[catalog.Metric]:
    """The table's (panel's) catalogued metrics that the runs have: a column undefined for
    every run (MAP@R without a query that has a positive) stays, as n/a with a note."""
    cols = catalog.metrics_of(table, panel)
    if table == "table4_retrieval" and panel in (None, "Recall"):
        keys = sorted(
            (c for c in df.columns if c.startswith("recall@")),
            key=lambda c: int(c.split("@")[1]),
        )
        cols = [catalog.get(k) for k in keys] + cols
    keep = ALWAYS.get(table)
    return [m for m in cols if m.key in df or m.key == keep]


def _split(panel: Panel) -> list[Panel]:
    """A panel as several that each fit the text width (columns in order)."""
    if fits(panel) or len(panel.columns) <= 2:
        return [panel]
    half = (len(panel.columns) + 1) // 2
    parts = []
    for lo, hi in ((1, half), (half, len(panel.columns))):
        cols = [panel.columns[0]] + panel.columns[lo:hi]
        groups = [Group(g.title, [[r[0]] + r[lo:hi] for r in g.rows]) for g in panel.groups]
        parts += _split(Panel(panel.title, cols, groups, panel.label_width))
    return parts


def metric_table(
    df: pd.DataFrame, ctx: Context, table: str, caption: str, label: str, notes: list[str]
) -> tuple[pd.DataFrame, Doc]:
    """The table ``table`` of the catalogue: its panels and their metrics, one row group
    per experiment, one row per loss plus one p row per compared pair."""
    spec = catalog.TABLES[table]
    exps, losses = experiment_order(df), losses_present(df, ctx.loss_labels)
    name = {lo: ctx.loss_labels.get(lo, lo) for lo in losses}
    records = {
        (e, lo): {
            "experiment": e,
            "label": df.loc[df["experiment"] == e, "label"].iloc[0] if "label" in df else e,
            "preset": df.loc[df["experiment"] == e, "preset"].iloc[0] if "preset" in df else "",
            "loss": lo,
            "n_seeds": len(runs_of(df, e, lo)),
        }
        for e in exps
        for lo in losses
        if len(runs_of(df, e, lo))
    }
    flags = health.flagged(df)
    for (e, lo), rec in records.items():
        rec["health"] = health.cell(flags, e, lo)
    panels, censored, scaled, headers_of = [], False, False, {}
    for title in spec.panels or ("",):
        cols = _columns(df, table, title or None)
        if not cols:
            continue
        cells, fmts, headers = {}, {}, []
        for m in cols:
            stats = {}
            for (e, lo), rec in records.items():
                runs = runs_of(df, e, lo)
                if m.event:
                    text, mean, std, k = event_cell(runs, m.key)
                    rec[f"{m.key}_reached"] = k
                    censored |= text.startswith(">")
                else:
                    values = runs[m.key] if m.key in runs else pd.Series(dtype=float)
                    text, (mean, std, k) = "", mean_std(values)
                rec[f"{m.key}_mean"], rec[f"{m.key}_std"] = mean, std
                stats[(e, lo)] = (text, mean, std, k)
            fmt, exponent = column_format(
                [v[1] for v in stats.values()], [v[2] for v in stats.values()]
            )
            fmts[m.key] = fmt
            headers.append(m.header + (f" [{power_of_ten(exponent)}]" if exponent else ""))
            headers_of[m.key] = headers[-1]
            scaled |= bool(exponent)
            for key, (text, mean, std, k) in stats.items():
                cells[(key, m.key)] = text or fmt(mean, std if k > 1 else math.nan)
        groups = []
        for e in exps:
            here = [lo for lo in losses if (e, lo) in records]
            rows = [
                [health.label(flags, e, lo, name[lo])] + [cells[((e, lo), m.key)] for m in cols]
                for lo in here
            ]
            for a, b in pairs_of(here) if len(here) > 1 else []:
                cmp = [lookup(ctx.comparisons, e, m.key, a, b) for m in cols]
                label = (
                    "p"
                    if len(here) == 2
                    else f"p, {name[b]}"
                    if a == here[0]
                    else f"p, {name[b]}/{name[a]}"
                )
                rows.append([label] + [p_cell(c) for c in cmp])
                for m, c in zip(cols, cmp, strict=True):
                    if c is not None:
                        rec = records[(e, b)]
                        rec[f"{m.key}_p_vs_{a}"] = c["p"]
                        rec[f"{m.key}_p_corrected_vs_{a}"] = c["p_corrected"]
            groups.append(Group(group_name(df, e), rows))
        panels += _split(Panel(title, ["Loss"] + headers, groups))
    extra = [
        "Mean ± std over seeds."
        + (" [10ᵏ]: in units of 10ᵏ." if scaled else "")
        + (
            " > m: a seed never reached it within its epochs (counted at its last epoch: a "
            "lower bound)."
            if censored
            else ""
        ),
        p_note(ctx),
    ]
    recs = list(records.values())
    has_test = [undefined.scored(runs_of(df, r["experiment"], r["loss"])) for r in recs]
    no_test = [group_name(df, e) for e in exps if not undefined.scored(runs_of(df, e))]
    extra += undefined.notes(recs, headers_of, has_test)
    if table in ALWAYS:
        extra += undefined.no_test_split(no_test)
    extra += health.note(flags, ctx.loss_labels, {e: group_name(df, e) for e in exps})
    doc = Doc(caption, label, panels, notes + extra)
    return pd.DataFrame(list(records.values())), doc


# --------------------------------------------------------------------------- the tables
def table1(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, Doc]:
    """Table 1: intra- and inter-class statistics (Eq. 3) per experiment and loss; the CSV
    also holds the authors' code's plain-distance reading and the paper's own test (paired t
    across classes)."""
    out, doc = metric_table(
        df,
        ctx,
        "table1_variance",
        "Statistics of intra- and inter-class variance (Eq. 3).",
        "tab:variance",
        [
            "Intra μ, σ²: mean and variance across classes of the per-class intra-class "
            "variance; Inter μ, σ²: of the squared centroid distances between classes; on the "
            "evaluation split's embeddings, outliers excluded."
        ],
    )
    for key in ("inter_dist_mean", "inter_dist_std"):
        if key in df:
            out[f"{key}_mean"] = [mean_std(runs_of(df, e, lo)[key])[0] for e, lo in _keys(out)]
    tests = []
    for e, lo in _keys(out):
        c = ctx.comparisons
        hit = (
            None
            if c is None
            else c[(c["experiment"] == e) & (c["metric"] == PER_CLASS) & (c["loss_b"] == lo)]
        )
        tests.append(None if hit is None or hit.empty else hit.iloc[0])
    out["class_ttest_p"] = [math.nan if t is None else t["p"] for t in tests]
    out["class_ttest_p_corrected"] = [math.nan if t is None else t["p_corrected"] for t in tests]
    out["class_ttest_n_classes"] = [math.nan if t is None else t["n"] for t in tests]
    done = [t for t in tests if t is not None]
    if done:
        doc.notes.insert(
            1,
            "The paper's own test (Table 1 footnote), paired t across classes of the "
            "seed-averaged per-class variance: "
            + "; ".join(
                f"{t['label']}: p = {fmt_p(t['p_corrected'])} ({int(t['n'])} classes)" for t in done
            )
            + " (corrected with the exploratory family).",
        )
    return out, doc


def _keys(out: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(out["experiment"], out["loss"], strict=True)) if len(out) else []


def table2(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, Doc]:
    """Table 2: greediness (means over training epochs 1..E) and the two event epochs."""
    return metric_table(
        df,
        ctx,
        "table2_greediness",
        "Greediness: active ratio, gradient norm and when the loss and the intra-class "
        "distance fall.",
        "tab:greediness",
        [
            "Active ratio: share of pairs/triplets with non-zero loss, mean over epochs 1..E. A "
            "positive pair of Eq. 1 is always active, so contrastive's ratio of all pairs is at "
            "least its share of positives (0.5) by construction; its negative pairs are what "
            "it measures. Grad. norm: of all parameters, mean over batches. Loss decay: first "
            "epoch with L(e) ≤ 0.1 L(0); Intra halved: first epoch with the intra-class "
            "distance ≤ half its start (Fig. 3)."
        ],
    )


def table3(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, Doc]:
    """Table 3: k-NN accuracy (train → test embeddings) and, when computed, a linear probe."""
    ks = sorted({int(k) for k in df["knn_k"].dropna()}) if "knn_k" in df else []
    k = "/".join(map(str, ks)) or "k"
    return metric_table(
        df,
        ctx,
        "table3_classification",
        "Classification accuracy on the test split.",
        "tab:classification",
        [
            f"k-NN acc.: majority vote of the k = {k} nearest train embeddings (the paper's "
            "'classification accuracy', k = 5); linear probe: logistic regression on the train "
            "embeddings. Outliers excluded."
        ],
    )


def table4(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, Doc]:
    """Table 4: retrieval recall@k (k from the config) and the ranking metrics."""
    return metric_table(
        df,
        ctx,
        "table4_retrieval",
        "Retrieval on the test split.",
        "tab:retrieval",
        [
            "The test split is both queries and gallery, each query excluded from its own "
            "ranking (dot product of L2-normalised embeddings). R@k: a hit when any of the top "
            "k shares the query's label; MAP@R as in Musgrave et al. (2020). Outliers are no "
            "queries."
        ],
    )


def table5(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, Doc]:
    """Table 5: the embedding geometry the paper argues about but never measures."""
    return metric_table(
        df,
        ctx,
        "table5_geometry",
        "Embedding geometry of the evaluation split (not in the paper).",
        "tab:geometry",
        [
            "Eff. rank: exp of the entropy of the covariance eigenvalues (Roy & Vetterli 2007); "
            "RankMe: the same on singular values (Garrido et al. 2023); Spec. decay: "
            "KL(uniform ‖ singular values), higher = more concentrated (Roth et al. 2020); "
            "Align., Unif.: Wang & Isola (2020), lower = better; NC1: tr(S_W S_B⁺)/C (Papyan "
            "et al. 2020); CDNV: Galanti et al. (2022). Outliers excluded."
        ],
    )
