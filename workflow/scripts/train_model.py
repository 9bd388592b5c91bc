"""Snakemake script: train one experiment / loss / seed."""

from dmlstudy.pipeline import run_stage, setup_logging, train_run

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
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
