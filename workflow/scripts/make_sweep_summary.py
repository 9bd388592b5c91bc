"""Snakemake script: sweep_points.csv and fig_sensitivity of every grid point."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:sweep_summary")
