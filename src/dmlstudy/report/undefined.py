"""Why a table cell is n/a: a value undefined for every seed of a run (MAP@R when no test
query has another point of its class, the intra-class variance when no class has two
evaluation points) or never computed (no test split). A table keeps the column, prints n/a
and says why in a note; it never drops the column or prints 0.0."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

#: Why a value can be undefined for every seed of a run.
UNDEFINED = {
    "map@r": "no test query has another point of its class",
    "intra_mean": "no class has two evaluation points",
    "intra_var": "no class has two evaluation points",
    "alignment": "no class has two evaluation points",
}

#: Values computed only on a test split.
NEEDS_TEST = frozenset({"map@r"})


def scored(runs: pd.DataFrame) -> bool:
    """Whether the runs have k-NN and retrieval scores (a test split to score)."""
    return "knn_k" in runs and bool(runs["knn_k"].notna().any())


def notes(
    records: Sequence[Mapping], columns: Mapping[str, str], has_test: Sequence[bool] = ()
) -> list[str]:
    """A note per reason for the columns (key -> header) that are n/a in some table row
    (``{key}_mean`` NaN) because the value is undefined. ``has_test``: per record, whether
    its runs had a test split (without one, :func:`no_test_split` says why instead)."""
    has_test = list(has_test) or [True] * len(records)
    why: dict[str, list[str]] = {}
    for key, header in columns.items():
        rows = [r for r, ok in zip(records, has_test, strict=True) if ok or key not in NEEDS_TEST]
        if key in UNDEFINED and any(math.isnan(r.get(f"{key}_mean", 0.0)) for r in rows):
            why.setdefault(UNDEFINED[key], []).append(header)
    return [
        f"n/a: {', '.join(h)} {'is' if len(h) == 1 else 'are'} undefined: {reason}."
        for reason, h in why.items()
    ]


def no_test_split(names: Sequence[str]) -> list[str]:
    """The note on the experiments ``names`` (their table headings) without a test split,
    whose classification and retrieval cells are n/a."""
    if not names:
        return []
    return [
        f"n/a for {', '.join(names)}: no test split (test_fraction 0), so nothing is "
        "classified or retrieved; its other tables score the training points "
        "(evaluation.split: train)."
    ]
