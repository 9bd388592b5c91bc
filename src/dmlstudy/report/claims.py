"""The paper's claims, each with the sentence it comes from, and the questions it raises
without claiming them.

A :class:`Claim` says one loss has the higher value of a metric than the other. Whether a
claim's test is *confirmatory* or *exploratory* (``family``) is decided here, once: the
paper's own claims, on the experiments that stand for a dataset on which the paper makes
them, are confirmatory; the same claims elsewhere, and every question the paper only raises
(kind ``"question"``), are exploratory. The tests, corrections and verdicts themselves are
``report.comparisons`` (one test per comparison); the claims table is the claim rows of it.
"""

from __future__ import annotations

from dataclasses import dataclass

C, T = "contrastive", "triplet"
CONFIRMATORY, EXPLORATORY = "confirmatory", "exploratory"
FAMILIES = (CONFIRMATORY, EXPLORATORY)
VERDICTS = ("supported", "contradicted", "inconclusive")


@dataclass(frozen=True)
class Claim:
    id: str
    text: str  #: the claim in a few words
    metric: str  #: a key of dmlstudy.catalog
    higher: str  #: the loss the claim says has the higher value of ``metric``
    lower: str
    datasets: tuple[str, ...]  #: the paper's datasets on which the paper makes it
    source: str  #: section, table or figure
    quote: str  #: the sentence it comes from, verbatim
    kind: str = "paper"  #: "paper": the paper claims it; "question": it only raises it
    short: str = ""  #: the claim as an inequality between C and T

    def family(self, paper_dataset: str | None) -> str:
        """Confirmatory for the paper's own claim on an experiment that stands for one of
        its datasets; exploratory otherwise."""
        if self.kind == "paper" and paper_dataset in self.datasets:
            return CONFIRMATORY
        return EXPLORATORY

    def direction(self, a: str, b: str) -> int:
        """+1 when ``b - a`` is the claim's direction (b is the loss it says is higher),
        -1 when ``a - b`` is, 0 when the comparison is not between its two losses."""
        if (a, b) == (self.lower, self.higher):
            return 1
        if (a, b) == (self.higher, self.lower):
            return -1
        return 0


CLAIMS = (
    Claim(
        "intra_variance",
        "Triplet keeps more intra-class variance",
        "intra_mean",
        T,
        C,
        ("synthetic", "mnist", "cifar10"),
        "Abstract; §1; §4.1, Table 1",
        "we show that triplet loss maintains higher within-class spread and clearer "
        "between-class gaps on Synthetic data, MNIST, and CIFAR-10",
        short="intra-class variance: T > C",
    ),
    Claim(
        "inter_distance",
        "Triplet has the larger inter-class distance",
        "inter_mean",
        T,
        C,
        ("synthetic", "mnist", "cifar10"),
        "Abstract; §1; Table 1",
        "triplet loss preserves greater variance within and across classes",
        short="inter-class distance: T > C",
    ),
    Claim(
        "active_ratio",
        "Contrastive has the higher active ratio",
        "mean_active_ratio",
        C,
        T,
        ("mnist", "cifar10"),
        "§1; §4.2, Table 2",
        "On MNIST and CIFAR-10, contrastive loss reaches 90% loss reduction by epoch 27, with "
        "a 65% active-sample ratio [...] triplet loss [...] with only 38% active triplets",
        short="active ratio: C > T",
    ),
    Claim(
        "grad_norm",
        "Contrastive has the lower gradient norm",
        "mean_grad_norm",
        T,
        C,
        ("mnist", "cifar10"),
        "§1; §4.2, Table 2",
        "an average gradient norm of approximately 0.12 [...] triplet loss [...] "
        "significantly larger gradient norms (≈ 0.27)",
        short="gradient norm: C < T",
    ),
    Claim(
        "loss_decay",
        "Contrastive's loss decays earlier",
        "loss_decay_epoch",
        T,
        C,
        ("mnist", "cifar10"),
        "§1; §4.2, Table 2",
        "contrastive loss reaches 90% loss reduction by epoch 27 [...] triplet loss requires "
        "until epoch 43 to reach the same reduction",
        short="loss-decay epoch: C < T",
    ),
    Claim(
        "intra_collapse",
        "Contrastive's intra-class distance collapses earlier",
        "intra_collapse_epoch",
        T,
        C,
        ("mnist", "cifar10"),
        "§4.2, Fig. 3",
        "Fig. 3 illustrates that contrastive loss causes a sharper and earlier collapse in "
        "intra-class distances",
        short="epoch the intra-class distance halves: C < T",
    ),
    Claim(
        "accuracy",
        "Triplet has the higher classification accuracy",
        "knn_accuracy",
        T,
        C,
        ("mnist", "cifar10"),
        "Abstract; §4.3, Table 3",
        "Table 3 shows that triplet loss achieves higher classification accuracy",
        short="k-NN accuracy: T > C",
    ),
    Claim(
        "recall_at_1",
        "Triplet has the higher recall@1",
        "recall@1",
        T,
        C,
        ("cifar10", "cars196", "cub200"),
        "Abstract; §4.3, Table 4",
        "Table 4 demonstrates its superior retrieval r@1 performance across CIFAR-10 [...], "
        "CARS196 [...], and CUB-200",
        short="recall@1: T > C",
    ),
    Claim(
        "dimensional_collapse",
        "Does contrastive's greediness lower the effective rank?",
        "effective_rank",
        T,
        C,
        (),
        "§2.2, a question",
        "potentially leading to excessive intra-class compaction [...] or even dimensional "
        "collapse",
        kind="question",
        short="effective rank: C < T",
    ),
)


