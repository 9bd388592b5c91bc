"""The speed-ups of issue #7 compute what the plain versions compute.

channels-last CNN vs NCHW, the Adam implementations, the foreach gradient norm, the CSR
class sums, the stratified diagnostic subsample and the contrastive loss that reuses its
squared distance: each checked against the straightforward version (bit for bit where the
order of float operations is the same, to float rounding where it is not)."""

import copy

import numpy as np
import pytest
import torch
from conftest import run_outputs

from dmlstudy import config as C
from dmlstudy import h5io, pipeline
from dmlstudy import losses as L
from dmlstudy.metrics import ClassDistances, _class_sums, mean_class_distances
from dmlstudy.models import CNN, MLP, build_model
from dmlstudy.sampling import stratified_subset
from dmlstudy.sources import prepare_to_file
from dmlstudy.train import (
    ADAM_IMPLEMENTATIONS,
    TrainSettings,
    embed,
    grad_norm,
    make_optimizer,
    train,
)


# --------------------------------------------------------------------------- channels-last CNN
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_channels_last_cnn_is_the_same_model(shape):
    torch.manual_seed(0)
    mean, std = ((0.1307,), (0.3081,)) if shape[0] == 1 else ((0.5,) * 3, (0.25,) * 3)
    nchw = CNN(shape, mean, std, channels_last=False)
    nhwc = CNN(shape, mean, std, channels_last=True)
    nhwc.load_state_dict(nchw.state_dict())  # checkpoints are interchangeable
    conv = nhwc.features[3].weight  # (64, 32, 3, 3): the two layouts differ
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert nchw.features[0].weight.is_contiguous()
    x = torch.randint(0, 256, (16, *shape), dtype=torch.uint8)
    z1, z2 = nchw(x), nhwc(x)
    assert torch.allclose(z1, z2, atol=1e-5)
    z1.sum().backward()
    z2.sum().backward()
    for (name, p1), p2 in zip(nchw.named_parameters(), nhwc.parameters(), strict=True):
        assert torch.allclose(p1.grad, p2.grad, rtol=1e-4, atol=1e-5), name
    # and the state dict written by the channels-last model loads into the NCHW one
    back = CNN(shape, mean, std, channels_last=False)
    back.load_state_dict(nhwc.state_dict())
    assert torch.equal(back(x), z1.detach())


def test_build_model_channels_last_option():
    assert build_model("cnn", {}, (1, 28, 28)).channels_last is True
    off = build_model("cnn", {}, (1, 28, 28), {"channels_last": False})
    assert off.channels_last is False and off.features[0].weight.is_contiguous()


def test_channels_last_on_a_non_cnn_model_is_a_config_error():
    cfg = {
        "datasets": {"s": {"source": "synthetic"}},
        "experiments": {
            "e": {"dataset": "s", "model": "mlp", "model_options": {"channels_last": True}}
        },
    }
    with pytest.raises(C.ConfigError, match=r"experiments\.e\.model_options\.channels_last"):
        C.validate(cfg)


# --------------------------------------------------------------------------- Adam, grad norm
def _blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n // 4)
    x = rng.standard_normal((n, 8)).astype(np.float32) + 3 * np.eye(8, dtype=np.float32)[y]
    return torch.from_numpy(x), y


@pytest.mark.parametrize("impl", sorted(ADAM_IMPLEMENTATIONS))
def test_adam_implementations_agree(impl):
    x, y = _blobs()
    runs = {}
    for name in ("for_loop", impl):
        torch.manual_seed(0)
        model = MLP(in_dim=8)
        h = train(model, x, y, TrainSettings(loss="triplet", epochs=3, batch_size=16, adam=name))
        runs[name] = (h, [p.detach().clone() for p in model.parameters()])
    (h0, w0), (h1, w1) = runs["for_loop"], runs[impl]
    for a, b in zip(w0, w1, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert np.allclose(h0["loss"], h1["loss"], rtol=1e-4)
    assert h0["loss"].iloc[-1] < h0["loss"].iloc[0]  # it does train


def test_adam_implementation_is_used_and_unknown_is_an_error():
    model = MLP(in_dim=8)
    opt = make_optimizer(model, TrainSettings(loss="triplet", adam="fused"))
    assert opt.defaults["fused"] is True
    assert opt.defaults["lr"] == 1e-3 and opt.defaults["weight_decay"] == 1e-5
    with pytest.raises(ValueError, match="training.adam 'sgd'"):
        make_optimizer(model, TrainSettings(loss="triplet", adam="sgd"))


def test_grad_norm_matches_brute_force():
    torch.manual_seed(0)
    model = MLP(in_dim=8)
    x, _ = _blobs()
    model(x).pow(3).sum().backward()
    brute = float(np.sqrt(sum((p.grad.double() ** 2).sum().item() for p in model.parameters())))
    assert grad_norm(model) == pytest.approx(brute, rel=1e-6)


# --------------------------------------------------------------------------- class distances
def test_class_sums_are_those_of_add_at_bit_for_bit():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2000, 24))
    inverse = rng.integers(0, 7, size=2000)
    ref = np.zeros((7, 24))
    np.add.at(ref, inverse, z)
    assert np.array_equal(_class_sums(z, inverse, 7), ref)
    ref1 = np.zeros(7)
    np.add.at(ref1, inverse, z[:, 0])
    assert np.array_equal(_class_sums(z[:, 0], inverse, 7), ref1)


