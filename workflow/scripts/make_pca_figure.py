"""Snakemake script: Figure 2, PCA of each experiment's input data and of the test
embeddings of each loss (first seed)."""

from dmlstudy.scripting import run_job

run_job(globals()["snakemake"], "dmlstudy.report.jobs:pca_figure")
