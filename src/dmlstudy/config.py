"""Configuration: loading, validation against the JSON schema, defaults, and the messages.

The schema (``workflow/schemas/config.schema.yaml``) is the single source of keys,
types, ranges and defaults. ``validate`` turns every problem into one line that names
the key, the value and what is allowed, and raises one ``ConfigError`` listing them all,
so a user fixes a config in one pass and never sees a traceback. What each job depends on
(per-experiment resolution, per-job params) is :mod:`dmlstudy.params`; the paper's settings
table is :mod:`dmlstudy.paper_settings`.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from pathlib import Path

import jsonschema
import yaml

from . import backbones, losses, plugins, sampling, sweeps
from .backbones import BACKBONES
from .errors import ConfigError
from .sources import SOURCES

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "config.schema.yaml"


@functools.cache
def _schema_file() -> dict:
    """The schema file, parsed once per process."""
    with open(SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


_completed: dict = {}


def load_schema() -> dict:
    """The config schema, completed from the registries: the allowed ``source`` values of
    ``$defs/dataset`` and, for each, the ``$defs`` entry its keys follow (a source that
    carries its own ``schema`` adds it there); the allowed ``kind`` values of
    ``$defs/backbone``. The file is parsed once; the completed schema is built once per state
    of the registries (a plugin that registers a source or a backbone gets a schema that
    knows it). Callers must not modify it."""
    key = (
        tuple(
            (n, s.schema_def, None if s.schema is None else json.dumps(s.schema, sort_keys=True))
            for n, s in SOURCES.items()
        ),
        tuple(BACKBONES),
    )
    if key not in _completed:
        _completed.clear()
        _completed[key] = _complete(copy.deepcopy(_schema_file()))
    return _completed[key]


def _complete(schema: dict) -> dict:
    defs = schema["$defs"]
    for name, source in SOURCES.items():
        if source.schema is None:
            continue
        if source.schema_def in defs:
            raise ConfigError(
                f"source {name!r} brings its own schema under $defs/{source.schema_def}, "
                f"which the config schema defines already; give it another schema_def "
                f"(e.g. source_{name})"
            )
        defs[source.schema_def] = copy.deepcopy(source.schema)
    dataset = defs["dataset"]
    dataset["properties"]["source"]["enum"] = list(SOURCES)
    dataset["allOf"] = [
        {
            "if": {"properties": {"source": {"const": name}}},
            "then": {"$ref": f"#/$defs/{source.schema_def}"},
        }
        for name, source in SOURCES.items()
    ]
    defs["backbone"]["properties"]["kind"]["enum"] = list(BACKBONES)
    return schema


def _key(path) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


def _allowed_keys(schema: dict, defs: dict) -> list[str]:
    if "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    return sorted(schema.get("properties", {}))


def _format_error(err: jsonschema.ValidationError, defs: dict) -> str:
    key = _key(err.absolute_path)
    v = err.validator
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(_allowed_keys(err.schema, defs)) or "(none)"
        where = f" under '{key}'" if err.absolute_path else ""
        return f"unknown key(s) {', '.join(repr(e) for e in extra)}{where}; allowed keys: {allowed}"
    if v == "enum":
        return f"'{key}' = {err.instance!r} is not allowed; allowed values: {', '.join(map(repr, err.validator_value))}"
    if v == "const":
        return f"'{key}' = {err.instance!r}; expected {err.validator_value!r}"
    if v == "type":
        expected = err.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"'{key}' = {err.instance!r} has the wrong type; expected {expected}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        rel = {
            "minimum": ">=",
            "maximum": "<=",
            "exclusiveMinimum": ">",
            "exclusiveMaximum": "<",
        }[v]
        return f"'{key}' = {err.instance!r} is out of range; it must be {rel} {err.validator_value}"
    if v == "required":
        return f"'{key}' is missing a required key: {err.message.split(' ')[0]}"
    if v == "propertyNames" or "propertyNames" in err.absolute_schema_path:
        return (
            f"name {err.instance!r} under '{key}' is not allowed: use letters and digits, "
            "joined by single underscores (it becomes part of file paths and wildcards)"
        )
    if v == "pattern":
        hint = (
            " (letters, digits, '_', '.' and '-' only)"
            if err.validator_value == "^[A-Za-z0-9_.-]+$"
            else ""
        )
        return (
            f"'{key}' = {err.instance!r} is not allowed: it must match {err.validator_value}{hint}"
        )
    if v == "uniqueItems":
        seen, dups = set(), []
        for item in err.instance:
            marker = json.dumps(item, sort_keys=True, default=str)
            if marker in seen and item not in dups:
                dups.append(item)
            seen.add(marker)
        return f"'{key}' = {err.instance!r} repeats {', '.join(map(repr, dups))}; each value may appear only once"
    if v == "minItems":
        return f"'{key}' = {err.instance!r} is empty; give at least {err.validator_value} item(s)"
    if v == "minProperties":
        what = (
            "one experiment (a dataset and a model)"
            if key == "experiments"
            else f"{err.validator_value} entry"
        )
        return f"'{key}' = {err.instance!r} is empty; define at least {what}"
    return f"'{key}': {err.message}"


def _fill_defaults(instance: dict, schema: dict, defs: dict) -> None:
    """Fill `default`s of ``schema['properties']`` into ``instance``, recursing into objects."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        resolved = defs[sub["$ref"].split("/")[-1]] if "$ref" in sub else sub
        if isinstance(instance.get(key), dict) and "properties" in resolved:
            _fill_defaults(instance[key], resolved, defs)


