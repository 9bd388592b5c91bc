"""The tuned protocol's report: selection, sweep table, figure, comparison."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dmlstudy.report import figures, tuning
from dmlstudy.report.doc import to_latex

LABELS = {"contrastive": "Contrastive", "triplet": "Triplet"}
EXPS = {
    "e": {
        "label": "Exp",
        "preset": "paper",
        "fixed_values": {"contrastive": {"loss.margin": 1.0}, "triplet": {"loss.margin": 1.0}},
    }
}
STATS = {"correction": "holm", "exploratory_correction": "bh", "alpha": 0.05}


def run(loss, seed, margin=None, validation=None, **metrics):
    row = {"experiment": "e", "loss": loss, "seed": seed, "epochs": 3, **metrics}
    row["point"] = {} if margin is None else {"loss.margin": margin}
    row["segment"] = "" if margin is None else f"loss.margin~{margin!r}/"
    row["point_label"] = "" if margin is None else f"margin = {margin!r}"
    row["evaluation_split"] = "validation" if validation else "test"
    if validation:
        row["validation"] = {"kind": validation}
    return row


def validation_runs(kind="stratified"):
    rows = []
    scores = {
        ("contrastive", 0.5): [0.7, 0.72],
        ("contrastive", 1.0): [0.8, 0.84],
        ("triplet", 0.5): [0.9, 0.88],
        ("triplet", 1.0): [0.6, 0.6],
    }
    for (loss, m), vals in scores.items():
        for seed, v in enumerate(vals):
            rows.append(run(loss, seed, m, kind, knn_accuracy=v, **{"map@r": 1 - v}))
    return pd.DataFrame(rows)


GRIDS = {lo: ["loss.margin~0.5/", "loss.margin~1.0/"] for lo in LABELS}


def test_select_points_picks_each_losss_best_validation_mean():
    sel = tuning.select_points(validation_runs(), "e", GRIDS, "auto")
    assert sel["metric"] == "knn_accuracy" and sel["validation"] == "stratified"
    c, t = sel["losses"]["contrastive"], sel["losses"]["triplet"]
    assert c["segment"] == "loss.margin~1.0/" and c["values"] == {"loss.margin": 1.0}
    assert t["segment"] == "loss.margin~0.5/" and t["label"] == "margin = 0.5"
    assert c["validation_mean"] == pytest.approx(0.82) and c["n_seeds"] == 2
    assert c["validation_std"] == pytest.approx(np.std([0.8, 0.84], ddof=1))


def test_select_points_uses_map_at_r_on_a_class_disjoint_split():
    sel = tuning.select_points(validation_runs("class_disjoint"), "e", GRIDS, "auto")
    assert sel["metric"] == "map@r"
    assert sel["losses"]["contrastive"]["segment"] == "loss.margin~0.5/"  # 1 - 0.71 is best
    assert sel["losses"]["triplet"]["segment"] == "loss.margin~1.0/"


def test_select_points_names_a_missing_metric():
    with pytest.raises(ValueError, match="sweeps.selection_metric = 'recall@7'"):
        tuning.select_points(validation_runs(), "e", GRIDS, "recall@7")


def test_selected_points_table_has_a_row_per_loss():
    sel = tuning.select_points(validation_runs(), "e", GRIDS, "auto")
    table = tuning.selected_points([sel], LABELS)
    assert list(table["loss"]) == ["contrastive", "triplet"]
    assert list(table["selected"]) == ["margin = 1.0", "margin = 0.5"]
    assert set(table["grid_size"]) == {2} and set(table["n_tuning_seeds"]) == {2}


def test_sweep_points_summarises_each_point_over_seeds():
    table = tuning.sweep_points(validation_runs(), "auto", EXPS)
    row = table[(table["loss"] == "triplet") & (table["segment"] == "loss.margin~0.5/")].iloc[0]
    assert row["mean"] == pytest.approx(0.89) and row["n_seeds"] == 2
    assert row["std"] == pytest.approx(np.std([0.9, 0.88], ddof=1))
    assert row["scored_on"] == "validation" and row["metric"] == "knn_accuracy"
    assert len(table) == 4


def test_fig_sensitivity_writes_both_files(tmp_path):
    table = tuning.sweep_points(validation_runs(), "auto", EXPS)
    sel = tuning.select_points(validation_runs(), "e", GRIDS, "auto")
    figures.fig_sensitivity(table, EXPS, LABELS, tmp_path / "fig", [sel], dpi=50)
    assert (tmp_path / "fig.pdf").stat().st_size > 0
    assert (tmp_path / "fig.png").stat().st_size > 0


def _test_runs(c_fixed, t_fixed, c_tuned, t_tuned):
    fixed = pd.DataFrame(
        [run("contrastive", s, knn_accuracy=v, **{"map@r": v}) for s, v in enumerate(c_fixed)]
        + [run("triplet", s, knn_accuracy=v, **{"map@r": v}) for s, v in enumerate(t_fixed)]
    )
    tuned = pd.DataFrame(
        [run("contrastive", s, 1.0, knn_accuracy=v, **{"map@r": v}) for s, v in enumerate(c_tuned)]
        + [run("triplet", s, 0.5, knn_accuracy=v, **{"map@r": v}) for s, v in enumerate(t_tuned)]
    )
    return fixed, tuned


def test_tuned_comparison_verdicts_follow_the_corrected_paired_test():
    c_fixed = [0.90, 0.91, 0.92, 0.90, 0.93]
    t_fixed = [0.80, 0.82, 0.81, 0.80, 0.83]  # contrastive clearly higher at the fixed margin
    c_tuned = [0.80, 0.81, 0.80, 0.82, 0.81]
    t_tuned = [0.90, 0.93, 0.91, 0.92, 0.90]  # triplet clearly higher once both are tuned
    fixed, tuned = _test_runs(c_fixed, t_fixed, c_tuned, t_tuned)
    sel = tuning.select_points(validation_runs(), "e", GRIDS, "auto")
    table, doc, gains = tuning.tuned_comparison(fixed, tuned, [sel], EXPS, LABELS, STATS)
    tex = to_latex(doc)
    knn = table[table["metric"] == "knn_accuracy"].set_index("setting")
    assert knn.loc["fixed", "verdict"] == "contradicted"
    assert knn.loc["tuned", "verdict"] == "supported"
    assert knn.loc["tuned", "difference"] == pytest.approx(np.mean(t_tuned) - np.mean(c_tuned))
    p = stats.ttest_rel(t_tuned, c_tuned).pvalue
    assert knn.loc["tuned", "p"] == pytest.approx(p)
    # Holm over the 4 rows (2 metrics x 2 settings; map@r repeats knn here): p sorted
    # ascending, the i-th (0-based) multiplied by 4 - i, made monotone, capped at 1
    ps = np.sort(table["p"].to_numpy())
    holm = np.minimum(1, np.maximum.accumulate(ps * (4 - np.arange(4))))
    assert np.allclose(np.sort(table["p_corrected"].to_numpy()), holm)
    assert knn.loc["tuned", "contrastive_setting"] == "margin = 1.0"
    assert knn.loc["tuned", "triplet_setting"] == "margin = 0.5"
    assert knn.loc["fixed", "triplet_setting"] == "margin = 1.0"
    assert "contradicted" in tex and "supported" in tex and "1.0 / 0.5" in tex
    assert "\\setlength{\\tabcolsep}" not in tex and "T $-$ C [95\\% CI]" in tex
    g = gains.set_index("loss")
    assert g.loc["triplet", "gain"] == pytest.approx(np.mean(t_tuned) - np.mean(t_fixed))
    assert g.loc["triplet", "verdict"] == "tuned better"
    assert g.loc["contrastive", "verdict"] == "tuned worse"


def test_tuned_comparison_is_inconclusive_on_noise():
    rng = np.random.default_rng(0)
    noise = lambda: list(0.8 + 0.05 * rng.standard_normal(5))  # noqa: E731
    fixed, tuned = _test_runs(noise(), noise(), noise(), noise())
    sel = tuning.select_points(validation_runs(), "e", GRIDS, "auto")
    table, _, _ = tuning.tuned_comparison(fixed, tuned, [sel], EXPS, LABELS, STATS)
    assert set(table["verdict"]) == {"inconclusive"}


def test_runs_at_points_take_their_identity_from_the_rules_records(tmp_path):
    from dmlstudy.report import load

    paths, runs = [], []
    for i, point in enumerate([{}, {"loss.margin": 0.5}]):
        p = tmp_path / f"m{i}.json"
        p.write_text(json.dumps({"experiment": "e", "loss": "triplet", "seed": i, "point": point}))
        paths.append(p)
        seg = "loss.margin~0.5/" if point else ""
        runs.append({"experiment": "e", "loss": "triplet", "seed": i, "point": seg})
    df = tuning.with_points(load.load_metrics(paths, runs))
    assert list(df["segment"]) == ["", "loss.margin~0.5/"]
    assert list(df["point_label"]) == ["", "margin = 0.5"]
    assert list(df["seed"]) == [0, 1]
    # a tuning run's record carries the validation prefix; the file records the point alone
    runs[1]["point"] = "split~validation/loss.margin~0.5/"
    assert list(load.load_metrics(paths, runs)["run_point"])[1] == runs[1]["point"]
    runs[1]["point"] = "loss.margin~2.0/"  # misaligned lists: an error, not a wrong table
    with pytest.raises(ValueError, match="its point is 'loss.margin~0.5/' but its run record"):
        load.load_metrics(paths, runs)
