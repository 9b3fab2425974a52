# Step 1 of the paper: the datasets, prepared once into HDF5.


rule prepare_dataset:
    output:
        "results/datasets/{dataset}.h5",
    log:
        "logs/prepare_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}.tsv"
    conda:
        "../envs/lolip.yaml"
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        resources="resources",
    script:
        "../workflow_scripts/prepare_dataset.py"
