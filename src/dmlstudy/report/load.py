"""The runs an aggregation rule names, loaded into data frames.

Each run comes with its record ``{"experiment", "loss", "seed"}`` (and, for a run at a
point of a sweep, its path segment ``point``) from the rule's ``params.runs``, aligned with
the input file list; nothing is parsed out of paths, and a file that names another run is
an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..params import VALIDATION, Point

RUN_KEYS = ("experiment", "loss", "seed")


def _aligned(paths: Sequence, runs: Sequence[Mapping]) -> list[tuple[Path, Mapping]]:
    paths = [Path(p) for p in paths]
    if len(paths) != len(runs):
        raise ValueError(f"{len(paths)} files but {len(runs)} run records; they must align")
    return list(zip(paths, runs, strict=True))


def _order(df: pd.DataFrame, experiments: Mapping | None) -> pd.DataFrame:
    if not experiments or df.empty:
        return df
    rank = {name: i for i, name in enumerate(experiments)}
    key = df["experiment"].map(lambda e: rank.get(e, len(rank)))
    return df.iloc[key.argsort(kind="stable")].reset_index(drop=True)


def load_metrics(
    paths: Iterable[str | Path], runs: Sequence[Mapping], experiments: Mapping | None = None
) -> pd.DataFrame:
    """One row per run: its metrics.json, with ``experiment``, ``loss``, ``seed`` from its
    record (a metrics.json that names another run is an error: the lists are misaligned),
    in the experiments' order, plus ``label`` and ``preset`` from ``experiments``
    (experiment → {label, preset, ...}). A record's ``point`` (a path segment) must match
    the point the run recorded; the row keeps the segment in ``run_point``."""
    rows = []
    for path, run in _aligned(list(paths), runs):
        with open(path) as fh:
            m = json.load(fh)
        for key in RUN_KEYS:
            if key in m and m[key] != run[key]:
                raise ValueError(
                    f"{path}: {key} is {m[key]!r} but its run record says {run[key]!r}"
                )
            m[key] = run[key]
        if "point" in run:
            recorded = Point.of(m.get("point") or {}).segment
            if recorded != run["point"].removeprefix(VALIDATION):
                raise ValueError(
                    f"{path}: its point is {recorded!r} but its run record says {run['point']!r}"
                )
            m["run_point"] = run["point"]
        m["path"] = str(path)
        rows.append(m)
    df = _order(pd.DataFrame(rows), experiments)
    if experiments:
        df["label"] = df["experiment"].map(lambda e: experiments[e]["label"])
        df["preset"] = df["experiment"].map(lambda e: experiments[e]["preset"])
    return df


def load_histories(paths: Iterable[str | Path], runs: Sequence[Mapping]) -> pd.DataFrame:
    """Every history.csv, one row per epoch, with ``experiment``, ``loss_name`` and
    ``seed`` from its run record (``loss`` is the loss value of the epoch)."""
    frames = []
    for path, run in _aligned(list(paths), runs):
        h = pd.read_csv(path)
        h["experiment"], h["loss_name"], h["seed"] = run["experiment"], run["loss"], run["seed"]
        frames.append(h)
    return pd.concat(frames, ignore_index=True)


def losses_present(
    df: pd.DataFrame, loss_labels: Mapping[str, str], column: str = "loss"
) -> list[str]:
    """The losses that have runs in ``df``: those of ``loss_labels`` in its order, then any
    others by name."""
    present = set(df[column]) if column in df else set()
    return [lo for lo in loss_labels if lo in present] + sorted(present - set(loss_labels))


def experiment_order(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["experiment"])) if len(df) else []
