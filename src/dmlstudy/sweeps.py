"""Sweeps over config values and the equal-budget tuning protocol (config section ``sweeps``).

A *grid* is set per experiment and per loss: ``sweeps.grids.<experiment>.<loss>`` maps dotted
config keys (``loss.margin``, ``training.lr``, ``sampling.sampler``,
``loss.pml_options.margin_loss.margin``, ...) to lists of values; the grid is their Cartesian
product, in the order written. The points themselves, their path segments and how a point's
values reach a job are per-job parameters and live in :mod:`dmlstudy.params`
(``params.grid``, ``params.Point``, ``params.training_params``); this module owns the rest:
which experiments are swept, every check of the ``sweeps`` section, and the selection rule.

``protocol: grid`` trains every point with the config's ``seeds`` and scores it on test.
``protocol: tuned`` (Musgrave et al. 2020, "A metric learning reality check"): every point
is trained with ``tuning_seeds`` on the training split minus a validation split
(:func:`dmlstudy.splits.validation_split`) and scored on that validation split; each loss's
best point on the selection metric (:func:`select`) is then trained with ``seeds`` (at least
5) on the whole training split and scored once on test. Every loss of a tuned experiment must
have a grid of the same size, the same epochs and the same seeds (:func:`problems`).

``search: tpe`` (the reality check's own protocol) replaces the grid by a seeded
adaptive search (:mod:`dmlstudy.search`) over ``sweeps.space.<experiment>.<loss>``, every
trial trained on ``folds`` folds of the training split (:func:`dmlstudy.splits.validation_folds`)
x ``tuning_seeds``; each loss's best trial is reproduced with ``seeds`` (at least 10) on the
whole training split and scored once on test. :func:`search_experiments`, :func:`space_of`,
:func:`study` (a study's identity) and :func:`budget` are what the workflow reads; every
check of the search keys is in :func:`problems` too (:func:`search_problems`).

Importing this module imports neither torch nor pandas (nor optuna).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence

import jsonschema

from . import losses, sampling
from .errors import ConfigError
from .params import SAFE_VALUE, SWEEPABLE, format_value, grid, search_spec, training_params
from .search import Budget, budget_problems
from .search_space import SearchSpace, parse_space

#: Seeds of the final runs of the tuned protocol: at least this many.
MIN_FINAL_SEEDS = 5
#: Reproductions of each loss's best trial of a search (the reality check's 10).
MIN_REPRODUCTIONS = 10
#: Default selection metric by the kind of validation split.
DEFAULT_METRIC = {"stratified": "knn_accuracy", "class_disjoint": "map@r"}


def experiments(cfg: Mapping) -> list[str]:
    """Experiments with a grid, in config order."""
    grids = cfg["sweeps"]["grids"]
    return [e for e in cfg["experiments"] if grids.get(e)]


def is_tuned(cfg: Mapping) -> bool:
    return cfg["sweeps"]["protocol"] == "tuned" and bool(experiments(cfg))


# --------------------------------------------------------------------------- validation
def _property_schema(key: str, defs: Mapping):
    """The schema of a sweepable dotted key, or an error message."""
    parts = key.split(".")
    section = parts[0]
    if section not in SWEEPABLE or len(parts) < 2:
        return None, (
            f"key {key!r} cannot be swept: use a dotted key under "
            + ", ".join(f"'{s}.'" for s in SWEEPABLE)
            + " (what training depends on), e.g. loss.margin or training.lr"
        )
    if section == "model_options":
        node = defs["experiment"]["properties"]["model_options"]
    else:
        node = defs[section]
    if section == "loss" and parts[1] == "pml_options":
        names = sorted(losses.PML_NAMES.values())
        if len(parts) != 4 or parts[2] not in names:
            return None, (
                f"key {key!r}: a PML loss option is swept as loss.pml_options.<loss>.<argument> "
                f"with <loss> one of {', '.join(names)}, e.g. loss.pml_options.margin_loss.margin"
            )
        return {"type": ["number", "integer", "string", "boolean"]}, None
    for i, part in enumerate(parts[1:], start=1):
        props = node.get("properties", {})
        if part not in props:
            where = ".".join(parts[:i])
            return None, (
                f"key {key!r}: {where!r} has no key {part!r}; its keys: " + ", ".join(sorted(props))
            )
        node = props[part]
    return node, None


def problems(cfg: Mapping, defs: Mapping) -> list[str]:
    """Every problem of the ``sweeps`` section of a defaults-filled config (one line each,
    naming the key and the fix). ``defs``: the schema's ``$defs``."""
    sw = cfg["sweeps"]
    out = []
    for where, loss, spec in _per_loss(cfg, "grids", "its grid", out):
        for key, values in spec.items():
            schema, msg = _property_schema(key, defs)
            if msg:
                out.append(f"'{where}.{loss}': {msg}")
                continue
            validator = jsonschema.Draft202012Validator({"$defs": defs, **schema})
            for v in values:
                if isinstance(v, (list, dict)) or v is None:
                    out.append(
                        f"'{where}.{loss}.{key}' value {v!r}: a grid value must be a number, "
                        "string or boolean"
                    )
                    continue
                errs = [e.message for e in validator.iter_errors(v)]
                if errs:
                    out.append(f"'{where}.{loss}.{key}' value {v!r} is not allowed: {errs[0]}")
                elif key == "sampling.sampler" and (msg := sampling.problem(v, loss)):
                    out.append(f"'{where}.{loss}.{key}' value {v!r}: {msg}")
                elif not SAFE_VALUE.match(format_value(v)):
                    out.append(
                        f"'{where}.{loss}.{key}' value {v!r} cannot be part of a path: use "
                        "letters, digits, '_', '.', '+' and '-' only"
                    )
    if sw["protocol"] == "tuned" and experiments(cfg):
        out += _budget_problems(cfg)
    return out + search_problems(cfg, defs)


