"""Eq. 1 and Eq. 2 against hand-computed values and pytorch-metric-learning."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.losses import TripletMarginLoss
from pytorch_metric_learning.reducers import AvgNonZeroReducer, MeanReducer

from dmlstudy import losses as L
from dmlstudy.losses import active_ratio, contrastive_loss, reduce, triplet_loss

T = torch.tensor


def test_contrastive_hand_computed():
    x = T([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    y = T([[0.6, 0.8], [0.6, 0.8], [0.0, 0.0], [0.5, 0.0]])
    pos = T([True, False, False, True])
    # pair 0: positive, ||x-y||^2 = 0.36 + 0.64 = 1
    # pair 1: negative, d = 1 = m -> [1 - 1]_+^2 = 0
    # pair 2: negative, d = 1 with m = 1.5 would be 0.25; with m = 1 it is 0
    # pair 3: positive, d^2 = 0.25
    got = contrastive_loss(x, y, pos, margin=1.0)
    assert torch.allclose(got, T([1.0, 0.0, 0.0, 0.25]), atol=1e-6)
    got = contrastive_loss(x, y, pos, margin=1.5)
    assert torch.allclose(got, T([1.0, 0.25, 0.25, 0.25]), atol=1e-6)


def test_triplet_hand_computed_squared_and_euclidean():
    a = T([[1.0, 0.0], [1.0, 0.0]])
    p = T([[0.6, 0.8], [0.0, 1.0]])
    n = T([[-1.0, 0.0], [0.6, 0.8]])
    # triplet 0: 0.8 - 4 + 1 < 0 -> 0 ; triplet 1: 2 - 0.8 + 1 = 2.2
    assert torch.allclose(triplet_loss(a, p, n, margin=1.0), T([0.0, 2.2]), atol=1e-6)
    # plain distances (authors' code): sqrt(2) - sqrt(0.8) + 1
    want = math.sqrt(2) - math.sqrt(0.8) + 1
    got = triplet_loss(a, p, n, margin=1.0, squared=False)
    assert got[0].item() == 0.0
    assert got[1].item() == pytest.approx(want, abs=1e-6)


def test_reductions_and_active_ratio():
    v = T([0.0, 2.0, 0.0, 1.0])
    assert reduce(v, "mean").item() == pytest.approx(0.75)
    assert reduce(v, "sum").item() == pytest.approx(3.0)
    assert reduce(v, "mean_nonzero").item() == pytest.approx(1.5)
    assert reduce(torch.zeros(3), "mean_nonzero").item() == 0.0
    assert active_ratio(v) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown reduction"):
        reduce(v, "median")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("margin", [0.2, 1.0])
def test_triplet_matches_pytorch_metric_learning(seed, margin):
    g = torch.Generator().manual_seed(seed)
    emb = torch.nn.functional.normalize(torch.randn(30, 8, generator=g), dim=1)
    labels = torch.arange(30) % 3
    a = torch.arange(10)
    p = a + 3  # same label (i and i+3 share i % 3)
    n = a + 1  # different label
    ours = triplet_loss(emb[a], emb[p], emb[n], margin=margin)
    dist = LpDistance(normalize_embeddings=False, p=2, power=2)
    for reducer, reduction in ((MeanReducer(), "mean"), (AvgNonZeroReducer(), "mean_nonzero")):
        lib = TripletMarginLoss(margin=margin, distance=dist, reducer=reducer)
        want = lib(emb, labels, indices_tuple=(a, p, n))
        assert reduce(ours, reduction).item() == pytest.approx(want.item(), rel=1e-5, abs=1e-6)


def test_gradients_flow_only_through_active_triplets():
    a = T([[1.0, 0.0], [1.0, 0.0]], requires_grad=True)
    p = T([[0.6, 0.8], [0.0, 1.0]])
    n = T([[-1.0, 0.0], [0.6, 0.8]])
    triplet_loss(a, p, n, 1.0).sum().backward()
    assert torch.all(a.grad[0] == 0)  # satisfied triplet: no gradient
    assert torch.any(a.grad[1] != 0)


def test_contrastive_loss_reusing_d2_is_bit_identical_to_the_two_distance_form():
    torch.manual_seed(0)
    a = torch.randn(64, 16, requires_grad=True)
    b = torch.randn(64, 16, requires_grad=True)
    pos = torch.rand(64) < 0.5
    got = L.contrastive_loss(a, b, pos, margin=5.0)
    d2 = L.squared_distance(a, b)
    neg = torch.clamp(5.0 - L.euclidean_distance(a, b), min=0).pow(2)
    want = torch.where(pos, d2, neg)
    assert torch.equal(got, want)
    ga = torch.autograd.grad(got.sum(), (a, b))
    gb = torch.autograd.grad(want.sum(), (a, b))
    assert all(torch.equal(u, v) for u, v in zip(ga, gb, strict=True))


# --------------------------------------------------------------------------- registry
def test_registry_entries_name_their_partners_and_equation():
    assert list(L.LOSSES)[:2] == ["contrastive", "triplet"]
    assert L.get("contrastive").partners == "pairs" and L.get("contrastive").source == "Eq. 1"
    assert L.get("triplet").partners == "triplets" and L.get("triplet").source == "Eq. 2"
    with pytest.raises(ValueError, match="registered"):
        L.get("arcface")
    with pytest.raises(ValueError, match="already"):
        L.register(L.get("triplet"))


def test_registry_per_item_reads_the_loss_options():
    a, p, n = T([[0.0, 0.0]]), T([[1.0, 0.0]]), T([[0.0, 2.0]])
    sq = L.get("triplet").per_item(a, p, n, {"margin": 1.0, "triplet_distance": "squared"})
    eu = L.get("triplet").per_item(a, p, n, {"margin": 1.0, "triplet_distance": "euclidean"})
    assert sq.item() == pytest.approx(0.0) and eu.item() == pytest.approx(0.0)
    eu = L.get("triplet").per_item(a, p, n, {"margin": 1.5, "triplet_distance": "euclidean"})
    assert eu.item() == pytest.approx(0.5, abs=1e-5)


def test_importing_the_registry_does_not_import_torch():
    code = "import sys, dmlstudy.losses as L; print(len(L.LOSSES), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(len(L.LOSSES)), "False"]


def test_a_toy_loss_is_one_registry_entry_and_trains(monkeypatch):
    """Adding a loss touches one module: register it, and the config, the loop and the
    run outputs accept it (here: a squared-hinge on pairs)."""
    from dmlstudy import config as C
    from dmlstudy.models import MLP
    from dmlstudy.train import TrainSettings, train

    toy = L.LossSpec(
        name="toy_hinge",
        label="Toy hinge",
        partners="pairs",
        per_item=lambda a, b, pos, o: (L.squared_distance(a, b) - o["margin"]).clamp(min=0),
        active="pairs farther apart than the margin",
    )
    monkeypatch.setitem(L.LOSSES, toy.name, toy)
    cfg = C.validate(
        {
            "losses": ["toy_hinge"],
            "datasets": {"s": {"source": "synthetic"}},
            "experiments": {"e": {"dataset": "s", "model": "mlp"}},
        }
    )
    assert cfg["losses"] == ["toy_hinge"]
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    x = torch.from_numpy(rng.standard_normal((30, 4)).astype(np.float32))
    torch.manual_seed(0)
    h = train(MLP(in_dim=4), x, y, TrainSettings.defaults("toy_hinge", epochs=2, batch_size=8))
    assert h["epoch"].tolist() == [0, 1, 2] and (h["n_items"] == 30).all()


def test_an_unregistered_loss_is_a_config_error():
    from dmlstudy import config as C
    from dmlstudy.errors import ConfigError

    with pytest.raises(ConfigError, match="'arcface', which is not a registered loss"):
        C.validate(
            {
                "losses": ["arcface"],
                "datasets": {"s": {"source": "synthetic"}},
                "experiments": {"e": {"dataset": "s", "model": "mlp"}},
            }
        )


# --------------------------------------------------------------------------- hybrid, PML
def test_hybrid_is_the_weighted_sum_of_eq1_and_eq2_on_the_same_anchors():
    a, p, n = T([[0.0, 0.0]]), T([[0.6, 0.0]]), T([[0.0, 0.5]])
    # Eq. 1: positive 0.36, negative (1 - 0.5)^2 = 0.25; Eq. 2: 0.36 - 0.25 + 1 = 1.11
    for lam in (0.0, 0.3, 1.0):
        got = L.hybrid_loss(a, p, n, margin=1.0, lam=lam).item()
        assert got == pytest.approx(lam * (0.36 + 0.25) + (1 - lam) * 1.11, abs=1e-6)


def _pml_reduced(name, z, y, module):
    """PML's own reduced value of the same loss object (its default reducer)."""
    from pytorch_metric_learning import losses as pml

    cls = {v: k for k, v in L.PML_NAMES.items()}[name]
    kwargs = {}
    if name == "proxy_anchor":
        kwargs = {"num_classes": 4, "embedding_size": z.shape[1]}
    ref = getattr(pml, cls)(**kwargs)
    if name == "proxy_anchor":
        ref.proxies.data = module.loss.proxies.data.clone()
    return ref(z, y)


