# ---------------------------------------------------------------- aggregate
# Tables (CSV + LaTeX), figures, the comparison with the paper and the runtime table,
# from every run's metrics.json, history.csv and embeddings and every job's benchmark.
# Their own benchmark TSVs (results/benchmarks/aggregate/) are not in runtime.csv, which
# lists the per-run jobs; benchmarks/bench_workflow.py reads them with the rest.
# The CSVs and PNGs are report() items: `snakemake --report results/report.html`. The
# report lists its categories alphabetically: "Claims" comes first, as it should.


rule make_tables:
    input:
        metrics=runs_files("metrics.json"),
    output:
        table1_csv=report(
            "results/tables/table1_variance.csv",
            caption="../report/table1.rst",
            category="Tables",
            labels={"table": "Table 1", "content": "intra- and inter-class variance"},
        ),
        table1_tex="results/tables/table1_variance.tex",
        table2_csv=report(
            "results/tables/table2_greediness.csv",
            caption="../report/table2.rst",
            category="Tables",
            labels={"table": "Table 2", "content": "greediness"},
        ),
        table2_tex="results/tables/table2_greediness.tex",
        table3_csv=report(
            "results/tables/table3_classification.csv",
            caption="../report/table3.rst",
            category="Tables",
            labels={"table": "Table 3", "content": "classification accuracy"},
        ),
        table3_tex="results/tables/table3_classification.tex",
        table4_csv=report(
            "results/tables/table4_retrieval.csv",
            caption="../report/table4.rst",
            category="Tables",
            labels={"table": "Table 4", "content": "retrieval recall@k, MAP@R"},
        ),
        table4_tex="results/tables/table4_retrieval.tex",
        table5_csv=report(
            "results/tables/table5_geometry.csv",
            caption="../report/table5.rst",
            category="Tables",
            labels={"table": "Table 5", "content": "embedding geometry"},
        ),
        table5_tex="results/tables/table5_geometry.tex",
    log:
        "results/logs/aggregate/tables.log",
    benchmark:
        "results/benchmarks/aggregate/make_tables.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        runs=RUNS,
        experiments=experiment_labels(),
        loss_labels=loss_labels(),
    script:
        "../scripts/make_tables.py"


rule compare_with_paper:
    input:
        metrics=runs_files("metrics.json"),
        reference=PAPER_REFERENCE,
    output:
        claims_csv=report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
            labels={
                "table": "Claims",
                "content": "verdicts, effect sizes, corrected p",
            },
        ),
        claims_tex="results/tables/claims.tex",
        csv=report(
            "results/tables/paper_comparison.csv",
            caption="../report/paper_comparison.rst",
            category="Comparison with the paper",
            labels={"table": "Paper vs ours", "content": "numbers and claims"},
        ),
        tex="results/tables/paper_comparison.tex",
    log:
        "results/logs/aggregate/paper_comparison.log",
    benchmark:
        "results/benchmarks/aggregate/compare_with_paper.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        runs=RUNS,
        experiments=experiment_info(),
        loss_labels=loss_labels(),
        paper_settings=paper_settings(),
        statistics=config["statistics"],
    script:
        "../scripts/make_comparison.py"


rule make_figures:
    input:
        metrics=runs_files("metrics.json"),
        histories=runs_files("history.csv"),
    output:
        fig1_pdf="results/figures/fig1_intra_class_variance.pdf",
        fig1_png=report(
            "results/figures/fig1_intra_class_variance.png",
            caption="../report/fig1.rst",
            category="Figures",
            labels={"figure": "Fig. 1", "content": "intra-class variance per class"},
        ),
        fig3_pdf="results/figures/fig3_greediness.pdf",
        fig3_png=report(
            "results/figures/fig3_greediness.png",
            caption="../report/fig3.rst",
            category="Figures",
            labels={"figure": "Fig. 3", "content": "greediness per epoch"},
        ),
        spectrum_pdf="results/figures/fig_spectrum.pdf",
        spectrum_png=report(
            "results/figures/fig_spectrum.png",
            caption="../report/fig_spectrum.rst",
            category="Figures",
            labels={
                "figure": "Spectrum",
                "content": "singular values of the embeddings",
            },
        ),
    log:
        "results/logs/aggregate/figures.log",
    benchmark:
        "results/benchmarks/aggregate/make_figures.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        runs=RUNS,
        experiments=experiment_labels(),
        loss_labels=loss_labels(),
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/make_figures.py"


rule make_pca_figure:
    input:
        unpack(pca_inputs),
    output:
        pdf="results/figures/fig2_pca.pdf",
        png=report(
            "results/figures/fig2_pca.png",
            caption="../report/fig2.rst",
            category="Figures",
            labels={"figure": "Fig. 2", "content": "PCA of inputs and embeddings"},
        ),
    log:
        "results/logs/aggregate/fig2_pca.log",
    benchmark:
        "results/benchmarks/aggregate/make_pca_figure.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        panels=pca_panels(),
        labels={name: exp["label"] for name, exp in EXPERIMENTS.items()},
        loss_labels=loss_labels(),
        samples=config["figures"]["pca_samples"],
        seed=SEEDS[0],
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/make_pca_figure.py"


rule collect_runtime:
    input:
        benchmarks=benchmark_files,
    output:
        csv=report(
            "results/tables/runtime.csv",
            caption="../report/runtime.rst",
            category="Runtime",
            labels={"table": "Runtime", "content": "time and memory per job"},
        ),
    log:
        "results/logs/aggregate/runtime.log",
    benchmark:
        "results/benchmarks/aggregate/collect_runtime.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        jobs=lambda wildcards: benchmark_jobs(),
    script:
        "../scripts/make_runtime.py"
