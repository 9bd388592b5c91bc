"""The reality-check protocol as Snakemake runs it (sweeps.search: tpe).

One completed run of tests/config/tiny_search.yaml (2 losses, each 2 rounds of 2 trials on
2 folds, the best trial reproduced with 10 seeds) is shared by every test, read-only; the
rerun semantics are dry-run plans of changed configs on it, and real reruns on copies.
"""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import (
    CONFIG_DIR,
    copy_run,
    file_mtimes,
    load_yaml,
    output_of,
    planned_jobs,
    require_success,
    run_snakemake,
    write_config,
)

from dmlstudy.report.claims import VERDICTS

pytestmark = pytest.mark.slow

CONFIG = CONFIG_DIR / "tiny_search.yaml"
BASE = load_yaml(CONFIG)
EXP = "synthetic_mlp"
LOSSES = BASE["losses"]
SEEDS = BASE["seeds"]


def study_targets(rounds: int) -> list[str]:
    """Each study's history and round files (what `all` asks for)."""
    names = ["trials.csv"] + [f"round{r}.json" for r in range(rounds)]
    return [f"results/tuning/{EXP}/{lo}/{name}" for lo in LOSSES for name in names]


STUDIES = study_targets(BASE["sweeps"]["rounds"])
TARGETS = [
    "results/tables/reality_check.csv",
    "results/tables/reality_check.tex",
    "results/tables/reality_check.html",
    "results/figures/fig_search.pdf",
    "results/figures/fig_search.png",
    *STUDIES,
]


@pytest.fixture(scope="module")
def search_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("search_run")
    proc = run_snakemake(workdir, CONFIG, *TARGETS, timeout=1800)  # 57 jobs
    require_success(proc, "the tiny search run")
    return workdir


def study(workdir, loss) -> dict:
    """A study's files: its round files, trials.csv and best.json."""
    folder = workdir / "results/tuning" / EXP / loss
    rounds = sorted(folder.glob("round*.json"))
    return {
        "rounds": [json.loads(p.read_text()) for p in rounds],
        "history": pd.read_csv(folder / "trials.csv"),
        "best": json.loads((folder / "best.json").read_text()),
        "folder": folder,
    }


def ran(text: str, rule: str) -> list[dict]:
    """Wildcards of every job of ``rule`` a (real) run's log shows."""
    out = []
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) )", text):
        if re.match(rf"(?:local)?(?:rule|checkpoint) {rule}:", block):
            wc = re.search(r"^\s+wildcards: (.*)$", block, re.M)
            out.append(dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {})
    return out


def plan(workdir, tmp_path, cfg, *targets) -> list[tuple[str, dict]]:
    proc = run_snakemake(workdir, write_config(tmp_path / "c.yaml", cfg), "-n", *targets)
    assert proc.returncode == 0, output_of(proc)
    return planned_jobs(output_of(proc))


# --------------------------------------------------------------------------- outputs
def test_every_output_is_there_and_consistent(search_run):
    res = search_run / "results"
    for target in TARGETS:
        assert (search_run / target).stat().st_size > 0, target
    assert "<table" in (res / "tables/reality_check.html").read_text()
    table = pd.read_csv(res / "tables/reality_check.csv")
    for lo in LOSSES:
        s = study(search_run, lo)
        sw = BASE["sweeps"]
        # 2 rounds of 2 trials, numbered in order, each under its values' segment
        assert [r["round"] for r in s["rounds"]] == list(range(sw["rounds"]))
        trials = [t for r in s["rounds"] for t in r["trials"]]
        assert [t["number"] for t in trials] == list(range(sw["rounds"] * sw["trials_per_round"]))
        assert s["history"]["segment"].tolist() == [t["segment"] for t in trials]
        for t in trials:
            summary = json.loads((s["folder"] / t["segment"] / "trial.json").read_text())
            assert summary["values"] == t["values"] and summary["metric"] == "map@r"
            for fold in range(sw["folds"]):
                m = json.loads(
                    (s["folder"] / t["segment"] / f"fold{fold}/seed0/metrics.json").read_text()
                )
                assert m["point"] == t["values"] and m["validation"]["fold"] == fold
                assert m["evaluation_split"] == "validation"
                assert summary["scores"][fold] == [m["map@r"]]
        # the best trial is the history's highest mean, reproduced with every seed on test
        best, h = s["best"], s["history"]
        assert best["mean"] == pytest.approx(h["mean"].max())
        assert best["segment"] == h.loc[h["mean"].idxmax(), "segment"]
        assert h["best_so_far"].is_monotonic_increasing
        for seed in SEEDS:
            run = res / "runs" / EXP / lo / best["segment"] / f"seed{seed}"
            cfg = json.loads((run / "config.json").read_text())
            assert cfg["point"] == best["values"] and "validation" not in cfg
            for key, value in best["values"].items():  # exactly the path's values
                section, name = key.split(".")
                assert cfg["resolved"][section][name] == value
                assert f"{key}~{value!r}/" in best["segment"]
            assert json.loads((run / "metrics.json").read_text())["evaluation_split"] == "test"
        row = table[(table["kind"] == "loss") & (table["loss"] == lo)].iloc[0]
        assert row["segment"] == best["segment"] and row["n_reproductions"] == len(SEEDS)
        assert row["validation_mean"] == pytest.approx(best["mean"])
    # the input's own scores on test (evaluate.input_metrics), one row, no interval
    base = table[table["kind"] == "input"]
    assert list(base["experiment"]) == [EXP] and np.isfinite(base["map@r_mean"]).all()
    assert base["map@r_ci_low"].isna().all()
    tests = table[table["kind"] == "comparison"]
    assert len(tests) == 4 and set(tests["verdict"]) <= set(VERDICTS)
    assert set(tests["family"]) == {"reality_check"} and set(tests["n"]) == {len(SEEDS)}