def claim_for(metric: str, a: str, b: str) -> Claim | None:
    """The claim (or question) about ``metric`` between losses ``a`` and ``b``, if any."""
    for claim in CLAIMS:
        if claim.metric == metric and claim.direction(a, b):
            return claim
    return None


def verdict(p_corrected: float, signed_difference: float, alpha: float) -> str:
    """*supported* / *contradicted* when the corrected p is below ``alpha``, by the sign of
    the difference in the claim's direction; *inconclusive* otherwise."""
    if p_corrected != p_corrected or p_corrected >= alpha or signed_difference == 0:
        return "inconclusive"
    if signed_difference != signed_difference:  # a sign test: the direction is given apart
        return "inconclusive"
    return "supported" if signed_difference > 0 else "contradicted"


# --------------------------------------------------------------------------- the table
#: claims.csv: the claim rows of comparisons.csv, with the claim's words beside them.
COLUMNS = [
    "claim_id",
    "claim",
    "kind",
    "source",
    "quote",
    "family",
    "experiment",
    "label",
    "paper_dataset",
    "metric",
    "higher",
    "lower",
    "verdict",
    "test",
    "n",
    "higher_mean",
    "higher_std",
    "lower_mean",
    "lower_std",
    "difference_claimed",
    "ci_low_claimed",
    "ci_high_claimed",
    "hedges_g",
    "lower_first",
    "higher_first",
    "ties",
    "p",
    "p_min",
    "reachable",
    "p_corrected",
    "correction",
    "family_size",
    "alpha",
    "seeds_needed",
    "setup_differences",
    "note",
]


