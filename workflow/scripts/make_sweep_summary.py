"""Snakemake script: sweep_points.csv and fig_sensitivity of every grid point."""

import json

from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])

from dmlstudy.report import figures, tuning  # noqa: E402

p, out = snakemake.params, snakemake.output
df = tuning.load_runs(snakemake.input.metrics)
table = tuning.sweep_points(df, p.metric, p.experiments)
table.to_csv(out.csv, index=False)
selections = []
for path in snakemake.input.selected:
    with open(path) as fh:
        selections.append(json.load(fh))
figures.fig_sensitivity(
    table, p.experiments, p.loss_labels, out.pdf[: -len(".pdf")], selections, dpi=p.dpi
)
