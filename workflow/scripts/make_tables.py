"""Snakemake script: Tables 1-5 from every run's metrics.json."""

from dmlstudy.report import latex, load, tables
from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
out, p = snakemake.output, snakemake.params
df = load.load_metrics(snakemake.input.metrics, p.runs, p.experiments)
for n, make in enumerate(
    (tables.table1, tables.table2, tables.table3, tables.table4, tables.table5), 1
):
    latex.write(*make(df, p.loss_labels), out[f"table{n}_csv"], out[f"table{n}_tex"])
