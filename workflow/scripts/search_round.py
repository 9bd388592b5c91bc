"""Snakemake script: one round of a search study's trials (its suggested values)."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.studies:round_job")
