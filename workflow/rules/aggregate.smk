# ---------------------------------------------------------------- aggregate
# Tables (CSV + LaTeX) and figures from every run's metrics.json and history.csv.

TABLES = expand(
    "results/tables/{table}.{ext}",
    table=["table1_variance", "table2_greediness"],
    ext=["csv", "tex"],
)
FIGURES = expand(
    "results/figures/{figure}.{ext}",
    figure=["fig1_intra_class_variance", "fig3_greediness"],
    ext=["pdf", "png"],
)


def experiment_labels():
    return {
        name: {"label": exp["label"], "preset": exp["preset"]}
        for name, exp in EXPERIMENTS.items()
    }


rule make_tables:
    input:
        metrics=run_files("metrics.json"),
    output:
        table1_csv="results/tables/table1_variance.csv",
        table1_tex="results/tables/table1_variance.tex",
        table2_csv="results/tables/table2_greediness.csv",
        table2_tex="results/tables/table2_greediness.tex",
    params:
        experiments=experiment_labels(),
    log:
        "results/logs/aggregate/tables.log",
    resources:
        **rule_resources("aggregate"),
    script:
        "../scripts/make_tables.py"


rule make_figures:
    input:
        metrics=run_files("metrics.json"),
        histories=run_files("history.csv"),
    output:
        fig1=multiext("results/figures/fig1_intra_class_variance", ".pdf", ".png"),
        fig3=multiext("results/figures/fig3_greediness", ".pdf", ".png"),
    params:
        experiments=experiment_labels(),
        dpi=config["figures"]["dpi"],
    log:
        "results/logs/aggregate/figures.log",
    resources:
        **rule_resources("aggregate"),
    script:
        "../scripts/make_figures.py"
