"""Uploaded ONNX networks: every allow-listed operator against onnxruntime, real exports against
the original module, crafted files refused with one line each, and the translation under
functional_call + vmap."""

import tracemalloc
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from landscapes import cli
from landscapes.errors import LandscapeError
from landscapes.networks.datasets import from_arrays
from landscapes.networks.onnx import discrepancy, read_onnx, sample_input, verify
from landscapes.networks.onnx_ops import OPS
from landscapes.networks.store import UploadStore
from landscapes.networks.uploads import load_checkpoint
from landscapes.networks.views import checkpoint_source

LIMITS = {"max_bytes": 2**20, "max_parameters": 100_000}
OPSET = 20
IR_VERSION = 10


def _file(nodes: list[onnx.NodeProto], x_shape: tuple[int, ...],
          inits: dict[str, np.ndarray] | None = None,
          functions: list[onnx.FunctionProto] | None = None, opsets: dict[str, int] | None = None,
          tensors: list[onnx.TensorProto] | None = None) -> bytes:
    """A one-input one-output model (input ``x``, output ``y``) as bytes."""
    initializers = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializers + list(tensors or []))
    imports = [helper.make_opsetid(domain, version)
               for domain, version in {"": OPSET, **(opsets or {})}.items()]
    model = helper.make_model(graph, opset_imports=imports, functions=functions or [],
                              ir_version=IR_VERSION)
    return model.SerializeToString()


def _rand(*shape: int, seed: int = 1, positive: bool = False) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return np.abs(values) + 0.5 if positive else values


def _node(op: str, inputs: list[str], output: str = "y", **attrs) -> onnx.NodeProto:
    return helper.make_node(op, inputs, [output], **attrs)


