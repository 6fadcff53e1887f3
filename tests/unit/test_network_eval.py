"""The fast network evaluation (``gemm``) against the reference loop (``loop``).

``loop`` runs one ``torch.func.functional_call`` forward per point; tests/unit/test_networks.py
checks it (and the slices built on ``gemm``) against independent plain forward passes. Here every
zoo feature the GEMM program rewrites is exercised: activations, pooling kinds, kernel sizes,
BatchNorm folding with explicit (interpolated) buffers, ties, huge logits, chunking, fallback.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from landscapes.networks import fused
from landscapes.networks import gemm as gemm_module
from landscapes.networks import views as network_views
from landscapes.networks.architectures import build_network
from landscapes.networks.datasets import from_arrays, load_builtin
from landscapes.networks.landscape import NetworkLandscape
from tests.unit.test_networks import _state

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _points(land: NetworkLandscape, count: int = 7, scale: float = 0.3, seed: int = 0
            ) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(count, land.dim, generator=g, dtype=torch.float64)
    return land.center.double() + scale * noise * land.center.double().abs().mean()


def _slice_points(land: NetworkLandscape, dims: int = 2, steps: int = 4, seed: int = 0
                  ) -> torch.Tensor:
    """A grid on a line, plane or 3-D slice through the centre, formed in float64 and rounded to
    float32 (as network_views._grid does): points whose first layer has rank dims + 1."""
    g = torch.Generator().manual_seed(seed)
    scale = 0.3 * land.center.double().abs().mean()
    d = scale * torch.randn(dims, land.dim, generator=g, dtype=torch.float64)
    axis = torch.linspace(-1.0, 1.0, steps, dtype=torch.float64)
    coefs = torch.cartesian_prod(*[axis] * dims).reshape(-1, dims)
    return (land.center.double() + coefs @ d).to(torch.float32)


def _rank(land: NetworkLandscape, points: torch.Tensor, buffers=None) -> int | None:
    """The rank the GEMM program finds for the first convolution at ``points`` (None: none)."""
    basis = land.program()._first_basis(points, land.buffers if buffers is None else buffers)
    return None if basis is None else basis.coef.shape[2]


def _agree(land: NetworkLandscape, points: torch.Tensor, buffers=None) -> np.ndarray:
    assert land.method == "gemm"
    fast = land.evaluate_splits(points, buffers, method="gemm")
    ref = land.evaluate_splits(points, buffers, method="loop")
    assert fast.shape == ref.shape
    losses = slice(0, 2)
    assert np.allclose(fast[:, losses], ref[:, losses], rtol=2e-5, atol=1e-6), (fast, ref)
    if fast.shape[1] == 4:  # accuracies: a count out of the split, one sample at most apart
        n = (len(land.data.y_train), len(land.data.y_test))
        assert np.all(np.abs(fast[:, 2:] - ref[:, 2:]) <= 1.01 / np.array(n))
    return fast


def _images(channels: int, size: int, classes: int = 3, count: int = 90, seed: int = 0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(count, channels, size, size)).astype(np.float32)
    return from_arrays("images", x, np.arange(count) % classes)


MLPS = [
    ({"type": "mlp", "sizes": [2, 8, 2], "act": act}, "moons")
    for act in ("relu", "tanh", "sigmoid", "softplus", "gelu", "elu")
] + [
    ({"type": "mlp", "sizes": [2, 16, 8, 2], "act": "relu"}, "moons"),
    ({"type": "mlp", "sizes": [2, 2]}, "moons"),  # no hidden layer
    ({"type": "mlp", "sizes": [4, 12, 3], "act": "tanh"}, "iris"),  # three classes
    ({"type": "mlp", "sizes": [4, 12, 12, 3], "act": "relu"}, "iris"),  # three classes, 4 inputs
    ({"type": "mlp", "sizes": [2, 8, 8, 8, 2], "act": "relu"}, "moons"),  # a middle GEMM too
]


_NO_NUMBA = """
import sys
import numpy as np
from landscapes.networks.architectures import build_network
from landscapes.networks.datasets import from_arrays
from landscapes.networks.landscape import NetworkLandscape
arch = {"type": "mlp", "sizes": [2, 16, 16, 2], "act": "relu"}
x = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
land = NetworkLandscape.create(arch, build_network(arch).state_dict(),
                               from_arrays("blobs", x, (x[:, 0] > 0).astype(np.int64)),
                               "cross_entropy")
