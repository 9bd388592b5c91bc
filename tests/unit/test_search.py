"""The seeded TPE search (dmlstudy.search, dmlstudy.search_space): the space spec and its
errors, determinism across processes and rounds, ranges, path segments, duplicates, failed
trials, the equal-budget check, the best trial and the history file."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest

from dmlstudy import params as P
from dmlstudy import search
from dmlstudy.errors import CorruptFileError
from dmlstudy.search import (
    Budget,
    TrialResult,
    best_trial,
    budget_problems,
    earlier_trials,
    history_rows,
    parse_space,
    read_history,
    suggest_round,
    trial_seed,
    write_history,
)

SPEC = {
    "loss.margin": {"float": [0.05, 8.0], "log": True},
    "training.lr": {"float": [1e-5, 1e-1], "log": True, "digits": 2},
    "training.batch_size": {"int": [16, 128], "log": True},
    "sampling.sampler": {"choices": ["random", "semihard"]},
}


def space(spec=SPEC):
    sp, problems = parse_space(spec)
    assert problems == [] and sp is not None
    return sp


def score_of(values, fold, seed):
    """A deterministic objective with a peak at margin 1.5, lr 1e-3."""
    return (
        -abs(math.log(values["loss.margin"] / 1.5))
        - abs(math.log(values["training.lr"] / 1e-3))
        + 0.01 * fold
        - 0.005 * seed
    )


def run_study(sp, rounds, tpr, seed, n_startup=4, folds=2, seeds=2):
    """Rounds 0..rounds-1, each from the results of the ones before: (per-round values,
    history)."""
    history, per_round = [], []
    for r in range(rounds):
        vals = suggest_round(sp, history, r, tpr, seed, n_startup_trials=n_startup)
        per_round.append(vals)
        for i, v in enumerate(vals):
            scores = [[score_of(v, f, s) for s in range(seeds)] for f in range(folds)]
            history.append(TrialResult(r * tpr + i, r, v, scores))
    return per_round, history


# --------------------------------------------------------------------------- the space
def test_parse_space():
    sp = space()
    assert sp.keys == list(SPEC)
    m, lr, bs, samp = sp.params
    assert (m.kind, m.low, m.high, m.log, m.digits) == ("float", 0.05, 8.0, True, 3)
    assert (lr.digits, bs.kind, bs.low, bs.high, bs.log, bs.step) == (2, "int", 16, 128, True, 1)
    assert samp.choices == ("random", "semihard")
    assert sp.describe() == (
        "loss.margin: float [0.05, 8.0] log; training.lr: float [1e-05, 0.1] log; "
        "training.batch_size: int [16, 128] log; sampling.sampler: {random, semihard}"
    )
    ints = space(
        {"training.epochs": {"int": [10, 50], "step": 10}, "loss.margin": {"float": [1, 4]}}
    )
    assert ints.params[0].step == 10 and ints.params[1].low == 1.0
    assert isinstance(ints.params[1].low, float)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({}, r"^'sweeps.space.e.l': a search space maps at least one dotted key"),
        (
            {"margin": {"float": [0.1, 1]}},
            r"^'sweeps.space.e.l.margin': a searched key is a dotted",
        ),
        ({"data.seed": {"int": [0, 3]}}, r"\.l\.data\.seed': a searched key is a dotted key under"),
        ({"loss.margin": [0.1, 1]}, r"loss.margin': expected a mapping like"),
        ({"loss.margin": {"float": [0.1, 1], "int": [1, 2]}}, r"give exactly one of"),
        ({"loss.margin": {"float": [0.1, 1], "step": 0.1}}, r"unknown field\(s\) \['step'\]"),
        ({"loss.margin": {"float": [0.1]}}, r"'float' must be \[low, high\]"),
        ({"loss.margin": {"float": [0.1, "1"]}}, r"'float' must be \[low, high\]"),
        ({"loss.margin": {"float": [0.1, math.inf]}}, r"two finite numbers"),
        ({"loss.margin": {"float": [2.0, 1.0]}}, r"low 2.0 must be below high 1.0"),
        ({"loss.margin": {"float": [1.0, 1.0]}}, r"set it in the config instead of searching"),
        ({"loss.margin": {"float": [0.0, 1.0], "log": True}}, r"a log scale needs low > 0"),
        ({"loss.margin": {"float": [0.1, 1.0], "log": "yes"}}, r"'log' must be true or false"),
        ({"loss.margin": {"float": [0.1, 1.0], "digits": 0}}, r"'digits' must be an integer"),
        ({"training.epochs": {"int": [1.5, 4]}}, r"int bounds must be integers"),
        ({"training.epochs": {"int": [10, 45], "step": 10}}, r"high - low = 35 is not a multiple"),
        ({"training.epochs": {"int": [1, 64], "log": True, "step": 2}}, r"takes no step"),
        ({"training.epochs": {"int": [1, 4], "step": 0}}, r"'step' must be a positive integer"),
        ({"sampling.sampler": {"choices": ["random"]}}, r"at least 2 values"),
        ({"sampling.sampler": {"choices": ["a/b", "c"]}}, r"choice 'a/b' cannot be part of a path"),
        ({"sampling.sampler": {"choices": ["a", ["b"]]}}, r"must be a string, number or boolean"),
        ({"training.x": {"choices": [1, True]}}, r"choices 1 and True are the same value"),
        ({"training.x": {"choices": [1, "1"]}}, r"choices 1 and '1' are the same value"),
    ],
)
def test_space_problems_name_the_key_and_the_fix(spec, message):
    sp, problems = parse_space(spec, where="sweeps.space.e.l.")
    assert sp is None
    assert len(problems) == 1, problems
    assert re.search(message, problems[0]), problems[0]


def test_every_problem_is_reported_and_the_schema_hook_is_asked():
    asked = []

    def value_problem(key, value):
        asked.append((key, value))
        if key == "loss.nope":
            return "loss has no key 'nope'"
        return "must be at most 2.0" if isinstance(value, float) and value > 2 else None

    spec = {
        "loss.margin": {"float": [0.5, 4.0]},
        "loss.nope": {"float": [0.5, 1.0]},
        "training.lr": {"float": [1.0, 0.5]},
        "sampling.sampler": {"choices": ["random", "semihard"]},
    }
    sp, problems = parse_space(spec, where="s.", value_problem=value_problem)
    assert sp is None
    assert problems == [
        "'s.loss.margin' value 4.0: must be at most 2.0",
        "'s.loss.nope': loss has no key 'nope'",  # the same for every value: said once
        "'s.training.lr': low 1.0 must be below high 0.5 (to fix a value, set it in the config "
        "instead of searching it)",
    ]
    assert ("sampling.sampler", "semihard") in asked and ("loss.margin", 0.5) in asked


# --------------------------------------------------------------------------- values and paths
def test_rounding_and_clipping_by_hand():
    p = space({"training.lr": {"float": [0.001234, 0.0999], "log": True}}).params[0]
    assert p.round(0.0054321987) == 0.00543  # 3 significant digits
    assert p.round(0.0123456) == 0.0123 and p.round(0.0999) == 0.0999
    assert p.round(0.0012399) == 0.00124
    assert p.round(0.0012341) == 0.001234  # 0.00123 is below low: the bound itself
    q = space({"loss.margin": {"float": [0.0, 0.9994], "digits": 3}}).params[0]
    assert q.round(0.99939) == 0.999  # inside the bounds: kept
    assert q.round(0.99951) == 0.9994  # 1.0 is above high: the bound itself
    assert q.round(-1e-9) == 0.0  # below low
    assert math.copysign(1.0, q.round(-0.0)) == 1.0  # never "-0.0" in a path
    r = space({"loss.margin": {"float": [0.1, 10.0], "digits": 5}}).params[0]
    assert r.round(1.234567) == 1.2346 and r.text(r.round(1.234567)) == "1.2346"
    n = space({"training.epochs": {"int": [10, 50], "step": 10}}).params[0]
    assert n.round(30) == 30 and type(n.round(30)) is int
    assert n.parse("30") == 30
    for bad in ("35", "60", "30.0", "030"):
        with pytest.raises(ValueError, match="is not a value of training.epochs: int"):
            n.parse(bad)


def test_segments_round_trip_and_follow_the_grid_convention():
    sp = space()
    values = {
        "loss.margin": 0.731,
        "training.lr": 1.2e-05,
        "training.batch_size": 23,
        "sampling.sampler": "semihard",
    }
    seg = sp.segment(values)
    assert seg == (
        "loss.margin~0.731/training.lr~1.2e-05/training.batch_size~23/sampling.sampler~semihard/"
    )
    assert re.fullmatch(P.POINT_REGEX, seg)
    assert re.fullmatch(P.POINT_REGEX, P.VALIDATION + seg)
    back = sp.parse_segment(seg)
    assert back == values and list(back) == sp.keys
    assert type(back["training.batch_size"]) is int and type(back["loss.margin"]) is float
    assert sp.point(values).segment == seg  # the grid points' own formatting
    resolved = {"loss": {"margin": 1.0}, "training": {"lr": 1e-3, "batch_size": 64}}
    applied = P.apply(resolved, sp.point(values))
    assert applied["loss"]["margin"] == 0.731 and applied["sampling"]["sampler"] == "semihard"
    bools = space({"training.x": {"choices": [True, False]}, "training.y": {"int": [-3, 3]}})
    seg = bools.segment({"training.x": False, "training.y": -2})
    assert seg == "training.x~false/training.y~-2/"
    assert bools.parse_segment(seg) == {"training.x": False, "training.y": -2}
    for bad in (
        "loss.margin~0.731/",
        "training.lr~1.2e-05/loss.margin~0.731/training.batch_size~23/sampling.sampler~random/",
        "loss.margin~0.7310/training.lr~1.2e-05/training.batch_size~23/sampling.sampler~random/",
        "loss.margin~9.0/training.lr~1.2e-05/training.batch_size~23/sampling.sampler~random/",
        "loss.margin~0.731/training.lr~1.2e-05/training.batch_size~23/sampling.sampler~hard/",
    ):
        with pytest.raises(ValueError):
            sp.parse_segment(bad)


@pytest.mark.parametrize("seed", [0, 1])
def test_suggested_values_stay_in_range_and_in_their_paths(seed):
    sp = space({**SPEC, "training.lr": {"float": [1e-5, 1e-1], "log": True, "digits": 2}})
    per_round, history = run_study(sp, rounds=6, tpr=4, seed=seed, n_startup=8)
    assert len(history) == 24
    lrs = []
    for t in history:
        v = t.values
        assert list(v) == sp.keys
        assert type(v["loss.margin"]) is float and 0.05 <= v["loss.margin"] <= 8.0
        assert type(v["training.lr"]) is float and 1e-5 <= v["training.lr"] <= 1e-1
        assert type(v["training.batch_size"]) is int and 16 <= v["training.batch_size"] <= 128
        assert v["sampling.sampler"] in ("random", "semihard")
        assert len(f"{v['loss.margin']:e}".split("e")[0].rstrip("0").replace(".", "")) <= 3
        assert len(f"{v['training.lr']:e}".split("e")[0].rstrip("0").replace(".", "")) <= 2
        assert sp.parse_segment(sp.segment(v)) == v  # the path alone gives the values
        lrs.append(v["training.lr"])
    # log scale: the 8 random start-up draws spread over the decades (a uniform draw on
    # [1e-5, 0.1] is below 1e-3 with probability 1 %)
    assert sum(lr < 1e-3 for lr in lrs[:8]) >= 2
    assert len({sp.segment(t.values) for t in history}) >= 20  # a search, not one point


# --------------------------------------------------------------------------- determinism
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))


def _env(**extra) -> dict:
    """A subprocess's environment that imports this checkout's package (not an installed
    copy from another tree)."""
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


_SCRIPT = r"""
import json, math, sys
sys.path[:0] = [{src!r}, {tests!r}]
from test_search import run_study, space
per_round, _ = run_study(space(), rounds=4, tpr=3, seed=11, n_startup=3)
print(json.dumps([[{{k: repr(v) for k, v in t.items()}} for t in r] for r in per_round]))
"""


def test_same_inputs_same_trials_in_fresh_processes():
    code = _SCRIPT.format(src=SRC, tests=os.path.dirname(__file__))
    outs = []
    for hashseed in ("1", "987"):  # string hashing differs between the two processes
        env = _env(PYTHONHASHSEED=hashseed)
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        outs.append(json.loads(res.stdout))
    assert outs[0] == outs[1]
    per_round, _ = run_study(space(), rounds=4, tpr=3, seed=11, n_startup=3)
    assert outs[0] == [[{k: repr(v) for k, v in t.items()} for t in r] for r in per_round]
    assert len(outs[0]) == 4 and all(len(r) == 3 for r in outs[0])


def test_rounds_depend_only_on_earlier_rounds_and_the_seed():
    sp = space()
    per_round, history = run_study(sp, rounds=5, tpr=3, seed=2, n_startup=3)
    # Adding rounds leaves the earlier ones as they were.
    shorter, _ = run_study(sp, rounds=3, tpr=3, seed=2, n_startup=3)
    assert per_round[:3] == shorter
    # A round recomputed from the whole history (later rounds in it are ignored) is the same.
    for r in range(5):
        assert suggest_round(sp, history, r, 3, 2, n_startup_trials=3) == per_round[r]
    # The rounds differ from each other and the seed matters, in the random rounds too.
    assert per_round[0] != per_round[1]
    other, _ = run_study(sp, rounds=2, tpr=3, seed=3, n_startup=3)
    assert other[0] != per_round[0]
    # Earlier scores matter in the TPE rounds: make trial 0 the best and round 2 changes.
    changed = list(history)
    changed[0] = TrialResult(
        0, 0, history[0].values, [[v + 10.0 for v in f] for f in history[0].scores]
    )
    assert suggest_round(sp, changed, 2, 3, 2, n_startup_trials=3) != per_round[2]
    assert suggest_round(sp, changed, 1, 3, 2, n_startup_trials=3) != per_round[1]
    # With 6 start-up trials rounds 0 and 1 are random: round 1 ignores the scores.
    assert suggest_round(sp, changed, 1, 3, 2, n_startup_trials=6) == suggest_round(
        sp, history, 1, 3, 2, n_startup_trials=6
    )


def test_trial_seed_is_pinned():
    # The derivation is part of every study's identity: changing it would move every trial
    # path of every study (and find nothing cached).
    assert trial_seed(0, 0) == 0xFDF042F6
    assert trial_seed(3, 7) == 3408723836
    seeds = {trial_seed(s, r) for s in range(5) for r in range(20)}
    assert len(seeds) == 100 and all(0 <= s < 2**32 for s in seeds)


def test_history_must_hold_every_earlier_round():
    sp = space()
    _, history = run_study(sp, rounds=2, tpr=3, seed=0)
    with pytest.raises(ValueError, match=r"round 2 needs the 6 trials of rounds 0-1"):
        suggest_round(sp, history[:5], 2, 3, 0)
    with pytest.raises(ValueError, match=r"round 1 needs the 2 trials"):
        earlier_trials(history, 1, 2)  # trials_per_round changed: a new study
    relabelled = list(history)
    relabelled[2] = TrialResult(2, 1, history[2].values, history[2].scores)
    with pytest.raises(ValueError, match=r"trial 2 says round 1, but with 3 trials a round"):
        earlier_trials(relabelled, 2, 3)
    with pytest.raises(ValueError, match="not a point of the search space"):
        narrower = space({**SPEC, "loss.margin": {"float": [0.05, 0.06]}})
        suggest_round(narrower, history, 2, 3, 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        suggest_round(sp, [], 0, 3, -1)
    with pytest.raises(ValueError, match="trials_per_round must be an integer >= 1"):
        suggest_round(sp, [], 0, 0, 1)


# --------------------------------------------------------------------------- failed trials
def test_failed_trials_are_replayed_as_pruned(monkeypatch):
    import optuna.trial

    sp = space()
    _, history = run_study(sp, rounds=2, tpr=3, seed=0)
    history[1] = TrialResult(1, 0, history[1].values, [[0.5, math.nan], [0.5, 0.5]])
    history[4] = TrialResult(4, 1, history[4].values, [[None, None], [0.1, 0.2]])
    assert history[1].failed and math.isnan(history[1].mean) and math.isnan(history[1].fold_std)
    seen = []
    real = optuna.trial.create_trial

    def spy(**kwargs):
        seen.append((kwargs.get("state"), kwargs.get("value")))
        return real(**kwargs)

    monkeypatch.setattr(optuna.trial, "create_trial", spy)
    vals = suggest_round(sp, history, 2, 3, 0)
    assert len(vals) == 3
    pruned = optuna.trial.TrialState.PRUNED
    assert [s for s, _ in seen] == [None, pruned, None, None, pruned, None]
    assert [v for _, v in seen] == [t.mean if not t.failed else None for t in history]
    assert best_trial(history).number not in (1, 4)


# --------------------------------------------------------------------------- duplicates
def test_duplicate_segments_are_the_same_point():
    sp = space({"sampling.sampler": {"choices": ["random", "semihard"]}})
    per_round, history = run_study_choices(sp)
    segs = [sp.segment(t.values) for t in history]
    assert len(segs) == 6 and len(set(segs)) == 2  # two choices, six trials
    rows = history_rows(sp, history)
    first = {}
    for row, seg in zip(rows, segs, strict=True):
        assert row["duplicate_of"] == first.get(seg, "")
        first.setdefault(seg, row["trial"])


def run_study_choices(sp):
    history, per_round = [], []
    for r in range(2):
        vals = suggest_round(sp, history, r, 3, 0, n_startup_trials=3)
        per_round.append(vals)
        for i, v in enumerate(vals):
            s = 0.7 if v["sampling.sampler"] == "semihard" else 0.6
            history.append(TrialResult(r * 3 + i, r, v, [[s]]))
    return per_round, history


# --------------------------------------------------------------------------- scores, best
def test_trial_scores_by_hand():
    t = TrialResult(0, 0, {}, [[0.5, 0.7], [0.9, 0.9]])
    assert t.fold_means == [0.6, 0.9]
    assert t.mean == pytest.approx(0.75, abs=1e-15)
    assert t.fold_std == pytest.approx(math.sqrt(0.045), abs=1e-15)  # (0.15^2 * 2) / 1
    one = TrialResult(1, 0, {}, [[0.2, 0.4, 0.9]])
    assert one.mean == pytest.approx(0.5) and math.isnan(one.fold_std) and not one.failed
    with pytest.raises(ValueError, match="none empty"):
        TrialResult(2, 0, {}, [[0.1], []])
    with pytest.raises(ValueError, match="none empty"):
        TrialResult(2, 0, {}, [])


def test_best_trial_by_hand():
    mk = lambda n, scores: TrialResult(n, 0, {"n": n}, scores)  # noqa: E731
    trials = [
        mk(0, [[0.60, 0.62], [0.70, 0.72]]),  # mean 0.66, fold std ~0.0707
        mk(1, [[0.65, 0.67], [0.65, 0.67]]),  # mean 0.66, fold std 0: wins the tie
        mk(2, [[0.90, math.nan], [0.9, 0.9]]),  # failed: never best
        mk(3, [[0.50, 0.52], [0.60, 0.62]]),  # mean 0.56
    ]
    assert best_trial(trials).number == 1
    assert best_trial([trials[0], trials[3]]).number == 0
    # equal means and spreads: the earlier trial
    assert best_trial([mk(5, [[0.7], [0.8]]), mk(4, [[0.8], [0.7]])]).number == 4
    # within 1e-12 is a tie; 1e-9 better is not
    a, b = mk(0, [[0.5], [0.7]]), mk(1, [[0.6 + 5e-13], [0.6]])
    assert best_trial([a, b]).number == 1  # tie on the mean, smaller spread
    c = mk(0, [[0.5 + 2e-9], [0.7 + 2e-9]])
    assert best_trial([c, b]).number == 0
    # one fold: no spread, the earlier trial wins a tie
    assert best_trial([mk(7, [[0.3, 0.5]]), mk(6, [[0.4, 0.4]])]).number == 6
    with pytest.raises(ValueError, match="every trial failed"):
        best_trial([trials[2]])


# --------------------------------------------------------------------------- equal budget
def test_equal_budget():
    b = Budget(rounds=5, trials_per_round=4, epochs=20, folds=4, tuning_seeds=(0, 1))
    assert b.trials == 20
    same = {"contrastive": b, "triplet": b, "multi_similarity": b}
    assert budget_problems("sweeps.space.synthetic_mlp", same) == []

    def only(**change):
        return budget_problems(
            "sweeps.space.synthetic_mlp",
            {"contrastive": b, "triplet": Budget(**{**b.__dict__, **change})},
        )

    [msg] = only(rounds=4)
    assert msg == (
        "'sweeps.space.synthetic_mlp': the search gives every loss the same rounds, but "
        "contrastive: 5, triplet: 4; set sweeps.rounds the same for every loss of the experiment"
    )
    [msg] = only(trials_per_round=2)
    assert (
        "same trials per round, but contrastive: 4, triplet: 2; set sweeps.trials_per_round" in msg
    )
    [msg] = only(folds=1)
    assert "same folds, but contrastive: 4, triplet: 1; set sweeps.folds" in msg
    [msg] = only(tuning_seeds=(0, 1, 2))
    assert (
        "tuning seeds, but contrastive: (0, 1), triplet: (0, 1, 2); set sweeps.tuning_seeds" in msg
    )
    [msg] = only(epochs=10)
    assert "same epochs, but contrastive: 20, triplet: 10; set training.epochs" in msg
    searched = space({"training.epochs": {"int": [10, 50], "step": 10}}).params[0]
    [msg] = only(epochs=searched)
    assert "contrastive: 20, triplet: training.epochs: int [10, 50] step 10" in msg
    assert only(rounds=0) == [
        "'sweeps.space.synthetic_mlp': the search gives every loss the same budget, but triplet "
        "has no search space (0 trials); give every loss in 'losses' a search space"
    ]
    assert len(only(rounds=4, folds=2, epochs=5)) == 3


# --------------------------------------------------------------------------- history file
def test_history_file_round_trip_and_best_so_far(tmp_path):
    sp = space({"loss.margin": {"float": [0.1, 4.0]}, "sampling.sampler": {"choices": ["a", "b"]}})
    v = [
        {"loss.margin": 0.5, "sampling.sampler": "a"},
        {"loss.margin": 1.25, "sampling.sampler": "b"},
        {"loss.margin": 0.5, "sampling.sampler": "a"},
        {"loss.margin": 3.0, "sampling.sampler": "b"},
    ]
    trials = [
        TrialResult(0, 0, v[0], [[0.1, math.nan], [0.2, 0.2]]),  # failed
        TrialResult(1, 0, v[1], [[0.4, 0.6], [0.5, 0.5]]),  # 0.5
        TrialResult(2, 1, v[2], [[0.3, 0.3], [0.3, 0.3]]),  # 0.3, same point as 0
        TrialResult(3, 1, v[3], [[0.1 / 3, 0.7], [0.9, 1 / 7]]),  # awkward floats
    ]
    path = tmp_path / "history.csv"
    write_history(path, sp, list(reversed(trials)))  # any order in, number order out
    back = read_history(path, sp)
    for got, want in zip(back, trials, strict=True):
        assert (got.number, got.round, got.values) == (want.number, want.round, want.values)
        assert list(got.values) == sp.keys
        assert json.dumps(got.scores) == json.dumps(want.scores)  # bit for bit, NaN as NaN
        assert got.failed == want.failed
        if not want.failed:
            assert got.mean == want.mean and got.fold_std == want.fold_std
    assert math.isnan(back[0].scores[0][1]) and back[0].failed
    rows = history_rows(sp, trials)
    assert trials[3].mean == pytest.approx((0.1 / 3 + 0.7 + 0.9 + 1 / 7) / 4)  # 0.444 < 0.5
    assert [r["best_trial"] for r in rows] == ["", 1, 1, 1]
    assert [r["fold_0"] for r in rows][1:3] == [0.5, 0.3]
    assert math.isnan(rows[0]["best_so_far"]) and rows[1]["best_so_far"] == 0.5
    assert [r["duplicate_of"] for r in rows] == ["", "", 0, ""]
    text = path.read_text().splitlines()
    assert text[0].split(",")[:5] == [
        "trial",
        "round",
        "segment",
        "loss.margin",
        "sampling.sampler",
    ]
    assert text[1].startswith("0,0,loss.margin~0.5/sampling.sampler~a/,0.5,a,")
    other = space({"loss.margin": {"float": [0.1, 4.0]}})
    with pytest.raises(CorruptFileError, match="a history of the keys"):
        read_history(path, other)
    path.write_text(path.read_text().replace("loss.margin~3.0/", "loss.margin~9.0/"))
    with pytest.raises(CorruptFileError, match=r"line 5: .*loss.margin"):
        read_history(path, sp)
    empty = tmp_path / "empty.csv"
    write_history(empty, sp, [])
    assert read_history(empty, sp) == []


def test_importing_the_search_is_cheap():
    code = (
        "import sys, dmlstudy.search, dmlstudy.search_space\n"
        "assert dmlstudy.search.__file__.startswith(sys.argv[1]), dmlstudy.search.__file__\n"
        "print(sorted(m for m in ('optuna', 'torch', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, SRC], capture_output=True, text=True, check=True, env=_env()
    )
    assert out.stdout.strip() == "[]"
    assert search.N_STARTUP_TRIALS == 10
