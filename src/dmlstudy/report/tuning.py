"""Sweeps and the tuned protocol (``dmlstudy.sweeps``) as tables, a figure and a selection.

- :func:`select_points`: each loss's best grid point on validation (``selected.json``).
- :func:`sweep_points`: every grid point's score, mean and std over seeds
  (``sweep_points.csv``).
- ``figures.fig_sensitivity``: the score against the swept value, per loss, mean with a band.
- :func:`tuned_comparison`: each loss at the config's fixed setting beside its tuned one,
  with the three-way verdicts of ``comparisons.correct`` on "triplet beats contrastive" at
  each setting (``tuned_comparison.{csv,tex,html}``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from .. import catalog, sweeps
from ..io import write_json
from ..params import Point, format_value
from .claims import C, T
from .comparisons import correct
from .doc import Doc, Group, Panel
from .latex import column_format, fmt_p, interval, signed
from .stats import NO_TEST, compare_paired, mean_std


def with_points(df: pd.DataFrame) -> pd.DataFrame:
    """Runs (``load.load_metrics``) with their point as a path segment in ``segment``
    (without the validation prefix: a tuning run says so in ``validation``) and as a label
    in ``point_label``."""
    df = df.copy()
    if "point" not in df:
        df["point"] = [{} for _ in range(len(df))]
    df["point"] = [p if isinstance(p, dict) else {} for p in df["point"]]
    df["segment"] = [Point.of(p).segment for p in df["point"]]
    df["point_label"] = [Point.of(p).label for p in df["point"]]
    return df


def run_metric(df: pd.DataFrame, setting: str) -> str:
    """The selection metric of runs ``df`` (one experiment): ``setting`` unless ``auto``."""
    if setting != "auto":
        return setting
    if "validation" in df and df["validation"].notna().any():
        kind = next(v for v in df["validation"] if isinstance(v, dict))["kind"]
    else:
        kind = (
            "class_disjoint"
            if "test_classes_disjoint" in df and bool(df["test_classes_disjoint"].any())
            else "stratified"
        )
    return sweeps.selection_metric(setting, kind)


# --------------------------------------------------------------------------- selection
def select_points(
    df: pd.DataFrame, experiment: str, grids: Mapping[str, Sequence[str]], setting: str
) -> dict:
    """The selection of one experiment: per loss, the best of its grid points (``grids``:
    loss -> point segments in grid order) on the validation runs ``df``."""
    metric = run_metric(df, setting)
    if metric not in df:
        raise ValueError(
            f"selection metric {metric!r} (sweeps.selection_metric = {setting!r}) is not in the "
            f"validation metrics of {experiment}; choose one of: "
            + ", ".join(k for k in ("knn_accuracy", "linear_probe_accuracy", "map@r") if k in df)
        )
    out = {"experiment": experiment, "metric": metric, "losses": {}}
    kinds = [v["kind"] for v in df.get("validation", []) if isinstance(v, dict)]
    out["validation"] = kinds[0] if kinds else None
    for loss, order in grids.items():
        runs = df[df["loss"] == loss]
        scores = {seg: runs.loc[runs["segment"] == seg, metric].tolist() for seg in order}
        missing = [s for s in order if not scores[s]]
        if missing:
            raise ValueError(f"{experiment}/{loss}: no validation runs for {missing}")
        best, summary = sweeps.select(scores, list(order))
        values = runs.loc[runs["segment"] == best, "point"].iloc[0]
        out["losses"][loss] = {
            "segment": best,
            "values": values,
            "label": Point.of(values).label,
            "validation_mean": summary[best]["mean"],
            "validation_std": summary[best]["std"],
            "n_seeds": summary[best]["n"],
            "points": summary,
        }
    return out


def write_selection(selection: dict, path) -> None:
    write_json(path, selection)


def selected_points(selections: Sequence[dict], loss_labels: Mapping[str, str]) -> pd.DataFrame:
    """selected_points.csv: one row per experiment and loss."""
    rows = []
    for sel in selections:
        for loss, s in sel["losses"].items():
            rows.append(
                {
                    "experiment": sel["experiment"],
                    "loss": loss,
                    "loss_label": loss_labels.get(loss, loss),
                    "selected": s["label"],
                    "segment": s["segment"],
                    "values": json.dumps(s["values"], sort_keys=True),
                    "selection_metric": sel["metric"],
                    "validation_split": sel["validation"],
                    "validation_mean": s["validation_mean"],
                    "validation_std": s["validation_std"],
                    "n_tuning_seeds": s["n_seeds"],
                    "grid_size": len(s["points"]),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- sweep table
def sweep_points(df: pd.DataFrame, setting: str, experiments: Mapping) -> pd.DataFrame:
    """sweep_points.csv: each grid point's selection metric, mean, std and n over seeds,
    and on which split it was scored."""
    rows = []
    for exp in [e for e in experiments if e in set(df["experiment"])]:
        runs = df[df["experiment"] == exp]
        metric = run_metric(runs, setting)
        for (loss, seg), grp in runs.groupby(["loss", "segment"], sort=False):
            m, s, n = mean_std(grp[metric]) if metric in grp else (math.nan, math.nan, 0)
            rows.append(
                {
                    "experiment": exp,
                    "label": experiments[exp]["label"],
                    "loss": loss,
                    "point": grp["point_label"].iloc[0],
                    "segment": seg,
                    "values": json.dumps(grp["point"].iloc[0], sort_keys=True),
                    "scored_on": grp["evaluation_split"].iloc[0],
                    "metric": metric,
                    "mean": m,
                    "std": s,
                    "n_seeds": n,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- comparison
#: The family of the tuned table: its own, corrected with ``statistics.correction``.
TUNED_FAMILY = "tuned"


def comparison_metrics(selections: Sequence[dict]) -> list[str]:
    """The metrics compared on test: k-NN accuracy and MAP@R (the two default selection
    metrics), and the selection metric if it is another, in that order."""
    out = ["knn_accuracy", "map@r"]
    for sel in selections:
        if sel["metric"] not in out:
            out.append(sel["metric"])
    return out


def _seed_values(runs: pd.DataFrame, loss: str, metric: str) -> dict[int, float]:
    r = runs[runs["loss"] == loss]
    return {int(s): float(v) for s, v in zip(r["seed"], r[metric], strict=True) if not pd.isna(v)}


def triplet_vs_contrastive(runs: pd.DataFrame, metric: str) -> dict:
    """The paired test of triplet against contrastive on ``metric`` over the seeds both ran
    (``stats.compare_paired``), as the columns of a comparisons row."""
    va, vb = _seed_values(runs, C, metric), _seed_values(runs, T, metric)
    seeds = sorted(set(va) & set(vb))
    res = compare_paired([va[s] for s in seeds], [vb[s] for s in seeds])
    return {("difference" if k == "diff" else k): v for k, v in res.as_dict().items()}


def tuned_comparison(
    fixed: pd.DataFrame,
    tuned: pd.DataFrame,
    selections: Sequence[dict],
    experiments: Mapping,
    loss_labels: Mapping[str, str],
    statistics: Mapping,
) -> tuple[pd.DataFrame, Doc, pd.DataFrame]:
    """tuned_comparison.csv and its document, and tuned_gains.csv: per experiment, metric and
    setting (fixed = the config's values, tuned = each loss's selected point) every loss's
    test score over seeds, and the paired test of "triplet > contrastive" on the shared
    seeds, corrected with every other row of the table (a family of its own,
    ``statistics.correction``) by ``comparisons.correct``, with the three-way verdict."""
    sel_of = {s["experiment"]: s for s in selections}
    losses = [lo for lo in loss_labels if lo in set(fixed["loss"]) | set(tuned["loss"])]
    rows = []
    for exp in [e for e in experiments if e in sel_of]:
        sel = sel_of[exp]
        for metric in comparison_metrics(selections):
            for setting, df in (("fixed", fixed), ("tuned", tuned)):
                runs = df[df["experiment"] == exp]
                if runs.empty or metric not in runs:
                    continue
                row = {
                    "experiment": exp,
                    "label": experiments[exp]["label"],
                    "metric": metric,
                    "metric_name": catalog.label(metric),
                    "selection_metric": sel["metric"],
                    "setting": setting,
                    "loss_a": C,
                    "loss_b": T,
                    "claim_id": f"triplet_higher_{metric}",
                    "claim_direction": 1,
                    "family": TUNED_FAMILY,
                }
                for lo in losses:
                    r = runs[runs["loss"] == lo]
                    m, s, n = mean_std(r[metric]) if len(r) else (math.nan, math.nan, 0)
                    row[f"{lo}_mean"], row[f"{lo}_std"], row[f"n_{lo}"] = m, s, n
                    row[f"{lo}_setting"] = (
                        sel["losses"][lo]["label"]
                        if setting == "tuned" and lo in sel["losses"]
                        else _fixed_label(sel, lo, experiments[exp])
                    )
                if {C, T} <= set(runs["loss"]):
                    row.update(triplet_vs_contrastive(runs, metric))
                else:
                    row.update({"test": NO_TEST, "p": math.nan, "difference": math.nan})
                rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out, Doc("Fixed vs tuned settings.", "tab:tuned", []), pd.DataFrame()
    out = correct(out, statistics, {TUNED_FAMILY: statistics["correction"]})
    gains = tuning_gains(fixed, tuned, selections, experiments, losses, statistics)
    keys = sorted(
        {
            k.split(".")[-1]
            for sel in selections
            for c in sel["losses"].values()
            for k in c["values"]
        }
    )
    return out, _doc(out, gains, experiments, loss_labels, losses, keys), gains


def _fixed_label(sel: dict, loss: str, exp_info: Mapping) -> str:
    """The config's value of each swept key, for the fixed setting."""
    keys = list((sel["losses"].get(loss) or {}).get("values", {}))
    fixed = exp_info.get("fixed_values", {}).get(loss, {})
    return ", ".join(
        f"{k.split('.')[-1]} = " + ("default" if fixed[k] is None else format_value(fixed[k]))
        for k in keys
        if k in fixed
    )


