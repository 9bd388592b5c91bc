"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``, so this
folder is on ``sys.path``)."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_info(**extra) -> dict:
    """Date, CPU, Python and the load average now; ``extra`` adds version strings."""
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        **extra,
        "loadavg_start": list(os.getloadavg()),
    }


def autocast(device):
    """(context, compute dtype name) of feature extraction's mixed precision, the rule of
    ``dmlstudy.features``: bfloat16 (float16 where unsupported) under autocast on CUDA,
    plain float32 elsewhere. (The package keeps its own copy private.)"""
    import contextlib

    import torch

    if device.type != "cuda":
        return contextlib.nullcontext(), "float32"
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype), str(dtype).removeprefix("torch.")