def claims_frame(comparisons, setup: dict | None = None):
    """claims.csv: every claim row of ``comparisons``, oriented in the claim's direction
    (``difference_claimed`` > 0: as the paper says), in claim order."""
    import pandas as pd

    by_id = {c.id: c for c in CLAIMS}
    rows = []
    for claim in CLAIMS:
        part = comparisons[comparisons["claim_id"] == claim.id]
        for _, r in part.iterrows():
            d = float(r["claim_direction"])
            lo, hi = (r["ci_low"] * d, r["ci_high"] * d)
            first = {r["loss_a"]: r["a_first"], r["loss_b"]: r["b_first"]}
            mean = {r["loss_a"]: r["a_mean"], r["loss_b"]: r["b_mean"]}
            std = {r["loss_a"]: r["a_std"], r["loss_b"]: r["b_std"]}
            rows.append(
                {
                    **r.to_dict(),
                    "claim": claim.text,
                    "kind": claim.kind,
                    "source": claim.source,
                    "quote": claim.quote,
                    "higher": claim.higher,
                    "lower": claim.lower,
                    "difference_claimed": r["difference"] * d,
                    "ci_low_claimed": min(lo, hi),
                    "ci_high_claimed": max(lo, hi),
                    "hedges_g": r["hedges_g"] * d,
                    "higher_mean": mean.get(claim.higher),
                    "higher_std": std.get(claim.higher),
                    "lower_mean": mean.get(claim.lower),
                    "lower_std": std.get(claim.lower),
                    "lower_first": first.get(claim.lower),
                    "higher_first": first.get(claim.higher),
                    "setup_differences": (setup or {}).get(r["experiment"], ""),
                }
            )
    out = pd.DataFrame(rows).reindex(columns=COLUMNS)
    out["_order"] = out["claim_id"].map(list(by_id).index)
    out["_family"] = out["family"].map(list(FAMILIES).index)
    out = out.sort_values(["_family", "_order"], kind="stable").drop(columns=["_order", "_family"])
    return out.reset_index(drop=True)


def _abbrev(loss: str) -> str:
    return {C: "C", T: "T"}.get(loss, loss)


def delta_cell(r) -> str:
    """Δ in the claim's direction with its 95% CI; for an event, who came first."""
    from .. import catalog
    from .latex import isnan, signed

    if r["metric"] in catalog.METRICS and catalog.METRICS[r["metric"]].event:
        first = 0 if isnan(r["lower_first"]) else int(r["lower_first"])
        return f"{_abbrev(r['lower'])} first {first} of {int(r['n'])}"
    if isnan(r["difference_claimed"]):
        return "n/a"
    lo, hi = r["ci_low_claimed"], r["ci_high_claimed"]
    diff = signed(r["difference_claimed"], lo, hi)
    if isnan(lo) or isnan(hi):
        return diff
    half = signed((hi - lo) / 2, lo, hi).lstrip("+")
    return f"{diff} ± {half}"


def verdict_cell(r) -> str:
    """The verdict; an inconclusive one says whether this n could ever reach significance
    (†) and how many seeds would give 80% power in the claimed direction."""
    from .latex import isnan

    v = str(r["verdict"])
    if v != "inconclusive":
        return v
    need = "" if isnan(r["seeds_needed"]) else f" ({min(int(r['seeds_needed']), 100)})"
    need = need.replace("(100)", "(>99)")
    return ("inconclusive†" if not bool(r["reachable"]) else "inconclusive") + need


