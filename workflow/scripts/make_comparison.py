"""Snakemake script: the paper's claims checked (claims.csv/tex) and every number the paper
reports beside ours (paper_comparison.csv/tex)."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:comparison")
