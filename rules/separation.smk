# Table 1: the l_inf separation of each dataset, and the 1-NN classifier of the theorem.


rule compute_separation:
    input:
        "results/datasets/{dataset}.h5",
    output:
        summary="results/separation/{dataset}.json",
        points="results/separation/{dataset}_points.csv",
    log:
        "logs/compute_separation/{dataset}.log",
    benchmark:
        "results/benchmarks/compute_separation/{dataset}.tsv"
    conda:
        "../envs/lolip.yaml"
    threads: 2
    params:
        eps=lambda wildcards: config["datasets"][wildcards.dataset]["eps"],
        drop_smallest=lambda wildcards: config["datasets"][wildcards.dataset].get(
            "drop_smallest", 0
        ),
        label_seed=None,
    script:
        "../workflow_scripts/compute_separation.py"


use rule compute_separation as compute_separation_random_labels with:
    output:
        summary="results/separation/{dataset}_random_labels.json",
        points="results/separation/{dataset}_random_labels_points.csv",
    log:
        "logs/compute_separation_random_labels/{dataset}.log",
    benchmark:
        "results/benchmarks/compute_separation_random_labels/{dataset}.tsv"
    params:
        label_seed=config.get("separation", {}).get("random_label_seed", 0),
