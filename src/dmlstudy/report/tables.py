"""The paper's Tables 1-4 from the runs' metrics (CSV + booktabs LaTeX).

Seeds are aggregated as mean ± std (ddof 1 with at least two seeds). Every number comes
from a metrics.json; nothing is typed in. Tables iterate over the losses the runs used,
labelled by ``loss_labels`` (name → label, from the workflow's loss registry). The first
loss is the reference: a p-value compares each other loss with it across seeds (two-sided
Welch t-test, or the exceptions ``stats.compare`` documents); with two losses both rows
carry the same p.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import pandas as pd
from scipy import stats as sps

from . import health, latex, undefined
from .latex import Block, fmt, fmt_p, pm
from .load import experiment_order, losses_present
from .stats import compare, finite, mean_std
from .undefined import scored

#: Significance level of the marker in the tables (the p-values themselves are in the CSVs).
ALPHA = 0.05


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


def with_data(df: pd.DataFrame, exp: str, data: str) -> str:
    """An experiment's name in a note, with its data description, without saying a name
    twice: ``Synthetic (§3.1)`` for label Synthetic, ``MNIST (tiny), data: MNIST (...)``."""
    row = df[df["experiment"] == exp].iloc[0]
    label, preset = str(row.get("label", exp)), row.get("preset", "")
    data = str(data or "")
    name = f"{label} [{preset}]" if preset and preset != "paper" else label
    if not data or data == label:
        return name
    if data.startswith(label):
        return data + name[len(label) :]
    return f"{name}, data: {data}"


def seed_test(df: pd.DataFrame, exp: str, metric: str, a: str, b: str, censored_at=None):
    """``stats.compare`` of ``metric`` between losses ``a`` and ``b`` across seeds
    (unpaired)."""
    if metric not in df:
        return None
    va = (
        list(runs_of(df, exp, a)[metric])
        if censored_at is not None
        else finite(runs_of(df, exp, a)[metric])
    )
    vb = (
        list(runs_of(df, exp, b)[metric])
        if censored_at is not None
        else finite(runs_of(df, exp, b)[metric])
    )
    return compare(va, vb, censored_at=censored_at)


def seed_p(df, exp, metric, a, b, censored_at=None) -> float:
    res = seed_test(df, exp, metric, a, b, censored_at)
    return math.nan if res is None else res.p


def row_p(df, exp, metric, losses, loss, censored_at=None) -> float:
    """The p of ``loss``'s row: against the reference (the first loss); the reference row
    carries the p of the second loss when there are exactly two."""
    if len(losses) < 2:
        return math.nan
    ref = losses[0]
    if loss == ref:
        return (
            seed_p(df, exp, metric, ref, losses[1], censored_at) if len(losses) == 2 else math.nan
        )
    return seed_p(df, exp, metric, ref, loss, censored_at)


def class_ttest(df: pd.DataFrame, exp: str, a: str, b: str) -> dict:
    """Paired t-test across classes of the seed-averaged per-class intra-class variance,
    ``b`` against ``a`` (Table 1's footnote)."""
    per = {}
    for loss in (a, b):
        runs = runs_of(df, exp, loss)
        if runs.empty:
            return {"t": math.nan, "p": math.nan, "n_classes": 0}
        per[loss] = pd.DataFrame(list(runs["per_class_intra_variance"])).mean(axis=0)
    common = per[a].index.intersection(per[b].index)
    if len(common) < 2:
        return {"t": math.nan, "p": math.nan, "n_classes": int(len(common))}
    with warnings.catch_warnings():  # constant differences: scipy warns, the p is still usable
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.ttest_rel(per[b][common], per[a][common])
    return {"t": float(res.statistic), "p": float(res.pvalue), "n_classes": int(len(common))}


def n_seeds(df: pd.DataFrame, exp: str, loss: str) -> int:
    return len(runs_of(df, exp, loss))


def seed_range(out: pd.DataFrame) -> str:
    lo, hi = int(out["n_seeds"].min()), int(out["n_seeds"].max())
    return f"n = {lo}" if lo == hi else f"n = {lo}–{hi}"


def has_seed_tests(df: pd.DataFrame, losses: list[str]) -> bool:
    """Whether some experiment has at least two seeds of two losses (a test is possible)."""
    return len(losses) >= 2 and any(
        sum(n_seeds(df, e, lo) >= 2 for lo in losses) >= 2 for e in experiment_order(df)
    )


def p_cell(p: float) -> str:
    """A p-value cell: ``0.012*`` when below ALPHA, ``n/a`` when untestable."""
    text = fmt_p(p)
    return text if text == "n/a" else text + ("*" if p < ALPHA else "")


def p_rows(df, exp, metrics, losses, labels, censored=None) -> list[list[str]]:
    """One row per loss other than the reference: its p against the reference, per metric."""
    censored = censored or {}
    name = "p (seeds)" if len(losses) == 2 else "p ({} vs {})"
    return [
        [name.format(labels.get(lo, lo), labels.get(losses[0], losses[0]))]
        + [p_cell(seed_p(df, exp, k, losses[0], lo, censored.get(k))) for k in metrics]
        for lo in losses[1:]
    ]


def seed_test_note(tested: bool) -> str:
    if tested:
        return (
            "p (seeds): two-sided Welch t-test between the losses across seeds, not corrected "
            f"for multiple comparisons (the claims table is); * p < {ALPHA}; zero variance on "
            "both sides: exact permutation test; n/a: fewer than 2 seeds per loss."
        )
    return "No test between the losses across seeds: fewer than 2 seeds per loss."


def _identity(runs: pd.DataFrame, exp: str) -> dict:
    return {
        "experiment": exp,
        "label": runs["label"].iloc[0] if "label" in runs else exp,
        "preset": runs["preset"].iloc[0] if "preset" in runs else "",
    }


def health_notes(df: pd.DataFrame, flags: Mapping, loss_labels: Mapping[str, str]) -> list[str]:
    """The note on the runs whose health check failed (``report.health``), if any."""
    return health.note(flags, loss_labels, {e: group_name(df, e) for e in experiment_order(df)})


# --------------------------------------------------------------------------- Table 1
TABLE1_STATS = [
    ("intra_mean", "Intra μ"),
    ("intra_var", "Intra σ²"),
    ("inter_mean", "Inter μ"),
    ("inter_var", "Inter σ²"),
]


def table1(df: pd.DataFrame, loss_labels: Mapping[str, str]) -> tuple[pd.DataFrame, str]:
    """Table 1: intra- and inter-class statistics per experiment and loss, with the paired
    t-test across classes of each loss against the reference."""
    exps, losses = experiment_order(df), losses_present(df, loss_labels)
    records, blocks, notes = [], [], []
    keys = [k for k, _ in TABLE1_STATS]
    flags = health.flagged(df)
    for exp in exps:
        here = [lo for lo in losses if n_seeds(df, exp, lo)]
        tests = {lo: class_ttest(df, exp, here[0], lo) for lo in here[1:]}
        if len(here) == 2:
            tests[here[0]] = tests[here[1]]
        rows = []
        for loss in here:
            runs = runs_of(df, exp, loss)
            rec = {
                **_identity(runs, exp),
                "data": runs["data_description"].iloc[0],
                "loss": loss,
                "n_seeds": len(runs),
                "health": health.cell(flags, exp, loss),
            }
            for key in keys + ["inter_dist_mean", "inter_dist_std"]:
                rec[f"{key}_mean"], rec[f"{key}_std"], _ = mean_std(runs[key])
            t = tests.get(loss, {"t": math.nan, "p": math.nan, "n_classes": 0})
            rec["ttest_t"], rec["ttest_p"], rec["ttest_n_classes"] = t["t"], t["p"], t["n_classes"]
            for key in keys:
                rec[f"{key}_p_seeds"] = row_p(df, exp, key, here, loss)
            records.append(rec)
            rows.append(
                [health.label(flags, exp, loss, loss_labels.get(loss, loss))]
                + [pm(rec[f"{k}_mean"], rec[f"{k}_std"], len(runs)) for k in keys]
            )
        if has_seed_tests(df[df["experiment"] == exp], here):
            rows += p_rows(df, exp, keys, here, loss_labels)
        blocks.append(Block(group_name(df, exp), [c for _, c in TABLE1_STATS], rows))
        data = runs_of(df, exp, here[0])["data_description"].iloc[0]
        for lo in here[1:]:
            t = tests[lo]
            p = fmt_p(t["p"])
            notes.append(
                f"{with_data(df, exp, data)}. Paired t-test across {t['n_classes']} "
                f"classes of the seed-averaged per-class intra-class variance, "
                f"{loss_labels.get(lo, lo)} vs {loss_labels.get(here[0], here[0])}: "
                f"t = {fmt(t['t'])}, p {p if p.startswith('<') else '= ' + p}."
            )
    out = pd.DataFrame(records)
    notes.append(
        f"Mean ± std over seeds ({seed_range(out)}); statistics of the evaluation split's "
        "embeddings (Eq. 3), outliers excluded unless configured."
    )
    notes.append(seed_test_note(has_seed_tests(df, losses)))
    notes += undefined.notes(records, dict(TABLE1_STATS)) + health_notes(df, flags, loss_labels)
    tex = latex.table(
        blocks, "Statistics of intra- and inter-class variance (Eq. 3).", "tab:variance", notes
    )
    return out, tex


# --------------------------------------------------------------------------- Table 2
TABLE2_METRICS = [
    ("mean_active_ratio", "Active ratio"),
    ("mean_grad_norm", "Gradient norm"),
    ("loss_decay_epoch", "Loss-decay epoch"),
]


def decay_cell(runs: pd.DataFrame) -> tuple[str, float, float, int]:
    """The loss-decay epoch of a loss's seeds: text, mean and std over the seeds that
    reached it, and how many did."""
    vals = finite(runs["loss_decay_epoch"])
    n, epochs = len(runs), int(runs["epochs"].max())
    if not vals.size:
        return f"not reached in {epochs}", math.nan, math.nan, 0
    m, s, k = mean_std(vals)
    text = pm(m, s, k) if k > 1 else f"{m:.1f}"
    if k < n:
        text += f" ({k}/{n} reached)"
    return text, m, s, k


def table2(df: pd.DataFrame, loss_labels: Mapping[str, str]) -> tuple[pd.DataFrame, str]:
    """Table 2: greediness metrics (mean over training epochs) per experiment and loss."""
    exps, losses = experiment_order(df), losses_present(df, loss_labels)
    records, blocks = [], []
    tested = has_seed_tests(df, losses)
    flags = health.flagged(df)
    for exp in exps:
        here = [lo for lo in losses if n_seeds(df, exp, lo)]
        epochs = int(df[df["experiment"] == exp]["epochs"].max())
        censored = {"loss_decay_epoch": epochs}
        cells = {}
        for loss in here:
            runs = runs_of(df, exp, loss)
            rec = {
                **_identity(runs, exp),
                "loss": loss,
                "n_seeds": len(runs),
                "epochs": int(runs["epochs"].max()),
                "health": health.cell(flags, exp, loss),
            }
            for key, _ in TABLE2_METRICS[:2]:
                m, s, n = mean_std(runs[key])
                rec[f"{key}_mean"], rec[f"{key}_std"] = m, s
                cells[(loss, key)] = pm(m, s, n)
            text, m, s, k = decay_cell(runs)
            rec["loss_decay_epoch_mean"], rec["loss_decay_epoch_std"] = m, s
            rec["loss_decay_reached"] = k
            cells[(loss, "loss_decay_epoch")] = text
            for key, _ in TABLE2_METRICS:
                rec[f"{key}_p_seeds"] = row_p(df, exp, key, here, loss, censored.get(key))
            records.append(rec)
        pairs = [(here[0], lo) for lo in here[1:]] if tested else []
        columns = [health.label(flags, exp, lo, loss_labels.get(lo, lo)) for lo in here]
        columns += [
            "p (seeds)" if len(here) == 2 else f"p ({loss_labels.get(b, b)})" for _, b in pairs
        ]
        rows = [
            [name]
            + [cells[(lo, key)] for lo in here]
            + [p_cell(seed_p(df, exp, key, a, b, censored.get(key))) for a, b in pairs]
            for key, name in TABLE2_METRICS
        ]
        blocks.append(Block(group_name(df, exp), columns, rows))
    notes = [
        "Active ratio and gradient norm: mean over training epochs 1..E of the per-epoch values; "
        "loss-decay epoch: first e with L(e) <= 0.1 L(0), L(0) measured before any update. "
        "Mean ± std over seeds (loss-decay epoch: over the seeds that reached it).",
        seed_test_note(tested)
        + (" Loss-decay epoch: Gehan's rank test when a seed never reached it." if tested else ""),
        *health_notes(df, flags, loss_labels),
    ]
    tex = latex.table(blocks, "Greediness metrics.", "tab:greediness", notes, first_header="Metric")
    return pd.DataFrame(records), tex


# --------------------------------------------------------------------------- Tables 3, 4
def metric_table(df, loss_labels, columns_of, caption, label, notes, extra=None):
    """A table laid out like the paper's Tables 3 and 4: one row per loss (plus p rows),
    one column group per experiment when they fit; ``columns_of(runs)`` gives an
    experiment's ``[(metric key, header)]``. The CSV has one row per experiment and loss
    with ``{key}_mean``, ``{key}_std``, ``{key}_p_seeds`` for every key."""
    exps, losses = experiment_order(df), losses_present(df, loss_labels)
    records, blocks, headers, has_test = [], [], {}, []
    flags = health.flagged(df)
    for exp in exps:
        here = [lo for lo in losses if n_seeds(df, exp, lo)]
        cols = columns_of(df[df["experiment"] == exp])
        headers.update(cols)
        rows = []
        for loss in here:
            runs = runs_of(df, exp, loss)
            rec = {
                **_identity(runs, exp),
                "data": runs["data_description"].iloc[0] if "data_description" in runs else "",
                "loss": loss,
                "n_seeds": len(runs),
                **(extra(runs) if extra else {}),
                "health": health.cell(flags, exp, loss),
            }
            row = [health.label(flags, exp, loss, loss_labels.get(loss, loss))]
            for key, _ in cols:
                m, s, n = mean_std(runs[key]) if key in runs else (math.nan, math.nan, 0)
                rec[f"{key}_mean"], rec[f"{key}_std"] = m, s
                rec[f"{key}_p_seeds"] = row_p(df, exp, key, here, loss)
                row.append(pm(m, s, n))
            records.append(rec)
            has_test.append(scored(runs))
            rows.append(row)
        if has_seed_tests(df[df["experiment"] == exp], here):
            rows += p_rows(df, exp, [k for k, _ in cols], here, loss_labels)
        blocks.append(Block(group_name(df, exp), [h for _, h in cols], rows))
    out = pd.DataFrame(records)
    notes = notes + [
        f"Mean ± std over seeds ({seed_range(out)}).",
        seed_test_note(has_seed_tests(df, losses)),
        *undefined.notes(records, headers, has_test),
        *health_notes(df, flags, loss_labels),
    ]
    return out, latex.table(blocks, caption, label, notes)


def present(runs: pd.DataFrame, key: str) -> bool:
    return key in runs and runs[key].notna().any()


def single(runs: pd.DataFrame, key: str):
    """The one value of ``key`` across runs (``a/b`` when they differ, None when absent)."""
    vals = sorted({int(v) for v in runs[key].dropna()}) if key in runs else []
    return vals[0] if len(vals) == 1 else (None if not vals else "/".join(map(str, vals)))


def no_test_split_note(df: pd.DataFrame) -> list[str]:
    exps = experiment_order(df)
    return undefined.no_test_split([group_name(df, e) for e in exps if not scored(runs_of(df, e))])


def table3(df: pd.DataFrame, loss_labels: Mapping[str, str]) -> tuple[pd.DataFrame, str]:
    """Table 3: classification accuracy of a k-NN classifier (train embeddings → test
    embeddings; k from the config, 5 in the paper) and, when computed, of a linear probe."""

    def columns_of(runs):
        cols = [("knn_accuracy", f"{single(runs, 'knn_k') or 'k'}-NN acc.")]
        if present(runs, "linear_probe_accuracy"):
            cols.append(("linear_probe_accuracy", "Linear probe"))
        return cols

    notes = [
        "k-NN: majority vote of the k nearest train embeddings for each test embedding "
        "(the paper's 'classification accuracy', k = 5); linear probe: logistic regression fitted "
        "on the train embeddings. Outliers (label -1) excluded.",
        *no_test_split_note(df),
    ]
    return metric_table(
        df,
        loss_labels,
        columns_of,
        "Classification accuracy on the test split.",
        "tab:classification",
        notes,
        extra=lambda runs: {"knn_k": single(runs, "knn_k")},
    )


def recall_keys(runs: pd.DataFrame) -> list[str]:
    """``recall@k`` columns present in the metrics, by k."""
    keys = [c for c in runs.columns if c.startswith("recall@") and runs[c].notna().any()]
    return sorted(keys, key=lambda c: int(c.split("@")[1]))


def table4(df: pd.DataFrame, loss_labels: Mapping[str, str]) -> tuple[pd.DataFrame, str]:
    """Table 4: retrieval recall@k (k from the config, 1/5/10 in the paper) and MAP@R."""

    def columns_of(runs):
        if not scored(runs):  # no test split: n/a, and a note says why
            return [("recall@k", "R@k"), ("map@r", "MAP@R")]
        cols = [(k, f"R@{k.split('@')[1]}") for k in recall_keys(runs)]
        if "map@r" in runs:  # computed, even where undefined: n/a with the reason
            cols.append(("map@r", "MAP@R"))
        return cols

    notes = [
        "Test split as both query set and gallery, each query excluded from its own ranking; "
        "ranking by dot product of L2-normalised embeddings; R@k: a hit when any of the top k "
        "shares the query's label. MAP@R as in Musgrave et al. (2020). Outliers are not queries.",
        *no_test_split_note(df),
    ]
    return metric_table(
        df,
        loss_labels,
        columns_of,
        "Retrieval recall@k and MAP@R on the test split.",
        "tab:retrieval",
        notes,
    )


#: Table 5 columns, in two panels that each fit a page: metrics.json key -> header.
GEOMETRY_PANELS = (
    (
        "Spectrum",
        (("effective_rank", "Eff. rank"), ("rankme", "RankMe"), ("spectral_decay", "Spec. decay")),
    ),
    (
        "Pairs and classes",
        (("alignment", "Align."), ("uniformity", "Unif."), ("nc1", "NC1"), ("cdnv", "CDNV")),
    ),
)
GEOMETRY_COLUMNS = tuple(c for _, cols in GEOMETRY_PANELS for c in cols)


def table5(df: pd.DataFrame, loss_labels: Mapping[str, str]) -> tuple[pd.DataFrame, str]:
    """Table 5: the embedding geometry the paper argues about but never measures
    (``dmlstudy.geometry``), on the points the Eq. 3 statistics use, outliers excluded.
    Two panels (spectrum; pairs and classes), one CSV row per experiment and loss."""
    notes = {
        "Spectrum": "Eff. rank: exp of the entropy of the covariance eigenvalues (Roy & Vetterli "
        "2007); RankMe: the same on singular values (Garrido et al. 2023); Spec. decay: KL(uniform "
        "|| singular-value spectrum), higher = more concentrated (Roth et al. 2020).",
        "Pairs and classes": "Align./Unif.: alignment and uniformity (Wang & Isola 2020), lower "
        "= better; NC1: trace of S_W times the pseudo-inverse of S_B, over C (Papyan et al. 2020); "
        "CDNV: class-distance-normalised "
        "variance (Galanti et al. 2022).",
    }
    frames, texs = [], []
    for n, (title, cols) in enumerate(GEOMETRY_PANELS):
        out, tex = metric_table(
            df,
            loss_labels,
            lambda runs, cols=cols: [(k, h) for k, h in cols if present(runs, k)],
            f"Embedding geometry of the evaluation split: {title.lower()}.",
            f"tab:geometry-{'ab'[n]}",
            [notes[title]],
        )
        frames.append(out)
        texs.append(tex)
    keys = [c for c in frames[0].columns if not c.endswith(("_mean", "_std", "_p_seeds"))]
    merged = frames[0].merge(frames[1], on=keys, how="outer") if len(frames[1]) else frames[0]
    return merged, "\n".join(texs)
