"""Snakemake script: frozen-backbone features for one dataset and one backbone."""

from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])  # first, so import-time warnings reach the log

from dmlstudy.features import extract_features  # noqa: E402
from dmlstudy.scripting import run_stage  # noqa: E402

p = snakemake.params
attrs = run_stage(
    extract_features,
    snakemake.input.data,
    snakemake.output.features,
    dict(p.backbone),
    device=p.device,
    batch_size=p.batch_size,
    num_workers=p.num_workers,
    progress=True,
    threads=snakemake.threads,
)
