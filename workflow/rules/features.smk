# ---------------------------------------------------------------- extract_features
# A frozen backbone runs ONCE per dataset and backbone; every head experiment on that
# pair trains from the cached features.


rule extract_features:
    input:
        data="results/data/{dataset}.h5",
    output:
        features="results/features/{dataset}/{backbone}.h5",
    log:
        "results/logs/extract_features/{dataset}/{backbone}.log",
    benchmark:
        "results/benchmarks/extract_features/{dataset}/{backbone}.tsv"
    conda:
        "../../envs/environment.yaml"
    threads: config["threads"]["extract"]
    resources:
        **rule_resources("extract"),
    params:
        backbone=lambda wc: backbone_params(wc.dataset, wc.backbone),
        device=config["device"],
        batch_size=lambda wc: config["backbones"][wc.backbone]["batch_size"],
        num_workers=lambda wc: config["backbones"][wc.backbone]["num_workers"],
    script:
        "../scripts/extract_features.py"
