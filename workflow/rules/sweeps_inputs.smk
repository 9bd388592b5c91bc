# ---------------------------------------------------------------- sweep inputs
# Grid-point runs, targets and input functions of the sweep rules (workflow/rules/sweeps.smk).

import json

SWEEP_EXPERIMENTS = dmlsweeps.experiments(config)
TUNED = dmlsweeps.is_tuned(config)
SWEEP_SEEDS = config["sweeps"]["tuning_seeds"] if TUNED else SEEDS
SWEEP_PREFIX = dmlparams.VALIDATION if TUNED else ""

# Every grid point's run (its validation run under the tuned protocol), in grid order.
SWEEP_RUNS = [
    {"experiment": e, "loss": lo, "point": SWEEP_PREFIX + p.segment, "seed": s}
    for e in SWEEP_EXPERIMENTS
    for lo in LOSSES
    for p in dmlparams.grid(config, e, lo)
    for s in SWEEP_SEEDS
]
AGGREGATE_RULES.update({"select_points", "sweep_summary", "tuned_comparison"})


def sweep_runs(experiment=None):
    """The grid-point runs (of one experiment), as records for the aggregation's params."""
    return [
        r for r in SWEEP_RUNS if experiment is None or r["experiment"] == experiment
    ]


def sweep_metrics(experiment=None):
    return [f"{run_dir(**r)}/metrics.json" for r in sweep_runs(experiment)]


def sweep_info():
    """Label and preset of each swept experiment, and the config's own values of its swept
    keys per loss (the fixed setting the tuned one is compared with)."""
    info = experiment_labels()
    return {
        e: {
            **info[e],
            "fixed_values": {
                lo: dmlparams.fixed_values(config, e, lo) for lo in LOSSES
            },
        }
        for e in SWEEP_EXPERIMENTS
    }


SWEEP_TARGETS = []
if SWEEP_EXPERIMENTS:
    SWEEP_TARGETS = [
        "results/tables/sweep_points.csv",
        "results/figures/fig_sensitivity.pdf",
        "results/figures/fig_sensitivity.png",
    ]
if TUNED:
    SWEEP_TARGETS += [
        "results/tables/selected_points.csv",
        "results/tables/tuned_gains.csv",
        "results/tables/tuned_comparison.csv",
        "results/tables/tuned_comparison.tex",
        "results/tables/tuned_comparison.html",
    ]


def selections():
    """The selection file of every swept experiment (after its checkpoint has run)."""
    out = []
    for e in SWEEP_EXPERIMENTS:
        path = checkpoints.select_points.get(experiment=e).output.selected
        with open(path) as fh:
            out.append(json.load(fh))
    return out


def tuned_runs(wildcards=None):
    """Each loss's selected point, trained with `seeds` and scored on test, as records."""
    return [
        {
            "experiment": sel["experiment"],
            "loss": lo,
            "point": chosen["segment"],
            "seed": s,
        }
        for sel in selections()
        for lo, chosen in sel["losses"].items()
        for s in SEEDS
    ]


def tuned_metrics(wildcards):
    return [f"{run_dir(**r)}/metrics.json" for r in tuned_runs()]


def fixed_runs():
    """The runs at the config's own values of every swept experiment, as records."""
    return [
        {"experiment": e, "loss": lo, "seed": s}
        for e in SWEEP_EXPERIMENTS
        for lo in LOSSES
        for s in SEEDS
    ]