# --------------------------------------------------------------------------- rerun semantics
def test_a_rerun_plans_nothing(search_run):
    proc = run_snakemake(search_run, CONFIG, "-n", *TARGETS)
    assert proc.returncode == 0, output_of(proc)
    assert "Nothing to be done" in output_of(proc), output_of(proc)


def test_the_same_config_suggests_the_same_trials_and_paths(search_run, tmp_path):
    """Every round asked again, in fresh processes, writes the same file byte for byte, so
    every trial keeps its path and no trial trains again."""
    work = copy_run(search_run, tmp_path / "work")
    before = {lo: [r for r in sorted((work / f"results/tuning/{EXP}/{lo}").glob("round*"))]
              for lo in LOSSES}  # fmt: skip
    content = {p: p.read_bytes() for ps in before.values() for p in ps}
    trial_files = {k: v for k, v in file_mtimes(work).items() if "/fold" in k or "trial." in k}
    proc = run_snakemake(work, CONFIG, *STUDIES, "--forcerun", "search_round")
    require_success(proc, "the forced rerun of every round")
    text = output_of(proc)
    assert len(ran(text, "search_round")) == 4 and ran(text, "search_trial") == []
    assert {p: p.read_bytes() for p in content} == content
    after = {k: v for k, v in file_mtimes(work).items() if "/fold" in k or "trial." in k}
    assert after == trial_files


def test_more_rounds_run_only_the_new_trials(search_run, tmp_path):
    work = copy_run(search_run, tmp_path / "work")
    old = {k: v for k, v in file_mtimes(work).items() if "results/tuning/" in k}
    cfg = copy.deepcopy(BASE)
    cfg["sweeps"]["rounds"] = 3
    configfile = write_config(tmp_path / "c.yaml", cfg)
    proc = run_snakemake(work, configfile, *study_targets(3))
    require_success(proc, "the run with one more round")
    text = output_of(proc)
    assert {(w["loss"], w["round"]) for w in ran(text, "search_round")} == {
        (lo, "2") for lo in LOSSES
    }
    for lo in LOSSES:
        s = study(work, lo)
        earlier = {t["segment"] for r in s["rounds"][:2] for t in r["trials"]}
        new = {t["segment"] for t in s["rounds"][2]["trials"]}
        assert [t["number"] for t in s["rounds"][2]["trials"]] == [4, 5]
        trained = {w["segment"] for w in ran(text, "search_trial") if w["loss"] == lo}
        assert trained == new - earlier
        assert len(s["history"]) == 6
    now = file_mtimes(work)
    unchanged = {k: v for k, v in old.items() if "/fold" in k or "trial.json" in k or "round" in k}
    assert {k: now[k] for k in unchanged} == unchanged  # earlier rounds and trials untouched


@pytest.mark.parametrize(
    ("change", "losses"),
    [
        pytest.param(lambda sw: sw.update(seed=1), LOSSES, id="seed"),
        pytest.param(lambda sw: sw.update(trials_per_round=3), LOSSES, id="trials_per_round"),
        pytest.param(
            lambda sw: sw["space"][EXP]["triplet"]["loss.margin"].update({"float": [0.2, 4.0]}),
            ["triplet"],
            id="space",
        ),
    ],
)
def test_a_changed_study_starts_again_from_round_zero(search_run, tmp_path, change, losses):
    """A study's identity is in its rounds' params: a change reruns round 0, and so every
    later round, of exactly the studies it changes, instead of reusing their rounds."""
    cfg = copy.deepcopy(BASE)
    change(cfg["sweeps"])
    jobs = plan(search_run, tmp_path, cfg, *STUDIES)
    rounds = {(w["loss"], w["round"]) for r, w in jobs if r == "search_round"}
    assert rounds == {(lo, str(r)) for lo in losses for r in range(BASE["sweeps"]["rounds"])}
    assert not [r for r, _ in jobs if r in ("search_trial", "train_model")]  # not known yet


def test_all_adds_only_the_fixed_runs_and_the_paper_tables(search_run, tmp_path):
    jobs = plan(search_run, tmp_path, BASE, "all")
    assert not [r for r, _ in jobs if r.startswith("search") or r == "study_summary"]
    trained = {(w["loss"], w["point"], w["seed"]) for r, w in jobs if r == "train_model"}
    assert trained == {(lo, "", str(s)) for lo in LOSSES for s in SEEDS}


def test_an_unequal_budget_stops_before_any_job(tmp_path):
    cfg = copy.deepcopy(BASE)
    del cfg["sweeps"]["space"][EXP]["contrastive"]
    proc = run_snakemake(tmp_path, write_config(tmp_path / "c.yaml", cfg), "-n", "all")
    out = output_of(proc)
    assert proc.returncode != 0 and "Traceback" not in out
    assert (
        "'sweeps.space.synthetic_mlp': the search gives every loss the same budget, but "
        "contrastive has no search space (0 trials)"
    ) in out
    assert "Building DAG" not in out
