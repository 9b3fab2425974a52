# Evaluation: clean accuracy, PGD (and optional attacks), local Lipschitz estimate.


rule evaluate_model:
    input:
        model="results/models/{dataset}/{arch}/{method}/seed{seed}/model.safetensors",
        data="results/datasets/{dataset}.h5",
    output:
        metrics="results/eval/{dataset}/{arch}/{method}/seed{seed}/metrics.json",
        examples="results/eval/{dataset}/{arch}/{method}/seed{seed}/examples.csv",
    log:
        "logs/evaluate_model/{dataset}/{arch}/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/evaluate_model/{dataset}/{arch}/{method}/seed{seed}.tsv"
    conda:
        "../envs/lolip.yaml"
    threads: threads_of("evaluate")
    resources:
        mem_mb=mem_mb_of("evaluate"),
        runtime=runtime_of("evaluate"),
        gpu=gpu_of("evaluate"),
        gpu_model=gpu_model_of("evaluate"),
        slurm_partition=slurm_partition_of("evaluate"),
    params:
        evaluation=get_evaluation,
    script:
        "../workflow_scripts/evaluate_model.py"
