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

Importing this module imports neither torch nor pandas.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import jsonschema

from . import losses, sampling
from .params import SAFE_VALUE, SWEEPABLE, format_value, grid

#: Seeds of the final runs of the tuned protocol: at least this many (issue 15).
MIN_FINAL_SEEDS = 5
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
    for exp, by_loss in sw["grids"].items():
        where = f"sweeps.grids.{exp}"
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
                    "add it there or remove its grid"
                )
                continue
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
    return out


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
