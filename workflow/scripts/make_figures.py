"""Snakemake script: Figures 1 and 3."""

from pathlib import Path

from dmlstudy import figures, tables
from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
experiments = snakemake.params.experiments
out = snakemake.output
metrics = tables.load_metrics(snakemake.input.metrics, experiments)
histories = tables.load_histories(snakemake.input.histories)
labels = {name: e["label"] for name, e in experiments.items()}
figures.fig1_intra_class_variance(metrics, Path(out.fig1_png).with_suffix(""), snakemake.params.dpi)
figures.fig3_greediness(histories, labels, Path(out.fig3_png).with_suffix(""), snakemake.params.dpi)
