import pytest
import torch

from dmlstudy import config as C
from dmlstudy.models import CNN, MLP, Head, build_model


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
