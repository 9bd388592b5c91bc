"""Snakemake script: frozen-backbone features for one dataset and one backbone."""

from dmlstudy.scripting import run_job

snakemake = globals()["snakemake"]
p = snakemake.params
run_job(
    snakemake,
    "dmlstudy.features:extract_features",
    snakemake.input.data,
    snakemake.output.features,
    dict(p.backbone),
    device=p.device,
    batch_size=p.batch_size,
    num_workers=p.num_workers,
    progress=True,
)
