# ---------------------------------------------------------------- configuration
# Validate the config against workflow/schemas/config.schema.yaml (defaults filled in),
# check that every dataset's files exist, and derive wildcard constraints and targets.

import sys

from snakemake.exceptions import WorkflowError

from dmlstudy import config as dmlconfig
from dmlstudy.errors import DmlStudyError


def _fail(message):
    # One clear message, no traceback: the config or the data needs fixing, not the code.
    print(f"\nERROR: {message}\n", file=sys.stderr)
    raise WorkflowError(message)


try:
    config = dmlconfig.validate(config)
except DmlStudyError as exc:
    _fail(str(exc))

EXPERIMENTS = config["experiments"]
LOSSES = config["losses"]
SEEDS = config["seeds"]
RUN_DIR = "results/runs/{experiment}/{loss}/seed{seed}"


def used_datasets():
    return sorted({e["dataset"] for e in EXPERIMENTS.values()})


def used_features():
    """(dataset, backbone) pairs that some head experiment trains on."""
    return sorted(
        {(e["dataset"], e["backbone"]) for e in EXPERIMENTS.values() if e["model"] == "head"}
    )


def _check_data():
    from dmlstudy.sources import check_available

    for name in used_datasets():
        spec = dict(config["datasets"][name])
        for key in ("root",):
            if key in spec and not spec[key]:
                spec[key] = f"{config['data_root']}/{name}"
        check_available(spec, name)


try:
    _check_data()
except DmlStudyError as exc:
    _fail(str(exc))


def _alternatives(values):
    return "|".join(str(v) for v in values) or "__none__"


wildcard_constraints:
    experiment=_alternatives(EXPERIMENTS),
    loss=_alternatives(LOSSES),
    seed=r"\d+",
    dataset=_alternatives(config["datasets"]),
    backbone=_alternatives(config["backbones"]),


# ---------------------------------------------------------------- input functions
def dataset_spec(name):
    """The dataset's config entry, with an empty root resolved under data_root."""
    spec = dict(config["datasets"][name])
    if "root" in spec and not spec["root"]:
        spec["root"] = f"{config['data_root']}/{name}"
    return spec


def training_input(wildcards):
    """Data file of an experiment: the dataset itself, or cached backbone features."""
    exp = EXPERIMENTS[wildcards.experiment]
    if exp["model"] == "head":
        return f"results/features/{exp['dataset']}/{exp['backbone']}.h5"
    return f"results/data/{exp['dataset']}.h5"


def run_files(name, experiments=None, losses=None, seeds=None):
    return expand(
        f"{RUN_DIR}/{name}",
        experiment=experiments or list(EXPERIMENTS),
        loss=losses or LOSSES,
        seed=seeds or SEEDS,
    )


def rule_resources(rule):
    r = config["resources"][rule]
    res = {"mem_mb": r["mem_mb"], "runtime": r["runtime"]}
    if r["gpus"]:
        res["gpu"] = r["gpus"]
    return res


def all_targets():
    return TABLES + FIGURES + run_files("metrics.json")
