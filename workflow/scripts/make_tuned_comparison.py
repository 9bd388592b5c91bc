"""Snakemake script: fixed vs tuned settings with verdicts, the selected points, the gains."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:tuned_comparison")
