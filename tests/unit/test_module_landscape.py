"""Any ``nn.Module``'s landscape: the ``inplace`` and ``vmap`` engines against the reference loop
and the zoo's ``gemm`` path, the recognition of zoo shapes, buffers, and
``landscapes.from_module``'s checks (every bad input a one-line LandscapeError), and ``import
landscapes`` without torch."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import landscapes
from landscapes.errors import LandscapeError
from landscapes.networks import landscape as landscape_module
from landscapes.networks.architectures import build_network, zoo_arch_of
from landscapes.networks.datasets import from_arrays, load_builtin
from landscapes.networks.landscape import NetworkLandscape

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Residual(nn.Module):
    """``h + f(norm(h))`` blocks with a BatchNorm (buffers) and a LayerNorm."""

    def __init__(self, width: int = 8, classes: int = 3):
        super().__init__()
        self.inp = nn.Linear(2, width)
        self.bn = nn.BatchNorm1d(width)
        self.norm = nn.LayerNorm(width)
        self.f = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, width))
        self.out = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn(self.inp(x))
        return self.out(h + self.f(self.norm(h)))


def _data(n: int = 60, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, 2)).astype(np.float32)
    return x, (np.arange(n) % classes).astype(np.int64)


def _trained_residual() -> Residual:
    torch.manual_seed(0)
    net = Residual()
    with torch.no_grad():  # running statistics that differ from the defaults
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
    return net


def _points(land: NetworkLandscape, count: int = 9) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return land.center + 0.3 * torch.randn(count, land.dim, generator=g)


def test_generic_methods_match_the_reference_loop_and_plain_forward_passes():
    net = _trained_residual()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    data = from_arrays("toy", *_data())
    land = NetworkLandscape.from_module(net, data, "cross_entropy")
    assert land.method == "inplace" and land.arch == {"type": "module", "class": "Residual"}
    assert land.method_meta()["method"] == "inplace"
    pts = _points(land)
    fast, ref = land.evaluate_splits(pts), land.evaluate_splits(pts, method="loop")
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(land.evaluate_splits(pts, method="vmap"), ref, rtol=1e-5, atol=1e-6)
    # the scratch copy took the last point's weights; the landscape's own module did not
    assert torch.equal(land.layout.flatten(dict(land.module.named_parameters())), land.center)
    # independently: load each point into a copy and run it in eval mode
    copy = Residual()
    copy.load_state_dict(net.state_dict())
    copy.eval()
    for k in (0, 4):
        torch.nn.utils.vector_to_parameters(pts[k], copy.parameters())
        with torch.no_grad():
            out = copy(torch.as_tensor(data.x_test))
        want = nn.functional.cross_entropy(out, torch.as_tensor(data.y_test))
        assert fast[k, 1] == pytest.approx(float(want), rel=1e-5)
    assert net.training  # the user's module is never changed
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


class ItemNet(nn.Module):
    """A forward that calls ``.item()``: vmap cannot run it."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) / (1.0 + self.lin.weight.abs().max().item())


def test_a_module_vmap_cannot_run_is_evaluated_point_by_point():
    torch.manual_seed(0)
    net = ItemNet()
    data = from_arrays("toy", *_data())
    land = NetworkLandscape.from_module(net, data, "cross_entropy")
    assert land.method == "inplace" and land.method_meta()["method"] == "inplace"
    # off the CPU vmap is picked where it runs the forward (the rule only: "meta" has no data)
    assert land.on(torch.device("meta")).method == "inplace"
    residual = NetworkLandscape.from_module(_trained_residual(), data, "cross_entropy")
    assert residual.on(torch.device("meta")).method == "vmap"
    pts = _points(land, 3)
    got = land.evaluate_splits(pts)
    copy = ItemNet().eval()
    torch.nn.utils.vector_to_parameters(pts[2], copy.parameters())
    with torch.no_grad():
        want = nn.functional.cross_entropy(copy(torch.as_tensor(data.x_train)),
                                           torch.as_tensor(data.y_train))
    assert got[2, 0] == pytest.approx(float(want), rel=1e-6)


def test_regression_and_chunks(monkeypatch):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.GELU(), nn.Linear(5, 2))
    g = np.random.default_rng(0)
    data = from_arrays("reg", g.normal(size=(40, 3)), g.normal(size=(40, 2)))
    assert NetworkLandscape.from_module(net, data, "mse").method == "gemm"  # a zoo MLP
    land = NetworkLandscape.from_module(net, data, "mse", recognize=False)
    assert land.method == "inplace"
    pts = _points(land, 7)
    assert landscape_module.vmap_chunk(40) == 64 and landscape_module.vmap_chunk(1500) == 5
    assert landscape_module.vmap_chunk(10**6) == 1
    monkeypatch.setattr(landscape_module, "VMAP_ROWS", 3 * 40)  # 3 points per call
    ref = land.evaluate_splits(pts, method="loop")
    for method in ("vmap", "inplace"):
        np.testing.assert_allclose(land.evaluate_splits(pts, method=method), ref, rtol=1e-5,
                                   atol=1e-7)


