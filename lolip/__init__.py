"""lolip: a reproducible rebuild of *Adversarial Robustness Through Local Lipschitzness*.

Yang, Rashtchian, Zhang, Salakhutdinov, Chaudhuri (NeurIPS 2020).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lolip")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "load_model"]


def __getattr__(name: str):
    # Lazy, so that `import lolip` (e.g. when the workflow loads) does not import torch.
    if name == "load_model":
        from lolip.model_file import load_model

        return load_model
    raise AttributeError(f"module 'lolip' has no attribute {name!r}")
