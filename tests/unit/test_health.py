"""The run health check (dmlstudy.health) on constructed cases: each threshold fires on
what it is meant to catch and stays quiet on a healthy run and just inside its limit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dmlstudy import health as H


def history(loss, grad, active=None) -> pd.DataFrame:
    """A history.csv table with these per-epoch losses and gradient norms (epoch 0 first)."""
    n = len(loss)
    return pd.DataFrame(
        {
            "epoch": np.arange(n),
            "loss": loss,
            "active_ratio": active if active is not None else np.full(n, 0.8),
            "grad_norm": grad,
            "intra_class_distance": np.linspace(0.7, 0.3, n),
            "inter_class_distance": np.linspace(0.6, 1.2, n),
            "n_items": np.full(n, 100),
            "seconds": np.full(n, 0.1),
        }
    )


HEALTHY = history(np.geomspace(0.6, 0.1, 21), np.geomspace(1.5, 0.4, 21))


def embeddings(n_classes=4, per=30, dim=16, seed=0):
    """Unit-norm embeddings of ``n_classes`` separated classes."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim)) * 2
    y = np.repeat(np.arange(n_classes), per)
    z = centres[y] + rng.standard_normal((len(y), dim))
    return z / np.linalg.norm(z, axis=1, keepdims=True), y


def checks(result) -> list[str]:
    return [p["check"] for p in result["problems"]]


def test_a_healthy_run_is_ok():
    z, y = embeddings()
    r = H.check(HEALTHY, z, y)
    assert r["status"] == "ok" and r["problems"] == []
    assert r["thresholds"] == H.THRESHOLDS
    m = r["measures"]
    assert m["spread"] > 0.3 and m["pc1_share"] < 0.6 and m["n_classes"] == 4
    last = slice(-2, None)  # the last tenth of 20 trained epochs
    assert m["loss_ratio"] == pytest.approx(HEALTHY["loss"].iloc[last].mean() / 0.6)
    assert m["grad_ratio"] == pytest.approx(HEALTHY["grad_norm"].iloc[last].median() / 1.5)


def test_collapse_to_a_point():
    rng = np.random.default_rng(1)
    z = np.ones((120, 16)) / 4 + 1e-5 * rng.standard_normal((120, 16))
    y = np.repeat(np.arange(4), 30)
    r = H.check(HEALTHY, z, y)
    assert checks(r) == ["collapsed_to_point"]
    assert r["measures"]["spread"] < 1e-3 < H.POINT_SPREAD
    assert "collapsed to a point" in r["problems"][0]["message"]
    assert "training.lr" in r["problems"][0]["message"]  # the fix
    # all-zero embeddings are a point too
    assert checks(H.check(HEALTHY, np.zeros((120, 16)), y)) == ["collapsed_to_point"]


def test_collapse_to_rank_one():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 30)
    t = rng.standard_normal(120) + y  # classes spread along one line
    direction = rng.standard_normal(16)
    z = np.outer(t, direction) + 1e-3 * rng.standard_normal((120, 16))
    r = H.check(HEALTHY, z, y)
    assert checks(r) == ["collapsed_to_rank_one"]
    assert r["measures"]["pc1_share"] > 0.99
    assert "rank 1" in r["problems"][0]["message"]
    # two compact classes are rank 1 after centring, legitimately: not flagged
    two = y < 2
    assert H.check(HEALTHY, z[two], y[two])["status"] == "ok"


def test_non_finite_history_and_embeddings():
    z, y = embeddings()
    bad = HEALTHY.copy()
    bad.loc[7, "grad_norm"] = math.inf
    r = H.check(bad, z, y)
    assert checks(r) == ["non_finite"]
    assert "grad_norm (epoch 7)" in r["problems"][0]["message"]
    z = z.copy()
    z[[3, 50]] = np.nan
    r = H.check(HEALTHY, z, y)
    assert checks(r) == ["non_finite_embeddings"]
    assert r["problems"][0]["value"] == 2 and "2 of 120" in r["problems"][0]["message"]