def _shape_pattern() -> tuple[list[onnx.NodeProto], dict]:
    """TorchScript's ``x.view(x.size(0), -1)``: Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    return [
        _node("Shape", ["x"], "s"),
        _node("Gather", ["s", "zero"], "n", axis=0),
        _node("Unsqueeze", ["n", "axes"], "n1"),
        _node("Constant", [], "minus", value=numpy_helper.from_array(np.array([-1], np.int64))),
        _node("Concat", ["n1", "minus"], "target", axis=0),
        _node("Reshape", ["x", "target"]),
    ], {"zero": np.array(0, np.int64), "axes": np.array([0], np.int64)}


def _squeeze_cast_pattern() -> tuple[list[onnx.NodeProto], dict]:
    """The dynamo exporter's unoptimized flatten (Shape -> Squeeze -> Reshape -> Concat), then a
    Cast round trip through int32 (truncation)."""
    return [
        _node("Shape", ["x"], "s", start=0, end=1),
        _node("Squeeze", ["s"], "n"),
        _node("Reshape", ["n", "minus"], "n1"),
        _node("Concat", ["n1", "minus"], "target", axis=0),
        _node("Reshape", ["x", "target"], "flat", allowzero=1),
        _node("Cast", ["flat"], "i", to=TensorProto.INT32),
        _node("Cast", ["i"], "y", to=TensorProto.FLOAT),
    ], {"minus": np.array([-1], np.int64)}


W35 = _rand(5, 3, seed=2)
CASES: dict[str, tuple[list[onnx.NodeProto], tuple[int, ...], dict]] = {
    "Gemm": ([_node("Gemm", ["x", "w", "b"], transB=1)], (4, 3), {"w": W35, "b": _rand(5)}),
    "Gemm-general": ([_node("Gemm", ["x", "w", "b"], transA=1, alpha=0.5, beta=2.0)], (3, 4),
                     {"w": _rand(3, 5), "b": _rand(5)}),
    "MatMul": ([_node("MatMul", ["x", "w"])], (2, 4, 3), {"w": _rand(3, 5)}),
    "Add": ([_node("Add", ["x", "w"])], (4, 3), {"w": _rand(3)}),
    "Sub": ([_node("Sub", ["w", "x"])], (4, 3), {"w": _rand(3)}),
    "Mul": ([_node("Mul", ["x", "w"])], (4, 3), {"w": _rand(4, 1)}),
    "Div": ([_node("Div", ["x", "w"])], (4, 3), {"w": _rand(3, positive=True)}),
    "Neg": ([_node("Neg", ["x"])], (4, 3), {}),
    "Conv": ([_node("Conv", ["x", "w", "b"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
             (2, 2, 6, 6), {"w": _rand(3, 2, 3, 3), "b": _rand(3)}),
    "Conv-asymmetric": ([_node("Conv", ["x", "w"], kernel_shape=[3, 2], pads=[1, 0, 0, 1],
                               strides=[2, 1], dilations=[1, 2], group=2)],
                        (2, 4, 7, 7), {"w": _rand(4, 2, 3, 2)}),
    "Conv-1d": ([_node("Conv", ["x", "w", "b"], kernel_shape=[3])], (2, 2, 9),
                {"w": _rand(3, 2, 3), "b": _rand(3)}),
    "BatchNormalization": ([_node("BatchNormalization", ["x", "s", "b", "m", "v"], epsilon=1e-3)],
                           (2, 3, 4, 4), {"s": _rand(3), "b": _rand(3), "m": _rand(3),
                                          "v": _rand(3, positive=True)}),
    "LayerNormalization": ([_node("LayerNormalization", ["x", "s", "b"], axis=-1, epsilon=1e-5)],
                           (4, 6), {"s": _rand(6), "b": _rand(6)}),
    "Relu": ([_node("Relu", ["x"])], (4, 3), {}),
    "LeakyRelu": ([_node("LeakyRelu", ["x"], alpha=0.2)], (4, 3), {}),
    "Gelu": ([_node("Gelu", ["x"])], (4, 3), {}),
    "Gelu-tanh": ([_node("Gelu", ["x"], approximate="tanh")], (4, 3), {}),
    "Tanh": ([_node("Tanh", ["x"])], (4, 3), {}),
    "Sigmoid": ([_node("Sigmoid", ["x"])], (4, 3), {}),
    "Softplus": ([_node("Softplus", ["x"])], (4, 3), {}),
    "Elu": ([_node("Elu", ["x"], alpha=0.5)], (4, 3), {}),
    "MaxPool": ([_node("MaxPool", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
                (2, 2, 7, 7), {}),
    "MaxPool-asymmetric": ([_node("MaxPool", ["x"], kernel_shape=[2, 2], pads=[0, 0, 1, 1],
                                  ceil_mode=1)], (2, 2, 5, 5), {}),
    "AveragePool": ([_node("AveragePool", ["x"], kernel_shape=[2, 2], strides=[2, 2])],
                    (2, 2, 6, 6), {}),
    "AveragePool-padded": ([_node("AveragePool", ["x"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                  count_include_pad=1)], (2, 2, 5, 5), {}),
    "GlobalAveragePool": ([_node("GlobalAveragePool", ["x"])], (2, 3, 4, 5), {}),
    "Flatten": ([_node("Flatten", ["x"], axis=2)], (2, 3, 4, 5), {}),
    "Reshape": ([_node("Reshape", ["x", "t"])], (4, 6), {"t": np.array([0, 2, -1], np.int64)}),
    "Transpose": ([_node("Transpose", ["x"], perm=[2, 0, 1])], (2, 3, 4), {}),
    "Concat": ([_node("Concat", ["x", "w"], axis=1)], (4, 3), {"w": _rand(4, 2)}),
    "Identity": ([_node("Identity", ["x"])], (4, 3), {}),
    "Dropout": ([_node("Dropout", ["x"])], (4, 3), {}),
    "Softmax": ([_node("Softmax", ["x"], axis=1)], (4, 3, 2), {}),
    "LogSoftmax": ([_node("LogSoftmax", ["x"])], (4, 3), {}),
    "Constant": ([_node("Constant", [], "c", value=numpy_helper.from_array(_rand(3))),
                  _node("Constant", [], "k", value_float=2.5),
                  _node("Mul", ["x", "k"], "xk"), _node("Add", ["xk", "c"])], (4, 3), {}),
    "Shape-Gather-Unsqueeze": (*_shape_pattern()[:1], (2, 3, 4), _shape_pattern()[1]),
    "Gather-data": ([_node("Gather", ["x", "i"], axis=1)], (4, 5), {"i": np.array([4, -1, 0])}),
    "Squeeze-Cast": (*_squeeze_cast_pattern()[:1], (2, 3, 4), _squeeze_cast_pattern()[1]),
}


def test_every_allow_listed_operator_has_a_case():
    covered = {node.op_type for nodes, _, _ in CASES.values() for node in nodes}
    assert covered == set(OPS)


@pytest.mark.parametrize("case", list(CASES))
def test_operator_matches_onnxruntime(case):
    nodes, shape, inits = CASES[case]
    content = _file(nodes, shape, inits)
    net = read_onnx(content, f"{case}.onnx", **LIMITS)
    x = _rand(*shape, seed=7) * 3
    difference, tolerance = discrepancy(net, x)
    assert difference <= 0.1 * tolerance, (difference, tolerance)  # well inside the tolerance
    assert verify(net, x) == difference


def test_parameter_names_may_be_private_or_exporter_made():
    names = ["_hidden.weight", "onnx::MatMul_7", "0.1.bias"]
    nodes = [_node("MatMul", ["x", names[0]], "a"), _node("MatMul", ["a", names[1]], "b"),
             _node("Add", ["b", names[2]])]
    inits = {names[0]: _rand(3, 4), names[1]: _rand(4, 2), names[2]: _rand(2)}
    net = read_onnx(_file(nodes, (4, 3), inits), "net.onnx", **LIMITS)
    assert [n for n, _ in net.module.named_parameters()] == ["onnx::MatMul_7", "_hidden.weight",
                                                             "0.1.bias"]
    assert verify(net, _rand(4, 3)) < 1e-6


# --------------------------------------------------------------------------- real exports


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(3, 8)
        self.block = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.GELU(), nn.Dropout(0.1))
        self.out = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        return self.out(h + self.block(h))


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(h, 1))


class ViewCNN(SmallCNN):
    """Flattens with ``h.view(h.size(0), -1)``: TorchScript's exporter writes Shape, Gather,
    Unsqueeze, Concat and Reshape for it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(h.view(h.size(0), -1))


