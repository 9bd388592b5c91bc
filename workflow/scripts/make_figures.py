"""Snakemake script: Figures 1 and 3."""

from pathlib import Path

from dmlstudy import figures, tables
from dmlstudy.pipeline import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
experiments = snakemake.params.experiments
metrics = tables.load_metrics(snakemake.input.metrics, experiments)
histories = tables.load_histories(snakemake.input.histories)
labels = {name: e["label"] for name, e in experiments.items()}
def stem(paths):
    return Path(paths[0]).with_suffix("")


figures.fig1_intra_class_variance(metrics, stem(snakemake.output.fig1), snakemake.params.dpi)
figures.fig3_greediness(histories, labels, stem(snakemake.output.fig3), snakemake.params.dpi)
