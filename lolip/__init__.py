"""lolip: a reproducible rebuild of *Adversarial Robustness Through Local Lipschitzness*.

Yang, Rashtchian, Zhang, Salakhutdinov, Chaudhuri (NeurIPS 2020).

- :func:`load_model`: a model the workflow trained, as an eval-mode ``torch.nn.Module``;
- :func:`evaluate_robustness`: any ``torch.nn.Module`` mapping [0, 1] NCHW inputs to
  logits, evaluated under the paper's protocol (clean and PGD accuracy, the configured
  attacks, the local Lipschitz estimate, the soundness checks); the metrics and
  per-example table of the workflow's ``metrics.json`` and ``examples.csv``.

The command line ``lolip`` (:mod:`lolip.cli`) does the same for files.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lolip")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "evaluate_robustness", "load_model"]

# Lazy, so that `import lolip` (e.g. when the workflow loads) does not import torch.
_LAZY = {
    "evaluate_robustness": "lolip.evaluation.robustness",
    "load_model": "lolip.model_file",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lolip' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
