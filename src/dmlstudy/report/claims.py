"""The paper's claims, checked on our runs with a three-way verdict.

Each claim says one loss has the higher value of a metric than the other. For each claim
and experiment ``stats.compare`` tests the difference ``mean(higher) - mean(lower)`` across
seeds (paired t when both losses ran the same seeds, Welch t otherwise, the exceptions
``compare`` documents for zero variance and censored loss-decay epochs). The p-values of
every tested (claim, experiment) are corrected together (Holm or Benjamini-Hochberg,
``statistics.correction``), and the verdict is

- *supported*: corrected p < alpha and the difference has the paper's sign;
- *contradicted*: corrected p < alpha and the opposite sign;
- *inconclusive*: anything else (not significant, untestable, a loss or metric missing).

For an inconclusive claim, ``seeds_for_80_power`` is the number of seeds per loss with
which the same test would detect the observed effect with 80% power at alpha / m (m tested
claims: the strictest level any step of either correction uses).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from . import latex
from .comparison import dataset_name, setup_differences
from .latex import Block, fmt_p, interval, pm, signed
from .load import experiment_order
from .stats import (
    CORRECTION_NAMES,
    NO_TEST,
    PAIRED_PERMUTATION,
    PERMUTATION,
    RANK_CENSORED,
    adjust,
    compare,
    mean_std,
    seeds_for_exact,
    seeds_for_power,
    standardized_effect,
)
from .tables import runs_of


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    metric: str
    higher: str  # the loss the paper says has the higher value of ``metric``
    lower: str
    paper_datasets: tuple[str, ...]
    source: str
    short: str  # the claim as an inequality between C and T

    @property
    def censored(self) -> bool:
        """Whether a seed may have no value because the event never happened in time."""
        return self.metric == "loss_decay_epoch"


C, T = "contrastive", "triplet"
CLAIMS = (
    Claim(
        "intra_variance",
        "Triplet keeps more intra-class variance",
        "intra_mean",
        T,
        C,
        ("synthetic", "mnist", "cifar10"),
        "Abstract; §4.1; Table 1",
        "intra-class variance: T > C",
    ),
    Claim(
        "inter_distance",
        "Triplet has the larger inter-class distance",
        "inter_mean",
        T,
        C,
        ("synthetic", "mnist", "cifar10"),
        "Abstract; §4.1; Table 1",
        "inter-class distance: T > C",
    ),
    Claim(
        "active_ratio",
        "Contrastive has the higher active ratio",
        "mean_active_ratio",
        C,
        T,
        ("mnist", "cifar10"),
        "§1; §4.2; Table 2",
        "active ratio: C > T",
    ),
    Claim(
        "grad_norm",
        "Contrastive has the lower gradient norm",
        "mean_grad_norm",
        T,
        C,
        ("mnist", "cifar10"),
        "§1; §4.2; Table 2",
        "gradient norm: C < T",
    ),
    Claim(
        "loss_decay",
        "Contrastive's loss decays earlier",
        "loss_decay_epoch",
        T,
        C,
        ("mnist", "cifar10"),
        "§1; §4.2; Table 2",
        "loss-decay epoch: C < T",
    ),
    Claim(
        "accuracy",
        "Triplet has the higher classification accuracy",
        "knn_accuracy",
        T,
        C,
        ("mnist", "cifar10"),
        "Abstract; §4.3; Table 3",
        "k-NN accuracy: T > C",
    ),
    Claim(
        "dimensional_collapse",
        "Contrastive's greediness leads to dimensional collapse (lower effective rank)",
        "effective_rank",
        T,
        C,
        ("synthetic", "mnist", "cifar10"),
        "§2.2; ref. [4]",
        "effective rank: C < T",
    ),
    Claim(
        "recall_at_1",
        "Triplet has the higher recall@1",
        "recall@1",
        T,
        C,
        ("cifar10", "cars196", "cub200"),
        "Abstract; §4.3; Table 4",
        "recall@1: T > C",
    ),
)
VERDICTS = ("supported", "contradicted", "inconclusive")


def _seed_values(runs: pd.DataFrame, metric: str, censored: bool) -> dict[int, float]:
    """seed → value (NaN kept for a censored metric: the seed ran, the event did not come)."""
    if metric not in runs:
        return {}
    vals = {int(s): v for s, v in zip(runs["seed"], runs[metric], strict=True)}
    if censored:
        return {s: (math.nan if v is None or pd.isna(v) else float(v)) for s, v in vals.items()}
    return {s: float(v) for s, v in vals.items() if v is not None and not pd.isna(v)}


def test_claim(df: pd.DataFrame, exp: str, claim: Claim) -> dict:
    """The test of one claim on one experiment (before the correction)."""
    runs = {lo: runs_of(df, exp, lo) for lo in (claim.lower, claim.higher)}
    out = {
        "experiment": exp,
        "claim_id": claim.id,
        "claim": claim.text,
        "metric": claim.metric,
        "higher": claim.higher,
        "lower": claim.lower,
    }
    for lo in (C, T):
        m, s, n = (
            mean_std(runs[lo][claim.metric])
            if claim.metric in runs[lo]
            else (math.nan, math.nan, 0)
        )
        out[f"{lo}_mean"], out[f"{lo}_std"], out[f"n_{lo}"] = m, s, n
    empty = {
        "test": NO_TEST,
        "paired": False,
        "difference": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "hedges_g": math.nan,
        "p_seeds": math.nan,
        "effect": math.nan,
    }
    if any(r.empty for r in runs.values()):
        return {**out, **empty, "evidence": "a loss was not run"}
    vals = {lo: _seed_values(r, claim.metric, claim.censored) for lo, r in runs.items()}
    if not all(vals.values()):
        return {**out, **empty, "evidence": f"{claim.metric} not computed"}
    epochs = int(max(r["epochs"].max() for r in runs.values())) if claim.censored else None
    paired = sorted(vals[claim.lower]) == sorted(vals[claim.higher]) and len(vals[claim.lower]) >= 2
    seeds = {lo: sorted(v) for lo, v in vals.items()}
    a = [vals[claim.lower][s] for s in seeds[claim.lower]]
    b = [vals[claim.higher][s] for s in seeds[claim.higher]]
    res = compare(a, b, paired=paired, censored_at=epochs)
    paired = paired and res.test in ("paired t", PAIRED_PERMUTATION)
    fill = (epochs + 1) if claim.censored else None
    fa = [fill if math.isnan(v) else v for v in a]
    fb = [fill if math.isnan(v) else v for v in b]
    effect = standardized_effect(fa, fb, paired) if len(fa) > 1 and len(fb) > 1 else math.nan
    evidence = (
        f"{claim.metric}: {claim.lower} {pm(*mean_std(a))} vs {claim.higher} "
        f"{pm(*mean_std(b))}; {res.test}, n = {res.n_a}/{res.n_b}"
    )
    if res.note:
        evidence += f" ({res.note})"
    if claim.censored:
        reached = {lo: sum(not math.isnan(v) for v in vals[lo].values()) for lo in vals}
        evidence += (
            f"; reached 10% of the initial loss within {epochs} epochs in "
            f"{reached[C]}/{len(vals[C])} contrastive, {reached[T]}/{len(vals[T])} triplet seeds"
        )
    return {
        **out,
        "test": res.test,
        "paired": paired,
        "difference": res.diff,
        "ci_low": res.ci_low,
        "ci_high": res.ci_high,
        "hedges_g": res.hedges_g,
        "p_seeds": res.p,
        "effect": effect,
        "evidence": evidence,
    }


def verdict(p_corrected: float, difference: float, alpha: float) -> str:
    """supported / contradicted when significant after correction, by the sign of
    ``difference`` (positive: the paper's direction); inconclusive otherwise."""
    if p_corrected is None or math.isnan(p_corrected) or p_corrected >= alpha or difference == 0:
        return "inconclusive"
    return "supported" if difference > 0 else "contradicted"


def evaluate_claims(
    df: pd.DataFrame, experiments: dict, paper: Mapping, statistics: Mapping
) -> pd.DataFrame:
    """Every claim on every experiment that ran, with its corrected p and verdict.
    ``statistics``: ``{"correction": "holm" | "bh", "alpha": 0.05}``."""
    method, alpha = statistics["correction"], float(statistics["alpha"])
    ran = experiment_order(df)
    order = [e for e in experiments if e in ran] + [e for e in ran if e not in experiments]
    rows = []
    for claim in CLAIMS:
        for exp in order:
            info = experiments.get(exp, {})
            data = df[df["experiment"] == exp]
            rows.append(
                {
                    "kind": "claim",
                    "source": claim.source,
                    "label": info.get("label", exp),
                    "paper_dataset": dataset_name(info.get("paper_dataset")),
                    "paper_claims_it_here": info.get("paper_dataset") in claim.paper_datasets,
                    "paper_datasets": " / ".join(dataset_name(k) for k in claim.paper_datasets),
                    "our_data": data["data_description"].iloc[0]
                    if "data_description" in data
                    else "",
                    "setup_differences": "; ".join(setup_differences(info, paper)) if info else "",
                    **test_claim(df, exp, claim),
                }
            )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_corrected"] = adjust(out["p_seeds"].to_numpy(float), method)
    out["correction"] = CORRECTION_NAMES[method]
    out["alpha"] = alpha
    out["verdict"] = [
        verdict(p, d, alpha) for p, d in zip(out["p_corrected"], out["difference"], strict=True)
    ]
    m = int(out["p_seeds"].notna().sum())
    level = alpha / max(m, 1)
    out["power_level"] = level
    out["seeds_for_80_power"] = pd.array(
        [_seeds_needed(r, level) for _, r in out.iterrows()], dtype="Int64"
    )
    return out.drop(columns=["effect"])


def _seeds_needed(r, level: float):
    """Seeds per loss for 80% power at ``level``: from the noncentral t for a t-test; for
    the exact tests (zero variance, censored ranks) the seeds with which perfectly
    separated values could reach ``level`` at all (a lower bound)."""
    if r["verdict"] != "inconclusive" or r["test"] == NO_TEST:
        return None
    if r["test"] in (PERMUTATION, PAIRED_PERMUTATION, RANK_CENSORED):
        return seeds_for_exact(level, paired=r["test"] == PAIRED_PERMUTATION)
    return seeds_for_power(r["effect"], level, 0.8, paired=bool(r["paired"]))


# --------------------------------------------------------------------------- LaTeX
def claims_tex(claims: pd.DataFrame, experiments: dict) -> str:
    """One row group per claim, one row per experiment: test and n, the difference in the
    paper's direction with its 95% CI, the corrected p, the verdict and the seeds needed."""
    method = claims["correction"].iloc[0] if len(claims) else "Holm"
    alpha = float(claims["alpha"].iloc[0]) if len(claims) else 0.05
    ns = {
        (int(r[f"n_{r['lower']}"]), int(r[f"n_{r['higher']}"]))
        for _, r in claims.iterrows()
        if r["test"] != NO_TEST
    }
    uniform = len(ns) <= 1  # the same seeds everywhere: say n once, in the notes
    cols = [
        "Test" if uniform else "Test (n)",
        "Δ [95% CI]",
        f"p ({method.split('-')[0]})",
        "Verdict",
        "Seeds",
    ]
    by_id = {c.id: c for c in CLAIMS}
    blocks = []
    for cid, grp in claims.groupby("claim_id", sort=False):
        claim = by_id[cid]
        rows = []
        for _, r in grp.iterrows():
            n = f"{_int(r['n_' + claim.lower])}/{_int(r['n_' + claim.higher])}"
            test = (
                "--"
                if r["test"] == NO_TEST
                else _short_test(r["test"]) + ("" if uniform else f" ({n})")
            )
            diff = f"{signed(r['difference'], r['ci_low'], r['ci_high'])} {interval(r['ci_low'], r['ci_high'])}"
            seeds = (
                ""
                if r["verdict"] != "inconclusive"
                else (
                    "--" if pd.isna(r["seeds_for_80_power"]) else str(int(r["seeds_for_80_power"]))
                )
            )
            here = "" if r["paper_claims_it_here"] else "°"
            rows.append(
                [
                    f"{r['experiment']}{here}",
                    test,
                    diff.replace(" n/a", ""),
                    fmt_p(r["p_corrected"]),
                    r["verdict"],
                    seeds,
                ]
            )
        blocks.append(Block(f"{claim.short} ({claim.source})", cols, rows))
    notes = [
        ("" if not uniform or not ns else f"n = {next(iter(ns))[0]} seeds per loss in every test. ")
        + "C contrastive, T triplet. Δ: mean of the loss the paper says is higher minus the other, "
        "over seeds (positive: the paper's direction), with its 95% CI from the test's t "
        "distribution (n/a where the test is not a t-test). Test"
        + ("" if uniform else " (n: seeds of the lower/higher loss)")
        + ": paired t when both losses ran the same seeds (seed i of each loss shares data and "
        "initial weights), Welch t otherwise; exact permutation (sign-flip when paired) when both "
        "sides have zero variance; Gehan's rank test when a seed never reached its loss-decay "
        "epoch (counted as E+1).",
        f"p: two-sided, {method}-corrected across the {int(claims['p_seeds'].notna().sum())} tested "
        f"claims. Verdict: supported (corrected p < {alpha:g}, the paper's direction), "
        "contradicted (corrected p < α, the opposite direction), inconclusive (anything else). "
        "Seeds: seeds per loss for 80% power to detect the observed effect at α/m (exact "
        "tests: the fewest with which any result could reach α/m); -- none would (no effect, "
        "or untestable). ° the paper does not make this claim for this "
        "dataset. Hedges' g and the evidence are in claims.csv.",
        "Experiments: "
        + "; ".join(
            f"{e}: {lab}"
            for e, lab in dict(zip(claims["experiment"], claims["label"], strict=True)).items()
        )
        + ".",
    ]
    return latex.table(
        blocks,
        "The paper's claims, checked on our runs.",
        "tab:claims",
        notes,
        first_header="Experiment",
        force="rows",
        colsep=3.0,
    )


def _short_test(name: str) -> str:
    return {
        "paired t": "paired",
        "Welch t": "Welch",
        "exact permutation": "permutation",
        "exact sign-flip": "sign-flip",
        "Gehan rank (censored)": "Gehan",
    }.get(name, name)


def _int(v) -> str:
    return "0" if v is None or pd.isna(v) else str(int(v))


CLAIMS_COLUMNS = [
    "claim_id",
    "claim",
    "source",
    "experiment",
    "label",
    "paper_dataset",
    "paper_claims_it_here",
    "metric",
    "higher",
    "lower",
    "verdict",
    "test",
    "paired",
    "n_contrastive",
    "n_triplet",
    "contrastive_mean",
    "contrastive_std",
    "triplet_mean",
    "triplet_std",
    "difference",
    "ci_low",
    "ci_high",
    "hedges_g",
    "p_seeds",
    "p_corrected",
    "correction",
    "alpha",
    "seeds_for_80_power",
    "power_level",
    "evidence",
    "our_data",
    "setup_differences",
]


def claims_table(claims: pd.DataFrame, experiments: dict) -> tuple[pd.DataFrame, str]:
    """claims.csv (one line per claim and experiment) and its LaTeX."""
    out = claims.reindex(columns=CLAIMS_COLUMNS)
    for col in ("n_contrastive", "n_triplet", "seeds_for_80_power"):
        out[col] = out[col].astype("Int64")
    return out, claims_tex(claims, experiments)
