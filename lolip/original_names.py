"""Model names of the original code (``yangarbiter/robust-local-lipschitz``) as our experiments.

The original names a trained model ``[<aug>-]<loss>-tor-<arch>[-<hyper>]`` (its
``lolip/models/__init__.py``), e.g. ``aug01-strades6ce-tor-WRN_40_10`` or
``advce-tor-ResNet50-adambs128``:

- ``<aug>``: training augmentation, ``aug01`` (random crop 32, padding 4, horizontal flip)
  or ``aug02`` (crop 64, padding 8, flip).
- ``<loss>``: training method, always ending in ``ce`` (cross-entropy)::

    ce                       natural
    advce                    AT
    advbeta[L]ce             RST(lambda = L), L in .5, 1, 2, 4, 8; none means 1
    strades[B][K20]ce        TRADES(beta = B), B in .5, 1, 3, 6, 10, 20; none means 1;
                             K20: 20 search steps of 2 eps/20 instead of 10 of 2 eps/10
    tulip[em1|em2|0][ssem1|ssem2|ssem3]ce
                             GR: beta 0.1, 0.01 or 0 (none: 1); h 0.1, 0.01, 0.001 (none: 1)
    sllr[65|36]ce            LLR with (lambda, mu) = (6, 5) or (3, 6); none means (4, 3)

- ``<arch>``: an architecture of :data:`lolip.archs.ARCHS`.
- ``<hyper>``: training overrides, concatenated tokens: ``adam``; ``lrem1``..``lrem4``
  (lr 1e-1..1e-4); ``bs16``, ``bs32``, ``bs128``, ``bs256``; ``ep2``, ``ep20``, ``ep30``,
  ``ep40``, ``ep50``, ``ep60``, ``ep70``; ``mo0``, ``mo.9`` (momentum); ``wd.9`` (weight
  decay 0.9).

The original reads these by substring tests, so a name it does not know a value for
(``advbeta3ce``, ``bs64``) silently gets a default; here every part must be one of the
spellings above, and anything else is an error naming the part. The non-``s`` variants
``tradesce`` and ``llrce`` scale their regulariser by the batch size in the original;
the paper uses the ``s`` variants, so only those are accepted.

The original also picks defaults by dataset, architecture and loss (e.g. lr 1e-3 for
``adv*`` and ``*llr*`` losses on WRN/ResNet); those belong to the config's training
settings, so ``training`` here holds only what the name itself overrides.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from lolip.archs import ARCHS

AUGMENTATIONS: dict[str, dict[str, Any]] = {
    "aug01": {"crop": 32, "padding": 4, "flip": True},
    "aug02": {"crop": 64, "padding": 8, "flip": True},
}

# Spellings whose value the original reads as written.
RST_LAMBDAS = {"": 1.0, ".5": 0.5, "1": 1.0, "2": 2.0, "4": 4.0, "8": 8.0}
TRADES_BETAS = {"": 1.0, ".5": 0.5, "1": 1.0, "3": 3.0, "6": 6.0, "10": 10.0, "20": 20.0}
GR_BETAS = {"": 1.0, "em1": 0.1, "em2": 0.01, "0": 0.0}
GR_HS = {"": 1.0, "ssem1": 0.1, "ssem2": 0.01, "ssem3": 0.001}
LLR_WEIGHTS = {"": (4.0, 3.0), "65": (6.0, 5.0), "36": (3.0, 6.0)}

HYPER_TOKENS: dict[str, tuple[str, Any]] = {
    "adam": ("optimizer", "adam"),
    "wd.9": ("weight_decay", 0.9),
    "mo.9": ("momentum", 0.9),
    "mo0": ("momentum", 0.0),
    "lrem1": ("lr", 1e-1),
    "lrem2": ("lr", 1e-2),
    "lrem3": ("lr", 1e-3),
    "lrem4": ("lr", 1e-4),
    "bs16": ("batch_size", 16),
    "bs32": ("batch_size", 32),
    "bs128": ("batch_size", 128),
    "bs256": ("batch_size", 256),
    "ep2": ("epochs", 2),
    "ep20": ("epochs", 20),
    "ep30": ("epochs", 30),
    "ep40": ("epochs", 40),
    "ep50": ("epochs", 50),
    "ep60": ("epochs", 60),
    "ep70": ("epochs", 70),
}
UNSUPPORTED_TOKENS = {"nadam": "the Nadam optimiser (lolip trains with sgd or adam)"}

LOSS_PATTERNS = {
    "natural": re.compile(r"ce"),
    "at": re.compile(r"advce"),
    "rst": re.compile(r"advbeta(?P<lam>[0-9.]*)ce"),
    "trades": re.compile(r"(?P<s>s?)trades(?P<beta>[0-9.]*)(?P<k20>K20)?ce"),
    "gr": re.compile(r"tulip(?P<beta>em[0-9]+|[0-9.]+)?(?P<h>ssem[0-9]+)?ce"),
    "llr": re.compile(r"(?P<s>s?)llr(?P<weights>[0-9]*)ce"),
}
LOSS_GRAMMAR = (
    "ce, advce, advbeta[.5|1|2|4|8]ce, strades[.5|1|3|6|10|20][K20]ce, "
    "tulip[em1|em2|0][ssem1|ssem2|ssem3]ce, sllr[65|36]ce"
)


class OriginalNameError(ValueError):
    """A model name of the original code that cannot be read; the message names the part."""


def parse_original(model_string: str) -> dict[str, Any]:
    """Turn an original model name into our experiment.

    Returns ``{"original": model_string, "method": <our method name>, "method_spec":
    <config entry for lolip.methods.build_method>, "arch": <lolip.archs name>,
    "training": <overrides of the training settings>}``, e.g. ``strades6ce-tor-CNN001`` ->
    method ``trades6``, spec ``{"loss": "trades", "beta": 6.0}``, arch ``CNN001``,
    training ``{}``. Raises :class:`OriginalNameError` naming the part that is wrong.
    """
    if not isinstance(model_string, str):
        raise OriginalNameError(f"model name must be a string, got {model_string!r}")
    head, sep, tail = model_string.partition("-tor-")
    if not sep:
        raise OriginalNameError(
            f"{model_string!r}: no '-tor-' (expected '[<aug>-]<loss>-tor-<arch>[-<hyper>]')"
        )
    if "-tor-" in tail:
        raise OriginalNameError(f"{model_string!r}: '-tor-' appears more than once")

    training: dict[str, Any] = {}
    aug, _, loss = head.rpartition("-")
    if aug:
        training["augment"] = _augmentation(model_string, aug)
    method, spec = _method(model_string, loss)

    arch, sep, hyper = tail.partition("-")
    _check_arch(model_string, arch)
    if sep:
        training.update(_hyper(model_string, hyper))
    return {
        "original": model_string,
        "method": method,
        "method_spec": spec,
        "arch": arch,
        "training": training,
    }


def _augmentation(name: str, aug: str) -> dict[str, Any]:
    if aug not in AUGMENTATIONS:
        raise OriginalNameError(
            f"{name!r}: unknown augmentation prefix {aug!r} (known: {', '.join(AUGMENTATIONS)})"
        )
    return dict(AUGMENTATIONS[aug])


def _value(name: str, loss: str, what: str, spelling: str, table: dict[str, Any]) -> Any:
    if spelling not in table:
        known = ", ".join(repr(k) for k in table if k)
        raise OriginalNameError(
            f"{name!r}: loss {loss!r} has {what} spelled {spelling!r}, which the original "
            f"does not read as written (known: {known}, or nothing for the default)"
        )
    return table[spelling]


def _match_loss(loss: str) -> tuple[str, re.Match[str]] | None:
    for kind, pattern in LOSS_PATTERNS.items():
        if match := pattern.fullmatch(loss):
            return kind, match
    return None


def _method(name: str, loss: str) -> tuple[str, dict[str, Any]]:
    """Our method name and config entry for the original's ``<loss>``."""
    found = _match_loss(loss)
    if found is None:
        raise OriginalNameError(f"{name!r}: unknown loss {loss!r} (expected one of {LOSS_GRAMMAR})")
    kind, match = found
    if kind in ("natural", "at"):
        return kind, {"loss": kind}
    if kind in ("trades", "llr") and not match["s"]:
        raise OriginalNameError(
            f"{name!r}: loss {loss!r} is the original's batch-size-scaled variant; "
            f"the paper's runs use 's{loss}', which is what lolip implements"
        )
    if kind == "rst":
        lam = _value(name, loss, "lambda", match["lam"], RST_LAMBDAS)
        return f"rst{lam:g}", {"loss": "rst", "lam": lam}
    if kind == "trades":
        beta = _value(name, loss, "beta", match["beta"], TRADES_BETAS)
        spec: dict[str, Any] = {"loss": "trades", "beta": beta}
        if match["k20"]:
            # The original's TRADES step is 2 eps / steps.
            spec.update(steps=20, step_size=0.1)
            return f"trades{beta:g}_k20", spec
        return f"trades{beta:g}", spec
    if kind == "gr":
        beta = _value(name, loss, "beta", match["beta"] or "", GR_BETAS)
        h = _value(name, loss, "h", match["h"] or "", GR_HS)
        method = "gr" if (beta, h) == (1.0, 1.0) else f"gr_beta{beta:g}_h{h:g}"
        return method, {"loss": "gr", "beta": beta, "h": h}
    lam, mu = _value(name, loss, "(lambda, mu)", match["weights"], LLR_WEIGHTS)
    method = "llr" if (lam, mu) == (4.0, 3.0) else f"llr_lam{lam:g}_mu{mu:g}"
    return method, {"loss": "llr", "lam": lam, "mu": mu}


