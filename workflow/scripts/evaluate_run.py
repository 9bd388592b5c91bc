"""Snakemake script: metrics.json of one run."""

from dmlstudy.evaluate import evaluate_run
from dmlstudy.scripting import run_stage, setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
run_stage(
    evaluate_run,
    snakemake.input.embeddings,
    snakemake.input.history,
    snakemake.params.resolved,
    snakemake.output.metrics,
    threads=snakemake.threads,
)
