"""The one device resolver: the config's ``device`` value → a torch device."""

from __future__ import annotations

from .errors import ConfigError


def resolve_device(device="auto"):
    """``"auto"`` = CUDA when present, else CPU; ``"cuda"`` without a GPU is a config error
    (a clear message, not a traceback, in every job that needs a device)."""
    import torch  # only jobs that train or extract need it

    device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device = {device!r} but no CUDA GPU is visible here; set device: auto or cpu"
        )
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"device = {device!r}: {exc}; use 'auto', 'cpu' or 'cuda'") from exc
