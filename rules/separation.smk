# Table 1: the l_inf separation of each dataset, and the 1-NN classifier of the theorem.
# The queries (training points, then test points) split into `separation: shards`
# contiguous blocks (or --set-scatter separation=K), one job each against the whole
# training set; the gather joins their per-point distances into the summary. Any K gives
# the same outputs. eps and drop_smallest are params of the gather only.


scattergather:
    separation=config.get("separation", {}).get("shards", 1),


rule compute_separation_shard:
    input:
        "results/datasets/{dataset}.h5",
    output:
        points="results/separation/shards/{dataset}/{scatteritem}.csv",
        info="results/separation/shards/{dataset}/{scatteritem}.json",
    log:
        "logs/compute_separation_shard/{dataset}/{scatteritem}.log",
    benchmark:
        "results/benchmarks/compute_separation_shard/{dataset}/{scatteritem}.tsv"
    conda:
        "../envs/lolip.yaml"
    threads: separation_threads
    resources:
        mem_mb=separation_mem_mb,
        runtime=separation_runtime,
    params:
        shard=get_shard,
        shards=get_shards,
        label_seed=None,
    script:
        "../workflow_scripts/compute_separation_shard.py"


use rule compute_separation_shard as compute_separation_random_labels_shard with:
    output:
        points="results/separation/shards/{dataset}_random_labels/{scatteritem}.csv",
        info="results/separation/shards/{dataset}_random_labels/{scatteritem}.json",
    log:
        "logs/compute_separation_random_labels_shard/{dataset}/{scatteritem}.log",
    benchmark:
        "results/benchmarks/compute_separation_random_labels_shard/{dataset}/{scatteritem}.tsv"
    params:
        label_seed=config.get("separation", {}).get("random_label_seed", 0),


rule compute_separation:
    input:
        points=gather.separation(
            "results/separation/shards/{{dataset}}/{scatteritem}.csv"
        ),
        info=gather.separation(
            "results/separation/shards/{{dataset}}/{scatteritem}.json"
        ),
    output:
        summary="results/separation/{dataset}.json",
        points="results/separation/{dataset}_points.csv",
    log:
        "logs/compute_separation/{dataset}.log",
    benchmark:
        "results/benchmarks/compute_separation/{dataset}.tsv"
    conda:
        "../envs/lolip.yaml"
    threads: 1
    resources:
        mem_mb=gather_mem_mb,
        runtime=gather_runtime,
    params:
        eps=get_dataset_eps,
        drop_smallest=get_drop_smallest,
    script:
        "../workflow_scripts/compute_separation.py"


use rule compute_separation as compute_separation_random_labels with:
    input:
        points=gather.separation(
            "results/separation/shards/{{dataset}}_random_labels/{scatteritem}.csv"
        ),
        info=gather.separation(
            "results/separation/shards/{{dataset}}_random_labels/{scatteritem}.json"
        ),
    output:
        summary="results/separation/{dataset}_random_labels.json",
        points="results/separation/{dataset}_random_labels_points.csv",
    log:
        "logs/compute_separation_random_labels/{dataset}.log",
    benchmark:
        "results/benchmarks/compute_separation_random_labels/{dataset}.tsv"
