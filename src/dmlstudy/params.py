"""What a job depends on: the per-job parameters of a validated config.

Snakemake reruns a job when its ``params:`` change, so each rule gets exactly the part of
the config its job depends on, built here and nowhere else:

- :func:`resolve_experiment`: an experiment's global sections merged with its overrides;
- :func:`training_params` / :func:`evaluation_params`: what a training / evaluation job of
  one run depends on (a grid point's values applied, see below);
- :func:`config_hash`: the stable hash that matches a checkpoint to its configuration;
- :func:`with_plugins`: the content hash of each plugin a job uses (:mod:`dmlstudy.plugins`).

Which sections exist, and which jobs depend on them, is declared once, in :data:`SECTIONS`;
``OVERRIDABLE``, ``TRAINING_SECTIONS``, ``TRAINING_KEYS`` and ``SWEEPABLE`` derive from it
(and ``train.TrainSettings`` reads its fields out of the training sections).

**Points.** A run may sit at a *point*: config values set at dotted keys (a grid point of
``sweeps.grids``, see :mod:`dmlstudy.sweeps`). Its runs live under a path segment made from
its values, following Snakemake's ``Paramspace`` convention::

    results/runs/{experiment}/{loss}/loss.margin~0.5/seed0/        a grid point (train -> test)
    results/runs/{experiment}/{loss}/split~validation/loss.margin~0.5/seed0/
                                                                   the same point, tuning run
    results/runs/{experiment}/{loss}/seed0/                        no point: the config's values

The segment of the unswept run is empty, so a config without sweeps keeps every path it
had; a point's value is in its path, so no value overwrites another. A point of an adaptive
search (``sweeps.search: tpe``, :mod:`dmlstudy.search`) has a segment of the same form, made
from the trial's values; :func:`parse_segment` reads it back typed by the search space's
spec (:func:`search_point`), and :func:`trial_params` is what a trial's job depends on.

Importing this module imports neither torch nor pandas, nor another module of the package.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: The config sections an experiment may override, each with the stage whose jobs depend on
#: it. A new section is one entry here plus its schema entries.
SECTIONS = {"loss": "train", "sampling": "train", "training": "train", "evaluation": "evaluate"}
OVERRIDABLE = tuple(SECTIONS)
#: The sections a training job depends on.
TRAINING_SECTIONS = tuple(s for s, stage in SECTIONS.items() if stage == "train")
#: What a training job depends on besides the training sections: the run's data and model.
RUN_KEYS = ("experiment", "dataset", "source", "model", "backbone", "model_options")
TRAINING_KEYS = RUN_KEYS + TRAINING_SECTIONS
#: Sections of a resolved experiment a point may set (what training depends on).
SWEEPABLE = TRAINING_SECTIONS + ("model_options",)

#: Between a key and its value in a path segment (Snakemake's Paramspace separator).
SEP = "~"
#: The first segment of a tuning run's point: trained without, scored on, the validation split.
VALIDATION = f"split{SEP}validation/"
#: Characters a value may have in a path.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.+-]+$")
#: Regex of the ``point`` wildcard: empty, or (optionally the validation segment and) one
#: ``key~value/`` per swept key.
POINT_REGEX = rf"(?:split{SEP}validation/)?(?:[A-Za-z0-9_.]+{SEP}[A-Za-z0-9_.+-]+/)*"


# --------------------------------------------------------------------------- resolution
def resolve_experiment(cfg: Mapping, name: str) -> dict:
    """Everything a job of experiment ``name`` may depend on: its identity, data and model,
    and every section of :data:`SECTIONS` (the global section with the experiment's
    overrides merged in)."""
    exp = cfg["experiments"][name]
    out = {
        "experiment": name,
        "label": exp["label"],
        "preset": exp["preset"],
        "dataset": exp["dataset"],
        "source": cfg["datasets"][exp["dataset"]]["source"],
        "model": exp["model"],
        "backbone": exp.get("backbone"),
        "model_options": dict(exp.get("model_options") or {}),
    }
    for section in OVERRIDABLE:
        merged = copy.deepcopy(cfg[section])
        merged.update(exp.get(section) or {})
        out[section] = merged
    return out


def training_params(
    cfg: Mapping,
    name: str,
    loss: str | None = None,
    segment: str = "",
    plugins: Mapping | None = None,
) -> dict:
    """What a training job of ``name`` depends on (:data:`TRAINING_KEYS`); evaluation
    settings and labels excluded, so changing k of k-NN or a table label never retrains.

    ``segment``: the run's point segment (``""`` = no point, and then the dict is exactly
    what it was before sweeps existed). A point's values replace the config's, and the
    point is recorded under ``point``; a tuning run also carries its ``validation`` split
    (fraction, seed). ``plugins``: the loaded plugins' record (:func:`with_plugins`): the
    hashes of those whose loss, sampler, source or backbone the run uses are added."""
    resolved = resolve_experiment(cfg, name)
    out = {k: resolved[k] for k in TRAINING_KEYS}
    if segment:
        point, validation = parse_segment(cfg, name, loss, segment)
        out = apply(out, point)
        out["point"] = point.values
        if validation:
            sw = cfg["sweeps"]
            out["validation"] = {
                "fraction": sw["validation_fraction"],
                "seed": sw["validation_seed"],
            }
    if not plugins:
        return out
    bb = out["backbone"]
    uses = {
        "losses": [loss] if loss else [],
        "samplers": [out["sampling"]["sampler"]],
        "sources": [out["source"]],
        "backbones": [cfg["backbones"][bb]["kind"]] if bb else [],
    }
    return with_plugins(out, plugins, uses)


def evaluation_params(cfg: Mapping, name: str, segment: str = "") -> dict:
    """What an evaluation job of ``name`` depends on. A tuning run (its ``segment`` starts
    with :data:`VALIDATION`) is scored on its validation split, held in the embeddings'
    test split, whatever ``evaluation.split`` says."""
    resolved = resolve_experiment(cfg, name)
    out = {"experiment": name, "evaluation": resolved["evaluation"]}
    if segment.startswith(VALIDATION):
        out["evaluation"] = {**out["evaluation"], "split": "test"}
        out["validation"] = True
    return out


def plugin_digests(plugins: Mapping | None, uses: Mapping) -> dict:
    """``{plugin: sha256 of its file}`` of the plugins in ``plugins`` (the record of
    ``dmlstudy.plugins.load``: plugin -> ``{"sha256", "registered": {registry: [names]}}``)
    that registered a name the job uses (``uses``: registry -> names, registries
    ``losses``, ``samplers``, ``sources``, ``backbones``)."""
    out = {}
    for entry, record in (plugins or {}).items():
        registered = record["registered"]
        if any(n in registered.get(kind, ()) for kind, names in uses.items() for n in names):
            out[entry] = record["sha256"]
    return out


def with_plugins(params: dict, plugins: Mapping | None, uses: Mapping) -> dict:
    """A job's parameters with ``"plugins": {plugin: sha256}`` added for the plugins whose
    names it uses (:func:`plugin_digests`), so that editing a plugin's file reruns exactly
    those jobs. With none, ``params`` itself: a config without plugins keeps every
    parameter it had."""
    digests = plugin_digests(plugins, uses)
    return {**params, "plugins": digests} if digests else params


def config_hash(obj) -> str:
    """Stable short hash of a JSON-serialisable object (used to match checkpoints to configs)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# --------------------------------------------------------------------------- points
