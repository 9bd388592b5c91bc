"""Snakemake script: the paper's claims checked (claims.csv/tex) and every number the paper
reports beside ours (paper_comparison.csv/tex)."""

from dmlstudy.report import claims, comparison, latex, load
from dmlstudy.scripting import setup_logging

snakemake = globals()["snakemake"]
setup_logging(snakemake.log[0])
out, p = snakemake.output, snakemake.params
df = load.load_metrics(snakemake.input.metrics, p.runs, p.experiments)
checked = claims.evaluate_claims(df, p.experiments, p.paper_settings, p.statistics)
latex.write(*claims.claims_table(checked, p.experiments), out.claims_csv, out.claims_tex)
ref = comparison.load_reference(snakemake.input.reference)
result = comparison.paper_comparison(
    df, p.experiments, p.loss_labels, p.paper_settings, checked, ref
)
latex.write(*result, out.csv, out.tex)
