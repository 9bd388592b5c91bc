"""Snakemake script: metrics.json of one run."""

from dmlstudy.scripting import run_job

snakemake = globals()["snakemake"]
run_job(
    snakemake,
    "dmlstudy.evaluate:evaluate_run",
    snakemake.input.embeddings,
    snakemake.input.history,
    snakemake.params.resolved,
    snakemake.output.metrics,
)
