"""Snakemake script: Tables 1-5 from every run's metrics.json."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:tables")
