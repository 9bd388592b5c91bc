"""Source ``synthetic``: the data of §3.1, Gaussian classes with random covariances, label
noise and outliers, generated from ``seed``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..splits import OUTLIER, class_disjoint_split, sklearn_stratified_split
from .base import Prepared, Source

#: Keys of the dataset's config entry that are parameters of :func:`generate`.
GENERATOR_KEYS = (
    "n_classes",
    "n_per_class",
    "dim",
    "center_scale",
    "noise_scale",
    "cov_jitter",
    "label_noise",
    "outlier_fraction",
    "outlier_std",
)


@dataclass
class SyntheticData:
    x: np.ndarray  #: (N, d) float64 points, class points first, outliers last
    y: np.ndarray  #: (N,) int64 observed labels (after label noise); -1 for outliers
    y_clean: np.ndarray  #: (N,) int64 generating class (before label noise); -1 for outliers


def generate(
    *,
    n_classes: int,
    n_per_class: int,
    dim: int,
    center_scale: float,
    noise_scale: float,
    cov_jitter: float,
    label_noise: float,
    outlier_fraction: float,
    outlier_std: float,
    seed: int,
) -> SyntheticData:
    """Generate the §3.1 data, vectorised over classes and points (the paper's values are
    the schema defaults of ``$defs/source_synthetic``).

    1. ``g_c ~ N(0, I_d)``, ``mu_c = center_scale * g_c``.
    2. ``A_c ~ N(0, I)`` (d x d), ``Sigma_c = A_c A_c^T``, ``L_c = chol(Sigma_c + cov_jitter I)``;
       ``x_i = mu_c + noise_scale * L_c z_i`` with ``z_i ~ N(0, I_d)``.
    3. Each label is reassigned with probability ``label_noise`` to a class drawn uniformly
       from all classes, its own included (as the paper's text and the authors' code do).
    4. ``floor(n_classes * n_per_class * outlier_fraction)`` outliers ``~ N(0, outlier_std^2 I)``
       labelled -1 are appended.
    """
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n_classes, dim))
    mu = center_scale * g
    a = rng.standard_normal((n_classes, dim, dim))
    sigma = a @ a.transpose(0, 2, 1) + cov_jitter * np.eye(dim)
    chol = np.linalg.cholesky(sigma)  # (C, d, d), batched
    z = rng.standard_normal((n_classes, n_per_class, dim))
    # n_i = L_c z_i for all points of class c at once: (C, n, d) = z @ L_c^T
    x = mu[:, None, :] + noise_scale * (z @ chol.transpose(0, 2, 1))
    x = x.reshape(n_classes * n_per_class, dim)
    y_clean = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)

    flip = rng.random(y_clean.shape[0]) < label_noise
    y = y_clean.copy()
    y[flip] = rng.integers(0, n_classes, size=int(flip.sum()))

    n_out = int(np.floor(n_classes * n_per_class * outlier_fraction))
    outliers = outlier_std * rng.standard_normal((n_out, dim))
    x = np.concatenate([x, outliers])
    minus = np.full(n_out, OUTLIER, dtype=np.int64)
    return SyntheticData(
        x=x, y=np.concatenate([y, minus]), y_clean=np.concatenate([y_clean, minus])
    )


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def prepare(spec: dict, name: str, seed: int) -> Prepared:
    """Generate, optionally L2-normalise, and split: stratified by label (outliers
    included), or with ``split: class_disjoint`` by class (``splits.class_disjoint_split``:
    ``test_fraction`` of the classes, all their points, in test; retrieval on unseen
    classes, as the metric learning reality check tests).

    ``test_fraction`` 0 puts every point in train and leaves the test split empty (the
    authors' notebook trains on all points; evaluate with ``evaluation.split: train``).
    A spec without ``split`` is split stratified, as before the key existed (its data file
    and every run on it stay the same)."""
    data = generate(**{k: spec[k] for k in GENERATOR_KEYS}, seed=seed)
    x = data.x
    norm = spec["input_normalization"]
    if norm == "l2":
        x = l2_normalize(x)
    disjoint = spec.get("split", "stratified") == "class_disjoint"
    split = class_disjoint_split if disjoint else sklearn_stratified_split
    train_idx, test_idx = split(data.y, spec["test_fraction"], seed)

    def part(i):
        return {"x": x[i].astype(np.float32), "y": data.y[i], "y_clean": data.y_clean[i]}

    return Prepared(
        splits={"train": part(train_idx), "test": part(test_idx)},
        attrs={
            "kind": "vectors",
            "source": "synthetic",
            "description": "Synthetic (§3.1)"
            + (", L2-normalised" if norm == "l2" else "")
            + (", class-disjoint split" if disjoint else ""),
            "num_classes": int(spec["n_classes"]),
            "input_normalization": norm,
            "spec": dict(spec),
        },
    )


SOURCE = Source(
    name="synthetic",
    kind="vectors",
    schema_def="source_synthetic",
    prepare=prepare,
    paper_dataset=lambda spec: "synthetic",
)
