# ---------------------------------------------------------------- prepare_data
# One job per dataset: generate (synthetic) or decode the images once into HDF5.
# Exactly one rule touches each dataset's download folder, so parallel jobs never race.


rule prepare_data:
    output:
        data="results/data/{dataset}.h5",
    params:
        spec=lambda wc: dataset_spec(wc.dataset),
    log:
        "results/logs/prepare_data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}.tsv"
    threads: config["threads"]["prepare"]
    resources:
        **rule_resources("prepare"),
    script:
        "../scripts/prepare_data.py"
