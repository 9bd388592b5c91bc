# ---------------------------------------------------------------- aggregation inputs
# Target lists and input functions of the aggregation rules (workflow/rules/aggregate.smk).

from pathlib import Path
from types import SimpleNamespace

from snakemake.io import apply_wildcards, get_wildcard_names

import dmlstudy
from dmlstudy import losses as dmllosses
from dmlstudy.paper_settings import paper_settings
from dmlstudy.sources import paper_dataset

# The paper's numbers (as dmlstudy.report.comparison.REFERENCE_PATH, without importing pandas here).
PAPER_REFERENCE = str(
    Path(dmlstudy.__file__).resolve().parent / "data" / "paper_reference.csv"
)


# Every table of the catalogue (dmlstudy.catalog.TABLES) as CSV, LaTeX and HTML; the
# comparisons, the claims and the comparison with the paper; the runtime table.
TABLE_NAMES = list(dmlcatalog.TABLES)
TABLES = (
    expand(
        "results/tables/{table}.{ext}", table=TABLE_NAMES, ext=["csv", "tex", "html"]
    )
    + expand(
        "results/tables/{table}.{ext}",
        table=["claims", "paper_comparison"],
        ext=["csv", "tex", "html"],
    )
    + [
        "results/tables/comparisons.csv",
        "results/tables/claims_summary.html",
        "results/tables/runtime.csv",
        "results/tables/runtime_totals.csv",
    ]
)
FIGURES = expand(
    "results/figures/{figure}.{ext}",
    figure=["fig1_intra_class_variance", "fig2_pca", "fig3_greediness", "fig_spectrum"],
    ext=["pdf", "png"],
)
AGGREGATE_RULES = {
    "compare_losses",
    "make_table",
    "compare_with_paper",
    "make_figures",
    "make_pca_figure",
    "collect_runtime",
}


# Every run of this config: (experiment, loss, seed) records, and each run's files in the
# same order, so the aggregation scripts never read a run's identity back out of a path.
RUNS = [
    {"experiment": e, "loss": lo, "seed": s}
    for e in EXPERIMENTS
    for lo in LOSSES
    for s in SEEDS
]


def runs_files(name):
    """The file ``name`` of every run, aligned with RUNS."""
    return [f"{run_dir(**r)}/{name}" for r in RUNS]


def loss_labels():
    """Loss name -> its label in tables and figures (from the loss registry), for the
    losses this config trains."""
    return {lo: dmllosses.get(lo).label for lo in LOSSES}


def experiment_labels():
    return {
        name: {"label": exp["label"], "preset": exp["preset"]}
        for name, exp in EXPERIMENTS.items()
    }


def experiment_info():
    """What the comparison with the paper needs to know of each experiment: its data
    source and model (to match it to the paper's datasets) and its settings (to list
    how they differ from the paper's)."""
    info = {}
    for name, exp in EXPERIMENTS.items():
        resolved = dmlparams.resolve_experiment(config, name)
        backbone = exp.get("backbone")
        info[name] = {
            **{
                k: resolved[k]
                for k in ("label", "preset", "dataset", "source", "model")
            },
            "backbone": backbone,
            "dataset_spec": dataset_spec(exp["dataset"]),
            "paper_dataset": paper_dataset(dataset_spec(exp["dataset"])),
            "backbone_spec": config["backbones"].get(backbone) if backbone else None,
            **{
                k: resolved[k]
                for k in (
                    "training",
                    "loss",
                    "sampling",
                    "evaluation",
                    "model_options",
                )
            },
        }
    return info


def pca_panels():
    """Experiment → its training input file, per loss the embeddings of the first seed,
    and the split they are scored on (evaluation.split; Fig. 2 shows that split)."""
    seed = SEEDS[0]
    return {
        name: {
            "input": training_input(SimpleNamespace(experiment=name)),
            "embeddings": {
                loss: f"results/runs/{name}/{loss}/seed{seed}/embeddings.h5"
                for loss in LOSSES
            },
            "split": dmlparams.evaluation_params(config, name)["evaluation"]["split"],
        }
        for name in EXPERIMENTS
    }


def pca_inputs(wildcards):
    panels = pca_panels()
    return {
        "data": sorted({p["input"] for p in panels.values()}),
        "embeddings": [f for p in panels.values() for f in p["embeddings"].values()],
    }


def benchmark_jobs():
    """The benchmark TSV of every job of this config → {rule, job wildcards}, for all
    rules with a `benchmark:` except the aggregation ones. Found from the rules
    themselves, so that a rule added later with a benchmark is picked up."""
    combos = {
        frozenset({"dataset"}): [{"dataset": d} for d in used_datasets()],
        frozenset({"dataset", "backbone"}): [
            {"dataset": d, "backbone": b} for d, b in used_features()
        ],
        frozenset({"experiment", "loss", "point", "seed"}): [
            {"experiment": e, "loss": lo, "point": "", "seed": s}
            for e in EXPERIMENTS
            for lo in LOSSES
            for s in SEEDS
        ]
        + [
            {k: r[k] for k in ("experiment", "loss", "point", "seed")}
            for r in SWEEP_RUNS
        ],
    }
    for key, records in search_benchmark_records().items():  # search.smk's jobs
        combos[key] = combos.get(key, []) + records
    jobs = {}
    for r in workflow.rules:
        if r.benchmark is None or r.name in AGGREGATE_RULES or callable(r.benchmark):
            continue
        pattern = str(r.benchmark)
        for wc in combos.get(frozenset(get_wildcard_names(pattern)), []):
            jobs[apply_wildcards(pattern, wc)] = {
                "rule": r.name,
                "job": ", ".join(f"{k}={v}" for k, v in wc.items() if v != ""),
            }
    return dict(sorted(jobs.items()))


def benchmark_files(wildcards):
    return list(benchmark_jobs())
