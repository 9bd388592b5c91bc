# ---------------------------------------------------------------- evaluate
# metrics.json per run: Eq. 3 variance statistics, greediness, k-NN / probe accuracy, recall@k.


rule evaluate_run:
    input:
        embeddings=f"{RUN_DIR}/embeddings.h5",
        history=f"{RUN_DIR}/history.csv",
    output:
        metrics=f"{RUN_DIR}/metrics.json",
    log:
        f"results/logs/evaluate/{{experiment}}/{{loss}}/{{point}}seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/evaluate/{{experiment}}/{{loss}}/{{point}}seed{{seed}}.tsv"
    conda:
        "../../envs/environment.yaml"
    threads: config["threads"]["evaluate"]
    resources:
        **rule_resources("evaluate"),
    params:
        resolved=lambda wc: dmlparams.evaluation_params(config, wc.experiment, wc.point),
    script:
        "../scripts/evaluate_run.py"