def tuning_gains(fixed, tuned, selections, experiments, losses, statistics) -> pd.DataFrame:
    """Per experiment, loss and selection metric: tuned minus fixed on test, paired over
    seeds, corrected as their own family."""
    rows = []
    for sel in selections:
        exp, metric = sel["experiment"], sel["metric"]
        for lo in losses:
            a = fixed[(fixed["experiment"] == exp) & (fixed["loss"] == lo)]
            b = tuned[(tuned["experiment"] == exp) & (tuned["loss"] == lo)]
            if a.empty or b.empty or metric not in a or metric not in b:
                continue
            va, vb = _seed_values(a, lo, metric), _seed_values(b, lo, metric)
            seeds = sorted(set(va) & set(vb))
            res = compare_paired([va[s] for s in seeds], [vb[s] for s in seeds])
            rows.append(
                {
                    "experiment": exp,
                    "loss": lo,
                    "metric": metric,
                    "gain": res.diff,
                    "ci_low": res.ci_low,
                    "ci_high": res.ci_high,
                    "test": res.test,
                    "n": res.n,
                    "p": res.p,
                    "family": "tuned_gains",
                }
            )
    out = pd.DataFrame(rows)
    if not out.empty:
        out = correct(out, statistics, {"tuned_gains": statistics["correction"]})
        out["verdict"] = [
            "no change" if not sig else ("tuned better" if d > 0 else "tuned worse")
            for sig, d in zip(out["significant"], out["gain"], strict=True)
        ]
    return out


