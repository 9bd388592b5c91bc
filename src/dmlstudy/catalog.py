"""The catalogue of what the workflow reports: every metric a table shows or a claim tests,
and every table, each written once.

A :class:`Metric` is a key of metrics.json with its header, its name in words, the table
(and panel) that shows it, the direction in which it is better, and whether it is an event
time that a run may never reach (censored). Tables, claims, the comparison with the paper,
the tuned comparison and the figures look metrics up here, so a new metric is one
``register(Metric(...))`` plus the function that computes it: when ``compute`` is given,
``evaluate.evaluate_run`` calls it on every run (``compute(context) -> float``, the context
holding the evaluated embeddings ``z``, labels ``y``, the train/test splits and the history).

A :class:`Table` is one output ``results/tables/{name}.{csv,tex,html}``: the function that
makes it (``"module:function"``, imported when the job runs) and its caption in the report.
A new table is that function plus one ``register_table(Table(...))``; the workflow's rule
and the report item come from this entry.

This module imports nothing heavy: Snakemake's main process reads it to plan the jobs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    key: str  #: metrics.json key
    header: str  #: column header in a table (short)
    name: str  #: in words, for claims, notes and axes
    table: str | None = None  #: the table that shows it (a key of TABLES)
    panel: str = ""  #: the panel of that table
    higher_is_better: bool | None = None  #: None: neither direction is "better"
    event: bool = False  #: an epoch at which something happens; None = never (censored)
    source: str = ""  #: the paper's equation or section, or the reference it follows
    #: optional: ``compute(context) -> float``, called by the evaluation of every run
    compute: Callable | None = None


@dataclass(frozen=True)
class Table:
    name: str  #: results/tables/{name}.{csv,tex,html}
    title: str  #: e.g. "Table 1", the report's label
    content: str  #: a few words: what it holds
    make: str  #: "module:function" -> (DataFrame, LaTeX) from (metrics, context)
    caption: str  #: the report's caption (reStructuredText)
    panels: tuple[str, ...] = field(default_factory=tuple)


METRICS: dict[str, Metric] = {}
TABLES: dict[str, Table] = {}


def register(metric: Metric) -> Metric:
    if metric.key in METRICS:
        raise ValueError(f"metric {metric.key!r} is registered already")
    METRICS[metric.key] = metric
    return metric


def register_table(table: Table) -> Table:
    if table.name in TABLES:
        raise ValueError(f"table {table.name!r} is registered already")
    TABLES[table.name] = table
    return table


_RECALL = re.compile(r"^recall@(\d+)$")


def get(key: str) -> Metric:
    """The metric of ``key``; ``recall@k`` exists for every k the config asks for."""
    if key in METRICS:
        return METRICS[key]
    if m := _RECALL.match(key):
        k = m.group(1)
        return Metric(
            key,
            f"R@{k}",
            f"recall@{k}",
            table="table4_retrieval",
            panel="Recall",
            higher_is_better=True,
            source="Table 4",
        )
    raise KeyError(f"metric {key!r} is not in the catalogue (dmlstudy.catalog)")


def metrics_of(table: str, panel: str | None = None) -> list[Metric]:
    """The registered metrics a table (panel) shows, in registration order."""
    return [m for m in METRICS.values() if m.table == table and (panel is None or m.panel == panel)]


def label(key: str) -> str:
    """A metric's name in words (the key itself when it is not catalogued)."""
    try:
        return get(key).name
    except KeyError:
        return key


