"""Snakemake script: train one experiment / loss / seed."""

from dmlstudy.scripting import run_job

snakemake = globals()["snakemake"]
run_job(
    snakemake,
    "dmlstudy.runs:train_run",
    snakemake.input.data,
    snakemake.params.resolved,
    snakemake.wildcards.loss,
    int(snakemake.wildcards.seed),
    dict(snakemake.output.items()),
    snakemake.params.checkpoint,
    device=snakemake.params.device,
)
