"""Snakemake script: every comparison of the runs tested once, and the claims among them."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:comparisons")
