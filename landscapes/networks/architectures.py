"""Small torch networks from a server-owned zoo of architectures, and their loss on data.

An architecture is plain JSON, e.g. ``{"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}``
or ``{"type": "cnn", "in_channels": 1, "image_size": 8, "channels": [8, 16], "kernel": 3,
"pool": "max", "batchnorm": true, "classes": 10, "act": "relu"}``. Nothing but these
architectures is ever built: an uploaded checkpoint only supplies weights.

Parameter vectors (``D``) order the parameters as ``named_parameters()`` flattened; BatchNorm
running statistics are buffers, passed explicitly and never updated (evaluation is in eval mode).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import nn

from landscapes.errors import LandscapeError

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softplus": nn.Softplus,
               "gelu": nn.GELU, "elu": nn.ELU}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d, "none": None}
MAX_WIDTH = 4096
MAX_LAYERS = 16
#: the keys each zoo type accepts (and nothing else)
ZOO_KEYS = {"mlp": ("type", "sizes", "act"),
            "cnn": ("type", "in_channels", "image_size", "channels", "kernel", "pool", "batchnorm",
                    "classes", "act")}
#: how the zoo builds each type: the layer order its state_dict keys follow
ZOO_LAYERS = {
    "mlp": "nn.Sequential(Linear, act, Linear, act, ..., Linear): keys 0.weight, 0.bias, "
           "2.weight, 2.bias, ... (every other index: the activations hold no weights)",
    "cnn": "nn.Sequential of, per entry of 'channels', Conv2d -> BatchNorm2d (if batchnorm) -> "
           "act -> 2x2 pool (unless pool is none), then Flatten -> Linear: keys 0.weight, "
           "0.bias, 1.weight, 1.bias, 1.running_mean, 1.running_var, 1.num_batches_tracked "
           "(BatchNorm), then the next Conv2d ...; BatchNorm always comes before the activation",
}
#: what to do for a network the zoo does not build: export it to ONNX (x: an example batch)
ONNX_EXPORT = ("export the network to ONNX instead and upload net.onnx: import torch; "
               "model.eval(); torch.onnx.export(model, (x,), \"net.onnx\", dynamo=True, "
               "external_data=False)  (x: an example input batch, e.g. torch.as_tensor(X[:8]))")


def zoo_accepts(kind: str | None = None) -> str:
    """What the zoo builds (one type, or all): its keys and layer order, and the ONNX way out."""
    kinds = [kind] if kind in ZOO_KEYS else list(ZOO_KEYS)
    told = "; ".join(f"{k} takes keys {', '.join(ZOO_KEYS[k])} and is {ZOO_LAYERS[k]}"
                     for k in kinds)
    return f"the zoo's {told}. For any other network, {ONNX_EXPORT}"


def _int_list(arch: Mapping, key: str, lo: int, hi: int) -> list[int]:
    value = arch.get(key)
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in value
    ):
        raise LandscapeError(f"architecture: {key!r} must be a list of integers in [{lo}, {hi}]")
    return value


def _int(arch: Mapping, key: str, default: int, lo: int, hi: int) -> int:
    value = arch.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise LandscapeError(f"architecture: {key!r} must be an integer in [{lo}, {hi}]; got {value!r}")
    return value


def _bool(arch: Mapping, key: str, default: bool) -> bool:
    value = arch.get(key, default)
    if not isinstance(value, bool):
        raise LandscapeError(f"architecture: {key!r} must be true or false; got {value!r}")
    return value


def _shown(value: object) -> str:
    """A value from an uploaded spec as an error message shows it: short scalars by repr,
    anything else (a list, a dict nested 100,000 deep) by its type's name."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return f"a {type(value).__name__}"


def _choice(arch: Mapping, key: str, options: Mapping | tuple, default: str) -> str:
    value = arch.get(key, default)
    if not isinstance(value, str) or value not in options:
        raise LandscapeError(
            f"architecture: {key!r} must be one of {', '.join(options)}; got {_shown(value)}"
        )
    return value


