# ---------------------------------------------------------------- aggregate
# Tables (CSV + LaTeX), figures, the comparison with the paper and the runtime table,
# from every run's metrics.json, history.csv and embeddings and every job's benchmark.
# Their own benchmark TSVs (results/benchmarks/aggregate/) are not in runtime.csv, which
# lists the per-run jobs; benchmarks/bench_workflow.py reads them with the rest.
# The CSVs and PNGs are report() items: `snakemake --report results/report.html`. The
# report lists its categories alphabetically: "Claims" comes first, as it should.


rule compare_losses:
    input:
        metrics=runs_files("metrics.json"),
    output:
        comparisons="results/tables/comparisons.csv",
        claims_csv="results/tables/claims.csv",
        claims_tex="results/tables/claims.tex",
        claims_html=report(
            "results/tables/claims.html",
            caption="../report/claims.rst",
            category="Claims",
            labels={"table": "Claims", "content": "verdicts, effects, corrected p"},
        ),
        summary="results/tables/claims_summary.html",
    log:
        "results/logs/aggregate/compare_losses.log",
    benchmark:
        "results/benchmarks/aggregate/compare_losses.tsv"
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
        "../scripts/compare_losses.py"


rule make_table:
    input:
        metrics=runs_files("metrics.json"),
        comparisons="results/tables/comparisons.csv",
    output:
        csv="results/tables/{table}.csv",
        tex="results/tables/{table}.tex",
        html=report(
            "results/tables/{table}.html",
            caption="../report/table.rst",
            category="Tables",
            labels=lambda wc: {
                "table": dmlcatalog.TABLES[wc.table].title,
                "content": dmlcatalog.TABLES[wc.table].content,
            },
        ),
    log:
        "results/logs/aggregate/{table}.log",
    benchmark:
        "results/benchmarks/aggregate/{table}.tsv"
    conda:
        "../../envs/environment.yaml"
    resources:
        **rule_resources("aggregate"),
    params:
        runs=RUNS,
        experiments=experiment_labels(),
        loss_labels=loss_labels(),
        caption=lambda wc: dmlcatalog.TABLES[wc.table].caption,
    script:
        "../scripts/make_table.py"


rule compare_with_paper:
    input:
        metrics=runs_files("metrics.json"),
        comparisons="results/tables/comparisons.csv",
        claims="results/tables/claims.csv",
        reference=PAPER_REFERENCE,
    output:
        csv="results/tables/paper_comparison.csv",
        tex="results/tables/paper_comparison.tex",
        html=report(
            "results/tables/paper_comparison.html",
            caption="../report/paper_comparison.rst",
            category="Comparison with the paper",
            labels={"table": "Paper vs ours", "content": "numbers and reasons"},
        ),
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
        totals="results/tables/runtime_totals.csv",
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