# --------------------------------------------------------------------------- metrics
_T1, _T2, _T3, _T4, _T5 = (
    "table1_variance",
    "table2_greediness",
    "table3_classification",
    "table4_retrieval",
    "table5_geometry",
)
for _m in (
    Metric("intra_mean", "Intra μ", "intra-class variance", _T1, source="Eq. 3; Table 1"),
    Metric("intra_var", "Intra σ²", "variance of the intra-class variance", _T1),
    Metric("inter_mean", "Inter μ", "inter-class distance", _T1, source="Eq. 3; Table 1"),
    Metric("inter_var", "Inter σ²", "variance of the inter-class distance", _T1),
    Metric("mean_active_ratio", "All", "active ratio", _T2, "Active ratio", source="§2.2"),
    Metric(
        "mean_active_ratio_positive",
        "Positive pairs",
        "active ratio of positive pairs",
        _T2,
        "Active ratio",
    ),
    Metric(
        "mean_active_ratio_negative",
        "Negative pairs",
        "active ratio of negative pairs",
        _T2,
        "Active ratio",
    ),
    Metric("mean_grad_norm", "Grad. norm", "gradient norm", _T2, "Updates", source="§2.2"),
    Metric(
        "loss_decay_epoch",
        "Loss decay",
        "loss-decay epoch",
        _T2,
        "Updates",
        event=True,
        source="§2.2",
    ),
    Metric(
        "intra_collapse_epoch",
        "Intra halved",
        "epoch the intra-class distance halves",
        _T2,
        "Updates",
        event=True,
        source="Fig. 3",
    ),
    Metric("knn_accuracy", "k-NN acc.", "k-NN accuracy", _T3, higher_is_better=True),
    Metric(
        "linear_probe_accuracy", "Linear probe", "linear-probe accuracy", _T3, higher_is_better=True
    ),
    Metric(
        "map@r",
        "MAP@R",
        "MAP@R",
        _T4,
        "Ranking",
        higher_is_better=True,
        source="Musgrave et al. 2020",
    ),
    Metric(
        "r_precision",
        "R-Prec.",
        "R-Precision",
        _T4,
        "Ranking",
        higher_is_better=True,
        source="Musgrave et al. 2020",
    ),
    Metric(
        "precision@1",
        "P@1",
        "P@1",
        higher_is_better=True,
        source="Musgrave et al. 2020 (recall@1 over the queries that have a positive)",
    ),
    Metric(
        "effective_rank",
        "Eff. rank",
        "effective rank",
        _T5,
        "Spectrum",
        source="Roy & Vetterli 2007",
    ),
    Metric("rankme", "RankMe", "RankMe", _T5, "Spectrum", source="Garrido et al. 2023"),
    Metric(
        "spectral_decay",
        "Spec. decay",
        "spectral decay",
        _T5,
        "Spectrum",
        source="Roth et al. 2020",
    ),
    Metric(
        "alignment",
        "Align.",
        "alignment",
        _T5,
        "Pairs and classes",
        higher_is_better=False,
        source="Wang & Isola 2020",
    ),
    Metric(
        "uniformity",
        "Unif.",
        "uniformity",
        _T5,
        "Pairs and classes",
        higher_is_better=False,
        source="Wang & Isola 2020",
    ),
    Metric("nc1", "NC1", "NC1", _T5, "Pairs and classes", source="Papyan et al. 2020"),
    Metric("cdnv", "CDNV", "CDNV", _T5, "Pairs and classes", source="Galanti et al. 2022"),
):
    register(_m)


# --------------------------------------------------------------------------- tables
for _t in (
    Table(
        _T1,
        "Table 1",
        "intra- and inter-class variance",
        "dmlstudy.report.tables:table1",
        "Paper Table 1: intra- and inter-class statistics of the evaluated embeddings (Eq. 3).",
    ),
    Table(
        _T2,
        "Table 2",
        "greediness",
        "dmlstudy.report.tables:table2",
        "Paper Table 2: active ratio (all, positive and negative pairs), gradient norm and "
        "the epochs at which the loss and the intra-class distance fall.",
        ("Active ratio", "Updates"),
    ),
    Table(
        _T3,
        "Table 3",
        "classification accuracy",
        "dmlstudy.report.tables:table3",
        "Paper Table 3: k-NN and linear-probe accuracy on the test split.",
    ),
    Table(
        _T4,
        "Table 4",
        "retrieval",
        "dmlstudy.report.tables:table4",
        "Paper Table 4: recall@k and MAP@R on the test split.",
        ("Recall", "Ranking"),
    ),
    Table(
        _T5,
        "Table 5",
        "embedding geometry",
        "dmlstudy.report.tables:table5",
        "Embedding geometry (not in the paper): spectrum; pairs and classes.",
        ("Spectrum", "Pairs and classes"),
    ),
):
    register_table(_t)
