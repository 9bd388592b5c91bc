"""The search space of one study of :mod:`dmlstudy.search`: which dotted keys it searches,
over which ranges, and how a trial's values become a path segment and back.

A spec (config ``sweeps.space.<experiment>.<loss>``) maps dotted sweepable keys
(``loss.margin``, ``training.lr``, ``loss.pml_options.margin_loss.margin``,
``sampling.sampler``...) to a range::

    loss.margin:      {float: [0.05, 8.0], log: true}       # digits: 3 (default)
    training.lr:      {float: [1.0e-4, 1.0e-2], log: true}
    training.epochs:  {int: [10, 50], step: 10}
    sampling.sampler: {choices: [random, semihard]}

:func:`parse_space` checks it (one problem string per mistake, naming the key and the fix)
and returns a :class:`SearchSpace` of :class:`Param`. A float is rounded to ``digits``
significant digits and clipped to its bounds (:meth:`Param.round`); its path text is the
``repr`` of that float (``params.format_value``), which parses back to the same float, so a
run trains with exactly the value in its path. Segments follow the grid points' convention
(``params.Point.segment``: ``key~value/`` per key, in the order written) and match
``params.POINT_REGEX``.

Importing this module imports neither optuna (only :meth:`Param.distribution` does), torch
nor pandas.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .params import SEP, SWEEPABLE, Point, format_value

#: Significant digits of a float value in its path (and in the run), unless a key sets it.
DIGITS = 3
_KEY = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$")  # the key part of params.POINT_REGEX
_SAFE = re.compile(r"^[A-Za-z0-9_.+-]+$")  # its value part
_KINDS = {"float": {"log", "digits"}, "int": {"log", "step"}, "choices": set()}


@dataclass(frozen=True)
class Param:
    """One searched key: ``kind`` ``float`` (``low``, ``high``, ``log``, ``digits``),
    ``int`` (``low``, ``high``, ``log``, ``step``) or ``choices``."""

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: int = 1
    digits: int = DIGITS
    choices: tuple = ()

    def distribution(self):
        """The Optuna distribution of this key."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "float":
            return FloatDistribution(self.low, self.high, log=self.log)
        if self.kind == "int":
            return IntDistribution(self.low, self.high, log=self.log, step=self.step)
        return CategoricalDistribution(self.choices)

    def round(self, value):
        """The value a run trains with: a float rounded to ``digits`` significant digits and
        clipped to [low, high]; an int or a choice as it is (as a plain Python value)."""
        if self.kind == "float":
            rounded = float(format(float(value), f".{self.digits}g")) + 0.0  # no -0.0
            return min(max(rounded, self.low), self.high)
        if self.kind == "int":
            return int(value)
        return self.choices[self.choices.index(value)]

    def text(self, value) -> str:
        """The value as it appears in a path (``params.format_value``)."""
        return format_value(value)

    def parse(self, text: str):
        """The inverse of :meth:`text` on this key's values; ``ValueError`` otherwise."""
        if self.kind == "choices":
            for c in self.choices:
                if format_value(c) == text:
                    return c
            raise ValueError(f"{self.key}: {text!r} is none of the choices {list(self.choices)}")
        try:
            value = float(text) if self.kind == "float" else int(text)
        except ValueError:
            value = None
        ok = value is not None and format_value(value) == text and self.low <= value <= self.high
        if not ok or (self.kind == "int" and (value - self.low) % self.step):
            raise ValueError(f"{self.key}: {text!r} is not a value of {self.describe()}")
        return value

    def describe(self) -> str:
        """``loss.margin: float [0.05, 8.0] log``, ``sampling.sampler: {random, semihard}``."""
        if self.kind == "choices":
            return f"{self.key}: {{{', '.join(format_value(c) for c in self.choices)}}}"
        extra = (" log" if self.log else "") + (f" step {self.step}" if self.step != 1 else "")
        return f"{self.key}: {self.kind} [{self.low}, {self.high}]{extra}"


