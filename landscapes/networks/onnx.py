"""Uploaded ONNX networks: read safely, translated to a torch module, verified against onnxruntime.

``torch.onnx.export(model, (x,), "net.onnx", dynamo=True, external_data=False)`` writes one file
holding the graph and the weights. :func:`read_onnx` turns it into an :class:`OnnxNetwork` whose
``module`` (an :class:`OnnxModule`) evaluates the graph node by node with torch functional ops
from the allow-list in :mod:`landscapes.networks.onnx_ops`. Nothing in the file is executed as
code: the only things read from it are tensors (checked before they are materialised) and the
names and attributes of allow-listed operators.

Refused, with one line naming what and why (docs/file-formats.md, "ONNX"): files over the size
limit, anything that does not parse as an ONNX model (truncated, another format), operators
outside the allow-list, custom domains (in nodes or opset imports), local functions, sub-graph
attributes (If, Loop, Scan), external-data or sparse tensors, tensors of unsupported types or
whose declared size exceeds the limits or disagrees with their data, non-finite weights, a node
reading a value no earlier node produced (a cycle or a dangling edge: ONNX requires topological
order), a value produced twice, more than ``MAX_NODES`` nodes, a node with the wrong number of
inputs or unreadable attributes, graphs with other than one float input (of declared shape) and
one output, and -- found by evaluating the graph once on meta tensors, which allocates nothing --
a node whose output would hold more than ``MAX_VALUES_PER_SAMPLE`` values per sample, or a graph
that does not evaluate on its declared input shape.

Parameters: every floating initializer of rank >= 1 becomes an ``nn.Parameter`` under its own
(exporter-given) dotted name, in nested submodules so that ``named_parameters()`` gives exactly
``inp.weight``, ``block.0.bias``, ...; the running mean and variance read by
``BatchNormalization`` are buffers; integer initializers and floating scalars (the exporter's
``x * 3.0``) are static constants. :func:`verify` compares the translation with onnxruntime on
the data, refusing first data whose rows do not fit the declared input
(:func:`check_input_shape`).
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import onnx
import torch
from google.protobuf.message import DecodeError
from onnx import numpy_helper
from torch import nn

from landscapes.errors import LandscapeError
from landscapes.networks.onnx_ops import (
    ALWAYS_STATIC,
    OPS,
    STATIC_PROPAGATING,
    Kernel,
    UnsupportedNode,
    Value,
    as_tensor,
)

#: more nodes than this are refused (the exporter writes a few per layer)
MAX_NODES = 10_000
#: no node's output may hold more values than this for one sample (checked on meta tensors)
MAX_VALUES_PER_SAMPLE = 2**22
#: onnxruntime and the translation must agree to this fraction of the output's scale
RTOL = 1e-4
#: the ONNX domains of the standard operators
STANDARD_DOMAINS = ("", "ai.onnx")
#: the oldest opset whose operator semantics the translation follows
MIN_OPSET = 13
#: tensor element types accepted in initializers and constants, as numpy dtypes
TENSOR_TYPES: dict[int, type] = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32,
    onnx.TensorProto.BOOL: np.bool_,
}
_TYPED_FIELDS: dict[int, str] = {
    onnx.TensorProto.FLOAT: "float_data",
    onnx.TensorProto.DOUBLE: "double_data",
    onnx.TensorProto.FLOAT16: "int32_data",
    onnx.TensorProto.INT64: "int64_data",
    onnx.TensorProto.INT32: "int32_data",
    onnx.TensorProto.BOOL: "int32_data",
}
_FIX = "export with torch.onnx.export(model, (x,), 'net.onnx', dynamo=True, external_data=False)"



def _type_name(elem_type: int) -> str:
    """An ONNX element type's name (``FLOAT``), or its number when ONNX has no such type."""
    values = onnx.TensorProto.DataType.values()
    return onnx.TensorProto.DataType.Name(elem_type) if elem_type in values else str(elem_type)

@dataclass(frozen=True)
class Node:
    """One translated node: its kernel, the names it reads ('' for an absent optional input)
    and the name it writes."""

    op_type: str
    name: str
    inputs: tuple[str, ...]
    output: str
    kernel: Kernel