@pytest.mark.parametrize("name", ["multi_similarity", "supcon", "proxy_anchor", "margin_loss"])
def test_pml_per_element_losses_reduce_to_pmls_own_value(name):
    """Our unreduced PML losses reduced as PML's default reducer reduces them give PML's
    reduced value: mean (multi-similarity), mean over non-zero (SupCon), the sum over the
    count of active positive and negative terms (margin), and
    ProxyAnchor's sum of positive terms / classes present + sum of negative terms / classes."""
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(16, 8), dim=1)
    y = torch.arange(4).repeat_interleave(4)
    y[12:] = 2  # class 3 absent: ProxyAnchor's positive divisor counts classes present
    options = {"pml_options": {}}
    module = L.build(L.get(name), options, 8, np.arange(4))
    per = module(z, y)
    assert per.dim() == 1 and per.numel() > 0
    want = _pml_reduced(name, z, y, module).item()
    if name == "multi_similarity":
        got = per.mean()
    elif name == "supcon":
        got = per.sum() / (per > 0).sum()
    elif name == "margin_loss":  # DivisorReducer: active positive + negative terms
        got = per.sum() / module.loss(z, y)["margin_loss"]["divisor"]
    else:
        pos, neg = per[:4], per[4:]
        got = pos.sum() / len(torch.unique(y)) + neg.sum() / 4
    assert got.item() == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_pml_options_reach_the_loss():
    m = L.build(L.get("margin_loss"), {"pml_options": {"margin_loss": {"margin": 0.05}}}, 8, None)
    assert m.loss.margin == 0.05
    proxies = L.build(L.get("proxy_anchor"), {"pml_options": {}}, 8, np.arange(5))
    assert tuple(proxies.loss.proxies.shape) == (5, 8)  # trained parameters of the loss
