# ---------------------------------------------------------------- prepare_data
# One job per dataset: generate (synthetic) or decode the images once into HDF5.
# Exactly one rule touches each dataset's download folder, so parallel jobs never race.


rule prepare_data:
    output:
        data="results/data/{dataset}.h5",
    log:
        "results/logs/prepare_data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}.tsv"
    conda:
        "../../envs/environment.yaml"
    threads: config["threads"]["prepare"]
    resources:
        **rule_resources("prepare"),
    params:
        spec=lambda wc: prepare_params(wc.dataset),
    script:
        "../scripts/prepare_data.py"
