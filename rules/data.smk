# Step 1 of the paper: the datasets, prepared once into HDF5.


# A local rule: on clusters, compute nodes often have no internet.
rule download_dataset:
    output:
        "resources/downloads/{dataset}.json",
    log:
        "logs/download_dataset/{dataset}.log",
    localrule: True
    conda:
        "../envs/lolip.yaml"
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        # resources/downloads/{dataset}.json -> resources/ (a literal prefix of the output
        # fails `snakemake --lint`)
        resources=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
    script:
        "../workflow_scripts/download_dataset.py"


rule prepare_dataset:
    input:
        get_download,
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
        # Not derivable: the output is under results/ and the input may be empty.
        resources="resources",
    script:
        "../workflow_scripts/prepare_dataset.py"
