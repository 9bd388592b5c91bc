# ---------------------------------------------------------------- search inputs
# Targets and input functions of the adaptive search (sweeps.search: tpe;
# workflow/rules/search.smk, docs/sweeps.md). Without a search space this file adds nothing.

SEARCH_EXPERIMENTS = dmlsweeps.search_experiments(config)
SEARCH = config["sweeps"]
# A study's files: its rounds, its trials (each under its values' path segment), its history.
STUDY_DIR = "results/tuning/{experiment}/{loss}"
# What a trial job writes besides trial.json: one metrics.json per fold x tuning seed, in
# the order dmlstudy.trials.run_trial fills them (fold-major).
TRIAL_RUNS = [
    f"fold{f}/seed{s}/metrics.json"
    for f in range(SEARCH["folds"])
    for s in SEARCH["tuning_seeds"]
]
# A trial's segment: one key~value/ per searched key (params.POINT_REGEX without the
# validation prefix, at least one key).
SEGMENT_REGEX = r"(?:[A-Za-z0-9_.]+~[A-Za-z0-9_.+-]+/)+"
AGGREGATE_RULES.update({"study_summary", "reality_check", "search_figure"})

SEARCH_TARGETS = []
if SEARCH_EXPERIMENTS:
    SEARCH_TARGETS = expand(
        "results/tables/reality_check.{ext}", ext=["csv", "tex", "html"]
    ) + [
        "results/figures/fig_search.pdf",
        "results/figures/fig_search.png",
    ]
    # The round files are targets themselves: Snakemake plans a job that waits on an
    # unfinished checkpoint only when something needs that job's output, so without them a
    # round added to the config would never be planned (the summary after it depends on
    # the new round's checkpoint).
    SEARCH_TARGETS += [
        f"results/tuning/{e}/{lo}/{name}"
        for e in SEARCH_EXPERIMENTS
        for lo in LOSSES
        for name in ["trials.csv"] + [f"round{r}.json" for r in range(SEARCH["rounds"])]
    ]


def studies():
    """(experiment, loss) of every study, in config order."""
    return [(e, lo) for e in SEARCH_EXPERIMENTS for lo in LOSSES]


def round_file(experiment, loss, index):
    return f"results/tuning/{experiment}/{loss}/round{index}.json"


def trial_file(experiment, loss, segment):
    return f"results/tuning/{experiment}/{loss}/{segment}trial.json"


def round_trials(experiment, loss, index):
    """The trials of one round, once its checkpoint has run."""
    path = checkpoints.search_round.get(
        experiment=experiment, loss=loss, round=index
    ).output.trials
    with open(path) as fh:
        return json.load(fh)["trials"]


def round_files(experiment, loss, rounds):
    """The files of rounds 0 .. rounds-1. Known from the config alone (no checkpoint is
    asked), so a round added to the config is in the plan from the start."""
    return [round_file(experiment, loss, r) for r in range(rounds)]


def trial_files(experiment, loss, rounds):
    """The trial summaries of rounds 0 .. rounds-1 (one per distinct segment), once those
    rounds' checkpoints have run."""
    segments = [
        t["segment"] for r in range(rounds) for t in round_trials(experiment, loss, r)
    ]
    return [trial_file(experiment, loss, s) for s in dict.fromkeys(segments)]


def best_trials():
    """Each study's best.json (after its summary checkpoint), in config order."""
    out = []
    for e, lo in studies():
        path = checkpoints.study_summary.get(experiment=e, loss=lo).output.best
        with open(path) as fh:
            out.append(json.load(fh))
    return out


def reproduction_runs(wildcards=None):
    """Each loss's best trial, trained with `seeds` on the whole training split and scored
    on test: ordinary runs at the trial's point segment, as records."""
    return [
        {
            "experiment": b["experiment"],
            "loss": b["loss"],
            "point": b["segment"],
            "seed": s,
        }
        for b in best_trials()
        for s in SEEDS
    ]


def reproduction_metrics(wildcards):
    return [f"{run_dir(**r)}/metrics.json" for r in reproduction_runs()]


def search_benchmark_records():
    """Wildcards of every search job with a benchmark file (runtime.csv): the rounds, the
    trials and the reproductions' training and evaluation."""
    if not SEARCH_EXPERIMENTS:
        return {}
    trials = {
        (e, lo, t["segment"])
        for e, lo in studies()
        for r in range(SEARCH["rounds"])
        for t in round_trials(e, lo, r)
    }
    return {
        frozenset({"experiment", "loss", "round"}): [
            {"experiment": e, "loss": lo, "round": r}
            for e, lo in studies()
            for r in range(SEARCH["rounds"])
        ],
        frozenset({"experiment", "loss", "segment"}): [
            {"experiment": e, "loss": lo, "segment": s} for e, lo, s in sorted(trials)
        ],
        frozenset({"experiment", "loss", "point", "seed"}): reproduction_runs(),
    }