def _export_torchscript(model: nn.Module, x: torch.Tensor, tmp_path) -> bytes:
    path = tmp_path / "ts.onnx"
    with warnings.catch_warnings():  # the legacy exporter, on purpose: its shape arithmetic
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})
    return path.read_bytes()


def _export(model: nn.Module, x: torch.Tensor, tmp_path, **options) -> bytes:
    pytest.importorskip("onnxscript")
    path = tmp_path / "net.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=True, external_data=False,
                      dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False, **options)
    return path.read_bytes()


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """(module, input, ONNX bytes) of the residual MLP and the CNN (BatchNorm kept: optimize=False,
    and folded into the convolution: the exporter's default)."""
    torch.manual_seed(0)
    residual = Residual().eval()
    cnn = SmallCNN()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        cnn.bn.running_mean.uniform_(-1, 1)
        cnn.bn.running_var.uniform_(0.5, 2)
    cnn.eval()
    view_cnn = ViewCNN()
    view_cnn.load_state_dict(cnn.state_dict())
    view_cnn.eval()
    tmp = tmp_path_factory.mktemp("onnx")
    x_mlp, x_cnn = torch.randn(6, 3), torch.randn(5, 1, 8, 8)
    return {
        "residual": (residual, x_mlp, _export(residual, x_mlp, tmp)),
        "cnn": (cnn, x_cnn, _export(cnn, x_cnn, tmp, optimize=False)),
        "cnn-folded": (cnn, x_cnn, _export(cnn, x_cnn, tmp)),
        "cnn-torchscript": (view_cnn, x_cnn, _export_torchscript(view_cnn, x_cnn, tmp)),
    }


@pytest.mark.parametrize("which", ["residual", "cnn", "cnn-folded", "cnn-torchscript"])
def test_export_matches_onnxruntime_and_the_module(exports, which):
    module, x, content = exports[which]
    net = read_onnx(content, "net.onnx", **LIMITS)
    x_other_batch = torch.cat([x, x[:2] * 2])  # the batch dimension is symbolic
    for inputs in (x, x_other_batch):
        assert verify(net, inputs.numpy()) < 1e-5
        with torch.no_grad():
            torch.testing.assert_close(net.module(inputs), module(inputs), rtol=1e-5, atol=1e-5)
    assert net.input_shape[0] is None and list(net.input_shape[1:]) == list(x.shape[1:])


