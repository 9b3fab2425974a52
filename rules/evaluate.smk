# Evaluation: clean accuracy, PGD (and optional attacks), local Lipschitz estimate.


rule evaluate_model:
    input:
        model="results/models/{dataset}/{arch}/{method}/seed{seed}/model.pt",
        data="results/datasets/{dataset}.h5",
    output:
        metrics="results/eval/{dataset}/{arch}/{method}/seed{seed}/metrics.json",
        examples="results/eval/{dataset}/{arch}/{method}/seed{seed}/examples.csv",
    params:
        experiment=get_experiment,
    log:
        "logs/evaluate_model/{dataset}/{arch}/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/evaluate_model/{dataset}/{arch}/{method}/seed{seed}.tsv"
    threads: 1
    conda:
        "../envs/lolip.yaml"
    script:
        "../workflow_scripts/evaluate_model.py"
