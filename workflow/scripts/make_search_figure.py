"""Snakemake script: the best-so-far validation score of every search study."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:search_figure")
