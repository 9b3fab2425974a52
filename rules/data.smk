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
        spec=get_dataset_entry,
        resources=get_downloads_root,
    script:
        "../workflow_scripts/download_dataset.py"


# The raw files are inputs and their checksums params: replacing or editing one
# re-prepares the dataset and reruns what depends on it, and nothing else.
rule prepare_dataset:
    input:
        unpack(get_raw_inputs),
    output:
        "results/datasets/{dataset}.h5",
    log:
        "logs/prepare_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}.tsv"
    conda:
        "../envs/lolip.yaml"
    threads: prepare_threads
    resources:
        mem_mb=prepare_mem_mb,
        runtime=prepare_runtime,
    params:
        spec=get_preparation_options,
        raw=get_raw_fingerprint,
        # Not derivable: the output is under results/ and the input may be empty.
        resources="resources",
    script:
        "../workflow_scripts/prepare_dataset.py"


# Fixtures in the original datasets' on-disk formats, for a run without the real data
# (config/smoke.yaml): the config's `fixtures` section says which and how large.
rule make_fixture:
    output:
        directory("resources/fixtures/{dataset}"),
    log:
        "logs/make_fixture/{dataset}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        spec=get_dataset_entry,
        fixture=get_fixture_settings,
    script:
        "../workflow_scripts/make_fixture.py"
