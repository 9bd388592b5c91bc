"""Snakemake script: prepare one dataset into results/data/{dataset}.h5."""

from dmlstudy.scripting import run_stage, setup_logging
from dmlstudy.sources import prepare_to_file

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
run_stage(
    prepare_to_file,
    snakemake.params.spec,
    snakemake.wildcards.dataset,
    snakemake.output.data,
    threads=snakemake.threads,
)
