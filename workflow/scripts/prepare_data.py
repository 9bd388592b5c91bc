"""Snakemake script: prepare one dataset into results/data/{dataset}.h5."""

from dmlstudy.pipeline import prepare_data, run_stage, setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
run_stage(
    prepare_data,
    snakemake.params.spec,
    snakemake.wildcards.dataset,
    snakemake.output.data,
    threads=snakemake.threads,
)
