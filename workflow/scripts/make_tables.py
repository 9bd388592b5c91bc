"""Snakemake script: Tables 1-4 from every run's metrics.json."""

from dmlstudy import tables
from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
out = snakemake.output
df = tables.load_metrics(snakemake.input.metrics, snakemake.params.experiments)
tables.write_table(*tables.table1(df), out.table1_csv, out.table1_tex)
tables.write_table(*tables.table2(df), out.table2_csv, out.table2_tex)
tables.write_table(*tables.table3(df), out.table3_csv, out.table3_tex)
tables.write_table(*tables.table4(df), out.table4_csv, out.table4_tex)