values = land.evaluate_splits(land.center[None].repeat(3, 1) * 0.9)
print(land.method, values.shape, "numba" in sys.modules, "scipy" in sys.modules)
"""


def test_an_mlp_is_evaluated_without_loading_numba():
    """An MLP's GEMM path is torch alone: numba (and the scipy it loads), ~1 s of start-up, are
    left to the CNNs that need them."""
    out = subprocess.run([sys.executable, "-c", _NO_NUMBA], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["gemm", "(3,", "4)", "False", "False"]


def test_mlp_tiles_and_chunks(monkeypatch):
    """Points in several tiles (the last one partial) and samples in several chunks, for every
    layer count: the same values as the reference loop."""
    monkeypatch.setattr(gemm_module, "TILE_FLOATS", 8000)  # 8000 // ((16 + 1) * chunk) points
    monkeypatch.setattr(gemm_module, "CHUNK_FLOATS", 2048)  # many data chunks
    for sizes in ([2, 16, 2], [2, 16, 16, 2], [2, 16, 8, 16, 3]):
        arch = {"type": "mlp", "sizes": sizes, "act": "relu"}
        data = load_builtin("moons")
        land = NetworkLandscape.create(arch, _state(arch, 4), data, "cross_entropy")
        program = land.program()
        assert len(program.spans) > 3
        assert 1 <= program.tile < 11 and 11 % program.tile
        _agree(land, _points(land, count=11))


@pytest.mark.parametrize(("arch", "data"), MLPS, ids=lambda v: str(v))
def test_mlps_match_the_reference_loop(arch, data):
    land = NetworkLandscape.create(arch, _state(arch, 1), load_builtin(data), "cross_entropy")
    _agree(land, _points(land))


@pytest.mark.parametrize("data", ["multiply", "regression"])
def test_regression_mse_matches_the_reference_loop(data):
    d = load_builtin(data)
    arch = {"type": "mlp", "sizes": [d.x_train.shape[1], 6, 1], "act": "softplus"}
    land = NetworkLandscape.create(arch, _state(arch, 2), d, "mse")
    values = _agree(land, _points(land))
    assert values.shape == (7, 2)


CNNS = [
    ({"type": "cnn", "channels": [4], "batchnorm": True}, None),
    ({"type": "cnn", "channels": [8, 16], "batchnorm": True}, None),
    ({"type": "cnn", "channels": [3, 5], "pool": "avg"}, None),
    ({"type": "cnn", "channels": [3, 4], "pool": "none", "kernel": 3}, None),
    ({"type": "cnn", "channels": [4, 4], "act": "gelu", "batchnorm": True}, None),
    ({"type": "cnn", "channels": [4, 3], "act": "tanh", "kernel": 5}, None),
    ({"type": "cnn", "channels": [4, 3], "kernel": 2}, None),  # even kernel: 9x9 outputs
    ({"type": "cnn", "channels": [5, 3], "kernel": 1, "pool": "avg", "act": "elu"}, None),
    ({"type": "cnn", "channels": [3, 4, 5], "batchnorm": True}, None),  # 8 -> 4 -> 2 -> 1
    ({"type": "cnn", "in_channels": 3, "image_size": 6, "channels": [4, 2], "classes": 3,
      "batchnorm": True, "act": "softplus"}, (3, 6)),
]


@pytest.mark.parametrize(("arch", "images"), CNNS, ids=lambda v: str(v))
def test_cnns_match_the_reference_loop(arch, images):
    data = load_builtin("digits") if images is None else _images(*images)
    land = NetworkLandscape.create(arch, _state(arch, 3), data, "cross_entropy")
    _agree(land, _points(land, count=5))


# the first convolution from basis points: max pooling (or none) before a monotone activation
BASIS = {0: True, 1: True, 2: False, 3: True, 4: False, 5: True, 6: True, 7: False, 8: True,
         9: True}


@pytest.mark.parametrize("k", range(len(CNNS)), ids=lambda k: str(CNNS[k][0]))
def test_cnns_on_lines_planes_and_3d_slices(k):
    """Points on a slice take the basis path (rank dims + 1) where the first layer allows it;
    either way every value matches the reference loop."""
    arch, images = CNNS[k]
    data = load_builtin("digits") if images is None else _images(*images)
    land = NetworkLandscape.create(arch, _state(arch, 3), data, "cross_entropy")
    for dims, steps in ((1, 5), (2, 4), (3, 2)):
        pts = _slice_points(land, dims, steps, seed=dims)
        assert _rank(land, pts) == (dims + 1 if BASIS[k] else None)
        _agree(land, pts)
    assert _rank(land, _slice_points(land, 4, 2)) is None  # rank 5: above fused.MAX_RANK
    assert _rank(land, _points(land, count=6)) is None  # scattered points


def test_a_cnn_gives_the_same_bits_on_one_thread_and_two(monkeypatch):
    """The first convolution's compiled pass runs serial on one torch thread and parallel on
    two (:func:`fused.threads`), and the GEMMs split their batches over the threads: the same
    bits either way (samples in several chunks, so the last layer writes into column ranges),
    so a view does not depend on the process that computed it."""
    arch, _ = CNNS[0]
    land = NetworkLandscape.create(arch, _state(arch, 3), load_builtin("digits"), "cross_entropy")
    pts = _slice_points(land, 2, 6)
    assert _rank(land, pts) == 3
    threads = torch.get_num_threads()
    calls = []
    real = fused.threads

    def parallel(n: int) -> bool:
        calls.append(("parallel", n))
        return real(n)

    def serial(n: int) -> bool:
        calls.append(("serial", n))
        return False

    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(fused, "threads", parallel)
        two = land.evaluate_splits(pts)
        monkeypatch.setattr(fused, "threads", serial)
        serial_two = land.evaluate_splits(pts)
        torch.set_num_threads(1)
        one = land.evaluate_splits(pts)
    finally:
        torch.set_num_threads(threads)
    assert calls[0] == ("parallel", 2) and real(2) and calls[-1] == ("serial", 1)  # all ran
    assert len(land.program().spans) > 1
    assert np.array_equal(serial_two, two) and np.array_equal(one, two)


@pytest.mark.parametrize("arch", [a for a, images in CNNS if images is None]
                         + [{"type": "mlp", "sizes": [2, 16, 16, 2], "act": "relu"}],
                         ids=lambda a: f"{a['type']}-{a.get('channels', a.get('sizes'))}"
                                       f"-{a.get('act', 'relu')}-{a.get('pool', 'max')}")
def test_every_zoo_network_gives_the_same_bits_on_one_thread_and_two(arch):
    """Scattered points one at a time (a path's evaluations), a plane's points in a group with
    a last stack of one point, and scattered points in a group: the same bits on one torch
    thread and two (GEMMs of fewer matrices than threads run whole on one: gemm._whole)."""
    data = load_builtin("digits" if arch["type"] == "cnn" else "moons")
    land = NetworkLandscape.create(arch, _state(arch, 3), data, "cross_entropy")
    cases = [_points(land, count=1, seed=s) for s in range(6)]
    cases += [_slice_points(land, 2, 7)[:57], _points(land, count=41, seed=9)]
    threads = torch.get_num_threads()
    try:
        got = {}
        for t in (2, 1):
            torch.set_num_threads(t)
            got[t] = [land.evaluate_splits(pts) for pts in cases]
    finally:
        torch.set_num_threads(threads)
    for one, two in zip(got[1], got[2], strict=True):
        assert np.array_equal(one, two)


def test_the_basis_path_with_negative_batchnorm_scales_and_its_edges():
    """A negative BatchNorm scale turns the pooling max into a min of the unscaled outputs: the
    scale must be in the combination. One point is rank 1; a point a little off the plane, or a
    NaN point, leaves the basis path."""
    arch = {"type": "cnn", "channels": [6, 4], "batchnorm": True}
    state = _state(arch, 12)
    state["1.weight"] = torch.tensor([1.5, -2.0, 0.7, -0.3, 1.0, -1.1])
    state["1.running_mean"] = torch.linspace(-0.5, 0.5, 6)
    land = NetworkLandscape.create(arch, state, load_builtin("digits"), "cross_entropy")
    pts = _slice_points(land, 2, 5)
    assert _rank(land, pts) == 3
    _agree(land, pts)
    assert _rank(land, pts[3:4]) == 1
    _agree(land, pts[3:4])
    off = pts.clone()  # 5 points 1e-3 off the plane, each in other first-layer weights: rank 8
    for k in range(5):
        off[3 * k + 1, 9 * k : 9 * k + 9] *= 1.001
    assert _rank(land, off) is None
    _agree(land, off)
    bad = pts.clone()
    bad[2, 0] = float("nan")
    assert _rank(land, bad) is None
    assert np.isnan(land.evaluate_splits(bad[:3])[2, :2]).all()


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_pooled_combination_kernel_equals_numpy(parallel):
    g = np.random.default_rng(0)
    assert fused.threads(2) or not parallel  # this machine's numba has a thread-safe layer
    for rank in range(1, fused.MAX_RANK + 1):
        for positions in (1, 4):
            for activation in ("relu", "identity"):
                z = g.normal(size=(positions, rank, 3, 4, 37)).astype(np.float32)
                z[0, 0, 1, 2, 5] = np.nan  # a diverged output stays NaN through max and relu
                coef = g.normal(size=(5, 3, rank)).astype(np.float32)
                shift = g.normal(size=(5, 3)).astype(np.float32)
                out = np.full((5, 2 + 12 + 3, 60), 7.0, np.float32)
                kernel = fused.pooled_combination(rank, positions, activation, parallel)
                kernel(z, coef, shift, out, 2, 10)
                want = (np.einsum("qrcwn,pcr->pqcwn", z.astype(np.float64), coef)
                        + shift[:, None, :, None, None]).max(1)
                if activation == "relu":
                    want = np.maximum(want, 0.0)
                got = out[:, 2:14, 10:47].reshape(5, 3, 4, 37)
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
                assert np.isnan(got[:, 1, 2, 5]).all() and not np.isnan(got[:, 1, 2, 6]).any()
                out[:, 2:14, 10:47] = 7.0  # nothing written outside the rows and columns
                assert (out == 7.0).all()
    with pytest.raises(ValueError, match="1 to 4 basis outputs and 1 or 4 pooling positions; "
                                         "got 5 and 4"):
        fused.pooled_combination(5, 4, "relu")
    with pytest.raises(ValueError, match="no fused kernel for activation 'tanh'"):
        fused.pooled_combination(2, 4, "tanh")


_CACHED = """
import numpy as np
from landscapes.networks import fused
f = np.float32
args = (np.ones((4, 3, 2, 2, 5), f), np.ones((1, 2, 3), f), np.ones((1, 2), f),
        np.zeros((1, 6, 5), f), 2, 0)
kernels = [(fused.pooled_combination(3, 4, "relu"), args)]
if fused.threads(2):  # the parallel build: a cache entry of its own
    kernels.append((fused.pooled_combination(3, 4, "relu", True), args))
for kernel, args in kernels:
    kernel(*args)
print([(sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values())) for k, _ in kernels])
"""


def test_compiled_kernels_come_from_numba_s_disk_cache_in_a_new_process(tmp_path):
    """A new process (a gunicorn worker, a forked job) loads the kernel instead of compiling
    it again (0.2-0.6 s) and adding a cache entry every time; the serial and the parallel
    build each have their own entry (one shared entry would serve the first build asked for)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", _CACHED], env=env, capture_output=True,
                           text=True, check=True).stdout.strip() for _ in range(2)]
    assert runs == ["[(0, 1), (0, 1)]", "[(1, 0), (1, 0)]"]