def test_torchscript_export_shape_arithmetic_is_static(exports):
    content = exports["cnn-torchscript"][2]
    ops = {node.op_type for node in onnx.load_from_string(content).graph.node}
    assert {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"} <= ops


def test_export_parameter_names_are_the_module_names(exports):
    for which in ("residual", "cnn"):
        module, _, content = exports[which]
        net = read_onnx(content, "net.onnx", **LIMITS)
        assert [n for n, _ in net.module.named_parameters()] == \
            [n for n, _ in module.named_parameters()]  # the same order: the same flat points
        for name, tensor in net.module.named_parameters():
            torch.testing.assert_close(tensor, module.get_parameter(name), rtol=0, atol=0)
    net = read_onnx(exports["cnn"][2], "net.onnx", **LIMITS)
    assert sorted(n for n, _ in net.module.named_buffers()) == ["bn.running_mean", "bn.running_var"]
    folded = read_onnx(exports["cnn-folded"][2], "net.onnx", **LIMITS)
    assert sorted(n for n, _ in folded.module.named_parameters()) == \
        ["conv.bias", "conv.weight", "fc.bias", "fc.weight"]


@pytest.mark.parametrize("which", ["residual", "cnn"])
def test_translation_runs_under_functional_call_and_vmap(exports, which):
    _, x, content = exports[which]
    module = read_onnx(content, "net.onnx", **LIMITS).module
    params = {k: v.detach() for k, v in module.named_parameters()}
    buffers = {k: v.detach() for k, v in module.named_buffers()}
    torch.manual_seed(3)
    points = [{k: v + 0.1 * i * torch.randn_like(v) for k, v in params.items()} for i in range(3)]
    stacked = {k: torch.stack([p[k] for p in points]) for k in params}

    def run(p: dict) -> torch.Tensor:
        return torch.func.functional_call(module, (p, buffers), (x,))

    batched = torch.func.vmap(run)(stacked)
    for i, point in enumerate(points):
        torch.testing.assert_close(batched[i], run(point), rtol=1e-5, atol=1e-6)
    assert not torch.equal(batched[0], batched[2])


def test_load_checkpoint_accepts_onnx_without_an_architecture(exports):
    module, _, content = exports["residual"]
    ckpt = load_checkpoint(content, "net.onnx")
    assert ckpt.arch is not None and ckpt.arch["type"] == "onnx"
    assert ckpt.arch["inputs"] == [None, 3] and len(ckpt.arch["sha256"]) == 64
    assert ckpt.module is not None and ckpt.onnx is not None and ckpt.onnx.content == content
    assert set(ckpt.state) == {n for n, _ in module.named_parameters()}
    assert ckpt.loss is None and ckpt.meta["format"] == "onnx"


def test_the_store_keeps_an_accepted_onnx_file_as_uploaded(exports, tmp_path):
    module, x, content = exports["cnn"]
    store = UploadStore(tmp_path)
    key = store.put_checkpoint(content, "net.onnx")
    assert (tmp_path / "uploads" / f"{key}.onnx").read_bytes() == content
    assert store.put_checkpoint(content, "renamed.onnx") == key
    ckpt = store.checkpoint(key)
    assert ckpt.arch is not None and ckpt.arch["sha256"] == key and ckpt.module is not None
    with torch.no_grad():
        torch.testing.assert_close(ckpt.module(x), module(x), rtol=1e-5, atol=1e-5)
    small = UploadStore(tmp_path / "small", max_parameters=100)
    with pytest.raises(LandscapeError, match="over the limit of 100"):
        small.put_checkpoint(content, "net.onnx")


def _toy_data(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3)).astype(np.float32), rng.integers(0, 2, n)


SLICE = {"view": "slice", "dims": 2, "steps": 5, "span": 0.5, "directions": "filter",
         "direction_seed": 0, "include_1d": False}


