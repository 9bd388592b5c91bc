# ---------------------------------------------------------------- configuration
# Validate the config against workflow/schemas/config.schema.yaml (defaults filled in),
# check that every dataset's files exist, and derive wildcard constraints and targets.

import os
import shutil
import sys


# The package is imported from this workflow's own tree, on disk or (for a workflow used
# from a git URL) copied out of Snakemake's source cache: package.smk.
include: "package.smk"


from dmlstudy import catalog as dmlcatalog
from dmlstudy import config as dmlconfig
from dmlstudy import params as dmlparams
from dmlstudy import plugins as dmlplugins
from dmlstudy import sweeps as dmlsweeps
from dmlstudy.errors import DmlStudyError


def _fail(message):
    # One clear message, no traceback: the config or the data needs fixing, not the code.
    # (A WorkflowError raised here makes Snakemake print the file/line stack; exit instead.)
    print(f"\nERROR: {message}\n", file=sys.stderr)
    sys.exit(1)


try:
    # plugins first: the losses, samplers, sources and backbones they register are then
    # valid config names (every job loads them again: dmlstudy.scripting.run_job)
    PLUGINS = dmlplugins.load(config.get("plugins", []))
    config = dmlconfig.validate(config)
except DmlStudyError as exc:
    _fail(str(exc))

EXPERIMENTS = config["experiments"]
LOSSES = config["losses"]
SEEDS = config["seeds"]
# {point}: "" for a run at the config's own values, "loss.margin~0.5/" (and the like) for a
# grid point of sweeps.grids, "split~validation/loss.margin~0.5/" for its tuning run
# (dmlstudy.sweeps). Without sweeps every path is what it always was.
RUN_DIR = "results/runs/{experiment}/{loss}/{point}seed{seed}"


def run_dir(experiment, loss, seed, point=""):
    return RUN_DIR.format(experiment=experiment, loss=loss, point=point, seed=seed)


def used_datasets():
    return sorted({e["dataset"] for e in EXPERIMENTS.values()})


def used_features():
    """(dataset, backbone) pairs that some head experiment trains on."""
    return sorted(
        {
            (e["dataset"], e["backbone"])
            for e in EXPERIMENTS.values()
            if e["model"] == "head"
        }
    )


def _is_dry_run():
    # workflow.dryrun is not yet known while the Snakefile is parsed; read the command line.
    flags = [a for a in sys.argv[1:] if a.startswith("-") and not a.startswith("--")]
    return (
        workflow.dryrun
        or any(a in ("--dry-run", "--dryrun") for a in sys.argv)
        or any("n" in a[1:] for a in flags if a[1:].isalpha() and len(a) <= 4)
    )


def _check_data():
    """Every dataset the config uses must be on disk (or downloadable) before any job runs.
    All missing datasets are reported together. A dry run only warns, so that a plan
    (`snakemake -n`) can be made before the data is placed."""
    from dmlstudy.sources import check_available

    problems = []
    for name in used_datasets():
        try:
            check_available(dataset_spec(name), name)
        except DmlStudyError as exc:
            problems.append(str(exc))
    if not problems:
        return
    message = "\n\n".join(problems)
    if _is_dry_run():
        print(
            f"\nWARNING (dry run; a real run stops here):\n{message}\n", file=sys.stderr
        )
    else:
        _fail(message)


def _alternatives(values):
    return "|".join(str(v) for v in values) or "__none__"


wildcard_constraints:
    experiment=_alternatives(EXPERIMENTS),
    loss=_alternatives(LOSSES),
    seed=r"\d+",
    point=dmlparams.POINT_REGEX,
    dataset=_alternatives(config["datasets"]),
    backbone=_alternatives(config["backbones"]),
    table=_alternatives(dmlcatalog.TABLES),


# ---------------------------------------------------------------- input functions
def dataset_spec(name):
    """The dataset's validated config entry (defaults filled, an empty root resolved
    under data_root by dmlconfig.validate)."""
    return dict(config["datasets"][name])


_check_data()


def prepare_params(dataset):
    """What a prepare_data job depends on: the dataset's entry (and the hash of the plugin
    that registered its source, if one did)."""
    spec = dataset_spec(dataset)
    return dmlparams.with_plugins(spec, PLUGINS, {"sources": [spec["source"]]})


def backbone_params(dataset, backbone):
    """The backbone entry an extract_features job runs (and the hashes of the plugins that
    registered its kind or the dataset's source, if any did)."""
    spec = config["backbones"][backbone]
    uses = {
        "sources": [config["datasets"][dataset]["source"]],
        "backbones": [spec["kind"]],
    }
    return dmlparams.with_plugins(spec, PLUGINS, uses)


def experiment_input(name):
    """Data file of an experiment: the dataset itself, or cached backbone features."""
    exp = EXPERIMENTS[name]
    if exp["model"] == "head":
        return f"results/features/{exp['dataset']}/{exp['backbone']}.h5"
    return f"results/data/{exp['dataset']}.h5"


def training_input(wildcards):
    return experiment_input(wildcards.experiment)


def run_files(name, experiments=None, losses=None, seeds=None):
    """The file ``name`` of the runs at the config's own values (no grid point)."""
    return [
        f"{run_dir(e, lo, s)}/{name}"
        for e in experiments or list(EXPERIMENTS)
        for lo in losses or LOSSES
        for s in seeds or SEEDS
    ]


# Rules that can use a GPU; every other rule is CPU-only and never asks SLURM for one.
GPU_RULES = ("train", "extract")


def rule_resources(rule):
    """SLURM resources of a rule, from config["resources"][rule]: mem_mb, runtime (minutes)
    and, for train and extract with device auto or cuda, gpu (-> sbatch --gpus; the
    config's gpus, default 1) and gpu_model if given."""
    r = config["resources"][rule]
    res = {"mem_mb": r["mem_mb"], "runtime": r["runtime"]}
    gpus = r.get("gpus")
    wants_gpu = rule in GPU_RULES and config["device"] != "cpu"
    if wants_gpu and gpus != 0:
        res["gpu"] = 1 if gpus is None else gpus
        if r.get("gpu_model"):
            res["gpu_model"] = r["gpu_model"]
    return res


# SLURM: snakemake-executor-plugin-slurm 2.8.0 compares sacct's job state with "CANCELLED"
# exactly, but sacct reports a cancelled job as "CANCELLED by <uid>", so the run would wait
# forever. Where sacct exists, workflow/slurm/sacct (which normalises that state) goes
# first on PATH for the status queries of this Snakemake process (DMLSTUDY_SACCT_SHIM=0
# leaves PATH alone). See docs/slurm.md.
# (The folder itself, not workflow.source_path(): that is a copy in Snakemake's source
# cache, without the executable bit. For a workflow used from a git URL, package.smk has
# copied it out with the bit set.)
_SACCT_SHIM_DIR = os.path.join(WORKFLOW_TREE, "workflow", "slurm")
if (
    os.environ.get("DMLSTUDY_SACCT_SHIM") != "0"
    and shutil.which("sacct")
    and os.access(os.path.join(_SACCT_SHIM_DIR, "sacct"), os.X_OK)
    and _SACCT_SHIM_DIR not in os.environ.get("PATH", "").split(os.pathsep)
):
    os.environ.update(PATH=f"{_SACCT_SHIM_DIR}{os.pathsep}{os.environ.get('PATH', '')}")


def all_targets():
    return TABLES + FIGURES + run_files("metrics.json") + SWEEP_TARGETS + SEARCH_TARGETS
