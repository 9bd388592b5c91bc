"""Snakemake script: a search study's trial history and best trial."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.studies:summary_job")
