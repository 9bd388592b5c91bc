"""Snakemake script: the reality check's table (search, reproductions, verdicts)."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:reality_check")