class OnnxModule(nn.Module):
    """The translated graph: parameters and buffers under the exporter's names, nodes in order.

    ``forward(x)`` evaluates the nodes with torch ops (static shape arithmetic with numpy, see
    :mod:`landscapes.networks.onnx_ops`); it never mutates the module, so it runs under
    ``torch.func.functional_call`` and ``torch.func.vmap``.
    """

    def __init__(self, parameters: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                 constants: dict[str, np.ndarray], nodes: Sequence[Node], input_name: str,
                 output_name: str) -> None:
        super().__init__()
        slots: list[tuple[str, nn.Module, str]] = []
        for name, tensor in (*parameters.items(), *buffers.items()):
            owner, attr = _owner(self, name)
            if name in parameters:
                owner.register_parameter(attr, nn.Parameter(tensor, requires_grad=False))
            else:
                owner.register_buffer(attr, tensor)
            slots.append((name, owner, attr))
        self._slots = slots
        self._constants = constants
        self._nodes = tuple(nodes)
        self._input_name = input_name
        self._output_name = output_name

    def forward(self, x: torch.Tensor, max_values: int | None = None) -> torch.Tensor:
        """The graph's output for ``x``; with ``max_values``, :class:`TooManyValues` as soon as a
        node's output holds more values (the size check :func:`read_onnx` runs on meta tensors)."""
        env: dict[str, Value | None] = {"": None, **self._constants}
        env.update({name: getattr(owner, attr) for name, owner, attr in self._slots})
        env[self._input_name] = x
        for index, node in enumerate(self._nodes):
            value = node.kernel([env[name] for name in node.inputs])
            if max_values is not None and _count(value) > max_values:
                raise TooManyValues(f"node {index} ({node.op_type}) gives {_count(value):,} values "
                                    f"per sample, over the limit of {max_values:,}")
            env[node.output] = value
        out = env.get(self._output_name)
        if out is None:  # a crafted graph whose output no node produces (caught by read_onnx)
            raise ValueError(f"the graph's output {self._output_name!r} is produced by no node")
        return as_tensor(out, x)


class TooManyValues(ValueError):
    """A node's output is larger than the bound the size check runs with (message: one line)."""


def _count(value: Value) -> int:
    return int(value.size) if isinstance(value, np.ndarray) else value.numel()


def _owner(root: nn.Module, dotted: str) -> tuple[nn.Module, str]:
    """The submodule of ``root`` (created as needed) that holds ``dotted``'s last part."""
    *path, attr = dotted.split(".")
    module = root
    for part in path:
        child = module._modules.get(part)
        if child is None:
            child = nn.Module()
            module.add_module(part, child)
        module = child
    return module, attr


@dataclass(frozen=True)
class OnnxNetwork:
    """A checked and translated ONNX upload.

    ``content`` is the file as uploaded (what the store keeps); ``input_shape`` has ``None`` for
    symbolic dimensions (the batch); ``sha256`` is the file's digest.
    """

    filename: str
    content: bytes
    sha256: str
    module: OnnxModule
    input_shape: tuple[int | None, ...]
    output_name: str

    @property
    def arch(self) -> dict:
        """The architecture record of an ONNX checkpoint (no zoo spec: the file is the graph)."""
        return {"type": "onnx", "sha256": self.sha256, "inputs": list(self.input_shape)}

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


# --------------------------------------------------------------------------- reading


def read_onnx(content: bytes, filename: str, max_bytes: int, max_parameters: int) -> OnnxNetwork:
    """Check an uploaded ONNX file and translate it to an :class:`OnnxModule`.

    Every check runs before any tensor is materialised; a refusal is a :class:`LandscapeError`
    whose one line names the file, what is refused and why.
    """
    name = PurePosixPath(filename.replace("\\", "/")).name or "upload.onnx"
    if len(content) > max_bytes:
        raise LandscapeError(f"{name}: the file is {len(content):,} bytes, over the upload limit "
                             f"of {max_bytes:,} bytes")
    model = _parse(content, name)
    _check_model(model, name)
    graph = model.graph
    input_name, input_shape = _graph_input(graph, name)
    output_name = _graph_output(graph, name)
    _check_order(graph, input_name, output_name, name)
    tensors = {t.name: t for t in graph.initializer}
    _check_tensors([*graph.initializer, *_attribute_tensors(graph)], max_parameters, name)
    arrays = {key: _to_array(tensor, name) for key, tensor in tensors.items()}
    parameters, buffers, constants = _split_initializers(graph, arrays, max_parameters, name)
    nodes = _translate(graph, set(constants), name)
    module = OnnxModule(parameters, buffers, constants, nodes, input_name, output_name).eval()
    _check_values(module, input_shape, name)
    return OnnxNetwork(name, content, hashlib.sha256(content).hexdigest(), module, input_shape,
                       output_name)


