# ---------------------------------------------------------------- sweeps and tuning
# Grid points of sweeps.grids train and evaluate with the same rules as every run, under
# their own point path (dmlstudy.sweeps). protocol grid: each point with `seeds`, scored on
# test. protocol tuned: each point with sweeps.tuning_seeds on train minus validation,
# scored on validation; the checkpoint select_points picks each loss's best point, which
# then trains with `seeds` and is scored once on test (tuned_comparison).
# Without grids this file adds no job.


checkpoint select_points:
    input:
        metrics=lambda wc: sweep_metrics(wc.experiment),
    output:
        selected="results/tuning/{experiment}/selected.json",
    log:
        "results/logs/aggregate/select_points/{experiment}.log",
    benchmark:
        "results/benchmarks/aggregate/select_points/{experiment}.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        grids=lambda wc: {
            lo: [p.segment for p in dmlparams.grid(config, wc.experiment, lo)]
            for lo in LOSSES
        },
        metric=config["sweeps"]["selection_metric"],
        runs=lambda wc: sweep_runs(wc.experiment),
    script:
        "../scripts/select_points.py"


rule sweep_summary:
    input:
        metrics=sweep_metrics(),
        selected=expand(
            "results/tuning/{experiment}/selected.json",
            experiment=SWEEP_EXPERIMENTS if TUNED else [],
        ),
    output:
        csv=report(
            "results/tables/sweep_points.csv",
            caption="../report/sweep_points.rst",
            category="Sweeps",
            labels={"table": "Sweep", "content": "score of every grid point"},
        ),
        pdf="results/figures/fig_sensitivity.pdf",
        png=report(
            "results/figures/fig_sensitivity.png",
            caption="../report/fig_sensitivity.rst",
            category="Sweeps",
            labels={
                "figure": "Sensitivity",
                "content": "score against the swept value",
            },
        ),
    log:
        "results/logs/aggregate/sweep_summary.log",
    benchmark:
        "results/benchmarks/aggregate/sweep_summary.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        experiments=sweep_info(),
        loss_labels=loss_labels(),
        metric=config["sweeps"]["selection_metric"],
        dpi=config["figures"]["dpi"],
        runs=sweep_runs(),
    script:
        "../scripts/make_sweep_summary.py"


rule tuned_comparison:
    input:
        fixed=[f"{run_dir(**r)}/metrics.json" for r in fixed_runs()],
        tuned=tuned_metrics,
        selected=expand(
            "results/tuning/{experiment}/selected.json", experiment=SWEEP_EXPERIMENTS
        ),
    output:
        selected_csv=report(
            "results/tables/selected_points.csv",
            caption="../report/selected_points.rst",
            category="Sweeps",
            labels={
                "table": "Selected points",
                "content": "each loss's tuned setting",
            },
        ),
        gains_csv="results/tables/tuned_gains.csv",
        csv="results/tables/tuned_comparison.csv",
        tex="results/tables/tuned_comparison.tex",
        html=report(
            "results/tables/tuned_comparison.html",
            caption="../report/tuned_comparison.rst",
            category="Claims",
            labels={
                "table": "Tuned comparison",
                "content": "fixed vs tuned, verdicts",
            },
        ),
    log:
        "results/logs/aggregate/tuned_comparison.log",
    benchmark:
        "results/benchmarks/aggregate/tuned_comparison.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        experiments=sweep_info(),
        loss_labels=loss_labels(),
        statistics=config["statistics"],
        fixed_runs=fixed_runs(),
        tuned_runs=tuned_runs,
    script:
        "../scripts/make_tuned_comparison.py"
