"""What every data source is and returns, and the helpers several sources share.

A source is a :class:`Source` record: ``prepare(spec, name, seed) -> Prepared`` turns a
dataset's validated config entry into train/test arrays, ``check(spec, name)`` cheaply
raises :class:`~dmlstudy.errors.DataNotFoundError` when its files are missing. ``spec`` is
trusted: the schema (``$defs/<schema_def>``) has checked its values and filled its defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..splits import stratified_subset

MNIST_MEAN = [0.1307]
MNIST_STD = [0.3081]
MNIST_CLASS_NAMES = [str(i) for i in range(10)]


@dataclass
class Prepared:
    """A prepared dataset: ``splits[split][array_name]`` and the file's root attributes."""

    splits: dict[str, dict[str, np.ndarray]]
    attrs: dict = field(default_factory=dict)


def nothing_to_check(spec: dict, name: str) -> None:
    """The check of a source that generates or downloads its data: always passes."""


@dataclass(frozen=True)
class Source:
    """One data source of the registry :data:`dmlstudy.sources.SOURCES`.

    ``kind``: what its files hold ("vectors", "images", or "image_files" for paths a
    backbone decodes), or ``kind(spec) -> str`` when an option decides it (read it with
    :meth:`kind_of`). ``schema_def``: its entry under ``$defs`` of the config schema.
    ``schema``: that entry itself (a JSON-schema object), for a source whose keys are not in
    the schema file (a plugin's); the config layer adds it under ``$defs/<schema_def>``.
    ``paper_dataset(spec)``: the paper's dataset it stands for (synthetic, mnist, cifar10,
    cub200, cars196) or None."""

    name: str
    kind: str | Callable[[dict], str]
    schema_def: str
    prepare: Callable[[dict, str, int | None], Prepared]
    paper_dataset: Callable[[dict], str | None]
    check: Callable[[dict, str], None] = nothing_to_check
    schema: dict | None = field(default=None, compare=False)

    def kind_of(self, spec: dict) -> str:
        """What a dataset of this source with (validated) entry ``spec`` holds."""
        return self.kind(spec) if callable(self.kind) else self.kind


def abs_path(path) -> Path:
    return Path(os.path.expanduser(str(path))).resolve()


def find_with_gz(folder: Path, filename: str) -> Path | None:
    """``folder/filename``, else the same with ``.gz`` added or removed; None if neither exists."""
    first = folder / filename
    other = folder / (filename[:-3] if filename.endswith(".gz") else filename + ".gz")
    for p in (first, other):
        if p.is_file():
            return p
    return None


def train_test(x_train, y_train, x_test, y_test, key: str = "x") -> dict:
    """The ``splits`` of a :class:`Prepared` from train and test arrays (labels int64)."""
    return {
        "train": {key: x_train, "y": np.asarray(y_train, dtype=np.int64)},
        "test": {key: x_test, "y": np.asarray(y_test, dtype=np.int64)},
    }


def _subset(x, y, n: int | None, seed, name: str, key: str):
    if n is None:
        return x, y
    if n > len(y):
        raise ConfigError(
            f"datasets.{name}.{key}: {n} is more than the {len(y)} samples available; "
            f"use null for all of them or a smaller number"
        )
    idx = stratified_subset(y, n, seed)
    return x[idx], y[idx]


def subsets(spec: dict, name: str, seed: int, x_tr, y_tr, x_te, y_te):
    """Apply ``train_subset``/``test_subset`` (stratified); independent seeded streams per
    split, so changing one subset size never changes the other split's draw."""
    x_tr, y_tr = _subset(x_tr, y_tr, spec["train_subset"], [seed, 0], name, "train_subset")
    x_te, y_te = _subset(x_te, y_te, spec["test_subset"], [seed, 1], name, "test_subset")
    return x_tr, y_tr, x_te, y_te


def size_text(n_train: int, n_test: int, full: tuple[int, int]) -> str:
    """ "60k/10k", or "stratified subset 6k/1k of 60k/10k"."""

    def k(v: int) -> str:
        return f"{v // 1000}k" if v % 1000 == 0 else str(v)

    if (n_train, n_test) == full:
        return f"{k(n_train)}/{k(n_test)}"
    return f"stratified subset {k(n_train)}/{k(n_test)} of {k(full[0])}/{k(full[1])}"


def image_attrs(
    x_train: np.ndarray,
    description: str,
    num_classes: int,
    source: str,
    mean,
    std,
    class_names=None,
    **extra,
) -> dict:
    """Root attributes of a decoded-image file; ``mean``/``std`` need one value per channel."""
    c = x_train.shape[1]
    mean, std = [float(v) for v in mean], [float(v) for v in std]
    if len(mean) != c or len(std) != c:
        raise ConfigError(
            f"{description}: normalize_mean/normalize_std need one value per channel "
            f"({c}); got {mean} and {std}"
        )
    attrs = {
        "kind": "images",
        "description": description,
        "num_classes": int(num_classes),
        "source": source,
        "normalize_mean": mean,
        "normalize_std": std,
        "image_shape": [int(v) for v in x_train.shape[1:]],
    }
    if class_names is not None:
        attrs["class_names"] = [str(v) for v in class_names]
    attrs.update(extra)
    return attrs
