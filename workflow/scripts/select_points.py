"""Snakemake script: each loss's best grid point of one experiment on validation."""

from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])

from dmlstudy.report import tuning  # noqa: E402

df = tuning.load_runs(snakemake.input.metrics)
selection = tuning.select_points(
    df, snakemake.wildcards.experiment, snakemake.params.grids, snakemake.params.metric
)
tuning.write_selection(selection, snakemake.output.selected)
