"""A small deep residual CNN, with or without its identity skips (the skip-connection examples).

The architecture is plain JSON, ``{"type": "resnet", "in_channels": 1, "image_size": 8,
"channels": 8, "blocks": 4, "skip": true, "batchnorm": true, "classes": 10}``: a stem
convolution (3x3, ``in_channels`` -> ``channels``), then ``blocks`` basic blocks (Conv 3x3 ->
BatchNorm -> ReLU -> Conv 3x3 -> BatchNorm, plus the block's input when ``skip``, -> ReLU), a
global average pool and a linear head (``channels`` -> ``classes``). Every convolution keeps
the image side (padding 1, stride 1) and the width, so the skip is the identity. ``skip`` only
adds the input back: the parameters and buffers (names, shapes, order) are the same with and
without it, so the two networks differ in nothing else. These networks are not in the zoo
(:mod:`landscapes.networks.architectures`): they are evaluated through the generic engine
(:meth:`NetworkLandscape.from_module <landscapes.networks.landscape.NetworkLandscape.from_module>`).
"""

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from landscapes.errors import LandscapeError
from landscapes.networks.catalog import RESNET_TYPE

RESNET_KEYS = ("type", "in_channels", "image_size", "channels", "blocks", "skip", "batchnorm",
               "classes")
MAX_BLOCKS = 32
MAX_CHANNELS = 64


def _whole(arch: Mapping, key: str, default: int, lo: int, hi: int) -> int:
    value = arch.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise LandscapeError(f"architecture: {key!r} must be an integer in [{lo}, {hi}]; "
                             f"got {value!r}")
    return value


def _flag(arch: Mapping, key: str, default: bool) -> bool:
    value = arch.get(key, default)
    if not isinstance(value, bool):
        raise LandscapeError(f"architecture: {key!r} must be true or false; got {value!r}")
    return value


def normalize_resnet_arch(arch: Mapping) -> dict:
    """The canonical residual CNN spec (defaults filled), or a LandscapeError saying what is
    wrong."""
    if arch.get("type") != RESNET_TYPE:
        raise LandscapeError(f"architecture: 'type' must be {RESNET_TYPE!r}; got {arch.get('type')!r}")
    unknown = set(arch) - set(RESNET_KEYS)
    if unknown:
        raise LandscapeError(f"architecture: unknown key(s) {', '.join(sorted(unknown))}; a "
                             f"resnet takes {', '.join(RESNET_KEYS)}")
    out: dict[str, Any] = {
        "type": RESNET_TYPE,
        "in_channels": _whole(arch, "in_channels", 1, 1, 16),
        "image_size": _whole(arch, "image_size", 8, 1, 64),
        "channels": _whole(arch, "channels", 8, 1, MAX_CHANNELS),
        "blocks": _whole(arch, "blocks", 4, 0, MAX_BLOCKS),
        "skip": _flag(arch, "skip", True),
        "batchnorm": _flag(arch, "batchnorm", True),
        "classes": _whole(arch, "classes", 10, 1, 1000),
    }
    return out


def describe_resnet(arch: Mapping) -> str:
    """A short name: ``resnet 1x8x8 8 ch, 4 blocks, skips -> 10, batchnorm``."""
    arch = normalize_resnet_arch(arch)
    side = arch["image_size"]
    skips = "skips" if arch["skip"] else "no skips"
    bn = ", batchnorm" if arch["batchnorm"] else ""
    return (f"resnet {arch['in_channels']}x{side}x{side} {arch['channels']} ch, "
            f"{arch['blocks']} blocks, {skips} -> {arch['classes']}{bn}")


def _conv(channels_in: int, channels_out: int, batchnorm: bool) -> nn.Sequential:
    """Conv 3x3 (padding 1: the side is kept), then BatchNorm if asked."""
    layers: list[nn.Module] = [nn.Conv2d(channels_in, channels_out, 3, padding=1)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(channels_out))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """``relu(conv2(relu(conv1(x))) + x)`` with ``skip``, ``relu(conv2(relu(conv1(x))))``
    without: the same parameters either way."""

    def __init__(self, channels: int, skip: bool, batchnorm: bool) -> None:
        super().__init__()
        self.skip = skip
        self.conv1 = _conv(channels, channels, batchnorm)
        self.conv2 = _conv(channels, channels, batchnorm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(torch.relu(self.conv1(x)))
        return torch.relu(out + x if self.skip else out)


class ResidualCNN(nn.Module):
    """Stem conv -> ReLU -> ``blocks`` basic blocks -> global average pool -> linear head.
    Input (samples, in_channels, side, side); output logits (samples, classes)."""

    def __init__(self, arch: Mapping) -> None:
        super().__init__()
        arch = normalize_resnet_arch(arch)
        width, batchnorm = arch["channels"], arch["batchnorm"]
        self.stem = _conv(arch["in_channels"], width, batchnorm)
        self.blocks = nn.Sequential(*(BasicBlock(width, arch["skip"], batchnorm)
                                      for _ in range(arch["blocks"])))
        self.head = nn.Linear(width, arch["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(torch.relu(self.stem(x)))
        return self.head(out.mean(dim=(2, 3)))


def build_resnet(arch: Mapping, state: Mapping[str, torch.Tensor] | None = None) -> ResidualCNN:
    """The residual CNN ``arch`` describes (torch's default initialization), with ``state``
    (a state_dict: parameters and buffers) loaded if given."""
    net = ResidualCNN(arch)
    if state is not None:
        net.load_state_dict(dict(state))
    return net


def input_shape(arch: Mapping) -> tuple[int, ...]:
    """Shape of one input sample."""
    arch = normalize_resnet_arch(arch)
    return (arch["in_channels"], arch["image_size"], arch["image_size"])
