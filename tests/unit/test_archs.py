"""Architectures: output shapes and parameter counts against counts derived from the spec.

The large nets are built on the meta device (shapes and counts without allocating or
initialising 25-60M weights); small versions of the same code run a real forward pass.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lolip.archs import build_arch
from lolip.archs.wrn import PreActBlock, WideResNet

pytestmark = pytest.mark.usefixtures("one_thread")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def meta_build(name: str, in_channels: int, n_classes: int, image_size: int) -> nn.Module:
    with torch.device("meta"):
        return build_arch(name, in_channels=in_channels, n_classes=n_classes, image_size=image_size)


def meta_logits_shape(model: nn.Module, in_channels: int, image_size: int) -> tuple[int, ...]:
    with torch.device("meta"):
        return tuple(model.eval()(torch.empty(2, in_channels, image_size, image_size)).shape)


def conv(cin: int, cout: int, k: int, bias: bool = True) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def linear(fan_in: int, fan_out: int) -> int:
    return fan_in * fan_out + fan_out


def wrn_count(depth: int, widen: int, in_channels: int, n_classes: int) -> int:
    """Pre-activation WRN from its spec: BN(in) conv3x3, BN conv3x3, 1x1 shortcut on change."""
    n = (depth - 4) // 6
    widths = [16, 16 * widen, 32 * widen, 64 * widen]
    total = conv(in_channels, 16, 3, bias=False)
    for stage in range(3):
        for i in range(n):
            cin, cout = (widths[stage] if i == 0 else widths[stage + 1]), widths[stage + 1]
            total += 2 * cin + conv(cin, cout, 3, False) + 2 * cout + conv(cout, cout, 3, False)
            if i == 0:
                total += conv(cin, cout, 1, bias=False)
    return total + 2 * widths[3] + linear(widths[3], n_classes)


def resnet_count(blocks: list[int], in_channels: int, n_classes: int) -> int:
    """Bottleneck ResNet: 7x7 stem; 1x1, 3x3, 1x1 (x4) convolutions with BN; projection
    shortcut in the first block of each stage; linear 2048 -> K."""
    total = conv(in_channels, 64, 7, bias=False) + 2 * 64
    cin = 64
    for planes, count in zip([64, 128, 256, 512], blocks, strict=True):
        for i in range(count):
            total += conv(cin, planes, 1, False) + conv(planes, planes, 3, False)
            total += conv(planes, 4 * planes, 1, False) + 2 * (planes + planes + 4 * planes)
            if i == 0:
                total += conv(cin, 4 * planes, 1, False) + 2 * 4 * planes
            cin = 4 * planes
    return total + linear(2048, n_classes)


def test_cnn001_parameter_count_matches_layer_spec() -> None:
    model = build_arch("CNN001", in_channels=1, n_classes=10, image_size=28)
    expected = 1 * 32 * 9 + 32 + 32 * 64 * 9 + 64 + 9216 * 128 + 128 + 128 * 10 + 10
    assert n_params(model) == expected == 1_199_882
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_cnn002_parameter_count_matches_layer_spec() -> None:
    model = build_arch("CNN002", in_channels=1, n_classes=10, image_size=28)
    convs = conv(1, 32, 3) + conv(32, 32, 3) + conv(32, 64, 3) + conv(64, 64, 3)
    expected = convs + linear(1024, 200) + linear(200, 200) + linear(200, 10)
    assert n_params(model) == expected == 312_202
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_cnn002_starts_with_zero_logits_and_zero_conv_biases() -> None:
    model = build_arch("CNN002", in_channels=1, n_classes=10, image_size=28)
    assert torch.equal(model(torch.rand(4, 1, 28, 28)), torch.zeros(4, 10))
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            assert torch.equal(module.bias, torch.zeros_like(module.bias))
            # Kaiming normal (fan-in, ReLU gain): std sqrt(2 / fan_in), far from PyTorch's default.
            fan_in = module.weight[0].numel()
            assert module.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.2)


def test_cnn001_first_dropout_drops_whole_channels() -> None:
    model = build_arch("CNN001", in_channels=1, n_classes=10, image_size=28)
    assert isinstance(model[4], nn.Dropout2d) and model[4].p == 0.25
    assert type(model[8]) is nn.Dropout and model[8].p == 0.5


def test_wrn_formula_matches_published_wrn_28_10_count() -> None:
    # WRN-28-10 on CIFAR-10 has 36,479,194 parameters (the "36.5M" of Zagoruyko and Komodakis).
    assert wrn_count(28, 10, 3, 10) == 36_479_194


@pytest.mark.parametrize("name", ["WRN_40_10", "WRN_40_10_drop20", "WRN_40_10_drop50"])
def test_wrn_40_10_parameter_count_and_shape(name: str) -> None:
    model = meta_build(name, 3, 10, 32)
    assert n_params(model) == wrn_count(40, 10, 3, 10) == 55_841_754
    assert meta_logits_shape(model, 3, 32) == (2, 10)


@pytest.mark.parametrize(
    ("name", "p"), [("WRN_40_10", 0.0), ("WRN_40_10_drop20", 0.2), ("WRN_40_10_drop50", 0.5)]
)
def test_wrn_dropout_sits_in_every_block(name: str, p: float) -> None:
    model = meta_build(name, 3, 10, 32)
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == (18 if p else 0)
    assert all(d.p == p for d in dropouts)


@pytest.mark.parametrize(("in_planes", "stride"), [(8, 1), (4, 2)])
def test_wrn_block_is_preactivation_with_shortcut_on_activated_input(
    in_planes: int, stride: int
) -> None:
    torch.manual_seed(0)
    block = PreActBlock(in_planes, 8, stride, drop=0.0).train()
    x = torch.randn(3, in_planes, 8, 8)
    a = torch.relu(block.bn1(x))
    h = block.conv2(torch.relu(block.bn2(block.conv1(a))))
    shortcut = x if in_planes == 8 and stride == 1 else block.shortcut(a)
    torch.testing.assert_close(block(x), h + shortcut)
    assert (block.shortcut is None) == (in_planes == 8 and stride == 1)


def test_small_wrn_runs_and_its_dropout_is_active_in_train_mode_only() -> None:
    torch.manual_seed(0)
    model = WideResNet(10, 2, drop=0.5, in_channels=3, n_classes=7, image_size=32, name="tiny")
    assert n_params(model) == wrn_count(10, 2, 3, 7)
    x = torch.rand(4, 3, 32, 32)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))
    assert model(x).shape == (4, 7)


def test_resnet_formula_matches_published_imagenet_counts() -> None:
    assert resnet_count([3, 4, 6, 3], 3, 1000) == 25_557_032
    assert resnet_count([3, 8, 36, 3], 3, 1000) == 60_192_808


@pytest.mark.parametrize(
    ("name", "blocks"),
    [
        ("ResNet50", [3, 4, 6, 3]),
        ("ResNet50_drop20", [3, 4, 6, 3]),
        ("ResNet50_drop50", [3, 4, 6, 3]),
        ("ResNet152", [3, 8, 36, 3]),
    ],
)
def test_resnet_parameter_count_and_shape(name: str, blocks: list[int]) -> None:
    model = meta_build(name, 3, 9, 64)
    assert n_params(model) == resnet_count(blocks, 3, 9)
    assert meta_logits_shape(model, 3, 64) == (2, 9)


def test_resnet50_counts_for_nine_classes_and_one_channel() -> None:
    head_change = linear(2048, 1000) - linear(2048, 9)
    assert n_params(meta_build("ResNet50", 3, 9, 64)) == 25_557_032 - head_change
    assert n_params(meta_build("ResNet50", 1, 9, 64)) == 25_557_032 - head_change - 2 * 64 * 49


@pytest.mark.parametrize(("name", "p"), [("ResNet50_drop20", 0.2), ("ResNet50_drop50", 0.5)])
def test_resnet_dropout_skips_first_block_of_each_stage(name: str, p: float) -> None:
    model = meta_build(name, 3, 9, 64)
    for stage, count in zip(
        (model.layer1, model.layer2, model.layer3, model.layer4), [3, 4, 6, 3], strict=True
    ):
        has_dropout = [any(isinstance(m, nn.Dropout) for m in block.modules()) for block in stage]
        assert has_dropout == [False] + [True] * (count - 1)
    assert {m.p for m in model.modules() if isinstance(m, nn.Dropout)} == {p}


def test_resnet_dropout_acts_on_the_second_convolution_after_its_relu() -> None:
    torch.manual_seed(0)
    # Materialise one block of a meta-built net: initialising all 23M weights is slow.
    block = meta_build("ResNet50_drop50", 3, 9, 64).layer2[1].to_empty(device="cpu").train()
    for module in block.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    x = torch.rand(2, 512, 8, 8)
    torch.manual_seed(1)
    out = block(x)
    # The bottleneck written out, dropout placed after the second conv's BN and ReLU.
    h = torch.relu(block.bn1(block.conv1(x)))
    h = torch.relu(block.bn2[0](block.conv2(h)))
    torch.manual_seed(1)
    h = nn.functional.dropout(h, 0.5, training=True)
    expected = torch.relu(block.bn3(block.conv3(h)) + x)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize(
    ("name", "kwargs", "fragment"),
    [
        ("CNN001", {"in_channels": 1, "n_classes": 10, "image_size": 32}, "28x28"),
        ("CNN002", {"in_channels": 1, "n_classes": 10, "image_size": 8}, "28x28"),
        ("WRN_40_10", {"in_channels": 3, "n_classes": 10, "image_size": 64}, "32x32"),
        ("ResNet50", {"in_channels": 3, "n_classes": 9, "image_size": 16}, "at least 32"),
        ("ResNet152", {"in_channels": 0, "n_classes": 9, "image_size": 64}, "in_channels"),
    ],
)
def test_wrong_input_shape_is_rejected_naming_the_problem(
    name: str, kwargs: dict[str, int], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        build_arch(name, **kwargs)


def test_unknown_architecture_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'ResNet5'.*ResNet50"):
        build_arch("ResNet5", in_channels=3, n_classes=9, image_size=64)
