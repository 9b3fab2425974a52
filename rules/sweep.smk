# Robust accuracy against the radius (lolip.sweep): per model table, one job loads each of
# its models and runs the evaluation's PGD at `sweep.factors` times the dataset's eps on
# the first `sweep.subset` test points. Its params are the models' attack settings and the
# sweep's, not the table's layout: a caption or column change reruns no sweep.


rule sweep_eps:
    input:
        unpack(get_sweep_inputs),
    output:
        "results/sweep/{table}.csv",
    log:
        "logs/sweep_eps/{table}.log",
    benchmark:
        "results/benchmarks/sweep_eps/{table}.tsv"
    conda:
        "../envs/lolip.yaml"
    threads: threads_of("sweep")
    resources:
        mem_mb=mem_mb_of("sweep"),
        runtime=runtime_of("sweep"),
        gpu=gpu_of("sweep"),
        gpu_model=gpu_model_of("sweep"),
        slurm_partition=slurm_partition_of("sweep"),
    params:
        models=get_sweep_models,
        datasets=get_sweep_datasets,
        sweep=get_sweep_settings(),
    script:
        "../workflow_scripts/sweep_eps.py"