def claims_docs(frame, experiments: dict):
    """The claims table as LaTeX/HTML documents: one per family (confirmatory first), one
    row group per claim, one row per experiment (and a pooled row for event claims)."""
    from .doc import Doc, Group, Panel
    from .latex import effect_text, fmt_p

    docs = []
    labels = {e: info.get("label", e) for e, info in experiments.items()}
    for family in FAMILIES:
        part = frame[frame["family"] == family]
        if part.empty:
            continue
        groups = []
        for cid, g in part.groupby("claim_id", sort=False):
            claim = next(c for c in CLAIMS if c.id == cid)
            rows = [
                [
                    r["label"]
                    if r["experiment"] == "pooled"
                    else labels.get(r["experiment"], r["label"]),
                    delta_cell(r),
                    effect_text(r["hedges_g"]),
                    fmt_p(r["p_corrected"]),
                    verdict_cell(r),
                ]
                for _, r in g.iterrows()
            ]
            groups.append(Group(f"{claim.short} ({claim.source})", rows))
        ns = sorted(
            {
                int(n)
                for n in part.loc[
                    ~part["test"].astype(str).str.startswith("paired sign"), "n"
                ].dropna()
            }
        )
        size, method = int(part["family_size"].max()), part["correction"].iloc[0]
        alpha = float(part["alpha"].iloc[0])
        what = (
            "The paper's own claims on the experiments that stand for its datasets."
            if family == CONFIRMATORY
            else "The paper's claims on other experiments, and the questions it raises "
            "without claiming them."
        )
        if (part["kind"] == "question").any():
            what += (
                " The dimensional-collapse question: §2.2 says greediness may "
                "'potentially' lead to it [4]; the paper measures no rank."
            )
        notes = [
            f"{what} n = {'/'.join(map(str, ns)) or 'n/a'} seeds per loss, paired by seed. "
            "C contrastive, T triplet. Δ: mean difference in the claim's direction (positive: "
            "as the paper says) ± the half-width of its 95% CI (paired t; exact sign-flip when "
            "every difference is equal: no CI). Epochs: paired sign test on who reached the event "
            "first ('C first k of n'; pooled: over the family's experiments). g: Hedges' g in "
            "the claim's direction.",
            f"p: {method}-corrected over the {size} tests of the {family} family. Verdict at "
            f"α = {alpha:g}: supported / contradicted (significant, the claim's / the opposite "
            "direction), else inconclusive; † this test cannot reach p < α with these seeds "
            "at all; (k): seeds per loss for 80% power at α/m, effects in the claimed "
            "direction only.",
        ]
        if family == CONFIRMATORY and (part["claim_id"] == "intra_collapse").any():
            notes.append(
                "Fig. 3 names no dataset: its claim is tested where §1 places the "
                "greediness results (MNIST, CIFAR-10)."
            )
        title = "Confirmatory" if family == CONFIRMATORY else "Exploratory"
        parts = _pages(groups)
        for k, part_groups in enumerate(parts):
            more = f" ({k + 1} of {len(parts)})" if len(parts) > 1 else ""
            panel = Panel(
                "", ["Experiment", "Δ ± 95% CI", "g", "p", "Verdict"], part_groups, "2.6cm", "rrrl"
            )
            docs.append(
                Doc(
                    f"The paper's claims, checked on our runs: {title.lower()}{more}.",
                    f"tab:claims-{family}" + (f"-{k + 1}" if k else ""),
                    [panel],
                    notes if k == len(parts) - 1 else [],
                    size="small",
                )
            )
    return docs


def _p_words(p) -> str:
    from .latex import fmt_p

    text = fmt_p(p)
    return "no test" if text == "n/a" else f"p {text}" if text.startswith("<") else f"p = {text}"


#: Lines a claims float may hold before it is continued in another (a page of small type)
MAX_LINES = 34


def _pages(groups) -> list[list]:
    """Claim groups in floats that each fit a page: a row whose experiment label wraps
    counts its lines."""
    pages, lines = [[]], 0
    for g in groups:
        n = 1 + sum(1 + len(str(r[0])) // 16 for r in g.rows)
        if pages[-1] and lines + n > MAX_LINES:
            pages.append([])
            lines = 0
        pages[-1].append(g)
        lines += n
    return pages


def summary_html(frame) -> str:
    """The verdict counts and the confirmatory claims, as an HTML fragment for the landing
    page of the report."""
    import html

    parts = ["<div class='claims-summary'>"]
    for family in FAMILIES:
        part = frame[frame["family"] == family]
        if part.empty:
            continue
        counts = part["verdict"].value_counts()
        text = ", ".join(f"{int(counts.get(v, 0))} {v}" for v in VERDICTS)
        tested = int(part["p"].notna().sum())
        parts.append(
            f"<p><b>{family.capitalize()}</b> ({len(part)} comparisons, {tested} tested, "
            f"{part['correction'].iloc[0]}): {text}.</p>"
        )
        if family == CONFIRMATORY:
            parts.append("<ul>")
            for _, r in part.iterrows():
                parts.append(
                    f"<li>{html.escape(r['claim'])}, {html.escape(str(r['label']))}: "
                    f"<b>{html.escape(verdict_cell(r))}</b> ({_p_words(r['p_corrected'])})</li>"
                )
            parts.append("</ul>")
    parts.append("</div>")
    return "\n".join(parts) + "\n"
