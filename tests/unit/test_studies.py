"""dmlstudy.studies: a round's suggestions come only from the earlier rounds' files and the
study's identity (the same inputs, the same file), and the summary's history and best trial
are those of the rounds' trials."""

from __future__ import annotations

import copy
import json
import math
from types import SimpleNamespace

import pytest
from conftest import CONFIG_DIR, load_yaml

from dmlstudy import config as C
from dmlstudy import search, studies, sweeps
from dmlstudy.errors import CorruptFileError, DmlStudyError

CFG = C.validate(load_yaml(CONFIG_DIR / "tiny_search.yaml"))
STUDY = sweeps.study(CFG, "synthetic_mlp", "triplet")


def suggest(folder, index, rounds=(), trials=(), study=STUDY):
    out = folder / f"round{index}.json"
    studies.round_job(
        SimpleNamespace(rounds=list(rounds), trials=list(trials)),
        SimpleNamespace(trials=out),
        SimpleNamespace(study=study, round=index),
    )
    return out


def score(folder, round_file, scores_of):
    """A trial.json per trial of a round file, as trials.run_trial writes it."""
    paths = []
    for t in json.loads(round_file.read_text())["trials"]:
        path = folder / t["segment"] / "trial.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        scores = scores_of(t["values"])
        path.write_text(
            json.dumps(
                {"segment": t["segment"], "values": t["values"], "scores": scores}
                | {"metric": "map@r", "validation_kind": "stratified", "tuning_seeds": [0]}
            )
        )
        paths.append(path)
    return paths


def margin_score(values):  # two folds, one seed: best near margin 1
    s = 1 - abs(math.log(values["loss.margin"]))
    return [[s], [s - 0.1]]


def test_rounds_are_the_searchs_suggestions_from_the_earlier_rounds_only(tmp_path):
    space = studies.space_from(STUDY)
    assert space == sweeps.space_of(CFG, "synthetic_mlp", "triplet")
    r0 = suggest(tmp_path, 0)
    got0 = json.loads(r0.read_text())
    assert got0["study"] == STUDY and got0["round"] == 0
    assert [t["values"] for t in got0["trials"]] == search.suggest_round(space, [], 0, 2, 0, 2)
    assert [t["number"] for t in got0["trials"]] == [0, 1]
    assert all(t["segment"] == space.segment(t["values"]) for t in got0["trials"])
    t0 = score(tmp_path, r0, margin_score)
    r1 = suggest(tmp_path, 1, [r0], t0)
    history = [
        search.TrialResult(t["number"], 0, t["values"], margin_score(t["values"]))
        for t in got0["trials"]
    ]
    got1 = json.loads(r1.read_text())
    assert [t["values"] for t in got1["trials"]] == search.suggest_round(space, history, 1, 2, 0, 2)
    assert [t["number"] for t in got1["trials"]] == [2, 3]
    # the same inputs give the same file, byte for byte
    again = tmp_path / "again"
    again.mkdir()
    assert suggest(again, 0).read_bytes() == r0.read_bytes()
    assert suggest(again, 1, [r0], t0).read_bytes() == r1.read_bytes()


def test_a_round_of_another_study_or_a_missing_trial_stops_the_round(tmp_path):
    r0 = suggest(tmp_path, 0)
    t0 = score(tmp_path, r0, margin_score)
    other = {**STUDY, "seed": 1}
    with pytest.raises(DmlStudyError, match="round 0 of another study"):
        suggest(tmp_path / "x", 1, [r0], t0, study=other)
    with pytest.raises(CorruptFileError, match="has no trial.json"):
        suggest(tmp_path, 1, [r0], t0[:1])
    with pytest.raises(ValueError, match="needs the 2 earlier round files"):
        suggest(tmp_path, 2, [r0], t0)


def test_summary_writes_the_history_and_the_best_trial(tmp_path):
    r0 = suggest(tmp_path, 0)
    t0 = score(tmp_path, r0, margin_score)
    r1 = suggest(tmp_path, 1, [r0], t0)
    t1 = score(tmp_path, r1, margin_score)
    out = SimpleNamespace(history=tmp_path / "trials.csv", best=tmp_path / "best.json")
    studies.summary_job(
        SimpleNamespace(rounds=[r0, r1], trials=t0 + t1), out, SimpleNamespace(study=STUDY)
    )
    space = studies.space_from(STUDY)
    trials = search.read_history(out.history, space)
    assert [t.number for t in trials] == [0, 1, 2, 3]
    best = json.loads(out.best.read_text())
    want = search.best_trial(trials)
    assert (best["number"], best["values"], best["mean"]) == (want.number, want.values, want.mean)
    assert best["segment"] == space.segment(want.values) and best["fold_std"] == want.fold_std
    assert (best["n_trials"], best["n_failed"], best["folds"]) == (4, 0, 2)
    assert best["metric"] == "map@r" and best["space"] == space.describe()


def test_a_study_whose_every_trial_failed_says_how_to_fix_it(tmp_path):
    r0 = suggest(tmp_path, 0)
    t0 = score(tmp_path, r0, lambda v: [[None], [0.5]])
    out = SimpleNamespace(history=tmp_path / "trials.csv", best=tmp_path / "best.json")
    with pytest.raises(DmlStudyError, match="every trial failed.*narrow sweeps.space"):
        studies.summary_job(
            SimpleNamespace(rounds=[r0], trials=t0), out, SimpleNamespace(study=STUDY)
        )
    assert out.history.exists()  # the history is still written: which trials failed


def test_a_duplicate_trial_shares_the_earlier_ones_runs(tmp_path):
    """Two trials with the same segment are one point: one trial.json serves both, and the
    history marks the later one a duplicate."""
    study = copy.deepcopy(STUDY)
    study["space"] = [
        {"key": "training.epochs", "kind": "int", "low": 1, "high": 2, "log": False}
        | {"step": 1, "digits": 3, "choices": []}
    ]
    study["trials_per_round"] = 4
    r0 = suggest(tmp_path, 0, study=study)
    segments = [t["segment"] for t in json.loads(r0.read_text())["trials"]]
    assert len(set(segments)) < len(segments)
    t0 = score(tmp_path, r0, lambda v: [[v["training.epochs"] / 10], [0.1]])
    assert len(t0) == len(segments)  # written per trial, but one file per segment
    out = SimpleNamespace(history=tmp_path / "trials.csv", best=tmp_path / "best.json")
    distinct = list(dict.fromkeys(t0))
    studies.summary_job(
        SimpleNamespace(rounds=[r0], trials=distinct), out, SimpleNamespace(study=study)
    )
    import pandas as pd

    h = pd.read_csv(out.history)
    first = {seg: i for i, seg in reversed(list(enumerate(segments)))}
    for i, seg in enumerate(segments):
        dup = h.loc[i, "duplicate_of"]
        assert pd.isna(dup) if first[seg] == i else int(dup) == first[seg], (i, seg)