_FORKED = """
import os
import numpy as np
from landscapes.networks import fused
f = np.float32
z, coef, shift = np.ones((4, 1, 2, 2, 5), f), np.ones((3, 2, 1), f), np.zeros((3, 2), f)
out = np.zeros((3, 6, 5), f)
assert fused.threads(2)
fused.pooled_combination(1, 4, "relu", True)(z, coef, shift, out, 2, 0)
pid = os.fork()
if pid == 0:  # GNU OpenMP's threads had started in the parent: the child computes serially
    out[:] = 0
    fused.pooled_combination(1, 4, "relu", fused.threads(2))(z, coef, shift, out, 2, 0)
    os._exit(0 if not fused.threads(2) and (out[:, 2:] == 1).all() else 3)
print(os.waitpid(pid, 0)[1], (out[:, 2:] == 1).all())
"""


def test_a_fork_after_the_threads_started_computes_serially():
    """numba terminates a child that enters a GNU OpenMP parallel region its parent had
    started: such a child gets the serial build, with the same values."""
    got = subprocess.run([sys.executable, "-c", _FORKED], capture_output=True, text=True,
                         check=True)
    assert got.stdout.split() == ["0", "True"], got.stderr


def test_batchnorm_with_explicit_interpolated_buffers():
    arch = {"type": "cnn", "channels": [4, 6], "batchnorm": True}
    a, b = _state(arch, 4), _state(arch, 5)
    for name in a:
        if name.endswith("running_var"):  # 1.5 var_a - 0.5 var_b < 0: extrapolation clamps
            a[name] = 0.5 + 0.2 * torch.rand_like(a[name])
            b[name] = 3.0 + torch.rand_like(b[name])
    land = NetworkLandscape.create(arch, a, load_builtin("digits"), "cross_entropy")
    buffers = {k: v for k, v in b.items() if "running" in k or "num_batches" in k}
    mixed = network_views._interpolated_buffers(land.buffers, buffers, -0.5)  # clamped at 0
    assert any((v == 0).any() for k, v in mixed.items() if k.endswith("running_var"))
    for bufs in (buffers, mixed):
        pts = torch.cat([land.center[None].double(), _points(land, count=3)])
        values = _agree(land, pts, bufs)
        # other statistics: the centre is a point like any other
        assert not np.allclose(values[0], land.evaluate_splits(land.center[None])[0])


