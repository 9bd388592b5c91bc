"""The jobs of a search study (one experiment x loss, ``sweeps.search: tpe``):
each round's suggestions, and the study's history and best trial.

- :func:`round_job` (checkpoint ``search_round``): round ``r``'s trials, from
  ``search.suggest_round`` given only the trials of rounds ``0 .. r-1`` (their round files
  and their ``trial.json`` scores, written by ``trials.run_trial``) and the study's identity
  (``sweeps.study``: space, sampler seed, trials per round, start-up trials). It writes
  ``round{r}.json``: the identity and each trial's number, values and path segment.
- :func:`summary_job` (checkpoint ``study_summary``): every round's trials with their
  scores as the study's history (``trials.csv``, ``search.write_history``) and the best
  trial (``best.json``, ``search.best_trial``), whose point is then reproduced on test.

A round file records the identity it was suggested under; a round (or the summary) that
finds an earlier round of another identity stops with an error rather than mixing two
studies (with Snakemake's default rerun triggers this cannot happen: a changed identity
reruns round 0, and every later round follows it).

Importing this module imports neither torch nor pandas; optuna only when a round is asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from .errors import CorruptFileError, DmlStudyError
from .io import write_json
from .params import Point
from .search import Param, SearchSpace, TrialResult, best_trial, suggest_round, write_history


def space_from(study: Mapping) -> SearchSpace:
    """The search space a study identity (``sweeps.study``) describes."""
    return SearchSpace(
        tuple(Param(**{**p, "choices": tuple(p["choices"])}) for p in study["space"])
    )


def _read(path) -> dict:
    with open(path) as fh:
        return json.load(fh)


def _rounds(paths: Sequence, study: Mapping) -> list[dict]:
    """The round files in round order, each checked to belong to ``study``."""
    out = []
    for i, path in enumerate(paths):
        r = _read(path)
        if r.get("study") != study or r.get("round") != i:
            raise DmlStudyError(
                f"{path} is round {r.get('round')} of another study than "
                f"{study['experiment']}/{study['loss']}'s (its space, seed, trials per round "
                f"or start-up trials differ); delete it (Snakemake's params trigger reruns "
                "it when the config changes)"
            )
        out.append(r)
    return out


def trial_results(rounds: Sequence[dict], trial_paths: Sequence) -> list[TrialResult]:
    """Every trial of ``rounds`` with its scores, read from the trials' summaries (one per
    distinct segment: a duplicate trial shares the earlier one's runs)."""
    by_segment = {}
    for path in trial_paths:
        t = _read(path)
        by_segment[t["segment"]] = (path, t)
    out = []
    for r in rounds:
        for t in r["trials"]:
            if t["segment"] not in by_segment:
                raise CorruptFileError(
                    f"trial {t['number']} ({t['segment']}) of round {r['round']} has no "
                    "trial.json among the job's inputs"
                )
            path, summary = by_segment[t["segment"]]
            if summary["values"] != t["values"]:
                raise CorruptFileError(
                    f"{path}: values {summary['values']} are not trial {t['number']}'s "
                    f"{t['values']}"
                )
            out.append(TrialResult(t["number"], t["round"], t["values"], summary["scores"]))
    return out


def round_job(inputs, outputs, params) -> None:
    """Round ``params.round`` of the study ``params.study``: ``inputs.rounds`` (the earlier
    round files, in order) and ``inputs.trials`` (their trials' summaries) -> the round
    file ``outputs.trials``."""
    study, index = dict(params.study), int(params.round)
    space = space_from(study)
    rounds = _rounds(list(getattr(inputs, "rounds", [])), study)
    if len(rounds) != index:
        raise ValueError(f"round {index} needs the {index} earlier round files, got {len(rounds)}")
    history = trial_results(rounds, list(getattr(inputs, "trials", [])))
    tpr = study["trials_per_round"]
    values = suggest_round(space, history, index, tpr, study["seed"], study["n_startup_trials"])
    trials = [
        {"number": index * tpr + i, "round": index, "values": v, "segment": space.segment(v)}
        for i, v in enumerate(values)
    ]
    write_json(outputs.trials, {"study": study, "round": index, "trials": trials})


def summary_job(inputs, outputs, params) -> None:
    """The study's history (``outputs.history``: trials.csv) and best trial
    (``outputs.best``: best.json) from every round file and trial summary."""
    study = dict(params.study)
    space = space_from(study)
    rounds = _rounds(list(inputs.rounds), study)
    trials = trial_results(rounds, list(inputs.trials))
    write_history(outputs.history, space, trials)
    where = f"{study['experiment']}/{study['loss']}"
    try:
        best = best_trial(trials)
    except ValueError as exc:
        raise DmlStudyError(
            f"{where}: {exc} (each diverged); narrow sweeps.space.{study['experiment']}."
            f"{study['loss']} (a lower training.lr range, say)"
        ) from exc
    summaries = {t["segment"]: t for t in map(_read, inputs.trials)}
    seg = space.segment(best.values)
    write_json(
        outputs.best,
        {
            "experiment": study["experiment"],
            "loss": study["loss"],
            "number": best.number,
            "round": best.round,
            "segment": seg,
            "values": best.values,
            "label": Point.of(best.values).label,
            "metric": summaries[seg]["metric"],
            "validation_kind": summaries[seg]["validation_kind"],
            "mean": best.mean,
            "fold_std": best.fold_std,
            "fold_means": best.fold_means,
            "folds": len(best.scores),
            "tuning_seeds": summaries[seg]["tuning_seeds"],
            "n_trials": len(trials),
            "n_failed": sum(t.failed for t in trials),
            "space": space.describe(),
        },
    )
