"""The one device resolver: a clear config error, never a traceback."""

import pytest
import torch

from dmlstudy.device import resolve_device
from dmlstudy.errors import ConfigError


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="use 'auto', 'cpu' or 'cuda'"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_a_config_error():
    with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
        resolve_device("cuda")