def test_the_centre_is_the_reference_value_bit_for_bit():
    arch = {"type": "mlp", "sizes": [2, 16, 2], "act": "relu"}
    land = NetworkLandscape.create(arch, _state(arch, 6), load_builtin("moons"), "cross_entropy")
    pts = torch.cat([_points(land, count=3), land.center[None].double(), _points(land, 2, seed=1)])
    fast = land.evaluate_splits(pts)
    ref = land.evaluate_splits(pts, method="loop")
    assert np.array_equal(fast[3], ref[3])
    x, y = land.tensors("train")
    with torch.no_grad():
        module = build_network(arch)
        module.load_state_dict(_state(arch, 6))
        own = float(nn.functional.cross_entropy(module(x), y))
    assert fast[3, 0] == own


def test_the_slice_meta_records_the_method(tmp_path):
    source = network_views.example_source("multiply-gate", tmp_path)
    result = network_views.compute_slice(source, {"steps": 3})
    assert result.meta["evaluation"]["method"] == "gemm"
    assert result.meta["evaluation"]["dtype"] == "float32"


@pytest.mark.parametrize("classes", [2, 3])
def test_ties_follow_argmax_first_index(classes):
    arch = {"type": "mlp", "sizes": [2, 4, classes], "act": "relu"}
    state = _state(arch, 7)
    state["2.weight"].zero_()  # every output is its bias: all equal, a tie at every sample
    state["2.bias"].fill_(0.25)
    data = load_builtin("moons") if classes == 2 else from_arrays(
        "three", load_builtin("moons").x_train, np.arange(1000) % 3)
    land = NetworkLandscape.create(arch, state, data, "cross_entropy")
    pts = land.center[None].double() + torch.zeros(2, land.dim, dtype=torch.float64)
    pts[1, 0] += 1e-3  # not the centre: the GEMM path
    values = _agree(land, pts)
    train_y = torch.as_tensor(data.y_train)
    assert values[1, 2] == pytest.approx(float((train_y == 0).double().mean()))  # argmax is 0


