# Training: one model per (dataset, arch, method, seed).


rule train_model:
    input:
        "results/datasets/{dataset}.h5",
    output:
        "results/models/{dataset}/{arch}/{method}/seed{seed}/model.safetensors",
    log:
        "logs/train_model/{dataset}/{arch}/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{arch}/{method}/seed{seed}.tsv"
    conda:
        "../envs/lolip.yaml"
    threads: threads_of("train")
    resources:
        mem_mb=mem_mb_of("train"),
        runtime=runtime_of("train"),
        gpu=gpu_of("train"),
        gpu_model=gpu_model_of("train"),
        slurm_partition=slurm_partition_of("train"),
    params:
        training=get_training,
        checkpoint=get_checkpoint_path,
    script:
        "../workflow_scripts/train_model.py"
