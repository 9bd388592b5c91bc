import numpy as np
import pytest
import torch

from dmlstudy import losses
from dmlstudy.models import CNN, MLP
from dmlstudy.train import (
    ADAM_IMPLEMENTATIONS,
    HISTORY_COLUMNS,
    TrainSettings,
    deterministic_mode,
    grad_norm,
    make_optimizer,
    train,
)


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n // 4)
    x = rng.standard_normal((n, 8)).astype(np.float32) + 3 * np.eye(8, dtype=np.float32)[y]
    return torch.from_numpy(x), y


@pytest.mark.parametrize("loss", ["contrastive", "triplet"])
def test_history_rows_and_row_zero_makes_no_update(loss):
    x, y = _blobs()
    torch.manual_seed(0)
    model = MLP(in_dim=8)
    before = [p.detach().clone() for p in model.parameters()]
    s = TrainSettings.defaults(loss=loss, epochs=0, batch_size=16)
    h = train(model, x, y, s)
    assert list(h.columns) == HISTORY_COLUMNS and len(h) == 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert h["grad_norm"].iloc[0] > 0  # gradients measured at epoch 0, not applied
    h = train(model, x, y, TrainSettings.defaults(loss=loss, epochs=6, batch_size=16))
    assert h["epoch"].tolist() == list(range(7))
    assert h["loss"].iloc[-1] < h["loss"].iloc[0]
    assert ((h["active_ratio"] >= 0) & (h["active_ratio"] <= 1)).all()
    assert h["n_items"].iloc[0] == (120 if loss == "contrastive" else 120)


def test_active_ratio_by_pair_kind_recombines_to_the_overall_ratio():
    """Contrastive's positive pairs are always active (Eq. 1: ||f(x) - f(y)||^2 > 0 unless
    the embeddings coincide), so its overall ratio is at least the positive share; the
    negatives carry the measurement. Triplets have no kinds."""
    x, y = _blobs()
    torch.manual_seed(0)
    s = TrainSettings.defaults(loss="contrastive", epochs=3, batch_size=16)
    h = train(MLP(in_dim=8), x, y, s)
    assert (h["active_ratio_positive"] == 1.0).all()
    assert (h["active_ratio_negative"] < 1.0).any()
    # the overall ratio is the pair-weighted mix of the two; the positive share is ~0.5
    share = (h["active_ratio"] - h["active_ratio_negative"]) / (
        h["active_ratio_positive"] - h["active_ratio_negative"]
    )
    assert share.between(0.35, 0.65).all()
    assert (h["active_ratio"] >= share * h["active_ratio_positive"] - 1e-12).all()
    t = train(MLP(in_dim=8), x, y, TrainSettings.defaults(loss="triplet", epochs=1))
    assert t["active_ratio_positive"].isna().all() and t["active_ratio_negative"].isna().all()


@pytest.mark.parametrize("impl", sorted(ADAM_IMPLEMENTATIONS))
def test_adam_implementations_agree(impl):
    x, y = _blobs(96)
    runs = {}
    for name in ("for_loop", impl):
        torch.manual_seed(0)
        model = MLP(in_dim=8)
        h = train(
            model, x, y, TrainSettings.defaults(loss="triplet", epochs=3, batch_size=16, adam=name)
        )
        runs[name] = (h, [p.detach().clone() for p in model.parameters()])
    (h0, w0), (h1, w1) = runs["for_loop"], runs[impl]
    for a, b in zip(w0, w1, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert np.allclose(h0["loss"], h1["loss"], rtol=1e-4)
    assert h0["loss"].iloc[-1] < h0["loss"].iloc[0]  # it does train


def test_adam_implementation_is_used_and_unknown_is_an_error():
    model = MLP(in_dim=8)
    opt = make_optimizer(model, TrainSettings.defaults(loss="triplet", adam="fused"))
    assert opt.defaults["fused"] is True
    assert opt.defaults["lr"] == 1e-3 and opt.defaults["weight_decay"] == 1e-5
    with pytest.raises(ValueError, match="training.adam 'sgd'"):
        make_optimizer(model, TrainSettings.defaults(loss="triplet", adam="sgd"))


def test_grad_norm_matches_brute_force():
    torch.manual_seed(0)
    model = MLP(in_dim=8)
    x, _ = _blobs(96)
    model(x).pow(3).sum().backward()
    brute = float(np.sqrt(sum((p.grad.double() ** 2).sum().item() for p in model.parameters())))
    assert grad_norm(model) == pytest.approx(brute, rel=1e-6)


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
            h = train(model, x, y, TrainSettings.defaults(loss="triplet", epochs=2, batch_size=16))
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


# --------------------------------------------------------------------------- every loss, miners
def _all_losses_settings(loss, sampler="random", epochs=2):
    from dmlstudy import config as C
    from dmlstudy import params as P

    cfg = C.validate(
        {
            "losses": [loss],
            "sampling": {"sampler": sampler},
            "training": {"epochs": epochs, "batch_size": 16},
            "datasets": {"s": {"source": "synthetic"}},
            "experiments": {"e": {"dataset": "s", "model": "mlp"}},
        }
    )
    return TrainSettings.from_resolved(P.resolve_experiment(cfg, "e"), loss, seed=3)


def _outlier_blobs():
    x, y = _blobs(96)
    y = y.copy()
    y[:4] = -1
    return x, y


@pytest.mark.parametrize("loss", list(losses.LOSSES))
def test_every_registered_loss_trains_from_a_validated_config(loss):
    x, y = _outlier_blobs()
    torch.manual_seed(0)
    h = train(MLP(in_dim=8), x, y, _all_losses_settings(loss))
    assert h["epoch"].tolist() == [0, 1, 2]
    assert np.isfinite(h[["loss", "grad_norm"]].to_numpy()).all()
    assert ((h["active_ratio"] >= 0) & (h["active_ratio"] <= 1)).all()
    assert h["loss"].iloc[-1] < h["loss"].iloc[0]


@pytest.mark.parametrize(
    "loss, sampler",
    [
        ("triplet", "semihard"),
        ("triplet", "batch_hard"),
        ("contrastive", "semihard"),
        ("proxy_anchor", "random"),
    ],
)
def test_mined_and_stateful_runs_are_deterministic_and_resume_bit_for_bit(tmp_path, loss, sampler):
    x, y = _outlier_blobs()

    deterministic_mode()  # as every training job runs (repeated indices in mined batches)

    def run(epochs, ckpt):
        torch.manual_seed(0)
        model = MLP(in_dim=8)
        h = train(model, x, y, _all_losses_settings(loss, sampler, epochs), checkpoint=ckpt)
        return model, h

    full_model, full = run(3, tmp_path / "full.pt")
    run(1, tmp_path / "part.pt")  # "killed" after epoch 1
    resumed_model, resumed = run(3, tmp_path / "part.pt")
    cols = ["loss", "active_ratio", "grad_norm", "n_items"]
    assert full[cols].equals(resumed[cols])
    for a, b in zip(full_model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)
    if loss == "proxy_anchor":  # the proxies are trained and checkpointed
        state = torch.load(tmp_path / "full.pt", weights_only=False)
        assert "loss.proxies" in state["loss"]


def test_a_sampler_that_cannot_serve_the_loss_is_a_config_error():
    from dmlstudy.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot serve loss 'supcon'"):
        _all_losses_settings("supcon", "semihard")
