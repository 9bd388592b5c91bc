"""Snakemake script: Figure 2, PCA of each experiment's input data and of the test
embeddings of each loss (first seed)."""

from pathlib import Path

from dmlstudy.report import figures
from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
p = snakemake.params
panels = {
    name: figures.load_pca_panel(spec["input"], spec["embeddings"], p.samples, p.seed)
    for name, spec in p.panels.items()
}
stem = Path(snakemake.output.png).with_suffix("")
figures.fig2_pca(panels, p.labels, p.loss_labels, stem, p.dpi, p.seed)