def _values_only(label) -> str:
    """``margin = 0.5, lr = 0.001`` -> ``0.5, 0.001``."""
    if not isinstance(label, str) or not label:
        return "--"
    return ", ".join(part.split(" = ", 1)[-1] for part in label.split(", "))


def _doc(out, gains, experiments, loss_labels, losses, keys) -> Doc:
    """Columns: the settings; one row group per experiment and metric."""
    method, alpha = out["correction"].iloc[0], float(out["alpha"].iloc[0])
    settings = list(dict.fromkeys(out["setting"]))
    short = {lo: "C" if lo == C else "T" if lo == T else loss_labels.get(lo, lo) for lo in losses}
    groups = []
    for exp, egrp in out.groupby("experiment", sort=False):
        first = {r["setting"]: r for _, r in egrp.iterrows()}
        head = [f"{', '.join(keys) or 'values'} ({' / '.join(short[lo] for lo in losses)})"] + [
            " / ".join(_values_only(first[st].get(f"{lo}_setting")) for lo in losses)
            if st in first
            else "--"
            for st in settings
        ]
        groups.append(Group(f"{experiments[exp]['label']} (scored on test)", [head]))
        for metric, grp in egrp.groupby("metric", sort=False):
            by = {r["setting"]: r for _, r in grp.iterrows()}
            rs = [by.get(st) for st in settings]
            means = [r[f"{lo}_mean"] for r in rs if r is not None for lo in losses]
            stds = [r[f"{lo}_std"] for r in rs if r is not None for lo in losses]
            fmt, _ = column_format(means, stds)
            lines = [
                [loss_labels.get(lo, lo)]
                + ["--" if r is None else fmt(r[f"{lo}_mean"], r[f"{lo}_std"]) for r in rs]
                for lo in losses
            ]
            lines.append(
                ["T − C [95% CI]"]
                + [
                    "--"
                    if r is None
                    else f"{signed(r['difference'], r['ci_low'], r['ci_high'])} "
                    f"{interval(r['ci_low'], r['ci_high'])}".replace(" n/a", "")
                    for r in rs
                ]
            )
            lines.append(
                ["T > C?"]
                + ["--" if r is None else f"{r['verdict']} ({fmt_p(r['p_corrected'])})" for r in rs]
            )
            groups.append(Group(catalog.label(metric), lines))
    ns = sorted({int(v) for lo in losses for v in out[f"n_{lo}"].dropna() if int(v) > 0})
    sel_metric = {e: m for e, m in zip(out["experiment"], out["selection_metric"], strict=True)}
    notes = [
        "Fixed: the config's setting for every loss. Tuned: each loss's best point of an "
        "equal-size grid on a validation split of the training data (chosen on "
        + "; ".join(f"{experiments[e]['label']}: {catalog.label(m)}" for e, m in sel_metric.items())
        + f"), trained with {'/'.join(map(str, ns))} seeds, scored once on test. Mean ± std "
        "over seeds. T − C: triplet minus contrastive, paired t over seeds (exact sign-flip "
        "when every difference is equal), 95% CI.",
        f"p: {method}-corrected over the {int(out['family_size'].max())} tests of this table "
        f"(a family of its own). T > C?: supported (p < {alpha:g}, triplet higher), "
        "contradicted (p < α, contrastive higher), else inconclusive.",
    ]
    if gains is not None and not gains.empty:
        changed = gains[gains["verdict"] != "no change"]
        notes.append(
            "Tuned − fixed on test (paired, corrected as their own family): "
            + (
                "; ".join(
                    f"{loss_labels.get(r['loss'], r['loss'])} on "
                    f"{experiments[r['experiment']]['label']} ({r['gain']:+.3g}, {r['verdict']})"
                    for _, r in changed.iterrows()
                )
                if not changed.empty
                else "no significant change"
            )
            + " (tuned_gains.csv)."
        )
    columns = [""] + [st.capitalize() for st in settings]
    return Doc(
        "Does triplet still beat contrastive when both losses are tuned?",
        "tab:tuned",
        [Panel("", columns, groups)],
        notes,
    )