def test_class_distances_brute_force_with_outliers():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((300, 5)).astype(np.float32)
    y = rng.integers(-1, 4, size=300)
    intra, inter = ClassDistances(y)(z)
    classes = [c for c in np.unique(y) if c != -1]
    cents = {c: z[y == c].astype(np.float64).mean(0) for c in classes}
    want_intra = np.mean([np.linalg.norm(z[y == c] - cents[c], axis=1).mean() for c in classes])
    want_inter = np.mean(
        [
            np.linalg.norm(cents[a] - cents[b])
            for i, a in enumerate(classes)
            for b in classes[i + 1 :]
        ]
    )
    assert intra == pytest.approx(want_intra, rel=1e-9)
    assert inter == pytest.approx(want_inter, rel=1e-9)
    assert (intra, inter) == mean_class_distances(z, y)


# --------------------------------------------------------------------------- stratified subset
@pytest.mark.parametrize("n", [1, 7, 100, 999])
def test_stratified_subset_invariants(n):
    y = np.repeat(np.array([5, -1, 0, 3]), [500, 30, 270, 200])  # 1,000 points, unsorted labels
    np.random.default_rng(0).shuffle(y)
    keep = stratified_subset(y, n, seed=3)
    assert len(keep) == n and len(np.unique(keep)) == n
    assert np.all(np.diff(keep) > 0) and keep.min() >= 0 and keep.max() < len(y)
    for c in np.unique(y):  # each class within one point of its share
        assert abs((y[keep] == c).sum() - n * (y == c).mean()) < 1
    assert np.array_equal(keep, stratified_subset(y, n, seed=3))  # seeded
    if n > 1:
        assert not np.array_equal(keep, stratified_subset(y, n, seed=4))


def test_stratified_subset_all_points():
    y = np.array([1, 1, 2])
    assert np.array_equal(stratified_subset(y, None), [0, 1, 2])
    assert np.array_equal(stratified_subset(y, 3), [0, 1, 2])
    assert np.array_equal(stratified_subset(y, 50), [0, 1, 2])


def test_diagnostic_points_leave_out_outliers_and_cap():
    y = np.array([0] * 60 + [1] * 30 + [-1] * 10)
    d = pipeline.diagnostic_points(y, "exclude_from_positives", 30)
    assert len(d) == 30 and (y[d] != -1).all() and (y[d] == 0).sum() == 20
    assert len(pipeline.diagnostic_points(y, "exclude_from_positives", None)) == 90
    with_out = pipeline.diagnostic_points(y, "as_class", None)
    assert len(with_out) == 100


def test_history_class_distances_are_those_of_the_subsample(tmp_path):
    """The per-epoch class distances of a real training job are ClassDistances of the
    final model's embeddings of exactly the stratified subsample."""
    cfg = C.validate(
        {
            "training": {"epochs": 2, "batch_size": 32, "class_distance_points": 50},
            "datasets": {
                "synthetic": {"source": "synthetic", "n_classes": 4, "n_per_class": 40, "dim": 16}
            },
            "experiments": {"synthetic_mlp": {"dataset": "synthetic", "model": "mlp"}},
        }
    )
    data = tmp_path / "synthetic.h5"
    prepare_to_file(cfg["datasets"]["synthetic"], "synthetic", data)
    resolved = C.training_params(cfg, "synthetic_mlp")
    outputs = run_outputs(tmp_path)
    pipeline.train_run(data, resolved, "triplet", 0, outputs, tmp_path / "ckpt.pt")
    import pandas as pd

    last = pd.read_csv(outputs["history"]).iloc[-1]
    tr = h5io.read_split(data, "train")
    d = pipeline.diagnostic_points(tr["y"], "exclude_from_positives", 50)
    assert len(d) == 50
    model = build_model("mlp", {}, tr["x"].shape[1:])
    model.load_state_dict(torch.load(outputs["model"], weights_only=False)["state_dict"])
    z = embed(model, torch.from_numpy(tr["x"][d])).numpy()
    intra, inter = ClassDistances(tr["y"][d])(z)
    assert last["intra_class_distance"] == pytest.approx(intra, rel=1e-6)
    assert last["inter_class_distance"] == pytest.approx(inter, rel=1e-6)
    full = copy.deepcopy(resolved)
    full["training"]["class_distance_points"] = None
    assert C.config_hash(full) != C.config_hash(resolved)  # the cap is part of the job's key


# --------------------------------------------------------------------------- losses
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


# --------------------------------------------------------------------------- deterministic mode
def test_deterministic_mode_without_the_nan_fill_gives_the_same_training():
    """deterministic_mode() turns off torch's NaN fill of new tensors (a debugging aid that
    costs 9-27% of a CNN step); a CNN trained with and without the fill ends bit for bit
    the same."""
    import torch.utils.deterministic as det

    was = (torch.are_deterministic_algorithms_enabled(), det.fill_uninitialized_memory)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, 256, (96, 1, 12, 12), dtype=np.uint8))
    y = np.repeat(np.arange(4), 24)
    runs = []
    try:
        for fill in (True, False):
            torch.use_deterministic_algorithms(True, warn_only=True)
            det.fill_uninitialized_memory = fill
            torch.manual_seed(0)
            model = CNN((1, 12, 12))
            h = train(model, x, y, TrainSettings(loss="triplet", epochs=2, batch_size=16))
            runs.append(
                (h.drop(columns="seconds"), [p.detach().clone() for p in model.parameters()])
            )
        from dmlstudy.train import deterministic_mode

        deterministic_mode()
        assert torch.are_deterministic_algorithms_enabled()
        assert det.fill_uninitialized_memory is False
    finally:
        torch.use_deterministic_algorithms(was[0], warn_only=True)
        det.fill_uninitialized_memory = was[1]
    (h1, w1), (h2, w2) = runs
    assert h1.equals(h2)
    assert all(torch.equal(a, b) for a, b in zip(w1, w2, strict=True))