def normalize_arch(arch: Mapping) -> dict:
    """The canonical architecture spec (defaults filled), or a LandscapeError saying what is wrong."""
    if not isinstance(arch, Mapping):
        raise LandscapeError("architecture must be a JSON object such as "
                             '{"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}')
    kind = arch.get("type")
    if kind == "mlp":
        sizes = _int_list(arch, "sizes", 1, MAX_WIDTH)
        if not 2 <= len(sizes) <= MAX_LAYERS + 1:
            raise LandscapeError(f"architecture: an mlp needs 2 to {MAX_LAYERS + 1} sizes")
        allowed = set(ZOO_KEYS["mlp"])
        out: dict[str, Any] = {"type": "mlp", "sizes": sizes,
                               "act": _choice(arch, "act", ACTIVATIONS, "relu")}
    elif kind == "cnn":
        allowed = set(ZOO_KEYS["cnn"])
        out = {
            "type": "cnn",
            "in_channels": _int(arch, "in_channels", 1, 1, 16),
            "image_size": _int(arch, "image_size", 8, 4, 64),
            "channels": _int_list(arch, "channels", 1, 256),
            "kernel": _int(arch, "kernel", 3, 1, 7),
            "pool": _choice(arch, "pool", POOLS, "max"),
            "batchnorm": _bool(arch, "batchnorm", False),
            "classes": _int(arch, "classes", 10, 1, 1000),
            "act": _choice(arch, "act", ACTIVATIONS, "relu"),
        }
        if not 1 <= len(out["channels"]) <= 4:
            raise LandscapeError("architecture: a cnn takes 1 to 4 conv layers ('channels')")
        size = out["image_size"]
        for _ in out["channels"]:
            size = conv_output_size(size, out["kernel"], out["pool"])
            if size < 1:
                raise LandscapeError("architecture: too many pooled layers for the image size")
    else:
        raise LandscapeError(
            f"architecture: 'type' must be 'mlp' or 'cnn'; got {_shown(kind)}; {zoo_accepts()}"
        )
    unknown = set(arch) - allowed
    if unknown:
        names = [k if isinstance(k, str) and len(k) <= 80 else _shown(k) for k in unknown]
        raise LandscapeError(
            f"architecture: unknown key(s) {', '.join(sorted(names))}; {zoo_accepts(kind)}"
        )
    return out


def describe_arch(arch: Mapping) -> str:
    """A short name for people: ``mlp 2-64-64-2 relu``, ``cnn 1x8x8 8-16 -> 10 relu, batchnorm``."""
    arch = normalize_arch(arch)
    if arch["type"] == "mlp":
        return f"mlp {'-'.join(map(str, arch['sizes']))} {arch['act']}"
    side = arch["image_size"]
    bn = ", batchnorm" if arch["batchnorm"] else ""
    return (f"cnn {arch['in_channels']}x{side}x{side} {'-'.join(map(str, arch['channels']))} "
            f"-> {arch['classes']} {arch['act']}{bn}")


