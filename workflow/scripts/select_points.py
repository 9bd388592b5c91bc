"""Snakemake script: each loss's best grid point of one experiment on validation."""

from dmlstudy.scripting import run_job

snakemake = globals()["snakemake"]
run_job(
    snakemake,
    "dmlstudy.report.jobs:select_points",
    snakemake.input,
    snakemake.output,
    snakemake.params,
    snakemake.wildcards.experiment,
)
