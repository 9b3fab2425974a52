"""Random draws of an evaluation, seeded per example.

Every random number of an evaluation (PGD's starts and restarts, the multi-targeted
attack's start towards each target, the Lipschitz estimate's start) is drawn for one
example at a time, from a generator seeded by ``(seed, stream, key, index)``: the
evaluation's seed, the stream (split and purpose, e.g. ``test/pgd``), a key within it
(e.g. the target class) and the example's index in its split. An example's draws therefore
do not depend on which other examples share its batch, chunk or shard.

Attacks from other libraries draw from torch's global generator for a whole batch; they
run on blocks of examples aligned at multiples of their block size, seeded by the block's
first index (:meth:`ExampleNoise.block_seed`), so their results too are fixed by the
examples' indices alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch


def stream_seed(seed: int, stream: str, key: str, index: int) -> int:
    """A 63-bit seed for one ``(seed, stream, key, index)``."""
    text = f"{seed}/{stream}/{key}/{index}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


@dataclass(frozen=True)
class ExampleNoise:
    """The random draws of a batch of examples: ``index`` (N,) are their positions in the split."""

    seed: int
    stream: str
    index: torch.Tensor

    def _draw(
        self, kind: str, shape: tuple[int, ...], key: str, like: torch.Tensor
    ) -> torch.Tensor:
        out = torch.empty((len(self.index), *shape), dtype=like.dtype)
        for row, i in enumerate(self.index.tolist()):
            g = torch.Generator().manual_seed(stream_seed(self.seed, self.stream, key, i))
            draw = torch.rand if kind == "uniform" else torch.randn
            out[row] = draw(shape, generator=g, dtype=like.dtype)
        return out.to(like.device)

    def uniform(self, shape: tuple[int, ...], key: str, like: torch.Tensor) -> torch.Tensor:
        """(N, *shape) draws from U[0, 1), per example; dtype and device of ``like``."""
        return self._draw("uniform", shape, key, like)

    def normal(self, shape: tuple[int, ...], key: str, like: torch.Tensor) -> torch.Tensor:
        """(N, *shape) draws from N(0, 1), per example; dtype and device of ``like``."""
        return self._draw("normal", shape, key, like)

    def block_seed(self, key: str) -> int:
        """The seed of the block starting at this batch's first example."""
        return stream_seed(self.seed, self.stream, key, int(self.index[0])) % 2**31

    def select(self, rows: torch.Tensor) -> ExampleNoise:
        """The draws of a subset of the batch (a mask or indices into it)."""
        return ExampleNoise(self.seed, self.stream, self.index[rows.cpu()])


def noise_for(seed: int, stream: str, start: int, stop: int) -> ExampleNoise:
    """The draws of the examples ``start..stop-1`` of a split."""
    return ExampleNoise(seed, stream, torch.arange(start, stop))