def test_an_uploaded_onnx_network_gives_the_slice_from_module_gives(exports, one_torch_thread):
    """The issue's contract: the module exported to ONNX and uploaded gives the same slice (within
    1e-5 relative) as ``landscapes.from_module`` on the module itself and the same data."""
    import landscapes
    from landscapes.networks.views import compute_slice

    module, _, content = exports["residual"]
    x, y = _toy_data()
    uploaded = compute_slice(checkpoint_source(load_checkpoint(content, "net.onnx"), {},
                                               from_arrays("toy", x, y)), dict(SLICE))
    direct = landscapes.from_module(module, x, y, loss="cross_entropy").slice(steps=5, span=0.5)
    np.testing.assert_allclose(uploaded.values, direct.values, rtol=1e-5)
    np.testing.assert_allclose(uploaded.extras["test_loss"], direct.extras["test_loss"], rtol=1e-5)
    assert uploaded.meta["parameters"] == direct.meta["parameters"]
    with torch.no_grad():  # the centre is the module's own loss on the train split
        own = nn.functional.cross_entropy(module(torch.as_tensor(direct.extras["X_train"])),
                                          torch.as_tensor(direct.extras["y_train"]))
    assert uploaded.values[2, 2] == pytest.approx(float(own), rel=1e-5)


def test_a_second_onnx_checkpoint_must_hold_the_same_tensors(exports):
    _, _, residual = exports["residual"]
    _, _, cnn = exports["cnn"]
    x, y = _toy_data()
    with pytest.raises(LandscapeError, match=r"checkpoint2 has a different architecture from the "
                       r"center checkpoint \(ONNX graph of 8 tensors, \d+ numbers vs ONNX graph of "
                       r"8 tensors, 138 numbers\)"):
        checkpoint_source(load_checkpoint(residual, "a.onnx"),
                          {"checkpoint2": load_checkpoint(cnn, "b.onnx")}, from_arrays("toy", x, y))


def test_onnx_data_of_the_wrong_shape_is_refused_in_one_line(exports):
    _, _, content = exports["residual"]
    rng = np.random.default_rng(0)
    data = from_arrays("toy", rng.standard_normal((40, 5)).astype(np.float32),
                       rng.integers(0, 2, 40))
    with pytest.raises(LandscapeError, match=r"net.onnx takes inputs of shape \(batch, 3\), but "
                       r"the data's rows X\[i\] have shape \(5\)") as info:
        checkpoint_source(load_checkpoint(content, "net.onnx"), {}, data)
    assert "\n" not in str(info.value)


def test_the_command_line_takes_an_onnx_checkpoint_without_an_architecture(exports, tmp_path,
                                                                            capsys):
    from landscapes.io.npz import read_npz

    (tmp_path / "net.onnx").write_bytes(exports["residual"][2])
    x, y = _toy_data(40)
    np.savez(tmp_path / "data.npz", X=x, y=y)
    code = cli.main(["slice", "network", "--checkpoint", str(tmp_path / "net.onnx"),
                     "--data", str(tmp_path / "data.npz"), "--steps", "5",
                     "--out", str(tmp_path / "out.npz"), "--cache-dir", str(tmp_path / "c")])
    assert code == 0, capsys.readouterr().err
    arrays, meta = read_npz(tmp_path / "out.npz")
    assert arrays["values"].shape == (5, 5) and np.isfinite(arrays["values"]).all()
    assert meta["architecture"]["type"] == "onnx"
    assert meta["checkpoints"]["center"]["name"] == "net.onnx"


def test_a_mistranslation_is_refused_with_the_numbers(exports):
    _, x, content = exports["residual"]
    net = read_onnx(content, "net.onnx", **LIMITS)
    with torch.no_grad():
        net.module.get_parameter("out.bias").add_(1.0)
    with pytest.raises(LandscapeError) as info:
        verify(net, x.numpy())
    message = str(info.value)
    assert "differs from onnxruntime by 1 (tolerance" in message
    assert "on the uploaded data" in message and "\n" not in message


# --------------------------------------------------------------------------- refusals


def _external() -> bytes:
    tensor = numpy_helper.from_array(_rand(5, 3), "w")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "60")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return _file([_node("Gemm", ["x", "w"], transB=1)], (4, 3), tensors=[tensor])