def _check_arch(name: str, arch: str) -> None:
    if arch in ARCHS:
        return
    close = difflib.get_close_matches(arch, ARCHS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise OriginalNameError(
        f"{name!r}: unknown architecture {arch!r} (known: {', '.join(ARCHS)}){hint}"
    )


def _hyper(name: str, hyper: str) -> dict[str, Any]:
    """Split ``<hyper>`` into known tokens, longest first at each position."""
    if not hyper:
        raise OriginalNameError(f"{name!r}: empty hyperparameter suffix after the architecture")
    settings: dict[str, Any] = {}
    pos = 0
    while pos < len(hyper):
        for token, reason in UNSUPPORTED_TOKENS.items():
            if hyper.startswith(token, pos):
                raise OriginalNameError(f"{name!r}: hyperparameter {token!r} is {reason}")
        tokens = [t for t in HYPER_TOKENS if hyper.startswith(t, pos)]
        if not tokens:
            raise OriginalNameError(
                f"{name!r}: unknown hyperparameter {hyper[pos:]!r} in suffix {hyper!r} "
                f"(known tokens: {', '.join(HYPER_TOKENS)})"
            )
        token = max(tokens, key=len)
        key, value = HYPER_TOKENS[token]
        if key in settings:
            raise OriginalNameError(f"{name!r}: suffix {hyper!r} sets {key} twice")
        settings[key] = value
        pos += len(token)
    return settings
