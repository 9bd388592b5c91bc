# ---------------------------------------------------------------- train
# One job per experiment / loss / seed. checkpoint.pt is deliberately not an output:
# Snakemake would delete it when a job fails, and it is what a rerun resumes from.


rule train_model:
    input:
        data=training_input,
    output:
        model=f"{RUN_DIR}/model.pt",
        history=f"{RUN_DIR}/history.csv",
        embeddings=f"{RUN_DIR}/embeddings.h5",
        config=f"{RUN_DIR}/config.json",
    log:
        f"results/logs/train/{{experiment}}/{{loss}}/{{point}}seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/train/{{experiment}}/{{loss}}/{{point}}seed{{seed}}.tsv"
    conda:
        "../../envs/environment.yaml"
    threads: config["threads"]["train"]
    resources:
        **rule_resources("train"),
    params:
        resolved=lambda wc: dmlparams.training_params(
            config, wc.experiment, wc.loss, wc.point, PLUGINS
        ),
        checkpoint=lambda wc: f"{run_dir(wc.experiment, wc.loss, wc.seed, wc.point)}/checkpoint.pt",
        device=config["device"],
    script:
        "../scripts/train_model.py"