def conv_output_size(size: int, kernel: int, pool: str) -> int:
    """Side of a conv layer's output (padding ``kernel // 2``, stride 1) after its 2x2 pooling:
    an odd kernel keeps the side, an even one adds 1; pooling halves it (rounding down)."""
    size = size + 2 * (kernel // 2) - kernel + 1
    return size if pool == "none" else size // 2


def build_network(arch: Mapping) -> nn.Module:
    """The torch module an architecture spec describes (deterministic layout, default init)."""
    arch = normalize_arch(arch)
    act = ACTIVATIONS[arch["act"]]
    layers: list[nn.Module] = []
    if arch["type"] == "mlp":
        sizes = arch["sizes"]
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if k < len(sizes) - 2:
                layers.append(act())
        return nn.Sequential(*layers)
    channels, size = [arch["in_channels"], *arch["channels"]], arch["image_size"]
    pool = POOLS[arch["pool"]]
    for a, b in zip(channels[:-1], channels[1:], strict=True):
        layers.append(nn.Conv2d(a, b, arch["kernel"], padding=arch["kernel"] // 2))
        if arch["batchnorm"]:
            layers.append(nn.BatchNorm2d(b))
        layers.append(act())
        if pool is not None:
            layers.append(pool(2))
        size = conv_output_size(size, arch["kernel"], arch["pool"])
    layers += [nn.Flatten(), nn.Linear(channels[-1] * size * size, arch["classes"])]
    return nn.Sequential(*layers)


def parameter_count(arch: Mapping) -> int:
    """Parameters of the architecture, counted without allocating them (meta device)."""
    with torch.device("meta"):
        return sum(p.numel() for p in build_network(arch).parameters())


def input_shape(arch: Mapping) -> tuple[int, ...]:
    """Shape of one input sample the architecture expects."""
    arch = normalize_arch(arch)
    if arch["type"] == "mlp":
        return (arch["sizes"][0],)
    return (arch["in_channels"], arch["image_size"], arch["image_size"])


def output_size(arch: Mapping) -> int:
    arch = normalize_arch(arch)
    return arch["sizes"][-1] if arch["type"] == "mlp" else arch["classes"]


@dataclass(frozen=True)
class ParameterLayout:
    """How a flat parameter vector (D,) maps to named tensors (``named_parameters()`` order)."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, module: nn.Module) -> "ParameterLayout":
        named = list(module.named_parameters())
        return cls(tuple(n for n, _ in named), tuple(tuple(p.shape) for _, p in named))

    @cached_property
    def sizes(self) -> list[int]:
        """Elements per tensor (asked for once per point: computed once)."""
        return [int(np.prod(s)) for s in self.shapes]

    @property
    def dim(self) -> int:
        return sum(self.sizes)

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named views into ``flat`` (D,)."""
        parts = torch.split(flat, self.sizes)
        return {n: p.reshape(s) for n, p, s in zip(self.names, parts, self.shapes, strict=True)}

    def flatten(self, tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([tensors[n].reshape(-1) for n in self.names])

    def to_meta(self) -> list[dict]:
        return [{"name": n, "shape": list(s)} for n, s in zip(self.names, self.shapes, strict=True)]


def split_state(module: nn.Module, state: Mapping[str, torch.Tensor]) -> tuple[dict, dict]:
    """(parameters, buffers) of a state_dict for ``module``; shapes checked, clear errors."""
    expected_params = dict(module.named_parameters())
    expected_buffers = dict(module.named_buffers())
    expected = {**expected_params, **expected_buffers}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
        if unexpected:
            parts.append(
                f"unexpected {', '.join(unexpected[:6])}{' ...' if len(unexpected) > 6 else ''}"
            )
        raise LandscapeError(
            "checkpoint keys do not match the architecture: " + "; ".join(parts)
            + f" (the architecture expects {', '.join(list(expected)[:6])} ...)"
        )
    for name, ref in expected.items():
        if tuple(state[name].shape) != tuple(ref.shape):
            raise LandscapeError(
                f"checkpoint tensor {name!r} has shape {tuple(state[name].shape)}; "
                f"the architecture needs {tuple(ref.shape)}"
            )
    params = {n: state[n].detach().to(torch.float32) for n in expected_params}
    buffers = {n: state[n].detach().clone() for n in expected_buffers}
    for name, tensor in {**params, **buffers}.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise LandscapeError(f"checkpoint tensor {name!r} contains NaN or infinite values")
    return params, buffers


def zoo_arch_of(module: nn.Module, sample_shape: tuple[int, ...]) -> dict | None:
    """The zoo architecture ``module`` is, or None: its state_dict names, layer types and every
    layer setting (``repr``) must equal :func:`build_network`'s for that architecture, with no
    hooks, so the zoo's fast evaluation computes exactly what ``module(x)`` does.
    ``sample_shape`` is one input sample's shape (a CNN's image size is read from it)."""
    if type(module) is not nn.Sequential or any(
        m._forward_hooks or m._forward_pre_hooks for m in module.modules()
    ):
        return None
    layers = list(module)
    linears = [m for m in layers if type(m) is nn.Linear]
    convs = [m for m in layers if type(m) is nn.Conv2d]
    acts = [name for name, cls in ACTIVATIONS.items() for m in layers if type(m) is cls]
    if not linears:
        return None
    act = acts[0] if acts else "relu"
    arch: dict[str, Any]
    if not convs:
        arch = {"type": "mlp", "act": act,
                "sizes": [linears[0].in_features, *(m.out_features for m in linears)]}
    elif len(sample_shape) == 3:
        pools = [name for name, cls in POOLS.items() for m in layers if cls and type(m) is cls]
        arch = {"type": "cnn", "act": act, "in_channels": convs[0].in_channels,
                "image_size": sample_shape[-1], "channels": [m.out_channels for m in convs],
                "kernel": convs[0].kernel_size[0], "pool": pools[0] if pools else "none",
                "batchnorm": any(type(m) is nn.BatchNorm2d for m in layers),
                "classes": linears[-1].out_features}
    else:
        return None
    try:
        arch = normalize_arch(arch)
        if arch["type"] == "cnn" and tuple(sample_shape) != input_shape(arch):
            return None
        with torch.device("meta"):
            built = list(build_network(arch).children())
    except LandscapeError:
        return None
    same = ([type(m) for m in built] == [type(m) for m in layers]
            and [repr(m) for m in built] == [repr(m) for m in layers]
            and list(nn.Sequential(*built).state_dict()) == list(module.state_dict()))
    return arch if same else None
