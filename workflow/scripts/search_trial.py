"""Snakemake script: one search trial, every fold x tuning seed trained and scored."""

from dmlstudy.scripting import run_job

snakemake = globals()["snakemake"]
run_job(
    snakemake,
    "dmlstudy.trials:run_trial",
    snakemake.input.data,
    snakemake.params.trial,
    snakemake.wildcards.loss,
    snakemake.wildcards.segment,
    list(snakemake.output.runs),
    snakemake.output.summary,
    device=snakemake.params.device,
)
