"""Snakemake script: prepare one dataset into results/data/{dataset}.h5."""

from dmlstudy.scripting import run_job

snakemake = globals()["snakemake"]
run_job(
    snakemake,
    "dmlstudy.sources:prepare_to_file",
    snakemake.params.spec,
    snakemake.wildcards.dataset,
    snakemake.output.data,
)
