"""Snakemake script: Figures 1 and 3 and the singular-value spectra."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:figures")
