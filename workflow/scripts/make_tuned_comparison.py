"""Snakemake script: fixed vs tuned settings with verdicts, the selected points, the gains."""

import json

from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])

from dmlstudy.report import latex, tuning  # noqa: E402

p, out = snakemake.params, snakemake.output
selections = []
for path in snakemake.input.selected:
    with open(path) as fh:
        selections.append(json.load(fh))
tuning.selected_points(selections, p.loss_labels).to_csv(out.selected_csv, index=False)
fixed = tuning.load_runs(snakemake.input.fixed)
tuned = tuning.load_runs(snakemake.input.tuned)
table, tex, gains = tuning.tuned_comparison(
    fixed, tuned, selections, p.experiments, p.loss_labels, p.statistics
)
latex.write(table, tex, out.csv, out.tex)
gains.to_csv(out.gains_csv, index=False)