def _fill_dataset(spec: dict, name: str, data_root: str, defs: dict) -> None:
    """Fill a dataset entry's defaults from its source's ``$defs`` entry; an empty ``root``
    becomes ``{data_root}/{name}``, as the schema describes."""
    _fill_defaults(spec, defs[SOURCES[spec["source"]].schema_def], defs)
    if "root" in spec and not spec["root"]:
        spec["root"] = f"{data_root}/{name}"


def validate_dataset(spec: dict, name: str = "dataset", data_root: str | None = None) -> dict:
    """Validate one dataset entry as if it stood under ``datasets.<name>`` of a config, and
    return a copy with its defaults filled in (what every source expects as ``spec``).

    ``data_root`` None: the schema's default. Raises ``ConfigError`` listing every problem."""
    schema = load_schema()
    defs = schema["$defs"]
    sub = {"$defs": defs, "properties": {"datasets": schema["properties"]["datasets"]}}
    messages = _messages(jsonschema.Draft202012Validator(sub), {"datasets": {name: spec}}, defs)
    if messages:
        raise ConfigError(_bullet("invalid dataset", messages))
    out = copy.deepcopy(spec)
    root = schema["properties"]["data_root"]["default"] if data_root is None else data_root
    _fill_dataset(out, name, root, defs)
    return out


def _messages(validator, config: dict, defs: dict) -> list[str]:
    """One message per schema violation in ``config``."""
    errors = sorted(
        validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.message)
    )
    # A dataset without 'source' matches every source's if/then branch vacuously: report
    # only the missing key, not every source's unknown keys.
    datasets = config.get("datasets")
    sourceless = {
        name
        for name, spec in (datasets.items() if isinstance(datasets, dict) else ())
        if isinstance(spec, dict) and "source" not in spec
    }
    messages = []
    for err in errors:
        # if/then branches report their own errors; skip the umbrella "allOf"/"if" entries.
        if err.validator in ("allOf", "if", "then"):
            continue
        path = list(err.absolute_path)
        if (
            "then" in err.absolute_schema_path
            and path[:1] == ["datasets"]
            and len(path) > 1
            and path[1] in sourceless
        ):
            continue
        msg = _format_error(err, defs)
        if msg not in messages:
            messages.append(msg)
    return messages


def validate(config: dict) -> dict:
    """Validate ``config`` and return a copy with every default filled in.

    Its ``plugins`` are loaded first (:func:`dmlstudy.plugins.load`, once per process), so
    the names they register are valid. Raises ``ConfigError`` listing every problem found.
    """
    if not isinstance(config, dict):
        raise ConfigError(
            f"the config must be a mapping of keys to values, got {type(config).__name__}"
        )
    plugins.load(config.get("plugins"))
    schema = load_schema()
    defs = schema["$defs"]
    messages = []
    if "experiments" not in config:
        messages.append(
            "'experiments' is missing: define at least one experiment, e.g. "
            "experiments: {my_experiment: {dataset: <a key of datasets>, model: mlp|cnn|head}}"
        )
    for msg in _messages(jsonschema.Draft202012Validator(schema), config, defs):
        if msg not in messages:
            messages.append(msg)
    losses_given = config.get("losses")
    if isinstance(losses_given, list):  # reported with the schema's problems, all at once
        messages += _unknown_losses([n for n in losses_given if isinstance(n, str)])
    if messages:
        raise ConfigError(_bullet("invalid config", messages))

    cfg = copy.deepcopy(config)
    _fill_defaults(cfg, schema, defs)
    for name, spec in cfg["datasets"].items():
        _fill_dataset(spec, name, cfg["data_root"], defs)
    for spec in cfg["backbones"].values():
        _fill_defaults(spec, defs["backbone"], defs)
    for name, exp in cfg["experiments"].items():
        exp.setdefault("backbone", None)
        exp.setdefault("model_options", {})
        if exp.get("label") is None:
            exp["label"] = name
        if exp.get("preset") is None:
            exp["preset"] = cfg["preset"]
    _check_references(cfg)
    return cfg


