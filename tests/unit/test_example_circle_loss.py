"""The worked example plugin examples/plugins/circle_loss.py: the circle loss of Sun et al.
(CVPR 2020) against a hand-computed value and pytorch-metric-learning's ``CircleLoss``, and
trained by the loop once the plugin is loaded."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from conftest import REPO
from pytorch_metric_learning.losses import CircleLoss
from pytorch_metric_learning.reducers import DoNothingReducer

from dmlstudy import config as C
from dmlstudy import losses, plugins
from dmlstudy.errors import ConfigError
from dmlstudy.models import MLP
from dmlstudy.train import TrainSettings, train

pytestmark = pytest.mark.usefixtures("restore_registries")

EXAMPLE = REPO / "examples" / "plugins" / "circle_loss.py"


@pytest.fixture
def circle():
    """The example's module, loaded as the workflow loads it."""
    record = plugins.load([str(EXAMPLE)])[str(EXAMPLE)]
    assert record["registered"]["losses"] == ["circle"]
    return sys.modules[record["module"]]


def test_a_hand_computed_value(circle):
    """Three 2-d points, labels (0, 0, 1), m = 0.4, gamma = 1:
    anchor 0: s_p = 0 (point 1), s_n = 1 (point 2): alpha_p = 1.4, alpha_n = 1.4,
              logits -1.4 (0 - 0.6) = 0.84 and 1.4 (1 - 0.4) = 0.84: softplus(1.68);
    anchor 1: s_p = 0, s_n = 0: 0.84 and 0.4 (0 - 0.4) = -0.16: softplus(0.68);
    anchor 2: no positive: 0."""
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    out = circle.circle_loss(z, torch.tensor([0, 0, 1]), m=0.4, gamma=1.0)
    expected = [math.log1p(math.exp(1.68)), math.log1p(math.exp(0.68)), 0.0]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


def test_it_matches_pytorch_metric_learning_per_anchor_with_gradients(circle):
    gen = torch.Generator().manual_seed(0)
    labels = torch.tensor([c for c in range(6) for _ in range(4)] + [6])  # class 6: no positive
    z = torch.randn(len(labels), 8, generator=gen)
    for m, gamma in ((0.4, 80.0), (0.25, 256.0), (0.25, 1.0)):
        ours_z = z.clone().requires_grad_(True)
        ours = circle.circle_loss(ours_z, labels, m=m, gamma=gamma)
        pml_z = z.clone().requires_grad_(True)
        pml = CircleLoss(m=m, gamma=gamma, reducer=DoNothingReducer())(pml_z, labels)
        pml = pml["loss"]["losses"].reshape(-1)
        torch.testing.assert_close(ours, pml, rtol=1e-5, atol=1e-4)
        assert ours[-1] == 0  # the anchor without a positive
        ours.sum().backward()
        pml.sum().backward()
        torch.testing.assert_close(ours_z.grad, pml_z.grad, rtol=1e-4, atol=1e-4)


def test_the_config_and_the_loop_take_it_like_a_built_in_loss(circle):
    cfg = C.validate(
        {
            "losses": ["contrastive", "triplet", "circle"],
            "datasets": {"syn": {"source": "synthetic"}},
            "experiments": {"e": {"dataset": "syn", "model": "mlp"}},
        }
    )
    assert cfg["losses"] == ["contrastive", "triplet", "circle"]
    # the same checks as a built-in loss on whole batches: a miner of triplets cannot serve it
    with pytest.raises(ConfigError, match="sampler 'semihard' cannot serve loss 'circle'"):
        C.validate(
            {
                "losses": ["circle"],
                "sampling": {"sampler": "semihard"},
                "datasets": {"syn": {"source": "synthetic"}},
                "experiments": {"e": {"dataset": "syn", "model": "mlp"}},
            }
        )
    spec = losses.get("circle")
    assert (spec.label, spec.partners) == ("Circle", "batch")
    gen = torch.Generator().manual_seed(0)
    y = np.repeat(np.arange(4), 16)
    x = torch.randn(len(y), 4, generator=gen) + torch.from_numpy(y)[:, None].float()
    torch.manual_seed(0)
    history = train(MLP(in_dim=4), x, y, TrainSettings.defaults("circle", epochs=3, batch_size=16))
    rows = history.to_dict("records")
    assert len(rows) == 4  # row 0 before any update, then one per epoch
    assert all(math.isfinite(r["loss"]) for r in rows)
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert all(0 < r["active_ratio"] <= 1 for r in rows[1:])
    assert all(r["grad_norm"] > 0 for r in rows[1:])
