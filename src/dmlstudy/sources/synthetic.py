"""Synthetic data of §3.1: Gaussian classes with random covariances, label noise, outliers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

OUTLIER = -1


@dataclass
class SyntheticData:
    x: np.ndarray  #: (N, d) float64 points, class points first, outliers last
    y: np.ndarray  #: (N,) int64 observed labels (after label noise); -1 for outliers
    y_clean: np.ndarray  #: (N,) int64 generating class (before label noise); -1 for outliers


def generate(
    n_classes: int = 10,
    n_per_class: int = 200,
    dim: int = 128,
    center_scale: float = 5.0,
    noise_scale: float = 1.4,
    cov_jitter: float = 1e-3,
    label_noise: float = 0.1,
    outlier_fraction: float = 0.05,
    outlier_std: float = 15.0,
    seed: int = 0,
) -> SyntheticData:
    """Generate the §3.1 data, vectorised over classes and points.

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


def prepare(spec: dict, name: str, seed: int | None = None):
    """Data source ``synthetic``: generate, optionally L2-normalise, split stratified."""
    from .sources import Prepared  # local import: sources imports this module lazily

    seed = spec.get("seed", 0) if seed is None else seed
    keys = (
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
    data = generate(**{k: spec[k] for k in keys if k in spec}, seed=seed)
    x = data.x
    if spec.get("input_normalization", "none") == "l2":
        x = l2_normalize(x)
    idx = np.arange(len(x))
    train_idx, test_idx = train_test_split(
        idx, test_size=spec.get("test_fraction", 0.2), stratify=data.y, random_state=seed
    )
    train_idx.sort()
    test_idx.sort()

    def part(i):
        return {"x": x[i].astype(np.float32), "y": data.y[i], "y_clean": data.y_clean[i]}

    n_classes = int(spec.get("n_classes", 10))
    norm = spec.get("input_normalization", "none")
    return Prepared(
        splits={"train": part(train_idx), "test": part(test_idx)},
        attrs={
            "kind": "vectors",
            "source": "synthetic",
            "description": "Synthetic (§3.1)" + (", L2-normalised" if norm == "l2" else ""),
            "num_classes": n_classes,
            "input_normalization": norm,
            "spec": {k: v for k, v in spec.items()},
        },
    )
