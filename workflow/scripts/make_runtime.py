"""Snakemake script: runtime.csv from every job's benchmark TSV."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:runtime")