def _budget_problems(cfg: Mapping) -> list[str]:
    """The tuned protocol's equal budget: every loss of a tuned experiment has a grid of the
    same size and the same epochs; enough final seeds."""
    out = []
    seeds = cfg["seeds"]
    if len(seeds) < MIN_FINAL_SEEDS:
        out.append(
            f"'seeds' = {seeds!r}: the tuned protocol trains each selected point with the "
            f"config's seeds, at least {MIN_FINAL_SEEDS} of them; add seeds or use "
            "sweeps.protocol: grid"
        )
    for exp in experiments(cfg):
        sizes = {loss: len(grid(cfg, exp, loss)) for loss in cfg["losses"]}
        if len(set(sizes.values())) > 1:
            out.append(
                f"'sweeps.grids.{exp}': the tuned protocol gives every loss the same grid size, "
                "but the grids have "
                + ", ".join(f"{lo}: {n} point{'s' if n != 1 else ''}" for lo, n in sizes.items())
                + "; give each loss in 'losses' a grid of the same size"
            )
        epochs = {
            loss: sorted(p.values.get("training.epochs", -1) for p in grid(cfg, exp, loss))
            for loss in cfg["losses"]
        }
        if len({json.dumps(v) for v in epochs.values()}) > 1:
            out.append(
                f"'sweeps.grids.{exp}': the tuned protocol gives every loss the same epochs; "
                "sweep training.epochs over the same values for every loss or not at all"
            )
    return out


# --------------------------------------------------------------------------- selection
def selection_metric(setting: str, validation_kind: str) -> str:
    """The metric a point is chosen on: ``setting`` unless ``auto``, which is MAP@R for a
    class-disjoint (retrieval) validation split and k-NN accuracy for a stratified one."""
    return DEFAULT_METRIC[validation_kind] if setting == "auto" else setting


def select(scores: Mapping[str, Sequence[float]], order: Sequence[str]) -> tuple[str, dict]:
    """The best point of one loss: ``scores`` maps a point segment to its validation scores
    (one per tuning seed; higher is better); ``order`` is the grid order.

    The best has the highest mean; ties (means equal to 1e-12) go to the smaller standard
    deviation, then to the point first in the grid. Returns ``(segment, summary)`` with each
    point's mean, std and n. A point whose scores are all NaN cannot be chosen; if every
    point is so, ``ValueError``."""
    summary = {}
    for seg in order:
        vals = [float(v) for v in scores.get(seg, []) if v is not None and not math.isnan(v)]
        n = len(vals)
        mean = sum(vals) / n if n else math.nan
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0
        summary[seg] = {"mean": mean, "std": std, "n": n}
    ranked = [s for s in order if summary[s]["n"]]
    if not ranked:
        raise ValueError("no grid point has a validation score")
    best_mean = max(summary[s]["mean"] for s in ranked)
    tied = [s for s in ranked if summary[s]["mean"] >= best_mean - 1e-12]
    best = min(tied, key=lambda s: (summary[s]["std"], order.index(s)))
    return best, summary


# --------------------------------------------------------------------------- search (tpe)
def search_experiments(cfg: Mapping) -> list[str]:
    """Experiments with a search space (``sweeps.search: tpe``), in config order."""
    sw = cfg["sweeps"]
    if sw["search"] != "tpe":
        return []
    return [e for e in cfg["experiments"] if sw["space"].get(e)]


def space_of(cfg: Mapping, experiment: str, loss: str) -> SearchSpace:
    """The search space of (experiment, loss) of a validated config."""
    where = f"sweeps.space.{experiment}.{loss}."
    space, found = parse_space(search_spec(cfg, experiment, loss), where)
    if found:
        raise ConfigError("invalid search space:\n" + "\n".join(f"  - {p}" for p in found))
    return space


def study(cfg: Mapping, experiment: str, loss: str) -> dict:
    """The identity of the study of (experiment, loss): everything its rounds' suggestions
    depend on besides the earlier trials' scores (the space with its ranges and digits, the
    sampler seed, the trials per round and the random start-up trials). Each round's job
    carries it in its ``params`` (a change reruns round 0, so every later round follows)
    and writes it into its round file, which the next round checks."""
    sw = cfg["sweeps"]
    out = {
        "experiment": experiment,
        "loss": loss,
        "space": [dataclasses.asdict(p) for p in space_of(cfg, experiment, loss).params],
        "seed": sw["seed"],
        "trials_per_round": sw["trials_per_round"],
        "n_startup_trials": sw["n_startup_trials"],
    }
    return json.loads(json.dumps(out))  # as its round files hold it (tuples as lists)