def _external_attribute() -> bytes:
    """External data hidden in a tensor attribute of an allow-listed node (not a Constant)."""
    tensor = TensorProto(name="t", data_type=TensorProto.FLOAT, dims=[3],
                         data_location=TensorProto.EXTERNAL)
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    return _file([_node("Relu", ["x"], hidden=tensor)], (4, 3))


def _doubling(start: str = "x") -> list[onnx.NodeProto]:
    """64 Concats, each of the previous value with itself: 2^64 times the start's values."""
    names = [start] + [f"d{i}" for i in range(64)]
    return [_node("Concat", [a, a], b, axis=0) for a, b in zip(names, names[1:], strict=False)] + \
        [_node("Identity", [names[-1]])]


def _no_input_shape() -> bytes:
    graph = helper.make_graph([_node("Relu", ["x"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                             ir_version=IR_VERSION).SerializeToString()


def _huge() -> bytes:
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[10**6, 10**6])
    return _file([_node("MatMul", ["x", "w"])], (4, 10**6), tensors=[tensor])


def _local_function() -> bytes:
    function = helper.make_function("local", "MyRelu", ["a"], ["b"],
                                    [helper.make_node("Relu", ["a"], ["b"])],
                                    [helper.make_opsetid("", OPSET)])
    return _file([helper.make_node("MyRelu", ["x"], ["y"], domain="local")], (4, 3),
                 functions=[function], opsets={"local": 1})


def _cycle() -> bytes:
    return _file([_node("Relu", ["b"], "a"), _node("Relu", ["a"], "b"), _node("Identity", ["b"])],
                 (4, 3))


def _gemm_bytes() -> bytes:
    return _file(*CASES["Gemm"][0:2], CASES["Gemm"][2])


REFUSALS = {
    "external data": (_external, r"refers to external data \(location '\.\./\.\./etc/passwd'\)"),
    "external attribute": (_external_attribute, r"tensor 't' refers to external data"),
    "arity": (lambda: _file([_node("Gemm", ["x"])], (4, 3)),
              r"node 0 \(Gemm\) has 1 inputs \('x'\); the operator takes 2 to 3"),
    "attribute type": (lambda: _file([_node("LeakyRelu", ["x"], alpha="much")], (4, 3)),
                       r"node 0 \(LeakyRelu\): unreadable attributes"),
    "doubling tensors": (lambda: _file(_doubling(), (4, 3)),
                         r"node 18 \(Concat\) gives 6,291,456 values per sample, over the limit"),
    "doubling constants": (lambda: _file([_node("Shape", ["x"], "s"), *_doubling("s")], (4, 3)),
                           r"node 22 \(Concat\) gives 8,388,608 values per sample, over the limit"),
    "shape mismatch": (lambda: _file([_node("MatMul", ["x", "w"])], (4, 3), {"w": _rand(5, 2)}),
                       r"does not evaluate on inputs of its declared shape \(4, 3\)"),
    "input shape": (_no_input_shape, r"the input 'x' does not declare its shape"),
    "reserved name": (lambda: _file([_node("Add", ["x", "training.bias"])], (4, 3),
                                    {"training.bias": _rand(3)}),
                      r"the initializer name 'training\.bias' cannot be a module attribute"),
    "huge tensor": (_huge, r"declares 1,000,000,000,000 values .* it was not allocated"),
    "custom-domain node": (lambda: _file([helper.make_node("Exec", ["x"], ["y"], domain="com.evil")],
                                         (4, 3)),
                           r"node 0 \(Exec\) is in the custom domain 'com\.evil'"),
    "custom-domain import": (lambda: _file([_node("Relu", ["x"])], (4, 3), opsets={"com.evil": 1}),
                             r"imports the custom operator domain 'com\.evil'"),
    "local function": (_local_function, r"defines local functions \('MyRelu'\)"),
    "cycle": (_cycle, r"node 0 \(Relu\) reads 'b', which no earlier node produces \(a cycle"),
    "truncated": (lambda: _gemm_bytes()[:-40], r"not (a readable|an) ONNX model"),
    "not onnx": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
                 r"not (a readable|an) ONNX model"),
    "text": (lambda: b"X,y\n1,2\n3,4\n", r"not (a readable|an) ONNX model"),
    "empty": (lambda: b"", r"not an ONNX model \(no IR version, opset or graph nodes\)"),
    "operator": (lambda: _file([_node("Sin", ["x"])], (4, 3)),
                 r"operator 'Sin' is not in the allow-list \(Gemm, MatMul"),
    "sub-graph": (lambda: _file([_node("Dropout", ["x"], body=helper.make_graph([], "b", [], []))],
                                (4, 3)), r"sub-graph attribute 'body'"),
    "old opset": (lambda: helper.make_model(
        helper.make_graph([_node("Relu", ["x"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]),
        opset_imports=[helper.make_opsetid("", 9)], ir_version=IR_VERSION).SerializeToString(),
        r"opset 9 is older than 13"),
    "non-finite": (lambda: _file([_node("Add", ["x", "w"])], (4, 3), {"w": np.array([1, np.nan, 0],
                                                                                     np.float32)}),
                   r"tensor 'w' contains NaN"),
    "reshape from values": (lambda: _file([_node("Cast", ["x"], "t", to=TensorProto.INT64),
                                           _node("Reshape", ["x", "t"])], (2,)),
                            r"input 1 \('t'\) is computed from tensor values"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_crafted_files_are_refused_in_one_line_and_not_stored(case, tmp_path):
    make, pattern = REFUSALS[case]
    content = make()
    with pytest.raises(LandscapeError, match=pattern) as info:
        read_onnx(content, "evil.onnx", **LIMITS)
    assert "\n" not in str(info.value) and str(info.value).startswith("evil.onnx: ")
    store = UploadStore(tmp_path)
    with pytest.raises(LandscapeError, match=pattern):
        store.put_checkpoint(content, "evil.onnx")
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_a_huge_declared_tensor_is_refused_without_allocating():
    content = _huge()
    tracemalloc.start()
    try:
        with pytest.raises(LandscapeError):
            read_onnx(content, "huge.onnx", max_bytes=2**20, max_parameters=2_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_an_oversized_file_is_refused_before_parsing():
    with pytest.raises(LandscapeError, match="over the upload limit"):
        read_onnx(b"\x08" * 2000, "big.onnx", max_bytes=1000, max_parameters=10)


def test_sample_input_fills_symbolic_dimensions(exports):
    net = read_onnx(exports["cnn"][2], "net.onnx", **LIMITS)
    assert sample_input(net, batch=3).shape == (3, 1, 8, 8)


def test_the_onnx_refusal_table_quotes_the_real_messages():
    from tests.unit.test_docs import table, ticked

    messages = {}
    for case, (make, _) in REFUSALS.items():
        with pytest.raises(LandscapeError) as info:
            read_onnx(make(), "evil.onnx", **LIMITS)
        messages[case] = str(info.value)
    net = read_onnx(_gemm_bytes(), "net.onnx", **LIMITS)
    with torch.no_grad():
        net.module.get_parameter("b").add_(1.0)
    with pytest.raises(LandscapeError) as info:
        verify(net, _rand(4, 3))
    messages["mistranslation"] = str(info.value)
    with pytest.raises(LandscapeError) as info:
        verify(net, _rand(4, 5))
    messages["data shape"] = str(info.value)
    excerpts = [e for row in table("onnx-refusals").rows[1:] for e in ticked(row[1])]
    for excerpt in excerpts:
        assert any(excerpt in m for m in messages.values()), f"no refusal says {excerpt!r}"
    for case, message in messages.items():
        assert any(e in message for e in excerpts), f"undocumented refusal ({case}): {message}"


@pytest.mark.parametrize("cut", [0.25, 0.5, 0.9, 0.999])
def test_a_truncated_export_is_refused_in_one_line(exports, cut):
    content = exports["cnn"][2]
    with pytest.raises(LandscapeError, match=r"^net\.onnx: not (a readable|an) ONNX model") as info:
        read_onnx(content[:int(len(content) * cut)], "net.onnx", **LIMITS)
    assert "\n" not in str(info.value)
