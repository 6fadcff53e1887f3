"""The ONNX operators an uploaded network may use, each translated to torch functional ops.

``OPS`` maps an ONNX ``op_type`` to an :class:`Op`: which of its inputs must be *static* (known
without looking at tensor values, see below), and ``build(attrs) -> kernel``, which reads the
node's attributes once (defaults as in the ONNX spec, opset 13 and later) and returns the function
that evaluates the node. Attribute values this translation does not support are refused at build
time with :class:`UnsupportedNode` (one line, naming the attribute).

Values are of two kinds. A ``torch.Tensor`` is data: the input, the parameters and everything
computed from them. A ``numpy.ndarray`` is *static*: integer initializers, ``Constant`` nodes,
``Shape`` of a tensor, and anything computed only from static values (the exporter's shape
arithmetic: ``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``). Static values are evaluated
with numpy from tensor *shapes* only, never from tensor values, so the translated module has no
data-dependent Python control flow and runs under ``torch.func.functional_call`` and
``torch.func.vmap``; a reshape target is always a tuple of plain ints. A static value that meets a
tensor in an arithmetic op becomes a tensor of that tensor's dtype and device.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

Value = torch.Tensor | np.ndarray
Kernel = Callable[[Sequence[Value | None]], Value]
Attrs = dict[str, Any]


class UnsupportedNode(ValueError):
    """A node's attributes ask for something this translation does not do (message: one line)."""


@dataclass(frozen=True)
class Op:
    """One allow-listed operator: ``build(attrs)`` gives its kernel; ``arity`` is the (least,
    most) number of inputs, the first ``least`` of them required (named); ``static`` lists the
    input positions that must be static (shape targets, axes)."""

    build: Callable[[Attrs], Kernel]
    arity: tuple[int, int] = (1, 1)
    static: tuple[int, ...] = ()


# --------------------------------------------------------------------------- helpers


def is_static(value: Value | None) -> bool:
    return isinstance(value, np.ndarray)


def as_tensor(value: Value, like: torch.Tensor | None = None) -> torch.Tensor:
    """``value`` as a tensor; a static value takes the dtype (if floating) and device of ``like``."""
    if isinstance(value, torch.Tensor):
        return value
    tensor = torch.as_tensor(np.ascontiguousarray(value))
    if like is None:
        return tensor
    dtype = like.dtype if tensor.is_floating_point() or like.is_floating_point() else tensor.dtype
    return tensor.to(device=like.device, dtype=dtype)


def ints(value: Value | None) -> tuple[int, ...]:
    """A static value as a tuple of Python ints (shape targets, axes)."""
    assert isinstance(value, np.ndarray), "checked at build time: this input is static"
    return tuple(int(v) for v in value.reshape(-1))


def _first_tensor(values: Sequence[Value | None]) -> torch.Tensor | None:
    return next((v for v in values if isinstance(v, torch.Tensor)), None)


def _get(attrs: Attrs, name: str, default: Any) -> Any:
    value = attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else value


def _refuse_unless(condition: bool, message: str) -> None:
    if not condition:
        raise UnsupportedNode(message)


def _pads(attrs: Attrs, spatial: int) -> tuple[list[int], list[int]]:
    """(begins, ends) of ONNX ``pads``; ``auto_pad`` other than NOTSET/VALID is refused."""
    auto_pad = _get(attrs, "auto_pad", "NOTSET")
    _refuse_unless(auto_pad in ("NOTSET", "VALID"),
                   f"auto_pad={auto_pad} is not supported (export with explicit pads)")
    pads = list(attrs.get("pads", [0] * 2 * spatial)) if auto_pad == "NOTSET" else [0] * 2 * spatial
    _refuse_unless(len(pads) == 2 * spatial, f"pads has {len(pads)} entries, not {2 * spatial}")
    return pads[:spatial], pads[spatial:]


def _torch_pad(begins: Sequence[int], ends: Sequence[int]) -> list[int]:
    """ONNX (begins, ends) over the spatial axes as F.pad's (last axis first) list."""
    out: list[int] = []
    for begin, end in zip(reversed(begins), reversed(ends), strict=True):
        out += [begin, end]
    return out


# --------------------------------------------------------------------------- elementwise