def test_huge_logits_stay_finite_and_match():
    arch = {"type": "mlp", "sizes": [2, 8, 3], "act": "relu"}
    state = {k: 40.0 * v for k, v in _state(arch, 8).items()}
    data = from_arrays("three", load_builtin("moons").x_train, np.arange(1000) % 3)
    land = NetworkLandscape.create(arch, state, data, "cross_entropy")
    values = _agree(land, _points(land, count=4))
    assert np.isfinite(values).all() and values[:, 0].max() > 100


def test_chunks_stacks_and_groups(monkeypatch):
    monkeypatch.setattr(gemm_module, "CHUNK_FLOATS", 4096)  # many data chunks (MLP)
    monkeypatch.setattr(gemm_module, "STACK_CHUNK_FLOATS", 4096 * 32)  # ... and CNN
    monkeypatch.setattr(gemm_module, "STACK_FLOATS", 4096)  # many first-layer slabs
    monkeypatch.setattr(gemm_module, "GROUP", 5)  # several groups, a partial last stack
    arch = {"type": "cnn", "channels": [4, 6], "batchnorm": True}
    land = NetworkLandscape.create(arch, _state(arch, 9), load_builtin("digits"), "cross_entropy")
    program = land.program()
    assert len(program.spans) > 3 and program.stack == 16
    assert max(len(s) for s in program.slabs) > 1
    _agree(land, _points(land, count=11))
    pts = _slice_points(land, 2, 4)  # groups of 5, 5, 5 and 1 point (rank 1) on the basis path
    assert _rank(land, pts) == 3
    _agree(land, pts)
    mlp = {"type": "mlp", "sizes": [2, 32, 2], "act": "tanh"}
    land = NetworkLandscape.create(mlp, _state(mlp, 9), load_builtin("moons"), "cross_entropy")
    assert len(land.program().spans) > 3
    _agree(land, _points(land, count=11))