@dataclass(frozen=True)
class SearchSpace:
    """The searched keys of one (experiment, loss), in the order written."""

    params: tuple[Param, ...]

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def point(self, values: Mapping) -> Point:
        """The trial as a ``params.Point`` (``params.apply`` sets its values on a resolved
        experiment; ``.segment`` is its path segment)."""
        if set(values) != set(self.keys):
            raise ValueError(f"trial keys {sorted(values)} are not the space's {self.keys}")
        return Point(tuple((p.key, values[p.key]) for p in self.params))

    def segment(self, values: Mapping) -> str:
        """``loss.margin~0.731/training.lr~0.00123/``: one ``key~value/`` per key."""
        return self.point(values).segment

    def parse_segment(self, segment: str) -> dict:
        """The values of a trial's segment (the inverse of :meth:`segment`)."""
        parts = segment.split("/")
        if parts[-1] != "" or len(parts) - 1 != len(self.params):
            raise ValueError(f"segment {segment!r} does not have one part per key {self.keys}")
        out = {}
        for p, part in zip(self.params, parts[:-1], strict=False):
            key, sep, text = part.partition(SEP)
            if key != p.key or not sep:
                raise ValueError(f"segment {segment!r}: expected {p.key}{SEP}<value>/")
            out[key] = p.parse(text)
        return out

    def describe(self) -> str:
        """One line for tables: ``loss.margin: float [0.05, 8.0] log; training.lr: ...``."""
        return "; ".join(p.describe() for p in self.params)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _param_problems(key: str, spec, where: str) -> tuple[Param | None, list[str]]:
    """The Param of one key of a space spec, or what is wrong with it."""
    at = f"'{where}{key}'"
    if not isinstance(spec, Mapping):
        return None, [
            f"{at}: expected a mapping like {{float: [low, high], log: true}}, "
            f"{{int: [low, high]}} or {{choices: [a, b]}}, got {spec!r}"
        ]
    kinds = [k for k in _KINDS if k in spec]
    if len(kinds) != 1:
        return None, [
            f"{at}: give exactly one of 'float: [low, high]', 'int: [low, high]' or "
            f"'choices: [...]', got keys {sorted(spec)}"
        ]
    kind = kinds[0]
    unknown = sorted(set(spec) - {kind} - _KINDS[kind])
    if unknown:
        allowed = ", ".join(sorted(_KINDS[kind])) or "nothing else"
        return None, [f"{at}: unknown field(s) {unknown} for {kind} (allowed: {allowed})"]
    if kind == "choices":
        choices = spec["choices"]
        if not isinstance(choices, list) or len(choices) < 2:
            return None, [f"{at}: 'choices' must be a list of at least 2 values, got {choices!r}"]
        out = []
        for c in choices:
            if not (isinstance(c, (str, bool)) or _number(c)):
                out.append(f"{at}: choice {c!r} must be a string, number or boolean")
            elif not _SAFE.match(format_value(c)):
                out.append(
                    f"{at}: choice {c!r} cannot be part of a path: use letters, digits, "
                    "'_', '.', '+' and '-' only"
                )
        for i, c in enumerate(choices):
            for d in choices[:i]:
                if c == d or format_value(c) == format_value(d):
                    out.append(f"{at}: choices {d!r} and {c!r} are the same value; keep one")
        return (None if out else Param(key, "choices", choices=tuple(choices))), out
    bounds = spec[kind]
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(map(_number, bounds))):
        return None, [f"{at}: '{kind}' must be [low, high] (two finite numbers), got {bounds!r}"]
    low, high = bounds
    log = spec.get("log", False)
    out = []
    if not isinstance(log, bool):
        out.append(f"{at}: 'log' must be true or false, got {log!r}")
    if not low < high:
        out.append(
            f"{at}: low {low!r} must be below high {high!r} (to fix a value, set it in "
            "the config instead of searching it)"
        )
    if log is True and low <= 0:
        out.append(f"{at}: a log scale needs low > 0, got {low!r}")
    if kind == "float":
        digits = spec.get("digits", DIGITS)
        if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
            out.append(f"{at}: 'digits' must be an integer from 1 to 17, got {digits!r}")
        param = Param(key, "float", float(low), float(high), log is True, digits=digits)
    else:
        step = spec.get("step", 1)
        if not all(isinstance(b, int) for b in bounds):
            out.append(
                f"{at}: int bounds must be integers, got {bounds!r} (use 'float' for a real range)"
            )
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            out.append(f"{at}: 'step' must be a positive integer, got {step!r}")
        elif log is True and step != 1:
            out.append(f"{at}: a log-scale int range takes no step (Optuna needs step 1)")
        elif not out and (high - low) % step:
            out.append(f"{at}: high - low = {high - low} is not a multiple of step {step}")
        param = Param(key, "int", int(low), int(high), log is True, step=step)
    return (None if out else param), out


def parse_space(
    spec, where: str = "", value_problem: Callable[[str, object], str | None] | None = None
) -> tuple[SearchSpace | None, list[str]]:
    """``(space, problems)`` of a search-space spec: a mapping from dotted sweepable keys to

    * ``{float: [low, high]}``, optional ``log: true`` and ``digits`` (significant digits
      in the path and the run, default 3), e.g. ``loss.margin: {float: [0.05, 8], log: true}``;
    * ``{int: [low, high]}``, optional ``log: true`` or ``step``;
    * ``{choices: [a, b, ...]}`` (strings, numbers, booleans; path-safe).

    ``where`` goes before each key in the messages (``"sweeps.space.synthetic_mlp.triplet."``).
    ``value_problem(key, value)``, when given, is asked about each bound and choice (why the
    key cannot take it, e.g. the config schema's reason, or None); the same answer for every
    value (an unknown key) is reported once, for the key. ``space`` is None when there is any
    problem; each problem is one line naming the key and the fix."""
    if not isinstance(spec, Mapping) or not spec:
        return None, [
            f"'{where.rstrip('.')}': a search space maps at least one dotted key "
            f"(e.g. loss.margin) to its range, got {spec!r}"
        ]
    params, out = [], []
    for key, pspec in spec.items():
        if not isinstance(key, str) or not _KEY.match(key) or key.split(".")[0] not in SWEEPABLE:
            out.append(
                f"'{where}{key}': a searched key is a dotted key under "
                + ", ".join(f"'{s}.'" for s in SWEEPABLE)
                + " (letters, digits, '_'), e.g. loss.margin or training.lr"
            )
            continue
        param, problems = _param_problems(key, pspec, where)
        out += problems
        if param is None:
            continue
        params.append(param)
        if value_problem is not None:
            probe = param.choices if param.kind == "choices" else (param.low, param.high)
            msgs = [value_problem(key, v) for v in probe]
            if msgs[0] and len(set(msgs)) == 1:  # the key's problem, not a value's
                out.append(f"'{where}{key}': {msgs[0]}")
            else:
                out += [
                    f"'{where}{key}' value {v!r}: {m}"
                    for v, m in zip(probe, msgs, strict=True)
                    if m
                ]
    return (None if out else SearchSpace(tuple(params))), out
