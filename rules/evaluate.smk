# Evaluation: the soundness checks, one job per attack and shard, one per Lipschitz estimate
# and shard, gathered into the paper's columns (metrics.json) and per-example results.


rule check_model:
    input:
        model=f"results/models/{EXP}/model.safetensors",
        data="results/datasets/{dataset}.h5",
    output:
        f"results/eval/{EXP}/checks.json",
    log:
        f"logs/check_model/{EXP}.log",
    benchmark:
        f"results/benchmarks/check_model/{EXP}.tsv"
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
        eps=get_eps,
        evaluation=get_check_settings,
    script:
        "../workflow_scripts/check_model.py"


rule attack_model:
    input:
        model=f"results/models/{EXP}/model.safetensors",
        data="results/datasets/{dataset}.h5",
    output:
        table=f"results/eval/{EXP}/attacks/{{attack}}/shard{{shard}}of{{shards}}.csv",
        record=f"results/eval/{EXP}/attacks/{{attack}}/shard{{shard}}of{{shards}}.json",
    log:
        f"results/eval/{EXP}/attacks/{{attack}}/shard{{shard}}of{{shards}}.log",
    benchmark:
        f"results/benchmarks/attack_model/{EXP}/{{attack}}/shard{{shard}}of{{shards}}.tsv"
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
        eps=get_eps,
        evaluation=get_attack_settings,
    script:
        "../workflow_scripts/attack_model.py"


rule estimate_lipschitz:
    input:
        model=f"results/models/{EXP}/model.safetensors",
        data="results/datasets/{dataset}.h5",
    output:
        table=f"results/eval/{EXP}/lipschitz/shard{{shard}}of{{shards}}.csv",
        record=f"results/eval/{EXP}/lipschitz/shard{{shard}}of{{shards}}.json",
    log:
        f"logs/estimate_lipschitz/{EXP}/shard{{shard}}of{{shards}}.log",
    benchmark:
        f"results/benchmarks/estimate_lipschitz/{EXP}/shard{{shard}}of{{shards}}.tsv"
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
        eps=get_eps,
        evaluation=get_lipschitz_settings,
    script:
        "../workflow_scripts/estimate_lipschitz.py"


rule evaluate_model:
    input:
        unpack(get_evaluation_parts),
        model=f"results/models/{EXP}/model.safetensors",
        checks=f"results/eval/{EXP}/checks.json",
    output:
        metrics=f"results/eval/{EXP}/metrics.json",
        examples=f"results/eval/{EXP}/examples.csv",
    log:
        f"logs/evaluate_model/{EXP}.log",
    # Reads and writes a few small files: not worth a cluster job.
    localrule: True
    conda:
        "../envs/lolip.yaml"
    params:
        eps=get_eps,
        evaluation=get_evaluation_settings,
        attack_of_table=get_attack_of_table,
    script:
        "../workflow_scripts/evaluate_model.py"
