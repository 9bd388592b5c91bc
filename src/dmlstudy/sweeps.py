"""Sweeps over config values and the equal-budget tuning protocol (config section ``sweeps``).

A *grid* is set per experiment and per loss: ``sweeps.grids.<experiment>.<loss>`` maps dotted
config keys (``loss.margin``, ``training.lr``, ``sampling.sampler``,
``loss.pml_options.margin_loss.margin``, ...) to lists of values; the grid is their Cartesian
product, in the order written. Each grid point is a :class:`Point`, and its runs live under a
path derived from its values, following Snakemake's ``Paramspace`` convention::

    results/runs/{experiment}/{loss}/loss.margin~0.5/seed0/        a grid point (train -> test)
    results/runs/{experiment}/{loss}/split~validation/loss.margin~0.5/seed0/
                                                                   the same point, tuning run
    results/runs/{experiment}/{loss}/seed0/                        no sweep: today's path

The path segment of a point (``Point.segment``) is empty for the unswept run, so a config
without ``sweeps`` keeps every path and output it had. A point's value is in its path, so no
value overwrites another, and returning to a value finds its cached runs.

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

import copy
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Between a key and its value in a path segment (Snakemake's Paramspace separator).
SEP = "~"
#: The first segment of a tuning run's point: trained without, scored on, the validation split.
VALIDATION = f"split{SEP}validation/"
#: Sections of a resolved experiment a grid may set (what training depends on).
SWEEPABLE = ("loss", "sampling", "training", "model_options")
#: Seeds of the final runs of the tuned protocol: at least this many (issue 15).
MIN_FINAL_SEEDS = 5
#: Characters a value may have in a path.
_SAFE = re.compile(r"^[A-Za-z0-9_.+-]+$")
#: Regex of the ``point`` wildcard: empty, or (optionally the validation segment and) one
#: ``key~value/`` per swept key.
POINT_REGEX = rf"(?:split{SEP}validation/)?(?:[A-Za-z0-9_.]+{SEP}[A-Za-z0-9_.+-]+/)*"
#: Default selection metric by the kind of validation split.
DEFAULT_METRIC = {"stratified": "knn_accuracy", "class_disjoint": "map@r"}


def format_value(value) -> str:
    """A value as it appears in a path: ``0.5``, ``1.0``, ``1e-05``, ``true``, ``semihard``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Point:
    """One grid point: ``(dotted key, value)`` pairs in the grid's key order."""

    overrides: tuple[tuple[str, object], ...] = ()

    @property
    def segment(self) -> str:
        """Its path segment: ``loss.margin~0.5/`` (``""`` for the unswept point)."""
        return "".join(f"{k}{SEP}{format_value(v)}/" for k, v in self.overrides)

    @property
    def values(self) -> dict:
        return dict(self.overrides)

    @property
    def label(self) -> str:
        """``margin = 0.5, lr = 0.001`` (the last part of each key)."""
        return ", ".join(f"{k.split('.')[-1]} = {format_value(v)}" for k, v in self.overrides)


def experiments(cfg: Mapping) -> list[str]:
    """Experiments with a grid, in config order."""
    grids = cfg["sweeps"]["grids"]
    return [e for e in cfg["experiments"] if grids.get(e)]


def grid(cfg: Mapping, experiment: str, loss: str) -> list[Point]:
    """The grid points of ``loss`` in ``experiment`` (empty when it has no grid)."""
    spec = cfg["sweeps"]["grids"].get(experiment, {}).get(loss) or {}
    if not spec:
        return []
    keys = list(spec)
    return [
        Point(tuple(zip(keys, combo, strict=True)))
        for combo in itertools.product(*(spec[k] for k in keys))
    ]


def is_tuned(cfg: Mapping) -> bool:
    return cfg["sweeps"]["protocol"] == "tuned" and bool(experiments(cfg))


def point_segments(cfg: Mapping, experiment: str, loss: str) -> dict[str, Point]:
    """Every point segment a run of (experiment, loss) may have -> its Point: the unswept
    point, the grid points and (tuned protocol) their validation runs."""
    out = {"": Point()}
    for p in grid(cfg, experiment, loss):
        out[p.segment] = p
        if cfg["sweeps"]["protocol"] == "tuned":
            out[VALIDATION + p.segment] = p
    return out


def parse_segment(cfg: Mapping, experiment: str, loss: str, segment: str) -> tuple[Point, bool]:
    """``(point, validation run?)`` of a run's point segment; a ``ValueError`` naming the
    grid when the segment is none of this config's points."""
    known = point_segments(cfg, experiment, loss)
    if segment not in known:
        raise ValueError(
            f"run path segment {segment!r} of {experiment}/{loss} is not a grid point of "
            f"this config (sweeps.grids.{experiment}.{loss}); known: "
            + ", ".join(repr(s) for s in known)
        )
    return known[segment], segment.startswith(VALIDATION)


def apply(resolved: Mapping, point: Point) -> dict:
    """A copy of a resolved experiment (``config.resolve_experiment`` or
    ``config.training_params``) with the point's values set at their dotted keys."""
    out = copy.deepcopy(dict(resolved))
    for key, value in point.overrides:
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def fixed_values(cfg: Mapping, experiment: str, loss: str) -> dict:
    """The config's own value of each key swept for (experiment, loss): the fixed setting
    the tuned one is compared with."""
    from .config import training_params

    resolved = training_params(cfg, experiment)
    out = {}
    for p in grid(cfg, experiment, loss)[:1]:
        for key, _ in p.overrides:
            node = resolved
            for part in key.split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            out[key] = node
    return out


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
        from .losses import PML_NAMES

        names = sorted(PML_NAMES.values())
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
    import jsonschema

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
                    elif key == "sampling.sampler" and (msg := _sampler_problem(v, loss)):
                        out.append(f"'{where}.{loss}.{key}' value {v!r}: {msg}")
                    elif not _SAFE.match(format_value(v)):
                        out.append(
                            f"'{where}.{loss}.{key}' value {v!r} cannot be part of a path: use "
                            "letters, digits, '_', '.', '+' and '-' only"
                        )
    if sw["protocol"] == "tuned" and experiments(cfg):
        out += _budget_problems(cfg)
    return out


def _sampler_problem(name: str, loss: str) -> str | None:
    """Why sampler ``name`` cannot serve ``loss`` (None if it can)."""
    from . import losses, sampling

    sampler = sampling.SAMPLERS.get(name)
    if sampler is None:
        return f"{name!r} is not a registered sampler; registered: {', '.join(sampling.SAMPLERS)}"
    needs = losses.LOSSES[loss].partners
    if needs not in sampler.partners:
        return f"sampler {name!r} cannot serve loss {loss!r}, which needs {needs}"
    return None


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
