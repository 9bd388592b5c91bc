"""Snakemake script: prepare one dataset into results/data/{dataset}.h5."""

import logging

from dmlstudy import h5io
from dmlstudy.scripting import run_stage, setup_logging
from dmlstudy.sources import prepare_dataset


def prepare_to_file(spec, name, out_path):  # temporary, until sources.prepare_to_file
    prepared = prepare_dataset(spec, name, int(spec["seed"]))
    attrs = dict(prepared.attrs)
    attrs.setdefault("name", name)
    h5io.write_splits(out_path, prepared.splits, attrs)
    sizes = {k: len(v["y"]) for k, v in prepared.splits.items()}
    logging.getLogger("dmlstudy").info("dataset %s: %s -> %s", name, sizes, out_path)


snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
run_stage(
    prepare_to_file,
    snakemake.params.spec,
    snakemake.wildcards.dataset,
    snakemake.output.data,
    threads=snakemake.threads,
)