def format_value(value) -> str:
    """A value as it appears in a path: ``0.5``, ``1.0``, ``1e-05``, ``true``, ``semihard``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Point:
    """One point: ``(dotted key, value)`` pairs in the grid's key order."""

    overrides: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, values: Mapping) -> Point:
        """The point of a ``{dotted key: value}`` mapping (a run's recorded ``point``)."""
        return cls(tuple(values.items()))

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


def grid(cfg: Mapping, experiment: str, loss: str) -> list[Point]:
    """The points of ``sweeps.grids.<experiment>.<loss>`` (empty when it has no grid): the
    Cartesian product of the values, in the order written."""
    spec = cfg["sweeps"]["grids"].get(experiment, {}).get(loss) or {}
    if not spec:
        return []
    keys = list(spec)
    return [
        Point(tuple(zip(keys, combo, strict=True)))
        for combo in itertools.product(*(spec[k] for k in keys))
    ]


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
    """``(point, validation run?)`` of a run's point segment: a grid point (or its tuning
    run), or a point of the search space of (experiment, loss) (:func:`search_point`); a
    ``ValueError`` naming the grid or the space when the segment is neither."""
    known = point_segments(cfg, experiment, loss)
    if segment in known:
        return known[segment], segment.startswith(VALIDATION)
    if (point := search_point(cfg, experiment, loss, segment)) is not None:
        return point, False
    space = search_spec(cfg, experiment, loss)
    raise ValueError(
        f"run path segment {segment!r} of {experiment}/{loss} is not a grid point of "
        f"this config (sweeps.grids.{experiment}.{loss}); known: "
        + ", ".join(repr(s) for s in known)
        + (
            f"; nor a point of its search space (sweeps.space.{experiment}.{loss}: one "
            f"'key~value/' per key {list(space)}, each value in its range, in its path form)"
            if space
            else ""
        )
    )