def _unknown_losses(names: list[str]) -> list[str]:
    return [
        f"'losses' names {name!r}, which is not a registered loss; registered: "
        f"{', '.join(losses.LOSSES)}"
        for name in names
        if name not in losses.LOSSES
    ]


def _registry_problems(cfg: dict) -> list[str]:
    """Loss, sampler and backbone names must be in their registries (the schema does not
    list losses and samplers, so that a new one is one registry entry), every sampler must
    serve every loss (``sampling.problem``), and a backbone entry must pass its own check."""
    out = _unknown_losses(cfg["losses"])
    where = [("sampling", cfg["sampling"])] + [
        (f"experiments.{n}.sampling", e["sampling"])
        for n, e in cfg["experiments"].items()
        if isinstance(e.get("sampling"), dict) and "sampler" in e["sampling"]
    ]
    for key, section in where:
        for name in cfg["losses"]:
            msg = sampling.problem(section["sampler"], name)
            if msg:
                line = f"'{key}.sampler' = {section['sampler']!r}: {msg}"
                if line not in out:
                    out.append(line)
    for name, spec in cfg["backbones"].items():
        out += backbones.get(spec["kind"]).problems({**spec, "name": name}, name)
    return out


def with_defaults(definition: str, entry: dict | None = None) -> dict:
    """A copy of ``entry`` with the schema defaults of ``$defs[definition]`` filled in, as
    ``validate`` fills them (for code that builds one entry outside a whole config: tests,
    benchmarks)."""
    defs = load_schema()["$defs"]
    out = copy.deepcopy(dict(entry or {}))
    _fill_defaults(out, defs[definition], defs)
    return out


def section_defaults(section: str) -> dict:
    """The schema's defaults of one shared section (``loss``, ``sampling``, ``training``,
    ``evaluation``): what a config that leaves it out gets."""
    return with_defaults(section)


def _check_references(cfg: dict) -> None:
    problems = _registry_problems(cfg) + sweeps.problems(cfg, load_schema()["$defs"])
    for name, exp in cfg["experiments"].items():
        ds = exp["dataset"]
        if ds not in cfg["datasets"]:
            problems.append(
                f"'experiments.{name}.dataset' = {ds!r} is not a dataset of this config; "
                f"defined datasets: {', '.join(sorted(cfg['datasets'])) or '(none: add one under datasets)'}"
            )
            continue
        kind = SOURCES[cfg["datasets"][ds]["source"]].kind_of(cfg["datasets"][ds])
        model = exp["model"]
        if model != "cnn" and "channels_last" in (exp.get("model_options") or {}):
            problems.append(
                f"'experiments.{name}.model_options.channels_last' only applies to model "
                f"'cnn', not {model!r}; remove it"
            )
        if model == "head":
            bb = exp.get("backbone")
            if bb is None:
                problems.append(
                    f"'experiments.{name}.backbone' is missing: model 'head' trains on frozen "
                    f"features and needs one of: {', '.join(sorted(cfg['backbones'])) or '(none defined: add one under backbones)'}"
                )
            elif bb not in cfg["backbones"]:
                problems.append(
                    f"'experiments.{name}.backbone' = {bb!r} is not a backbone of this config; "
                    f"defined backbones: {', '.join(sorted(cfg['backbones'])) or '(none)'}"
                )
            if kind == "vectors":
                problems.append(
                    f"'experiments.{name}': model 'head' needs image data, but dataset {ds!r} holds vectors; use model 'mlp'"
                )
        else:
            if exp.get("backbone") is not None:
                problems.append(
                    f"'experiments.{name}.backbone' = {exp['backbone']!r} is only used with model 'head', "
                    f"not {model!r}; remove it or use model 'head'"
                )
            if model == "mlp" and kind != "vectors":
                problems.append(
                    f"'experiments.{name}': model 'mlp' needs vector data, but dataset {ds!r} holds images; use 'cnn' or 'head'"
                )
            if model == "cnn" and kind != "images":
                problems.append(
                    f"'experiments.{name}': model 'cnn' needs decoded images, but dataset {ds!r} "
                    f"({cfg['datasets'][ds]['source']}) holds {kind}; use 'head' with a backbone"
                )
    if problems:
        raise ConfigError(_bullet("invalid config", problems))


def _bullet(title: str, items: list[str]) -> str:
    return f"{title} ({len(items)} problem{'s' if len(items) != 1 else ''}):\n" + "\n".join(
        f"  - {m}" for m in items
    )


def load_file(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    return data if data is not None else {}


def main(argv=None) -> int:
    """``dmlstudy-validate CONFIG.yaml``: validate a config file and print its problems."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: dmlstudy-validate CONFIG.yaml", file=sys.stderr)
        return 2
    try:
        cfg = validate(load_file(argv[0]))
    except ConfigError as exc:
        print(f"{argv[0]}: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[0]}: valid ({len(cfg['experiments'])} experiments, {len(cfg['seeds'])} seeds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
