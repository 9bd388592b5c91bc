"""Every comparison between two losses that the report prints, tested once.

One row per (experiment, metric, pair of losses): the paired test of ``stats.compare_paired``
on the seeds both losses ran, its family, its corrected p and, for a claim, its verdict.
Tables 1-5, the claims table and the comparison with the paper all read their p-values and
marks from these rows (``comparisons.csv``), so a comparison has one p wherever it is
printed. The correction and the verdict rule live here and nowhere else.

- Pairs: every loss against the first (the reference), and contrastive against triplet
  when both ran (the paper's pair).
- Metrics: every metric of the catalogue's tables present in the runs (``dmlstudy.catalog``),
  every claim's metric, and the paper's own test of Table 1 (paired t across classes of the
  seed-averaged per-class intra-class variance, ``per_class_intra_variance``).
- Families (``claims.Claim.family``): *confirmatory*, the paper's own claims on the
  experiments that stand for its datasets, corrected together with
  ``statistics.correction`` (Holm by default); *exploratory*, everything else, corrected
  together with ``statistics.exploratory_correction`` (Benjamini-Hochberg by default).
- Event metrics (loss decay, intra-class collapse) also get one *pooled* row per claim and
  family: the paired sign test over every pair of the family's experiments together
  ("triplet first in 15 of 15 paired runs").
- A claim's verdict: supported / contradicted / inconclusive at the corrected p. When its
  test cannot reach p < alpha at this number of seeds at all (``p_min``), the row says so
  and gives the seeds it would need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import catalog
from .claims import CLAIMS, CONFIRMATORY, EXPLORATORY, FAMILIES, claim_for, verdict
from .load import experiment_order, losses_present
from .stats import (
    CORRECTION_NAMES,
    NO_TEST,
    PAIRED_T,
    SIGN_TEST,
    adjust,
    compare_paired,
    mean_std,
    paired_test,
    seeds_for_exact,
    seeds_for_power,
    sign_test,
)

#: The paper's own Table 1 test: across classes, not seeds.
PER_CLASS = "per_class_intra_variance"
POOLED = "pooled"

COLUMNS = [
    "experiment",
    "label",
    "paper_dataset",
    "metric",
    "metric_name",
    "loss_a",
    "loss_b",
    "claim_id",
    "family",
    "test",
    "n",
    "a_mean",
    "a_std",
    "b_mean",
    "b_std",
    "difference",
    "ci_low",
    "ci_high",
    "hedges_g",
    "d_z",
    "b_first",
    "a_first",
    "ties",
    "p",
    "p_min",
    "p_corrected",
    "correction",
    "family_size",
    "alpha",
    "significant",
    "claim_direction",
    "verdict",
    "reachable",
    "seeds_needed",
    "note",
]


def pairs_of(losses: list[str]) -> list[tuple[str, str]]:
    """(reference, other) for every other loss, then (contrastive, triplet) if both ran and
    that pair is not there yet."""
    out = [(losses[0], lo) for lo in losses[1:]]
    if {"contrastive", "triplet"} <= set(losses) and not {frozenset(p) for p in out} >= {
        frozenset(("contrastive", "triplet"))
    }:
        out.append(("contrastive", "triplet"))
    return out


def metrics_compared(df: pd.DataFrame) -> list[str]:
    """The catalogue's table metrics and the claims' metrics present in the runs."""
    keys = [m.key for m in catalog.METRICS.values() if m.table]
    keys += sorted(
        (c for c in df.columns if c.startswith("recall@")), key=lambda c: int(c.split("@")[1])
    )
    keys += [c.metric for c in CLAIMS]
    present = [k for k in dict.fromkeys(keys) if k in df and df[k].notna().any()]
    events = [k for k in dict.fromkeys(keys) if k in df and _is_event(k)]
    return list(dict.fromkeys(present + events))


def _is_event(key: str) -> bool:
    try:
        return catalog.get(key).event
    except KeyError:
        return False


def seed_values(df: pd.DataFrame, exp: str, loss: str, metric: str) -> dict[int, float]:
    """seed → value of one loss in one experiment (an event metric's None stays NaN)."""
    runs = df[(df["experiment"] == exp) & (df["loss"] == loss)]
    if metric not in runs:
        return {}
    return {
        int(s): (math.nan if v is None or pd.isna(v) else float(v))
        for s, v in zip(runs["seed"], runs[metric], strict=True)
    }


def _row(exp, info, metric, a, b, va, vb, res) -> dict:
    claim = claim_for(metric, a, b)
    event = _is_event(metric)
    ma, sa, _ = mean_std([va[s] for s in va]) if not event else (math.nan, math.nan, 0)
    mb, sb, _ = mean_std([vb[s] for s in vb]) if not event else (math.nan, math.nan, 0)
    return {
        "experiment": exp,
        "label": info.get("label", exp),
        "paper_dataset": info.get("paper_dataset"),
        "metric": metric,
        "metric_name": catalog.label(metric) if metric != PER_CLASS else "per-class variance",
        "loss_a": a,
        "loss_b": b,
        "claim_id": claim.id if claim else "",
        "family": claim.family(info.get("paper_dataset")) if claim else EXPLORATORY,
        "a_mean": ma,
        "a_std": sa,
        "b_mean": mb,
        "b_std": sb,
        "claim_direction": claim.direction(a, b) if claim else 0,
        **{("difference" if k == "diff" else k): v for k, v in res.as_dict().items()},
    }


def _per_class_row(df, exp, info, a, b) -> dict | None:
    """The paper's Table 1 test: paired t across classes of the seed-averaged per-class
    intra-class variance, b against a."""
    per = {}
    for loss in (a, b):
        runs = df[(df["experiment"] == exp) & (df["loss"] == loss)]
        if runs.empty or PER_CLASS not in runs:
            return None
        per[loss] = pd.DataFrame(list(runs[PER_CLASS])).mean(axis=0)
    common = per[a].index.intersection(per[b].index)
    if len(common) < 2:
        return None
    res = paired_test(per[a][common].to_numpy(), per[b][common].to_numpy())
    d = per[b][common].to_numpy() - per[a][common].to_numpy()
    return {
        "experiment": exp,
        "label": info.get("label", exp),
        "paper_dataset": info.get("paper_dataset"),
        "metric": PER_CLASS,
        "metric_name": "per-class intra-class variance (across classes)",
        "loss_a": a,
        "loss_b": b,
        "claim_id": "",
        "family": EXPLORATORY,
        "test": PAIRED_T + " across classes",
        "n": int(len(common)),
        "difference": float(d.mean()),
        "ci_low": res["ci"][0],
        "ci_high": res["ci"][1],
        "p": res["p"],
        "p_min": 0.0,
        "note": "the paper's Table 1 test (unit: class, not seed)",
    }


def _pooled_rows(rows: list[dict]) -> list[dict]:
    """One pooled sign test per event claim and family, over its experiments' pairs."""
    out = []
    for claim in CLAIMS:
        if not _is_event(claim.metric):
            continue
        for family in FAMILIES:
            parts = [
                r
                for r in rows
                if r["claim_id"] == claim.id and r["family"] == family and r["test"] != NO_TEST
            ]
            if len(parts) < 2:
                continue
            # orient every part as (lower, higher) of the claim before adding
            first_hi = sum(
                r["b_first"] if r["claim_direction"] > 0 else r["a_first"] for r in parts
            )
            first_lo = sum(
                r["a_first"] if r["claim_direction"] > 0 else r["b_first"] for r in parts
            )
            k = first_hi + first_lo
            out.append(
                {
                    **{c: parts[0].get(c) for c in ("metric", "metric_name", "claim_id")},
                    "experiment": POOLED,
                    "label": f"all {family} experiments ({len(parts)})",
                    "paper_dataset": None,
                    "loss_a": claim.lower,
                    "loss_b": claim.higher,
                    "family": family,
                    "test": NO_TEST if k == 0 else SIGN_TEST,
                    "n": sum(int(r["n"]) for r in parts),
                    "b_first": first_hi,
                    "a_first": first_lo,
                    "ties": sum(int(r["ties"]) for r in parts),
                    "difference": math.nan,
                    "p": sign_test(first_hi, first_lo),
                    "p_min": 2 / 2**k if k else math.nan,
                    "claim_direction": 1,
                    "note": "pooled over the pairs of " + ", ".join(r["experiment"] for r in parts),
                }
            )
    return out


def compare_runs(
    df: pd.DataFrame, experiments: Mapping, loss_labels: Mapping, statistics
) -> pd.DataFrame:
    """Every comparison of runs ``df`` (``load.load_metrics``): tested, corrected by family,
    with verdicts for the claims. ``experiments``: name → info with ``label`` and
    ``paper_dataset``; ``statistics``: ``correction``, ``exploratory_correction``,
    ``alpha``."""
    rows = []
    losses = losses_present(df, loss_labels)
    for exp in experiment_order(df):
        info = experiments.get(exp, {})
        here = [lo for lo in losses if ((df["experiment"] == exp) & (df["loss"] == lo)).any()]
        pairs = pairs_of(here) if len(here) >= 2 else []
        for metric in metrics_compared(df[df["experiment"] == exp]):
            for a, b in pairs:
                va, vb = (seed_values(df, exp, lo, metric) for lo in (a, b))
                seeds = sorted(set(va) & set(vb))
                if not seeds:
                    continue
                if not _is_event(metric) and all(
                    math.isnan(va[s]) and math.isnan(vb[s]) for s in seeds
                ):
                    continue  # undefined for both losses (e.g. pair kinds of a triplet loss)
                res = compare_paired(
                    [va[s] for s in seeds], [vb[s] for s in seeds], event=_is_event(metric)
                )
                rows.append(_row(exp, info, metric, a, b, va, vb, res))
        for a, b in pairs:
            if (row := _per_class_row(df, exp, info, a, b)) is not None:
                rows.append(row)
    rows += _pooled_rows(rows)
    out = pd.DataFrame(rows).reindex(columns=COLUMNS)
    return correct(out, statistics)


def correct(out: pd.DataFrame, statistics: Mapping, methods: Mapping | None = None) -> pd.DataFrame:
    """Corrected p, significance and (claims) verdicts, family by family: the one place
    of the correction and the verdict rule. ``out`` holds comparison rows (``p``, ``p_min``,
    ``family``, ``claim_id``, ``claim_direction``, ``difference``, ...); ``methods`` maps a
    family to its correction (default: confirmatory ``statistics.correction``, exploratory
    ``statistics.exploratory_correction``)."""
    alpha = float(statistics["alpha"])
    methods = dict(methods or {})
    methods.setdefault(CONFIRMATORY, statistics["correction"])
    methods.setdefault(EXPLORATORY, statistics.get("exploratory_correction", "bh"))
    out = out.reindex(columns=list(dict.fromkeys([*out.columns, *COLUMNS]))).copy()
    out["alpha"] = alpha
    out["correction"] = out["correction"].astype(object)
    out["p_corrected"] = out["p_corrected"].astype(float)
    for family in dict.fromkeys(out["family"]):
        mask = out["family"] == family
        p = out.loc[mask, "p"].to_numpy(float)
        out.loc[mask, "p_corrected"] = adjust(p, methods[family]) if mask.any() else p
        out.loc[mask, "correction"] = CORRECTION_NAMES[methods[family]]
        out.loc[mask, "family_size"] = int(np.sum(~np.isnan(p)))
    out["significant"] = out["p_corrected"].astype(float) < alpha
    out["reachable"] = out["p_min"].astype(float) < alpha
    claims = out["claim_id"].astype(object).fillna("") != ""
    # the difference b - a in the claim's direction; for an event (sign test), a's event
    # first means b's epoch is the higher
    signed = np.where(
        out["test"] == SIGN_TEST,
        out["a_first"].astype(float).fillna(0) - out["b_first"].astype(float).fillna(0),
        out["difference"].astype(float),
    ) * out["claim_direction"].astype(float).fillna(0)
    out["verdict"] = [
        verdict(p, s, alpha) if is_claim else ""
        for p, s, is_claim in zip(out["p_corrected"].astype(float), signed, claims, strict=True)
    ]
    out["seeds_needed"] = pd.array(
        [_seeds_needed(r, signed[i]) for i, (_, r) in enumerate(out.iterrows())], dtype="Int64"
    )
    return out


def _seeds_needed(r, signed: float):
    """Seeds (pairs) for 80% power at the family's strictest level alpha / m, for an
    inconclusive claim whose observed effect has the claim's direction; None otherwise."""
    if r["verdict"] != "inconclusive" or r["test"] == NO_TEST or not signed > 0:
        return None
    level = float(r["alpha"]) / max(int(r["family_size"]), 1)
    if r["test"] == PAIRED_T:
        return seeds_for_power(abs(float(r["d_z"])), level, 0.8, paired=True)
    return seeds_for_exact(level)


def lookup(comparisons: pd.DataFrame, exp: str, metric: str, a: str, b: str):
    """The row comparing ``b`` with ``a`` (either orientation) on ``metric`` in ``exp``, or
    None."""
    if comparisons is None or comparisons.empty:
        return None
    c = comparisons
    hit = c[
        (c["experiment"] == exp)
        & (c["metric"] == metric)
        & (((c["loss_a"] == a) & (c["loss_b"] == b)) | ((c["loss_a"] == b) & (c["loss_b"] == a)))
    ]
    return None if hit.empty else hit.iloc[0]


def read(path) -> pd.DataFrame:
    """comparisons.csv as written (empty text columns stay empty strings)."""
    out = pd.read_csv(path)
    for col in ("claim_id", "verdict", "note"):
        if col in out:
            out[col] = out[col].astype(object).fillna("")
    return out
