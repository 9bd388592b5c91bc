# Contrastive vs triplet loss: variance and greediness (Zeng), reproduced as a cached workflow.
# Table of contents only; each stage lives in workflow/rules/.

from snakemake.utils import min_version

min_version("9.0")


# --configfile replaces the default config instead of merging into it (--config still
# overrides single keys), so config/paper.yaml never inherits the default's shortcuts.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate_inputs.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/sweeps_inputs.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/search_inputs.smk"
include: "workflow/rules/search.smk"


rule all:
    default_target: True
    input:
        all_targets(),
