"""Snakemake script: runtime.csv from every job's benchmark TSV."""

from pathlib import Path

from dmlstudy.report import runtime
from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
df = runtime.runtime_table(snakemake.params.jobs)
Path(snakemake.output.csv).parent.mkdir(parents=True, exist_ok=True)
df.to_csv(snakemake.output.csv, index=False)
