"""The floating-point protocol: fp32 everywhere unless a run opts in to more.

The paper, the original code and the TRADES reference train and evaluate in fp32. Two
things on GPUs depart from that silently: PyTorch runs cuDNN convolutions in TF32 by
default (about 5e-4 relative error: a noise floor under the Lipschitz estimate, whose
steps are 0.003), and bf16 autocast rounds inputs to 8 bits of mantissa (a step of 1/256
near 0.7, while Restricted ImageNet's eps is 0.005) and second-order terms such as LLR's
gap ``|CE(x + delta) - CE(x) - delta . grad|`` away.

So: :func:`set_tf32` turns TF32 off (on) for every backend, matmul and convolution, through
PyTorch's ``fp32_precision`` flags; training and evaluation call it with their settings'
``tf32`` (default false). The training setting ``precision: bf16`` applies bf16 autocast
to the outer training loss only (:func:`outer_autocast`); inner maximisations, the GR and
LLR regularisers, every evaluation attack and the Lipschitz estimate run under
:func:`full_precision`, whatever the caller wraps them in. :func:`state` records what was
in force, for every model's and metrics file's metadata.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

PRECISIONS = ("fp32", "bf16")
# The backends whose fp32 matmuls and convolutions may run in TF32 (or, on CPUs, bf16).
BACKENDS = ("cuda.matmul", "cudnn.conv", "cudnn.rnn", "mkldnn.matmul", "mkldnn.conv", "mkldnn.rnn")

Autocast = Callable[[], AbstractContextManager]


def set_tf32(enabled: bool) -> None:
    """TF32 for all fp32 matmuls and convolutions: on (``"tf32"``) or off (``"ieee"``).

    Each backend is set, not just the global flag: a backend set on its own (say by
    ``torch.backends.cuda.matmul.allow_tf32 = True`` in the caller's code) no longer
    follows the global one.
    """
    value = "tf32" if enabled else "ieee"
    torch.backends.fp32_precision = value
    for name in BACKENDS:
        _backend(name).fp32_precision = value


def _backend(name: str):
    family, op = name.split(".")
    return getattr(getattr(torch.backends, family), op)


def _backend_precision(name: str) -> str:
    return _backend(name).fp32_precision


def state() -> dict[str, object]:
    """The fp32 precision of each backend now, and whether any of them allows TF32."""
    flags = {name: _backend_precision(name) for name in BACKENDS}
    return {"fp32_precision": flags, "tf32": any(v == "tf32" for v in flags.values())}


def outer_autocast(precision: str, device: torch.device) -> Autocast:
    """The context the outer training loss runs in: bf16 autocast, or nothing for fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")
    if precision == "bf16":
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def full_precision(device: torch.device) -> AbstractContextManager:
    """A block that runs in fp32 even inside an autocast region."""
    return torch.autocast(device.type, enabled=False)