def test_zoo_shapes_take_the_fast_path_with_the_same_numbers():
    data = load_builtin("moons")
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    fast = NetworkLandscape.from_module(seq, data, "cross_entropy")
    generic = NetworkLandscape.from_module(seq, data, "cross_entropy", recognize=False)
    assert fast.arch == {"type": "mlp", "sizes": [2, 16, 16, 2], "act": "relu"}
    assert (fast.method, generic.method) == ("gemm", "inplace")
    pts = _points(fast, 12)
    np.testing.assert_allclose(fast.evaluate_splits(pts), generic.evaluate_splits(pts),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("arch", [
    {"type": "mlp", "sizes": [2, 8, 3], "act": "tanh"},
    {"type": "cnn", "in_channels": 1, "image_size": 8, "channels": [4, 6], "kernel": 3,
     "pool": "avg", "batchnorm": True, "classes": 10, "act": "relu"},
])
def test_zoo_networks_are_recognised(arch):
    shape = (2,) if arch["type"] == "mlp" else (1, 8, 8)
    assert zoo_arch_of(build_network(arch), shape) == {**arch}


@pytest.mark.parametrize("module", [
    nn.Sequential(nn.Linear(2, 8), nn.ReLU(inplace=True), nn.Linear(8, 2)),  # another setting
    nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2, bias=False)),
    nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)),
    nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(), nn.Linear(8, 2)),
    Residual(),
])
def test_other_modules_are_not(module):
    assert zoo_arch_of(module, (2,)) is None


def test_a_subclass_or_a_hook_is_not_the_zoo():
    class Seq(nn.Sequential):
        pass

    assert zoo_arch_of(Seq(nn.Linear(2, 2)), (2,)) is None
    seq = nn.Sequential(nn.Linear(2, 2))
    seq[0].register_forward_hook(lambda m, i, o: o * 2)
    assert zoo_arch_of(seq, (2,)) is None


def test_from_module_splits_by_content_and_accepts_tensors():
    x, y = _data(50)
    torch.manual_seed(0)
    net = Residual()
    a = landscapes.from_module(net, x, y.astype(np.float64))
    b = landscapes.from_module(net, torch.as_tensor(x), torch.as_tensor(y))
    da, db = a.landscape.data, b.landscape.data
    assert da.name == db.name and da.name.startswith("arrays:")
    assert (len(da.x_train), len(da.x_test)) == (40, 10)
    np.testing.assert_array_equal(da.x_test, db.x_test)
    c = landscapes.from_module(net, x[:40], y[:40], X_test=x[40:], y_test=y[40:])
    np.testing.assert_array_equal(c.landscape.data.x_test, x[40:])


@pytest.mark.parametrize("call, message", [
    (lambda net, x, y: landscapes.from_module(net, x, y + 0.5), "whole-number class labels"),
    (lambda net, x, y: landscapes.from_module(net, x[:, :1], y),
     "the module fails on samples of shape (1,): RuntimeError"),
    (lambda net, x, y: landscapes.from_module(net, x, y, max_parameters=10),
     "parameters, over the limit of 10"),
    (lambda net, x, y: landscapes.from_module(net, np.full_like(x, np.nan), y),
     "NaN or infinite"),
    (lambda net, x, y: landscapes.from_module(net, x, y[:-1]), "X has 60 samples but y has 59"),
    (lambda net, x, y: landscapes.from_module(net, x, y * 2), "labels go up to 4"),
    (lambda net, x, y: landscapes.from_module(net, x, y, loss="mse"), "mse needs"),
    (lambda net, x, y: landscapes.from_module(net, x, y, loss="hinge"), "loss must be one of"),
    (lambda net, x, y: landscapes.from_module(net, x, y, X_test=x), "both X_test and y_test"),
    (lambda net, x, y: landscapes.from_module("net", x, y), "expected a torch.nn.Module"),
    (lambda net, x, y: landscapes.from_module(net, x, y, device="tpu"), "unknown device 'tpu'"),
    (lambda net, x, y: landscapes.from_module(net, x, y).path(nn.Linear(2, 2)),
     "must be a Residual"),
    (lambda net, x, y: landscapes.from_module(net, x, y).hessian(k=3), "k must be 1 or 2"),
    (lambda net, x, y: landscapes.from_module(net, x, y).slice(steps=1), "steps must be"),
])
def test_bad_input_is_a_one_line_error(call, message):
    x, y = _data()
    with pytest.raises(LandscapeError) as err:
        call(Residual(), x, y)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_import_landscapes_stays_light():
    code = ("import sys, landscapes; assert 'torch' not in sys.modules, 'torch'; "
            "assert callable(landscapes.from_module); assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("method", ["vmap", "inplace"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_one_split_equals_its_columns_of_both(split, method):
    land = NetworkLandscape.from_module(_trained_residual(), from_arrays("toy", *_data()),
                                        "cross_entropy")
    pts = _points(land, 5)
    both = land.evaluate_splits(pts, method="loop")
    one = land.evaluate(pts, split, method=method)
    k = 0 if split == "train" else 1
    np.testing.assert_allclose(one["loss"], both[:, k], rtol=1e-5)
    np.testing.assert_allclose(one["accuracy"], both[:, 2 + k], rtol=1e-6)
