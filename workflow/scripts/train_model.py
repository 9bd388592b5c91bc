"""Snakemake script: train one experiment / loss / seed."""

from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])  # first, so import-time warnings reach the log

from dmlstudy.runs import train_run  # noqa: E402
from dmlstudy.scripting import run_stage  # noqa: E402

run_stage(
    train_run,
    snakemake.input.data,
    snakemake.params.resolved,
    snakemake.wildcards.loss,
    int(snakemake.wildcards.seed),
    dict(snakemake.output.items()),
    snakemake.params.checkpoint,
    threads=snakemake.threads,
    device=snakemake.params.device,
)