def _binary(torch_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
            numpy_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Op:
    """Broadcasting arithmetic: numpy when both sides are static, else torch."""
    def build(attrs: Attrs) -> Kernel:
        def kernel(inputs: Sequence[Value | None]) -> Value:
            a, b = inputs[0], inputs[1]
            if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
                return np.asarray(numpy_fn(a, b))
            like = _first_tensor(inputs)
            assert a is not None and b is not None
            return torch_fn(as_tensor(a, like), as_tensor(b, like))
        return kernel
    return Op(build, arity=(2, 2))


def _div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.is_floating_point() or b.is_floating_point():
        return a / b
    return torch.div(a, b, rounding_mode="trunc")


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        return np.trunc(a / b).astype(np.result_type(a, b))
    return a / b


def _unary(fn: Callable[[torch.Tensor], torch.Tensor]) -> Op:
    def build(attrs: Attrs) -> Kernel:
        return lambda inputs: fn(as_tensor(_present(inputs[0])))
    return Op(build)


def _present(value: Value | None) -> Value:
    assert value is not None, "checked at build time: required inputs are present"
    return value


def _neg(attrs: Attrs) -> Kernel:
    def kernel(inputs: Sequence[Value | None]) -> Value:
        x = _present(inputs[0])
        return np.asarray(np.negative(x)) if isinstance(x, np.ndarray) else -x
    return kernel


def _leaky_relu(attrs: Attrs) -> Kernel:
    alpha = float(attrs.get("alpha", 0.01))
    return lambda inputs: F.leaky_relu(as_tensor(_present(inputs[0])), alpha)


def _elu(attrs: Attrs) -> Kernel:
    alpha = float(attrs.get("alpha", 1.0))
    return lambda inputs: F.elu(as_tensor(_present(inputs[0])), alpha)


def _gelu(attrs: Attrs) -> Kernel:
    approximate = _get(attrs, "approximate", "none")
    _refuse_unless(approximate in ("none", "tanh"), f"approximate={approximate!r} is not supported")
    return lambda inputs: F.gelu(as_tensor(_present(inputs[0])), approximate=approximate)


def _softplus(attrs: Attrs) -> Kernel:
    # ONNX Softplus is log(1 + exp(x)) with no threshold; torch's threshold 20 keeps it stable
    return lambda inputs: F.softplus(as_tensor(_present(inputs[0])))


def _softmax(fn: Callable[..., torch.Tensor]) -> Op:
    def build(attrs: Attrs) -> Kernel:
        axis = int(attrs.get("axis", -1))
        return lambda inputs: fn(as_tensor(_present(inputs[0])), dim=axis)
    return Op(build)


# --------------------------------------------------------------------------- linear algebra


def _gemm(attrs: Attrs) -> Kernel:
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    trans_a, trans_b = bool(attrs.get("transA", 0)), bool(attrs.get("transB", 0))

    def kernel(inputs: Sequence[Value | None]) -> Value:
        like = _first_tensor(inputs)
        a, b = as_tensor(_present(inputs[0]), like), as_tensor(_present(inputs[1]), like)
        a = a.transpose(0, 1) if trans_a else a
        c = as_tensor(inputs[2], like) if len(inputs) > 2 and inputs[2] is not None else None
        if trans_b and alpha == 1.0 and beta == 1.0:
            return F.linear(a, b, c)  # the exporter's nn.Linear: one fused call
        out = a @ (b.transpose(0, 1) if trans_b else b)
        out = out * alpha if alpha != 1.0 else out
        return out if c is None else out + (c * beta if beta != 1.0 else c)
    return kernel


def _matmul(attrs: Attrs) -> Kernel:
    def kernel(inputs: Sequence[Value | None]) -> Value:
        like = _first_tensor(inputs)
        return torch.matmul(as_tensor(_present(inputs[0]), like), as_tensor(_present(inputs[1]), like))
    return kernel


# --------------------------------------------------------------------------- convolution, pooling


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _spatial(attrs: Attrs) -> int:
    _refuse_unless("kernel_shape" in attrs, "kernel_shape is required")
    spatial = len(attrs["kernel_shape"])
    _refuse_unless(spatial in _CONV, f"{spatial}-d kernels are not supported (1-d to 3-d are)")
    return spatial


def _conv(attrs: Attrs) -> Kernel:
    spatial = _spatial(attrs)
    begins, ends = _pads(attrs, spatial)
    strides = list(attrs.get("strides", [1] * spatial))
    dilations = list(attrs.get("dilations", [1] * spatial))
    groups = int(attrs.get("group", 1))
    conv = _CONV[spatial]
    symmetric = begins == ends

    def kernel(inputs: Sequence[Value | None]) -> Value:
        like = _first_tensor(inputs)
        x, w = as_tensor(_present(inputs[0]), like), as_tensor(_present(inputs[1]), like)
        b = as_tensor(inputs[2], like) if len(inputs) > 2 and inputs[2] is not None else None
        if not symmetric:
            x = F.pad(x, _torch_pad(begins, ends))
        return conv(x, w, b, strides, begins if symmetric else 0, dilations, groups)
    return kernel


def _max_pool(attrs: Attrs) -> Kernel:
    spatial = _spatial(attrs)
    kernel_shape = list(attrs["kernel_shape"])
    begins, ends = _pads(attrs, spatial)
    strides = list(attrs.get("strides", [1] * spatial))
    dilations = list(attrs.get("dilations", [1] * spatial))
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    _refuse_unless(int(attrs.get("storage_order", 0)) == 0, "storage_order=1 is not supported")
    pool = _MAX_POOL[spatial]
    symmetric = begins == ends and all(2 * p <= k for p, k in zip(begins, kernel_shape, strict=True))

    def kernel(inputs: Sequence[Value | None]) -> Value:
        x = as_tensor(_present(inputs[0]))
        if not symmetric:  # ONNX pads max pooling with -inf; torch only pads symmetrically
            x = F.pad(x, _torch_pad(begins, ends), value=float("-inf"))
        return pool(x, kernel_shape, strides, begins if symmetric else 0, dilations,
                    ceil_mode=ceil_mode)
    return kernel


def _average_pool(attrs: Attrs) -> Kernel:
    spatial = _spatial(attrs)
    kernel_shape = list(attrs["kernel_shape"])
    begins, ends = _pads(attrs, spatial)
    _refuse_unless(begins == ends and all(2 * p <= k for p, k in zip(begins, kernel_shape, strict=True)),
                   "asymmetric pads (or pads over half the kernel) are not supported")
    _refuse_unless(all(d == 1 for d in attrs.get("dilations", [1] * spatial)),
                   "dilations other than 1 are not supported")
    strides = list(attrs.get("strides", [1] * spatial))
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    count_include_pad = bool(attrs.get("count_include_pad", 0))
    pool = _AVG_POOL[spatial]
    return lambda inputs: pool(as_tensor(_present(inputs[0])), kernel_shape, strides, begins,
                               ceil_mode, count_include_pad)


def _global_average_pool(attrs: Attrs) -> Kernel:
    def kernel(inputs: Sequence[Value | None]) -> Value:
        x = as_tensor(_present(inputs[0]))
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
    return kernel


# --------------------------------------------------------------------------- normalization


def _batch_norm(attrs: Attrs) -> Kernel:
    """Inference mode: (x - mean) / sqrt(var + eps) * scale + bias, elementwise (vmap-safe)."""
    _refuse_unless(int(attrs.get("training_mode", 0)) == 0, "training_mode=1 is not supported")
    eps = float(attrs.get("epsilon", 1e-5))

    def kernel(inputs: Sequence[Value | None]) -> Value:
        like = _first_tensor(inputs)
        x = as_tensor(_present(inputs[0]), like)
        scale, bias, mean, var = (as_tensor(_present(v), like) for v in inputs[1:5])
        shape = (-1,) + (1,) * (x.dim() - 2)
        return ((x - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + eps)
                * scale.reshape(shape) + bias.reshape(shape))
    return kernel


def _layer_norm(attrs: Attrs) -> Kernel:
    axis = int(attrs.get("axis", -1))
    eps = float(attrs.get("epsilon", 1e-5))

    def kernel(inputs: Sequence[Value | None]) -> Value:
        like = _first_tensor(inputs)
        x = as_tensor(_present(inputs[0]), like)
        scale = as_tensor(_present(inputs[1]), like)
        bias = as_tensor(inputs[2], like) if len(inputs) > 2 and inputs[2] is not None else None
        normalized = tuple(x.shape[axis % x.dim():])
        return F.layer_norm(x, normalized, scale.expand(normalized),
                            None if bias is None else bias.expand(normalized), eps)
    return kernel


# --------------------------------------------------------------------------- shapes


def _flatten(attrs: Attrs) -> Kernel:
    axis = int(attrs.get("axis", 1))

    def kernel(inputs: Sequence[Value | None]) -> Value:
        x = _present(inputs[0])
        cut = axis % x.ndim if x.ndim else 0
        outer = int(np.prod(x.shape[:cut], dtype=np.int64))
        return x.reshape(outer, -1)
    return kernel


def reshape_target(shape: Sequence[int], target: Sequence[int], allowzero: bool) -> tuple[int, ...]:
    """The ONNX Reshape target as torch's: 0 copies the input's dimension unless ``allowzero``."""
    if allowzero:
        return tuple(target)
    return tuple(shape[i] if t == 0 else t for i, t in enumerate(target))


def _reshape(attrs: Attrs) -> Kernel:
    allowzero = bool(attrs.get("allowzero", 0))

    def kernel(inputs: Sequence[Value | None]) -> Value:
        x = _present(inputs[0])
        return x.reshape(reshape_target(x.shape, ints(inputs[1]), allowzero))
    return kernel


def _transpose(attrs: Attrs) -> Kernel:
    perm = attrs.get("perm")

    def kernel(inputs: Sequence[Value | None]) -> Value:
        x = _present(inputs[0])
        order = tuple(perm) if perm is not None else tuple(reversed(range(x.ndim)))
        return np.transpose(x, order) if isinstance(x, np.ndarray) else x.permute(order)
    return kernel


def _concat(attrs: Attrs) -> Kernel:
    _refuse_unless("axis" in attrs, "axis is required")
    axis = int(attrs["axis"])

    def kernel(inputs: Sequence[Value | None]) -> Value:
        values = [_present(v) for v in inputs]
        arrays = [v for v in values if isinstance(v, np.ndarray)]
        if len(arrays) == len(values):
            return np.concatenate(arrays, axis=axis)
        like = _first_tensor(values)
        return torch.cat([as_tensor(v, like) for v in values], dim=axis)
    return kernel


def _identity(attrs: Attrs) -> Kernel:
    return lambda inputs: _present(inputs[0])


def _dropout(attrs: Attrs) -> Kernel:
    """Inference: the identity (a ``training_mode`` input is ignored; landscapes are in eval)."""
    return _identity(attrs)


def _shape(attrs: Attrs) -> Kernel:
    start, end = attrs.get("start", 0), attrs.get("end")

    def kernel(inputs: Sequence[Value | None]) -> Value:
        return np.array(_present(inputs[0]).shape[start:end], dtype=np.int64)
    return kernel


def _gather(attrs: Attrs) -> Kernel:
    axis = int(attrs.get("axis", 0))

    def kernel(inputs: Sequence[Value | None]) -> Value:
        data, indices = _present(inputs[0]), _present(inputs[1])
        if isinstance(data, np.ndarray) and isinstance(indices, np.ndarray):
            return np.asarray(np.take(data, indices, axis=axis))
        x = as_tensor(data)
        dim = axis % x.dim()
        size = x.shape[dim]
        idx = as_tensor(indices).to(device=x.device, dtype=torch.int64)
        idx = torch.where(idx < 0, idx + size, idx)
        picked = torch.index_select(x, dim, idx.reshape(-1))
        return picked.reshape(tuple(x.shape[:dim]) + tuple(idx.shape) + tuple(x.shape[dim + 1:]))
    return kernel


def _unsqueeze(attrs: Attrs) -> Kernel:
    def kernel(inputs: Sequence[Value | None]) -> Value:
        x = _present(inputs[0])
        axes = ints(inputs[1])
        rank = x.ndim + len(axes)
        for axis in sorted(a % rank for a in axes):
            x = np.expand_dims(x, axis) if isinstance(x, np.ndarray) else x.unsqueeze(axis)
        return x
    return kernel


def _squeeze(attrs: Attrs) -> Kernel:
    def kernel(inputs: Sequence[Value | None]) -> Value:
        x = _present(inputs[0])
        if len(inputs) > 1 and inputs[1] is not None:
            axes = tuple(a % x.ndim for a in ints(inputs[1]))
        else:
            axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
        if isinstance(x, np.ndarray):
            return np.squeeze(x, axis=axes)
        for axis in sorted(axes, reverse=True):
            x = x.squeeze(axis)
        return x
    return kernel


#: ONNX element types Cast may produce, as (numpy, torch) dtypes
_CAST_TYPES = {1: (np.float32, torch.float32), 11: (np.float64, torch.float64),
               7: (np.int64, torch.int64), 6: (np.int32, torch.int32), 9: (np.bool_, torch.bool)}


def _cast(attrs: Attrs) -> Kernel:
    to = int(attrs.get("to", 0))
    _refuse_unless(to in _CAST_TYPES, f"Cast to element type {to} is not supported "
                                      "(float, double, int64, int32 and bool are)")
    numpy_type, torch_type = _CAST_TYPES[to]

    def kernel(inputs: Sequence[Value | None]) -> Value:
        x = _present(inputs[0])
        return x.astype(numpy_type) if isinstance(x, np.ndarray) else x.to(torch_type)
    return kernel


def _constant(attrs: Attrs) -> Kernel:
    """A static value from ``value`` (already checked and converted by the reader) or the
    ``value_float(s)`` / ``value_int(s)`` attributes."""
    scalars = {"value_float": np.float32, "value_floats": np.float32,
               "value_int": np.int64, "value_ints": np.int64}
    given = [name for name in ("value", *scalars) if name in attrs]
    _refuse_unless(len(given) == 1, "exactly one of value, value_float(s), value_int(s) is "
                                    "supported" + (f"; got {', '.join(attrs)}" if attrs else ""))
    name = given[0]
    value = np.asarray(attrs[name]) if name == "value" else np.asarray(attrs[name],
                                                                      dtype=scalars[name])
    return lambda inputs: value


#: the most inputs a Concat may join
MAX_CONCAT = 1_000

OPS: dict[str, Op] = {
    "Gemm": Op(_gemm, arity=(2, 3)),
    "MatMul": Op(_matmul, arity=(2, 2)),
    "Add": _binary(torch.add, np.add),
    "Sub": _binary(torch.sub, np.subtract),
    "Mul": _binary(torch.mul, np.multiply),
    "Div": _binary(_div, _int_div),
    "Neg": Op(_neg),
    "Conv": Op(_conv, arity=(2, 3)),
    "BatchNormalization": Op(_batch_norm, arity=(5, 5)),
    "LayerNormalization": Op(_layer_norm, arity=(2, 3)),
    "Relu": _unary(F.relu),
    "LeakyRelu": Op(_leaky_relu),
    "Gelu": Op(_gelu),
    "Tanh": _unary(torch.tanh),
    "Sigmoid": _unary(torch.sigmoid),
    "Softplus": Op(_softplus),
    "Elu": Op(_elu),
    "MaxPool": Op(_max_pool),
    "AveragePool": Op(_average_pool),
    "GlobalAveragePool": Op(_global_average_pool),
    "Flatten": Op(_flatten),
    "Reshape": Op(_reshape, arity=(2, 2), static=(1,)),
    "Transpose": Op(_transpose),
    "Concat": Op(_concat, arity=(1, MAX_CONCAT)),
    "Identity": Op(_identity),
    "Dropout": Op(_dropout, arity=(1, 3)),
    "Softmax": _softmax(torch.softmax),
    "LogSoftmax": _softmax(torch.log_softmax),
    "Constant": Op(_constant, arity=(0, 0)),
    "Shape": Op(_shape),
    "Gather": Op(_gather, arity=(2, 2)),
    "Unsqueeze": Op(_unsqueeze, arity=(2, 2), static=(1,)),
    "Squeeze": Op(_squeeze, arity=(1, 2), static=(1,)),
    "Cast": Op(_cast),
}

#: ops whose result is static when all their inputs are static (Shape: always static)
STATIC_PROPAGATING = frozenset({"Add", "Sub", "Mul", "Div", "Neg", "Concat", "Identity", "Gather",
                                "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose",
                                "Cast", "Constant"})
ALWAYS_STATIC = frozenset({"Shape", "Constant"})
