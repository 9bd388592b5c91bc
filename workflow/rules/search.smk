# ---------------------------------------------------------------- adaptive search
# The reality check's protocol (sweeps.search: tpe; docs/sweeps.md): per
# experiment and loss a study of `rounds` rounds. Each round is a checkpoint whose
# suggestions depend only on the earlier rounds' scores and the study's identity (params);
# each trial is one job that trains every fold x tuning seed of its point and lives under
# its values' path segment, so a rerun finds every trial cached and more rounds run only
# the new trials. Each loss's best trial is then trained with `seeds` by the ordinary
# train_model / evaluate_run rules at its point and scored once on test.
# Without a search space this file adds no job.


checkpoint search_round:
    input:
        rounds=lambda wc: round_files(wc.experiment, wc.loss, int(wc.round)),
        trials=lambda wc: trial_files(wc.experiment, wc.loss, int(wc.round)),
    output:
        trials=f"{STUDY_DIR}/round{{round}}.json",
    log:
        "results/logs/search_round/{experiment}/{loss}/round{round}.log",
    benchmark:
        "results/benchmarks/search_round/{experiment}/{loss}/round{round}.tsv"
    wildcard_constraints:
        round=r"\d+",
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        study=lambda wc: dmlsweeps.study(config, wc.experiment, wc.loss),
        round=lambda wc: int(wc.round),
    script:
        "../scripts/search_round.py"


rule search_trial:
    input:
        data=training_input,
    output:
        summary=f"{STUDY_DIR}/{{segment}}trial.json",
        runs=[f"{STUDY_DIR}/{{segment}}{name}" for name in TRIAL_RUNS],
    log:
        "results/logs/search_trial/{experiment}/{loss}/{segment}trial.log",
    benchmark:
        "results/benchmarks/search_trial/{experiment}/{loss}/{segment}trial.tsv"
    wildcard_constraints:
        segment=SEGMENT_REGEX,
    conda:
        "../../envs/environment.yaml"
    threads: config["threads"]["train"]
    resources:
        **rule_resources("train"),
    params:
        trial=lambda wc: dmlparams.trial_params(
            config, wc.experiment, wc.loss, wc.segment
        ),
        device=config["device"],
    script:
        "../scripts/search_trial.py"


checkpoint study_summary:
    input:
        rounds=lambda wc: round_files(wc.experiment, wc.loss, SEARCH["rounds"]),
        trials=lambda wc: trial_files(wc.experiment, wc.loss, SEARCH["rounds"]),
    output:
        history=f"{STUDY_DIR}/trials.csv",
        best=f"{STUDY_DIR}/best.json",
    log:
        "results/logs/aggregate/study_summary/{experiment}/{loss}.log",
    benchmark:
        "results/benchmarks/aggregate/study_summary/{experiment}/{loss}.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        study=lambda wc: dmlsweeps.study(config, wc.experiment, wc.loss),
    script:
        "../scripts/study_summary.py"


rule reality_check:
    input:
        best=[f"results/tuning/{e}/{lo}/best.json" for e, lo in studies()],
        metrics=reproduction_metrics,
        inputs=[experiment_input(e) for e in SEARCH_EXPERIMENTS],
    output:
        csv="results/tables/reality_check.csv",
        tex="results/tables/reality_check.tex",
        html=report(
            "results/tables/reality_check.html",
            caption="../report/reality_check.rst",
            category="Reality check",
            labels={
                "table": "Reality check",
                "content": "tuned by search, 10 reproductions, verdicts",
            },
        ),
    log:
        "results/logs/aggregate/reality_check.log",
    benchmark:
        "results/benchmarks/aggregate/reality_check.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        experiments=experiment_labels(),
        loss_labels=loss_labels(),
        statistics=config["statistics"],
        runs=reproduction_runs,
        evaluation={  # each experiment's, in the order of input.inputs
            e: dmlparams.evaluation_params(config, e)["evaluation"]
            for e in SEARCH_EXPERIMENTS
        },
    script:
        "../scripts/make_reality_check.py"


rule search_figure:
    input:
        history=[f"results/tuning/{e}/{lo}/trials.csv" for e, lo in studies()],
        best=[f"results/tuning/{e}/{lo}/best.json" for e, lo in studies()],
    output:
        pdf="results/figures/fig_search.pdf",
        png=report(
            "results/figures/fig_search.png",
            caption="../report/fig_search.rst",
            category="Reality check",
            labels={"figure": "Search", "content": "best-so-far validation score"},
        ),
    log:
        "results/logs/aggregate/fig_search.log",
    benchmark:
        "results/benchmarks/aggregate/fig_search.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        experiments=experiment_labels(),
        loss_labels=loss_labels(),
        n_startup=SEARCH["n_startup_trials"],
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/make_search_figure.py"
