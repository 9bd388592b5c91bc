"""Model shapes (§3.2) and the training loop's bookkeeping."""

import numpy as np
import pytest
import torch

from dmlstudy.models import CNN, MLP, Head, build_model
from dmlstudy.train import HISTORY_COLUMNS, TrainSettings, train


@pytest.mark.parametrize(
    "kind,shape,attrs,out",
    [
        ("mlp", (128,), {}, 32),
        ("cnn", (1, 28, 28), {}, 64),
        ("cnn", (3, 32, 32), {"normalize_mean": [0.5] * 3, "normalize_std": [0.25] * 3}, 64),
        ("head", (768,), {}, 512),
        ("head", (1280,), {}, 512),
    ],
)
def test_shapes_and_unit_norm(kind, shape, attrs, out):
    torch.manual_seed(0)
    m = build_model(kind, attrs, shape)
    x = (
        torch.randint(0, 256, (5, *shape), dtype=torch.uint8)
        if len(shape) == 3
        else torch.randn(5, *shape)
    )
    z = m(x)
    assert z.shape == (5, out)
    assert torch.allclose(z.norm(dim=1), torch.ones(5), atol=1e-5)


def test_architectures():
    assert [type(x).__name__ for x in MLP().net] == ["Linear", "ReLU", "Linear", "L2Normalize"]
    assert MLP().net[0].out_features == 64
    cnn = CNN((3, 32, 32), (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261))
    assert cnn.features[0].in_channels == 3 and cnn.head[1].in_features == 64 * 8 * 8
    assert Head(768).net[0].out_features == 512
    with pytest.raises(ValueError, match="channels"):
        CNN((3, 32, 32), (0.1,), (0.3,))


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
    s = TrainSettings(loss=loss, epochs=0, batch_size=16)
    h = train(model, x, y, s)
    assert list(h.columns) == HISTORY_COLUMNS and len(h) == 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert h["grad_norm"].iloc[0] > 0  # gradients measured at epoch 0, not applied
    h = train(model, x, y, TrainSettings(loss=loss, epochs=6, batch_size=16))
    assert h["epoch"].tolist() == list(range(7))
    assert h["loss"].iloc[-1] < h["loss"].iloc[0]
    assert ((h["active_ratio"] >= 0) & (h["active_ratio"] <= 1)).all()
    assert h["n_items"].iloc[0] == (120 if loss == "contrastive" else 120)