def test_a_loss_that_does_not_decrease():
    z, y = embeddings()
    flat = history([0.5, 0.7, 0.55, 0.52], [1.0, 0.9, 0.8, 0.8])
    r = H.check(flat, z, y)
    assert checks(r) == ["loss_not_decreasing"]
    assert r["measures"]["loss_ratio"] == pytest.approx(0.52 / 0.5)
    assert "did not decrease" in r["problems"][0]["message"]
    rising = history(np.linspace(0.5, 2.0, 51), np.full(51, 1.0))
    assert checks(H.check(rising, z, y)) == ["loss_not_decreasing"]


def test_a_vanished_gradient_before_the_loss_decayed():
    """The lr-1000 signature: the gradient norm drops 10,000-fold after one epoch while the
    loss stays near its initial value (and every pair stays active)."""
    z, y = embeddings()
    stuck = history([0.44, 0.41, 0.30, 0.22], [1.18, 0.31, 1e-4, 9e-5], active=[0.5, 0.9, 1, 1])
    r = H.check(stuck, z, y)
    assert checks(r) == ["gradient_vanished"]
    assert r["measures"]["grad_ratio"] == pytest.approx(9e-5 / 1.18)
    assert "gradient vanished" in r["problems"][0]["message"]
    # the same small gradient after the loss decayed (<= 10% of L(0)) is a finished run
    done = history([0.44, 0.2, 0.05, 0.03], [1.18, 0.31, 1e-4, 9e-5])
    assert H.check(done, z, y)["status"] == "ok"


@pytest.mark.parametrize(
    "name, inside, outside",
    [
        ("loss_not_decreasing", 0.999, 1.0),
        ("gradient_vanished", 0.0101, 0.0099),
    ],
)
def test_history_thresholds_are_where_they_say(name, inside, outside):
    z, y = embeddings()

    def run(x):
        if name == "loss_not_decreasing":
            return H.check(history([1.0, 0.9, x], [1.0, 1.0, 1.0]), z, y)
        return H.check(history([1.0, 0.9, 0.5], [1.0, 1.0, x]), z, y)

    assert run(inside)["status"] == "ok"
    assert checks(run(outside)) == [name]


def test_embedding_thresholds_are_where_they_say():
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(4), 50)
    base = rng.standard_normal((200, 8))
    base -= base.mean(0)
    offset = np.zeros(8)
    offset[0] = 1.0

    def at_spread(s):  # points at distance ~s around a unit vector
        z = offset + base / np.sqrt((base**2).sum(1).mean()) * s
        return H.check(HEALTHY, z, y)

    assert at_spread(H.POINT_SPREAD * 1.01)["status"] == "ok"
    assert checks(at_spread(H.POINT_SPREAD * 0.99)) == ["collapsed_to_point"]

    def at_share(share):  # first axis holds ``share`` of the variance exactly
        w = np.linalg.svd(base, full_matrices=False)[0] * np.sqrt(len(base))
        z = np.zeros((200, 8))
        z[:, 0] = w[:, 0] * np.sqrt(share)
        z[:, 1] = w[:, 1] * np.sqrt(1 - share)
        return H.check(HEALTHY, z, y)

    assert at_share(0.989)["status"] == "ok"
    assert checks(at_share(0.991)) == ["collapsed_to_rank_one"]


def test_undefined_measures_never_flag():
    """Zero initial loss or gradient, no trained epoch, outliers only: nothing to compare."""
    z, y = embeddings()
    r = H.check(history([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]), z, y)
    assert r["status"] == "ok"
    assert math.isnan(r["measures"]["loss_ratio"]) and math.isnan(r["measures"]["grad_ratio"])
    assert H.check(HEALTHY.iloc[:1], z, y)["status"] == "ok"
    assert H.check(HEALTHY, z, np.full(len(y), -1))["status"] == "ok"
