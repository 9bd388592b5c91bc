"""Snakemake script: one table of the catalogue (CSV, LaTeX, HTML)."""

from dmlstudy.scripting import run_job

snakemake = globals()["snakemake"]
run_job(
    snakemake,
    "dmlstudy.report.jobs:table",
    snakemake.input,
    snakemake.output,
    snakemake.params,
    snakemake.wildcards.table,
)