def _check_values(module: OnnxModule, input_shape: tuple[int | None, ...], name: str) -> None:
    """Evaluate the graph on meta tensors (shapes only: nothing is allocated) for one sample, and
    refuse it if any node's output holds more than ``MAX_VALUES_PER_SAMPLE`` values (a chain of
    Concats doubling a tensor would otherwise exhaust memory) or if it does not evaluate."""
    state = {key: torch.empty_like(tensor, device="meta")
             for key, tensor in (*module.named_parameters(), *module.named_buffers())}
    x = torch.empty(tuple(1 if d is None else d for d in input_shape), device="meta")
    try:
        torch.func.functional_call(module, state, (x,), {"max_values": MAX_VALUES_PER_SAMPLE})
    except TooManyValues as exc:
        raise LandscapeError(f"{name}: {exc}; it was not evaluated") from None
    except (RuntimeError, ValueError, IndexError, TypeError, NotImplementedError) as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise LandscapeError(f"{name}: the graph does not evaluate on inputs of its declared "
                             f"shape {_shape_text(input_shape)} ({text})") from None


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ")"


def _parse(content: bytes, name: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(content)
    except (DecodeError, ValueError, TypeError, RuntimeError, RecursionError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise LandscapeError(f"{name}: not a readable ONNX model (corrupt, truncated or another "
                             f"format: {detail}); {_FIX}") from None
    if model.ir_version < 3 or not model.opset_import or not model.graph.node:
        raise LandscapeError(f"{name}: not an ONNX model (no IR version, opset or graph nodes); "
                             f"{_FIX}")
    return model


def _check_model(model: onnx.ModelProto, name: str) -> None:
    """Domains, opsets, local functions, node count, operators and sub-graphs."""
    if model.functions:
        raise LandscapeError(
            f"{name}: the model defines local functions ({_names(f.name for f in model.functions)}); "
            "they are refused: only the standard operators of the allow-list are translated"
        )
    for opset in model.opset_import:
        if opset.domain not in STANDARD_DOMAINS:
            raise LandscapeError(f"{name}: the model imports the custom operator domain "
                                 f"{opset.domain!r}; only standard ONNX operators are accepted")
        if opset.version < MIN_OPSET:
            raise LandscapeError(f"{name}: opset {opset.version} is older than {MIN_OPSET}; "
                                 "export with opset_version 13 or later (torch.onnx.export's "
                                 "default is)")
    graph = model.graph
    if len(graph.node) > MAX_NODES:
        raise LandscapeError(f"{name}: the graph has {len(graph.node):,} nodes, over the limit of "
                             f"{MAX_NODES:,}")
    if graph.sparse_initializer:
        raise LandscapeError(f"{name}: sparse initializers are refused; save dense weights")
    for index, node in enumerate(graph.node):
        where = _where(index, node)
        if node.domain not in STANDARD_DOMAINS:
            raise LandscapeError(f"{name}: {where} is in the custom domain {node.domain!r}; only "
                                 "standard ONNX operators are accepted")
        if node.op_type not in OPS:
            raise LandscapeError(f"{name}: {where}: operator {node.op_type!r} is not in the "
                                 f"allow-list ({', '.join(OPS)})")
        for attr in node.attribute:
            if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                raise LandscapeError(f"{name}: {where} has a sub-graph attribute {attr.name!r}; "
                                     "sub-graphs (If, Loop, Scan) are refused")
            if attr.type in (onnx.AttributeProto.SPARSE_TENSOR, onnx.AttributeProto.SPARSE_TENSORS,
                             onnx.AttributeProto.TENSORS) or attr.ref_attr_name:
                raise LandscapeError(f"{name}: {where}: attribute {attr.name!r} of this kind is "
                                     "not supported")
        if len([o for o in node.output if o]) != 1:
            raise LandscapeError(f"{name}: {where} has {len(node.output)} outputs; only "
                                 "single-output nodes are supported")


def _where(index: int, node: onnx.NodeProto) -> str:
    label = f" {node.name[:60]!r}" if node.name else ""
    return f"node {index} ({node.op_type}{label})"


def _names(names: Iterable[str], limit: int = 5) -> str:
    listed = list(names)
    shown = ", ".join(repr(n[:60]) for n in listed[:limit])
    return shown + (f" and {len(listed) - limit} more" if len(listed) > limit else "")


def _graph_input(graph: onnx.GraphProto, name: str) -> tuple[str, tuple[int | None, ...]]:
    """The one float input (old exporters also list initializers as inputs) and its shape."""
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise LandscapeError(f"{name}: the graph has {len(inputs)} inputs "
                             f"({_names(i.name for i in inputs)}); exactly one (the data) is "
                             "supported")
    tensor_type = inputs[0].type.tensor_type
    if tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise LandscapeError(f"{name}: the input {inputs[0].name!r} has element type "
                             f"{_type_name(tensor_type.elem_type)}; it must "
                             "be float32")
    dims = tensor_type.shape.dim
    if not tensor_type.HasField("shape") or not dims:
        raise LandscapeError(f"{name}: the input {inputs[0].name!r} does not declare its shape; "
                             f"{_FIX}")
    return inputs[0].name, tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)


def _graph_output(graph: onnx.GraphProto, name: str) -> str:
    if len(graph.output) != 1:
        raise LandscapeError(f"{name}: the graph has {len(graph.output)} outputs; exactly one "
                             "(the network's output) is supported")
    return graph.output[0].name


def _check_order(graph: onnx.GraphProto, input_name: str, output_name: str, name: str) -> None:
    """Every node reads only values defined before it, and defines each value once."""
    defined = {"", input_name, *(t.name for t in graph.initializer)}
    for index, node in enumerate(graph.node):
        for value in node.input:
            if value not in defined:
                raise LandscapeError(
                    f"{name}: {_where(index, node)} reads {value[:60]!r}, which no earlier node "
                    "produces (a cycle or a dangling edge; ONNX graphs must be in topological order)"
                )
        for value in node.output:
            if value in defined:
                raise LandscapeError(f"{name}: {_where(index, node)} redefines {value[:60]!r}; "
                                     "each value must be produced once")
            defined.add(value)
    if output_name not in defined:
        raise LandscapeError(f"{name}: the graph output {output_name[:60]!r} is never produced")


def _attribute_tensors(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    """The tensors held in node attributes (Constant's ``value``; checked on every node)."""
    return [attr.t for node in graph.node for attr in node.attribute
            if attr.type == onnx.AttributeProto.TENSOR]


def _declared_size(tensor: onnx.TensorProto, name: str) -> int:
    size = 1
    for dim in tensor.dims:
        if dim < 0:
            raise LandscapeError(f"{name}: tensor {tensor.name[:60]!r} declares a negative "
                                 f"dimension {dim}")
        size *= dim
    return size


def _check_tensors(tensors: Sequence[onnx.TensorProto], max_parameters: int, name: str) -> None:
    """Location, type and declared size of every tensor, from its header only (nothing is
    allocated): the total is bounded by ``max_parameters`` and each tensor's data must hold
    exactly its declared number of values."""
    total = 0
    for tensor in tensors:
        label = repr(tensor.name[:60]) if tensor.name else "(unnamed constant)"
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            location = next((e.value for e in tensor.external_data if e.key == "location"), "?")
            raise LandscapeError(
                f"{name}: tensor {label} refers to external data (location {location[:80]!r}); "
                "external files are never read: export with external_data=False"
            )
        if tensor.data_type not in TENSOR_TYPES:
            kind = _type_name(tensor.data_type)
            raise LandscapeError(f"{name}: tensor {label} has element type {kind}; accepted: "
                                 f"{', '.join(onnx.TensorProto.DataType.Name(t) for t in TENSOR_TYPES)}")
        size = _declared_size(tensor, name)
        total += size
        if size > max_parameters or total > max_parameters:
            raise LandscapeError(
                f"{name}: tensor {label} declares {size:,} values ({total:,} in all so far), "
                f"over the limit of {max_parameters:,} (FUNNELSCOPE_MAX_PARAMETERS); it was not "
                "allocated"
            )
        itemsize = np.dtype(TENSOR_TYPES[tensor.data_type]).itemsize
        stored = (len(tensor.raw_data) // itemsize if tensor.HasField("raw_data")
                  else len(getattr(tensor, _TYPED_FIELDS[tensor.data_type])))
        exact = len(tensor.raw_data) == size * itemsize if tensor.HasField("raw_data") else True
        if stored != size or not exact:
            raise LandscapeError(f"{name}: tensor {label} declares {size:,} values but holds "
                                 f"{stored:,}; the file is corrupt")


def _to_array(tensor: onnx.TensorProto, name: str) -> np.ndarray:
    """A checked tensor as a numpy array (after :func:`_check_tensors`)."""
    try:
        return np.array(numpy_helper.to_array(tensor))
    except (ValueError, TypeError) as exc:
        raise LandscapeError(f"{name}: tensor {tensor.name[:60]!r} is unreadable ({exc})") from None


def _split_initializers(graph: onnx.GraphProto, arrays: dict[str, np.ndarray], max_parameters: int,
                        name: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor],
                                            dict[str, np.ndarray]]:
    """(parameters, buffers, static constants); see the module docstring for the rule."""
    statistics = {value for node in graph.node if node.op_type == "BatchNormalization"
                  for value in node.input[3:5]}
    parameters: dict[str, torch.Tensor] = {}
    buffers: dict[str, torch.Tensor] = {}
    constants: dict[str, np.ndarray] = {}
    for key, array in arrays.items():
        floating = np.issubdtype(array.dtype, np.floating)
        if floating and not np.isfinite(array).all():
            raise LandscapeError(f"{name}: tensor {key[:60]!r} contains NaN or infinite values")
        if not floating or array.ndim == 0:
            constants[key] = array
            continue
        _check_state_name(key, name)
        target = buffers if key in statistics else parameters
        target[key] = torch.from_numpy(array.astype(np.float32))
    _check_name_tree([*parameters, *buffers], name)
    count = sum(t.numel() for t in parameters.values())
    if count > max_parameters:
        raise LandscapeError(f"{name}: the network has {count:,} parameters, over the limit of "
                             f"{max_parameters:,} (FUNNELSCOPE_MAX_PARAMETERS)")
    return parameters, buffers, constants


#: names a tensor (or a module on its path) cannot take: nn.Module's attributes and OnnxModule's
_RESERVED = frozenset([*dir(nn.Module()), "forward", "_slots", "_constants", "_nodes",
                       "_input_name", "_output_name"])


def _check_state_name(key: str, name: str) -> None:
    parts = key.split(".")
    if any(not part or part in _RESERVED for part in parts):
        raise LandscapeError(f"{name}: the initializer name {key[:60]!r} cannot be a module "
                             "attribute (an empty part, or a name torch or the translation "
                             "reserves); rename the module's attribute before exporting")


def _check_name_tree(keys: Sequence[str], name: str) -> None:
    """No name is both a tensor and a module holding tensors (``a`` and ``a.b``)."""
    prefixes = {".".join(key.split(".")[:i]) for key in keys for i in range(1, key.count(".") + 1)}
    clash = sorted(set(keys) & prefixes)
    if clash:
        raise LandscapeError(f"{name}: {clash[0][:60]!r} names both a tensor and a module holding "
                             "tensors")


# --------------------------------------------------------------------------- translation


def _attributes(node: onnx.NodeProto, name: str) -> dict:
    attrs = {}
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.TENSOR:
            attrs[attr.name] = _to_array(attr.t, name)
        else:
            attrs[attr.name] = onnx.helper.get_attribute_value(attr)
    return attrs


def _translate(graph: onnx.GraphProto, static: set[str], name: str) -> list[Node]:
    """Each node's kernel, after checking that its shape inputs are static."""
    nodes = []
    for index, node in enumerate(graph.node):
        op = OPS[node.op_type]
        where = _where(index, node)
        least, most = op.arity
        if not least <= len(node.input) <= most or not all(node.input[:least]):
            raise LandscapeError(f"{name}: {where} has {len(node.input)} inputs "
                                 f"({_names(node.input)}); the operator takes {least} to {most}, "
                                 f"the first {least} required")
        for position in op.static:
            if position < len(node.input) and node.input[position] not in static:
                raise LandscapeError(
                    f"{name}: {where}: input {position} ({node.input[position][:60]!r}) is "
                    "computed from tensor values; only shapes and constants are supported there"
                )
        try:
            kernel = op.build(_attributes(node, name))
        except UnsupportedNode as exc:
            raise LandscapeError(f"{name}: {where}: {exc}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise LandscapeError(f"{name}: {where}: unreadable attributes ({exc})") from None
        inputs = [value for value in node.input if value]
        output = next(o for o in node.output if o)
        if node.op_type in ALWAYS_STATIC or (node.op_type in STATIC_PROPAGATING and inputs
                                             and all(v in static for v in inputs)):
            static.add(output)
        nodes.append(Node(node.op_type, node.name, tuple(node.input), output, kernel))
    return nodes


# --------------------------------------------------------------------------- verification


def onnxruntime_outputs(content: bytes, x: np.ndarray) -> np.ndarray:
    """The file's output on ``x`` as onnxruntime computes it (CPU, one thread)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(x, dtype=np.float32)}
    return np.asarray(session.run(None, feed)[0])


def check_input_shape(net: OnnxNetwork, x: np.ndarray) -> None:
    """Refuse inputs ``x`` (batch first) that the graph's declared input cannot take: another
    rank, or another size in a fixed dimension after the batch (a symbolic one takes any)."""
    declared = net.input_shape
    fits = x.ndim == len(declared) and all(
        d is None or d == n for d, n in zip(declared[1:], x.shape[1:], strict=True))
    if not fits:
        raise LandscapeError(f"{net.filename} takes inputs of shape {_shape_text(declared)}, but "
                             f"the data's rows X[i] have shape {_shape_text(x.shape[1:])}: "
                             "choose or upload data "
                             "whose X fits the network")


def discrepancy(net: OnnxNetwork, x: np.ndarray) -> tuple[float, float]:
    """(max |translation - onnxruntime|, the tolerance ``RTOL * (1 + max |onnxruntime|)``);
    inputs of a shape the graph does not declare are refused first (:func:`check_input_shape`)."""
    check_input_shape(net, np.asarray(x))
    try:
        reference = onnxruntime_outputs(net.content, x)
    except Exception as exc:  # onnxruntime raises its own exception types
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise LandscapeError(f"{net.filename}: onnxruntime cannot evaluate the model on the "
                             f"data ({text})") from None
    try:
        with torch.no_grad():
            ours = net.module(torch.as_tensor(np.asarray(x, dtype=np.float32))).numpy()
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise LandscapeError(f"{net.filename}: the translation cannot evaluate the model on the "
                             f"data ({text})") from None
    if ours.shape != reference.shape:
        raise LandscapeError(f"{net.filename}: the translation gives outputs of shape "
                             f"{ours.shape}, onnxruntime {reference.shape}")
    if not (np.isfinite(ours).all() and np.isfinite(reference).all()):
        return float("inf"), RTOL
    tolerance = RTOL * (1.0 + float(np.abs(reference).max(initial=0.0)))
    return float(np.abs(ours - reference).max(initial=0.0)), tolerance


def verify(net: OnnxNetwork, x: np.ndarray) -> float:
    """Refuse ``net`` unless its translation matches onnxruntime on ``x``; returns the difference.

    The tolerance is relative: ``RTOL`` (1e-4) times ``1 + max |output|`` (float32 arithmetic in
    a different order differs by far less; a mistranslated operator by far more).
    """
    difference, tolerance = discrepancy(net, x)
    if not difference <= tolerance:
        raise LandscapeError(f"{net.filename}: the translation differs from onnxruntime by "
                             f"{difference:.3g} (tolerance {tolerance:.3g}) on the uploaded data; "
                             "the file was refused")
    return difference


def sample_input(net: OnnxNetwork, batch: int = 4, seed: int = 0) -> np.ndarray:
    """Standard normal inputs of the declared shape (symbolic dimensions: ``batch``)."""
    shape = tuple(batch if d is None else d for d in net.input_shape)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
