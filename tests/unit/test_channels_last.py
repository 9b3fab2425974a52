"""Channels-last gradients at the pooling layers: same values, channels-last layout."""

from __future__ import annotations

import contextlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lolip.archs import build_arch
from lolip.channels_last import channels_last, channels_last_gradients


@contextlib.contextmanager
def _watch_pool_gradients(model: nn.Module):
    """Yield a list recording, for every gradient a pooling backward receives, whether it is
    channels-last. Entered after the helper, its hooks run after the helper's."""
    seen: list[bool] = []

    def watch(module, inputs, output):
        output.register_hook(
            lambda g: seen.append(g.is_contiguous(memory_format=torch.channels_last))
        )

    handles = [
        m.register_forward_hook(watch) for m in model.modules() if isinstance(m, nn.MaxPool2d)
    ]
    yield seen
    for handle in handles:
        handle.remove()


def _backward(model, x, y, layout: bool):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same dropout masks in every pass
    with channels_last_gradients(model) if layout else contextlib.nullcontext():
        with _watch_pool_gradients(model) as seen:
            F.cross_entropy(model(x), y, reduction="sum").backward()
    return [p.grad.clone() for p in model.parameters()], seen


@pytest.mark.parametrize("arch", ["CNN001", "CNN002"])
def test_pool_gradients_become_channels_last_with_the_same_values(arch, one_thread):
    torch.manual_seed(0)
    model = build_arch(arch, in_channels=1, n_classes=10, image_size=28)
    model.to(memory_format=torch.channels_last).train()
    x = torch.rand(8, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (8,))
    plain, seen_plain = _backward(model, x, y, layout=False)
    fixed, seen_fixed = _backward(model, x, y, layout=True)
    assert False in seen_plain  # the flatten hands an NCHW gradient to the last pooling layer
    assert seen_fixed and all(seen_fixed)
    for a, b in zip(plain, fixed, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_hooks_are_removed_after_the_block():
    model = build_arch("CNN001", in_channels=1, n_classes=10, image_size=28)
    with channels_last_gradients(model):
        assert any(m._forward_hooks for m in model.modules())
    assert not any(m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("enabled", [True, False])
def test_channels_last_block_switches_the_layout_and_restores_it(enabled, one_thread):
    torch.manual_seed(0)
    model = build_arch("CNN001", in_channels=1, n_classes=10, image_size=28).eval()
    x = torch.rand(4, 1, 28, 28)
    before = model(x)
    with channels_last(model, enabled) as inside:
        conv = inside[2].weight  # 32 input channels: the layouts differ
        assert conv.is_contiguous(memory_format=torch.channels_last) == enabled
        torch.testing.assert_close(inside(x), before, rtol=1e-5, atol=1e-6)
    assert all(p.is_contiguous() for p in model.parameters())
    assert not any(m._forward_hooks for m in model.modules())


def test_a_model_with_3d_convolutions_is_left_as_it_is():
    model = nn.Sequential(nn.Conv3d(1, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    x = torch.rand(2, 1, 5, 5, 5)
    with channels_last(model) as inside:
        assert inside(x).shape == (2, 2)
    assert all(p.is_contiguous() for p in model.parameters())
