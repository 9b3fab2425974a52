# Export: each evaluated model's RobustBench model-info JSON (lolip.robustbench), from its
# metrics and the paper's reported values. Presentation only: it reruns no evaluation.
# Paths and params: rules/common.smk.


rule export_robustbench:
    input:
        f"results/eval/{EXP}/metrics.json",
    output:
        ROBUSTBENCH,
    log:
        f"logs/export_robustbench/{EXP}.log",
    localrule: True
    conda:
        "../envs/lolip.yaml"
    params:
        reported=get_robustbench_reported,
    script:
        "../workflow_scripts/export_robustbench.py"
