"""Evaluation of a trained model: the paper's table columns, per-example results, checks.

On every evaluated split: clean accuracy, every configured attack (``pgd`` gives the
paper's adversarial columns, any other entry its own column), the local Lipschitz estimate
(:mod:`lolip.lipschitz`), with the model in eval mode, channels-last and fp32; soundness
checks and gradient-masking alarms before and after (:mod:`.checks`). Modules:

- :mod:`.settings`: the ``evaluation:`` settings (torch-free, read when the workflow loads);
- :mod:`.chunks`: resumable chunks and their shards;
- :mod:`.parts`: one attack, or the Lipschitz estimate, on one shard (a workflow job each);
- :mod:`.checks`: the soundness checks and alarms;
- :mod:`.gather`: the metrics and per-example table from the parts;
- :mod:`.robustness`: all of it in one process (:func:`evaluate_robustness`).
"""
