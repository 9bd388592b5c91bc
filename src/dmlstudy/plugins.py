"""Plugins: Python files or modules from outside the package that register losses, samplers,
data sources or backbones (``plugins:`` in the config; docs/plugins.md).

A plugin is imported before the config is validated, in Snakemake's main process and in every
job, and registers what it brings through the package's own ``register`` functions
(:func:`dmlstudy.losses.register`, :func:`dmlstudy.sampling.register`,
:func:`dmlstudy.sources.register`, :func:`dmlstudy.backbones.register`). What it registers is
then a name like any built-in one: the config accepts it, the loop trains it, and tables,
figures and claims show it.

:func:`load` returns a record of each plugin (file, content hash, names registered, by
registry), which :func:`dmlstudy.params.plugin_digests` turns into the part of a job's
parameters that makes Snakemake rerun exactly the jobs that use what a plugin registers when
its file changes.

Importing this module imports neither torch nor any plugin.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType

from . import backbones, losses, sampling, sources
from .errors import ConfigError

#: The registries a plugin may add to: name in the record -> the registry's module.
REGISTRIES = {
    "losses": (losses, "LOSSES", "dmlstudy.losses.register(LossSpec(...))"),
    "samplers": (sampling, "SAMPLERS", "dmlstudy.sampling.register(SamplerSpec(...))"),
    "sources": (sources, "SOURCES", "dmlstudy.sources.register(Source(...))"),
    "backbones": (backbones, "BACKBONES", "dmlstudy.backbones.register(BackboneSpec(...))"),
}

#: Plugins loaded in this process: resolved file path (or module name) -> its record. A
#: plugin named twice (or by two spellings of one path) is imported once.
_LOADED: dict[str, dict] = {}


def registry(kind: str) -> dict:
    module, attr, _ = REGISTRIES[kind]
    return getattr(module, attr)


def snapshot() -> dict[str, dict]:
    """A copy of every registry (to restore after a failed plugin, or in tests)."""
    return {kind: dict(registry(kind)) for kind in REGISTRIES}


def restore(saved: dict[str, dict]) -> None:
    """Put every registry back as :func:`snapshot` saw it (in place: modules that bound a
    registry by name see the change)."""
    for kind, entries in saved.items():
        reg = registry(kind)
        reg.clear()
        reg.update(entries)


def is_file(entry: str) -> bool:
    """A plugin entry names a file (``my_loss.py``, ``plugins/x.py``), else a module."""
    return entry.endswith(".py") or "/" in entry or os.sep in entry


def sha256_of(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load(entries) -> dict[str, dict]:
    """Import each plugin of ``entries`` (the config's ``plugins``: paths of ``.py`` files
    relative to the working directory, or importable module names) once per process, and
    return ``{entry: record}`` in their order; a record is ``{"file": absolute path or None,
    "module": name in sys.modules, "sha256": hash of the file's content or None,
    "registered": {registry: [names]}}``.

    Raises :class:`ConfigError`, naming the plugin and the fix, when a file is missing, the
    plugin fails to import (with its own file and line), registers a name that exists
    already, or registers nothing. A failed plugin leaves the registries as they were."""
    if entries is None:
        return {}
    if isinstance(entries, str) or not isinstance(entries, list | tuple):
        raise ConfigError(
            f"'plugins' = {entries!r} must be a list of Python files or module names, "
            f"e.g. plugins: [my_loss.py]"
        )
    out = {}
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigError(
                f"'plugins' lists {entry!r}: each item must be the path of a .py file "
                f"(relative to the working directory) or a module name"
            )
        out[entry] = _load_one(entry)
    return out


def _load_one(entry: str) -> dict:
    if is_file(entry):
        path = Path(entry).expanduser()
        resolved = path.resolve()
        if not resolved.is_file():
            raise ConfigError(
                f"plugins: file {entry!r} does not exist (looked for {resolved}; paths are "
                f"relative to the working directory {os.getcwd()}); fix the path or remove it "
                f"from 'plugins'"
            )
        key = str(resolved)
    else:
        key = entry
    if key in _LOADED:
        return _LOADED[key]
    before = snapshot()
    try:
        module = _import_file(entry, resolved) if is_file(entry) else _import_module(entry)
    except BaseException:
        restore(before)
        raise
    registered = {kind: [n for n in registry(kind) if n not in before[kind]] for kind in REGISTRIES}
    if not any(registered.values()):
        restore(before)
        how = "; ".join(how for _, _, how in REGISTRIES.values())
        raise ConfigError(
            f"plugins: {entry!r} registered nothing. A plugin adds a loss, sampler, source or "
            f"backbone at import time with one of: {how}"
        )
    module_file = getattr(module, "__file__", None)
    record = {
        "file": module_file,
        "module": module.__name__,
        "sha256": sha256_of(module_file) if module_file else None,
        "registered": registered,
    }
    _LOADED[key] = record
    return record


def _failure(entry: str, where: str, exc: BaseException) -> ConfigError:
    """A ConfigError for a plugin whose import raised ``exc``, naming the plugin's own line."""
    if isinstance(exc, ValueError) and "registered already" in str(exc):
        return ConfigError(
            f"plugins: {entry!r}{where}: {exc}; give it a name that is not taken "
            f"(or list the plugin only once)"
        )
    return ConfigError(
        f"plugins: {entry!r} failed to import{where}: {type(exc).__name__}: {exc}; "
        f"fix the plugin or remove it from 'plugins'"
    )


def _line_in(exc: BaseException, filename: str) -> str:
    """``" (file, line N: code)"`` of the deepest traceback frame in ``filename``."""
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return f" ({filename}, line {exc.lineno})"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if not frames:
        return ""
    f = frames[-1]
    return f" ({filename}, line {f.lineno}: {(f.line or '').strip()})"


def _import_file(entry: str, path: Path) -> ModuleType:
    """Import the file at ``path`` as its own module, named after its path (so two plugins
    with one file name never collide)."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"dmlstudy_plugin_{''.join(c if c.isalnum() else '_' for c in path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise _failure(entry, _line_in(exc, str(path)), exc) from exc
    return module


def _import_module(entry: str) -> ModuleType:
    """Import module ``entry`` (the working directory is searched last)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    try:
        module = importlib.import_module(entry)
    except ModuleNotFoundError as exc:
        if exc.name and entry.startswith(exc.name):
            raise ConfigError(
                f"plugins: no module named {entry!r} (searched the Python path and the "
                f"working directory {cwd}); install it, fix the name, or give the path of a "
                f".py file"
            ) from exc
        raise _failure(entry, _line_in(exc, _origin(entry)), exc) from exc
    except Exception as exc:
        raise _failure(entry, _line_in(exc, _origin(entry)), exc) from exc
    return module


def _origin(entry: str) -> str:
    try:
        spec = importlib.util.find_spec(entry)
    except (ImportError, ValueError):
        return ""
    return (spec.origin or "") if spec else ""
