"""Snakemake script: every number the paper reports beside ours, and its claims checked."""

from dmlstudy import comparison, tables
from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
experiments = snakemake.params.experiments
df = tables.load_metrics(snakemake.input.metrics, experiments)
ref = comparison.load_reference(snakemake.input.reference)
out, tex = comparison.paper_comparison(df, experiments, ref)
tables.write_table(out, tex, snakemake.output.csv, snakemake.output.tex)
