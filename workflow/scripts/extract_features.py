"""Snakemake script: frozen-backbone features for one dataset and one backbone.

Reads the ``snakemake`` object (input.data, output.features, params.backbone,
params.device, params.batch_size, params.num_workers, threads, log[0]); all logic lives
in :func:`dmlstudy.features.extract_features`. Everything written to stderr (the progress
bar, library warnings, tracebacks) goes to the log; a user-facing error is also printed
to the console Snakemake runs in.
"""

import os
import sys

smk = snakemake  # noqa: F821 (injected by Snakemake)

console = os.fdopen(os.dup(2), "w")
log = open(smk.log[0], "w", buffering=1)
os.dup2(log.fileno(), 2)
sys.stderr = log

import torch  # noqa: E402 (after the redirect, so import-time warnings reach the log)

from dmlstudy.errors import DmlStudyError  # noqa: E402
from dmlstudy.features import extract_features  # noqa: E402

torch.set_num_threads(max(1, int(smk.threads)))
try:
    attrs = extract_features(
        smk.input.data,
        smk.output.features,
        dict(smk.params.backbone),
        device=smk.params.device,
        batch_size=smk.params.batch_size,
        num_workers=smk.params.num_workers,
        progress=True,
    )
except DmlStudyError as exc:
    for stream in (log, console):
        print(f"error: {exc}", file=stream, flush=True)
    sys.exit(1)
print(
    f"wrote {smk.output.features}: {attrs['feature_dim']}-d features, "
    f"backbone {attrs['backbone']} ({attrs['model']}), device {attrs['device']}, "
    f"compute dtype {attrs['compute_dtype']}",
    file=log,
)