def budget(cfg: Mapping, experiment: str, loss: str) -> Budget:
    """What the study of (experiment, loss) spends (0 rounds: the loss has no space)."""
    sw = cfg["sweeps"]
    spec = search_spec(cfg, experiment, loss)
    space, _ = parse_space(spec) if spec else (None, [])
    searched = {p.key: p for p in space.params} if space else {}
    epochs = (
        searched.get("training.epochs") or training_params(cfg, experiment)["training"]["epochs"]
    )
    rounds = sw["rounds"] if spec else 0
    return Budget(rounds, sw["trials_per_round"], epochs, sw["folds"], tuple(sw["tuning_seeds"]))


def _value_problem(key: str, value, loss: str, defs: Mapping) -> str | None:
    """Why a searched ``key`` cannot take ``value`` for ``loss`` (the config schema's reason,
    a sampler that cannot serve the loss, a PML option of another loss), or None."""
    schema, msg = _property_schema(key, defs)
    if msg:
        return msg
    parts = key.split(".")
    if parts[:2] == ["loss", "pml_options"] and parts[2] != loss:
        return (
            f"{loss} does not read loss.pml_options.{parts[2]}; remove the key from its "
            f"space (it belongs in the space of {parts[2]})"
        )
    validator = jsonschema.Draft202012Validator({"$defs": defs, **schema})
    errs = [e.message for e in validator.iter_errors(value)]
    if errs:
        return f"not allowed ({errs[0]}); choose bounds or choices the key accepts"
    if key == "sampling.sampler":
        return sampling.problem(value, loss)
    return None


def search_problems(cfg: Mapping, defs: Mapping) -> list[str]:
    """Every problem of the search keys of the ``sweeps`` section (``search``, ``space``,
    ``folds``, and the equal budget of a search), one line each naming the key and the fix."""
    sw = cfg["sweeps"]
    out = []
    if sw["search"] != "tpe":
        if sw["space"]:
            out.append(
                "'sweeps.space' is set but sweeps.search is 'grid', which sweeps "
                "sweeps.grids; set sweeps.search: tpe to search the space, or remove it"
            )
        if sw["folds"] > 1:
            out.append(
                f"'sweeps.folds' = {sw['folds']}: folds cross-validate the trials of a search "
                "(sweeps.search: tpe); the grid protocol tunes on one validation split. Set "
                "sweeps.search: tpe, or sweeps.folds: 1"
            )
        return out
    if sw["protocol"] != "tuned":
        out.append(
            "'sweeps.search' = 'tpe' tunes every loss on validation folds and reproduces its "
            "best trial on test; set sweeps.protocol: tuned"
        )
    if sw["grids"]:
        out.append(
            "'sweeps.grids': with sweeps.search: tpe the search space (sweeps.space) takes the "
            "place of the grids; remove sweeps.grids, or set sweeps.search: grid"
        )
    if not sw["space"]:
        out.append(
            "'sweeps.space': sweeps.search: tpe needs a search space per experiment and loss, "
            "e.g. {synthetic_mlp: {triplet: {loss.margin: {float: [0.05, 8.0], log: true}}}}"
        )
    for where, loss, spec in _per_loss(cfg, "space", "its search space", out):
        _, found = parse_space(
            spec, f"{where}.{loss}.", lambda k, v, lo=loss: _value_problem(k, v, lo, defs)
        )
        out += found
    searched = search_experiments(cfg)
    if searched and len(cfg["seeds"]) < MIN_REPRODUCTIONS:
        out.append(
            f"'seeds' = {cfg['seeds']!r}: the search reproduces each loss's best trial with the "
            f"config's seeds, at least {MIN_REPRODUCTIONS} of them (the reality check's 10 "
            "reproductions); add seeds"
        )
    for exp in searched:
        budgets = {lo: budget(cfg, exp, lo) for lo in cfg["losses"]}
        out += budget_problems(f"sweeps.space.{exp}", budgets)
    return out


def _per_loss(cfg: Mapping, section: str, what: str, out: list[str]):
    """(where, loss, spec) of each entry of ``sweeps.<section>`` whose experiment and loss
    the config has; a problem for each that it does not (appended to ``out``)."""
    for exp, by_loss in cfg["sweeps"][section].items():
        where = f"sweeps.{section}.{exp}"
        if exp not in cfg["experiments"]:
            out.append(
                f"'{where}': {exp!r} is not an experiment of this config; experiments: "
                + ", ".join(cfg["experiments"])
            )
            continue
        for loss, spec in by_loss.items():
            if loss not in cfg["losses"]:
                out.append(
                    f"'{where}.{loss}': {loss!r} is not in 'losses' ({', '.join(cfg['losses'])}); "
                    f"add it there or remove {what}"
                )
                continue
            yield where, loss, spec
