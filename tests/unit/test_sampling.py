"""Invariants of the vectorised pair/triplet sampler (§3.2)."""

import numpy as np
import pytest
import torch

from dmlstudy.sampling import LabelIndex, epoch_rng, sample_pairs, sample_triplets


def _labels(seed=0, n=600, classes=6, outliers=40):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return np.concatenate([y, np.full(outliers, -1)])


@pytest.mark.parametrize("seed", range(4))
def test_pairs_invariants(seed):
    y = _labels(seed)
    idx = LabelIndex(y)
    pairs = sample_pairs(idx, epoch_rng(seed, 1))
    a, b, pos = pairs.anchor, pairs.partner, pairs.is_positive
    assert sorted(a.tolist()) == list(range(len(y)))  # every anchor exactly once
    assert np.all(y[a][pos] == y[b][pos])  # positives share the label
    assert np.all(y[b][pos] != -1) and np.all(y[a][pos] != -1)  # outliers never positive
    assert np.all(a[pos] != b[pos])  # never itself by default
    assert np.all(y[a][~pos] != y[b][~pos])  # negatives never share it
    inliers = y[a] != -1
    assert abs(pos[inliers].mean() - 0.5) < 0.08
    assert not pos[~inliers].any()  # an outlier anchor always gets a negative


@pytest.mark.parametrize("seed", range(4))
def test_triplet_invariants(seed):
    y = _labels(seed)
    t = sample_triplets(LabelIndex(y), epoch_rng(seed, 3))
    assert np.all(y[t.anchor] == y[t.positive])
    assert np.all(y[t.anchor] != y[t.negative])
    assert np.all(y[t.positive] != -1)
    assert np.all(t.anchor != t.positive)
    # every non-outlier anchor once, outlier anchors skipped
    assert sorted(t.anchor.tolist()) == np.nonzero(y != -1)[0].tolist()
    assert np.any(y[t.negative] == -1)  # outliers still serve as negatives


def test_draws_are_uniform_within_and_outside_class():
    y = np.repeat(np.arange(4), 50)
    idx = LabelIndex(y)
    rng = np.random.default_rng(0)
    pos_counts = np.zeros(len(y))
    neg_counts = np.zeros(len(y))
    for _ in range(200):
        p, has = idx.draw_positive(rng, allow_self=False)
        assert has.all()
        np.add.at(pos_counts, p, 1)
        np.add.at(neg_counts, idx.draw_negative(rng), 1)
    # each point is drawn as a positive ~200 times and as a negative ~200 times
    assert abs(pos_counts.mean() - 200) < 1e-9 and pos_counts.std() / 200 < 0.15
    assert neg_counts.std() / neg_counts.mean() < 0.15


def test_same_seed_same_epoch_is_reproducible_and_epochs_differ():
    y = _labels(1)
    idx = LabelIndex(y)
    p1 = sample_pairs(idx, epoch_rng(7, 2))
    p2 = sample_pairs(idx, epoch_rng(7, 2))
    p3 = sample_pairs(idx, epoch_rng(7, 3))
    assert np.array_equal(p1.partner, p2.partner) and np.array_equal(p1.anchor, p2.anchor)
    assert not np.array_equal(p1.anchor, p3.anchor)


def test_singleton_class_has_no_positive_and_as_class_mode():
    y = np.array([0, 0, 1, -1, -1])
    idx = LabelIndex(y)
    _, has = idx.draw_positive(np.random.default_rng(0), allow_self=False)
    assert has.tolist() == [True, True, False, False, False]
    idx2 = LabelIndex(y, outliers="as_class")
    _, has2 = idx2.draw_positive(np.random.default_rng(0), allow_self=False)
    assert has2.tolist() == [True, True, False, True, True]


def test_single_label_cannot_draw_negatives():
    with pytest.raises(ValueError, match="no negatives"):
        LabelIndex(np.zeros(5, dtype=int)).draw_negative(np.random.default_rng(0))


# --------------------------------------------------------------------------- registry
def _settings(loss="triplet", **kw):
    from dmlstudy.train import TrainSettings

    return TrainSettings.defaults(loss, batch_size=8, **kw)


def test_random_sampler_batches_cover_every_anchor_once_per_epoch():
    from dmlstudy import sampling

    y = np.repeat(np.arange(4), 10)
    index = LabelIndex(y)
    spec = sampling.get("random")
    for partners, width in (("pairs", 2), ("triplets", 3)):
        batches = list(spec.batches(index, partners, _settings(), 1, "cpu"))
        anchors = np.concatenate([b.members[: len(b.members) // width].numpy() for b in batches])
        assert sorted(anchors.tolist()) == list(range(40))
        # the same (seed, epoch) draws the same batches: resumable
        again = list(spec.batches(index, partners, _settings(), 1, "cpu"))
        assert all(
            np.array_equal(a.members, b.members) for a, b in zip(batches, again, strict=True)
        )
        z = torch.arange(len(batches[0].members), dtype=torch.float32)[:, None]
        args = batches[0].args(z)
        assert len(args) == 3 and args[0].shape[0] == 8


def test_a_toy_sampler_is_one_registry_entry(monkeypatch):
    """A sampler added as one entry (here: anchors in index order, partner = next point of
    the same class) is used by the loop as soon as the config names it."""
    from dmlstudy import config as C
    from dmlstudy import sampling
    from dmlstudy.models import MLP
    from dmlstudy.train import train

    def ordered(index, partners, s, epoch, device):
        a = torch.arange(index.n)
        same = torch.from_numpy(index.order[(index.pos_in_block + 1) % index.count + index.start])
        members = torch.cat([a, same])
        yield sampling.Batch(
            members, lambda z: (z[: index.n], z[index.n :], torch.ones(index.n, dtype=torch.bool))
        )

    monkeypatch.setitem(
        sampling.SAMPLERS,
        "ordered",
        sampling.SamplerSpec("ordered", "ordered", ("pairs",), ordered),
    )
    cfg = C.validate(
        {
            "losses": ["contrastive"],
            "sampling": {"sampler": "ordered"},
            "datasets": {"s": {"source": "synthetic"}},
            "experiments": {"e": {"dataset": "s", "model": "mlp"}},
        }
    )
    assert cfg["sampling"]["sampler"] == "ordered"
    y = np.repeat(np.arange(3), 6)
    x = torch.randn(18, 4)
    h = train(MLP(in_dim=4), x, y, _settings(sampler="ordered", loss="contrastive", epochs=1))
    assert (h["n_items"] == 18).all()


def test_unknown_sampler_is_a_config_error():
    from dmlstudy import config as C
    from dmlstudy.errors import ConfigError

    with pytest.raises(
        ConfigError, match="'sampling.sampler' = 'hard', which|not a registered sampler"
    ):
        C.validate(
            {
                "sampling": {"sampler": "hard"},
                "datasets": {"s": {"source": "synthetic"}},
                "experiments": {"e": {"dataset": "s", "model": "mlp"}},
            }
        )


def test_problem_says_why_a_sampler_cannot_serve_a_loss():
    from dmlstudy import sampling

    assert "'hard' is not a registered sampler" in sampling.problem("hard", "triplet")
    assert "cannot serve loss 'multi_similarity'" in sampling.problem(
        "semihard", "multi_similarity"
    )
    assert sampling.problem("semihard", "triplet") is None