# --------------------------------------------------------------------------- search points
def search_spec(cfg: Mapping, experiment: str, loss: str) -> Mapping:
    """The raw search-space spec of (experiment, loss) (``sweeps.space.<experiment>.<loss>``)
    when ``sweeps.search`` is ``tpe``; ``{}`` otherwise. ``search_space.parse_space`` reads
    and checks it; this module only types a segment's values by it."""
    sw = cfg["sweeps"]
    if sw.get("search") != "tpe":
        return {}
    return ((sw.get("space") or {}).get(experiment) or {}).get(loss) or {}


def _typed(spec, text: str):
    """The value whose path text is ``text`` under one key's range spec, or None: a float or
    int must print back as ``text`` (so the run trains with exactly the value in its path)
    and lie in its range; a choice matches by its path text."""
    if not isinstance(spec, Mapping):
        return None
    if "choices" in spec:
        return next((c for c in spec["choices"] if format_value(c) == text), None)
    kind = "float" if "float" in spec else "int"
    try:
        value = float(text) if kind == "float" else int(text)
        low, high = spec[kind]
    except (KeyError, TypeError, ValueError):
        return None
    step = spec.get("step", 1) if kind == "int" else None
    if format_value(value) != text or not low <= value <= high:
        return None
    if step and (value - low) % step:
        return None
    return value


def search_point(cfg: Mapping, experiment: str, loss: str, segment: str) -> Point | None:
    """The point of a search trial's ``segment`` (``loss.margin~0.731/training.lr~0.00123/``:
    one ``key~value/`` per key of the space, in its order), typed by the space's spec
    (``search_space.SearchSpace.segment`` writes it); None when it is not one."""
    spec = search_spec(cfg, experiment, loss)
    parts = segment.split("/")
    if not spec or parts[-1] != "" or len(parts) - 1 != len(spec):
        return None
    out = []
    for (key, kind), part in zip(spec.items(), parts[:-1], strict=True):
        k, sep, text = part.partition(SEP)
        value = _typed(kind, text) if k == key and sep else None
        if value is None:
            return None
        out.append((key, value))
    return Point(tuple(out))


def trial_params(cfg: Mapping, experiment: str, loss: str, segment: str) -> dict:
    """What the job of a search trial at ``segment`` depends on: the training parameters
    with the trial's values applied (``resolved``, exactly the values of its path), the
    evaluation on each fold's validation split (``evaluation``), the folds and tuning seeds
    it trains, the validation split's settings and the selection metric."""
    if search_point(cfg, experiment, loss, segment) is None:
        raise ValueError(
            f"trial path segment {segment!r} of {experiment}/{loss} is not a point of its "
            f"search space (sweeps.space.{experiment}.{loss})"
        )
    sw = cfg["sweeps"]
    return {
        "resolved": training_params(cfg, experiment, loss, segment),
        "evaluation": evaluation_params(cfg, experiment, VALIDATION),
        "folds": sw["folds"],
        "tuning_seeds": list(sw["tuning_seeds"]),
        "validation": {
            "fraction": sw["validation_fraction"],
            "seed": sw["validation_seed"],
            "folds": sw["folds"],
        },
        "selection_metric": sw["selection_metric"],
    }


def apply(resolved: Mapping, point: Point) -> dict:
    """A copy of a resolved experiment (:func:`resolve_experiment` or
    :func:`training_params`) with the point's values set at their dotted keys."""
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
    a tuned one is compared with."""
    resolved = training_params(cfg, experiment)
    out = {}
    for p in grid(cfg, experiment, loss)[:1]:
        for key, _ in p.overrides:
            node = resolved
            for part in key.split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            out[key] = node
    return out
