"""Snakemake script: Figures 1 and 3 and the singular-value spectra."""

from pathlib import Path

from dmlstudy.report import figures, load
from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
out, p = snakemake.output, snakemake.params
metrics = load.load_metrics(snakemake.input.metrics, p.runs, p.experiments)
histories = load.load_histories(snakemake.input.histories, p.runs)
labels = {name: e["label"] for name, e in p.experiments.items()}
stem1, stem3 = Path(out.fig1_png).with_suffix(""), Path(out.fig3_png).with_suffix("")
figures.fig1_intra_class_variance(metrics, p.loss_labels, stem1, p.dpi)
figures.fig3_greediness(histories, labels, p.loss_labels, stem3, p.dpi)
figures.fig_spectrum(metrics, labels, p.loss_labels, Path(out.spectrum_png).with_suffix(""), p.dpi)