def test_a_wide_cnn_stacks_fewer_points_so_its_buffers_stay_bounded(monkeypatch):
    """The stack's working blocks of one chunk (16 samples at least) fit STACK_CHUNK_FLOATS:
    a CNN whose later layers are wide stacks fewer points, and its values are unchanged."""
    monkeypatch.setattr(gemm_module, "STACK_CHUNK_FLOATS", 16 * 300 * 3)  # ~3 points of 300
    arch = {"type": "cnn", "channels": [4, 6], "batchnorm": True}
    land = NetworkLandscape.create(arch, _state(arch, 5), load_builtin("digits"), "cross_entropy")
    program = land.program()
    widest = max(program.layers[1].gather.numel(), program.layers[1].index[..., 0].numel())
    assert 1 <= program.stack < 16 and program.stack * 16 * widest <= 16 * 300 * 3
    _agree(land, _slice_points(land, 2, 4))
    _agree(land, _points(land, count=7))


def test_too_large_a_cnn_falls_back_to_the_loop(monkeypatch):
    monkeypatch.setattr(gemm_module, "MAX_INDEX", 100)
    arch = {"type": "cnn", "channels": [4, 6]}
    land = NetworkLandscape.create(arch, _state(arch, 10), load_builtin("digits"), "cross_entropy")
    assert land.method == "loop" and land.method_meta()["method"] == "loop"
    values = land.evaluate_splits(_points(land, count=2))
    assert np.array_equal(values, land.evaluate_splits(_points(land, count=2), method="loop"))


@pytest.mark.parametrize(("arch", "data", "loss"), [
    ({"type": "mlp", "sizes": [2, 8, 2], "act": "relu"}, "moons", "cross_entropy"),
    ({"type": "cnn", "channels": [4, 6], "batchnorm": True}, "digits", "cross_entropy"),
    ({"type": "mlp", "sizes": [2, 6, 1], "act": "tanh"}, "multiply", "mse"),
])
def test_one_split_evaluates_only_its_samples(arch, data, loss):
    land = NetworkLandscape.create(arch, _state(arch, 11), load_builtin(data), loss)
    pts = torch.cat([_points(land, count=4), land.center[None].double()])
    both = land.evaluate_splits(pts, method="loop")
    for k, split in enumerate(("train", "test")):
        fast = land.evaluate(pts, split)
        assert land.program(split).samples == len(land.tensors(split)[1])
        assert np.allclose(fast["loss"], both[:, k], rtol=2e-5, atol=1e-6)
        assert fast["loss"][-1] == both[-1, k]  # the centre: the reference, bit for bit
        if loss == "cross_entropy":
            n = len(land.tensors(split)[1])
            assert np.all(np.abs(fast["accuracy"] - both[:, 2 + k]) <= 1.01 / n)
        loop = land.evaluate(pts, split, method="loop")
        assert np.array_equal(loop["loss"], both[:, k])
