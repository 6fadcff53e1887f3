"""Network landscapes: every saved number recomputed by an independent, plain forward pass.

The references here rebuild an ``nn.Module`` from the saved architecture, load the point with
``vector_to_parameters`` (or a hand-made state_dict) and call ``module(x)``; they never go
through ``NetworkLandscape``/``functional_call``. Networks are tiny so the file runs in seconds.
"""

import numpy as np
import pytest
import torch
from torch import nn

from landscapes import views
from landscapes.directions import filter_normalized, pca_directions
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.io.npz import read_npz, write_npz
from landscapes.networks import examples
from landscapes.networks import views as network_views
from landscapes.networks.architectures import build_network, normalize_arch
from landscapes.networks.datasets import from_arrays, load_builtin
from landscapes.networks.landscape import NetworkLandscape
from landscapes.networks.store import UploadStore
from landscapes.networks.uploads import Checkpoint, load_checkpoint, save_checkpoint
from landscapes.networks.views import checkpoint_source, compute_path, compute_slice
from landscapes.slices import Slice

MLP = {"type": "mlp", "sizes": [2, 8, 2], "act": "tanh"}
CNN = {"type": "cnn", "channels": [4], "batchnorm": True}
DATA = {"mlp": "moons", "cnn": "digits"}
ARCHS = {"mlp": MLP, "cnn": CNN}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- helpers


def _state(arch: dict, seed: int, var_range: tuple[float, float] = (0.5, 1.5)) -> dict:
    """A state_dict with every parameter perturbed off its init and non-trivial BN statistics."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = build_network(arch)
        with torch.no_grad():
            for p in module.parameters():
                p.add_(0.3 * torch.randn_like(p))
            for name, b in module.named_buffers():
                if name.endswith("running_mean"):
                    b.copy_(0.5 * torch.randn_like(b))
                elif name.endswith("running_var"):
                    lo, hi = var_range
                    b.copy_(lo + (hi - lo) * torch.rand_like(b))
                elif name.endswith("num_batches_tracked"):
                    b.fill_(seed + 3)
    return {k: v.clone() for k, v in module.state_dict().items()}


def _checkpoint(tmp_path, arch: dict, state: dict, name: str = "a") -> Checkpoint:
    """Through the upload file format: save_checkpoint, then load_checkpoint of its bytes."""
    path = save_checkpoint(tmp_path / f"{name}.safetensors", arch, state, "cross_entropy")
    return load_checkpoint(path.read_bytes(), path.name)


def _roundtrip(result: Slice, tmp_path) -> tuple[dict, dict]:
    path = write_npz(tmp_path / "view.npz", result.to_arrays(), result.meta)
    return read_npz(path)


def _buffers(state: dict) -> dict:
    return {k: v for k, v in state.items() if "running_" in k or "num_batches" in k}


def _file_buffers(arrays: dict, prefix: str = "buffer.") -> dict:
    """The BatchNorm statistics an export holds (arrays ``prefix + name``), as tensors."""
    return {k.removeprefix(prefix): torch.as_tensor(v) for k, v in arrays.items()
            if k.startswith(prefix)}


def _module_at(arch: dict, flat: np.ndarray, buffers: dict, layout: list | None = None) -> nn.Module:
    """A fresh module holding the flat parameter vector ``flat`` and ``buffers``, in eval mode."""
    module = build_network(arch)
    if layout is not None:  # the saved order must be the module's own named_parameters() order
        assert [(n, list(p.shape)) for n, p in module.named_parameters()] == [
            (e["name"], e["shape"]) for e in layout
        ]
    nn.utils.vector_to_parameters(torch.as_tensor(flat, dtype=torch.float32), module.parameters())
    own = dict(module.named_buffers())
    assert set(own) == set(buffers)
    with torch.no_grad():
        for name, value in buffers.items():
            own[name].copy_(value)
    return module.eval()


def _module_from_state(arch: dict, state: dict) -> nn.Module:
    module = build_network(arch)
    module.load_state_dict(state)
    return module.eval()


def _flat(arch: dict, state: dict) -> np.ndarray:
    names = [n for n, _ in build_network(arch).named_parameters()]
    return torch.cat([state[n].reshape(-1) for n in names]).double().numpy()


def _split(name: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    d = load_builtin(name)
    x, y = (d.x_train, d.y_train) if split == "train" else (d.x_test, d.y_test)
    return torch.as_tensor(x), torch.as_tensor(y)


def _metrics(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy written out by hand in float64, accuracy) of ``module`` on (x, y)."""
    with torch.no_grad():
        logits = module(x).double()
    ce = torch.logsumexp(logits, 1) - logits.gather(1, y[:, None])[:, 0]
    return float(ce.mean()), float((logits.argmax(1) == y).double().mean())


def _source(tmp_path, kind: str, seeds: tuple[int, ...] = (0,)) -> tuple:
    """A checkpoint source for MLP/CNN ``kind``; others are named checkpoint2, checkpoint3."""
    arch = ARCHS[kind]
    states = [_state(arch, s) for s in seeds]
    ckpts = [_checkpoint(tmp_path, arch, st, f"c{k}") for k, st in enumerate(states)]
    others = {f"checkpoint{k + 2}": c for k, c in enumerate(ckpts[1:])}
    return checkpoint_source(ckpts[0], others, load_builtin(DATA[kind])), states


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> UploadStore:
    return UploadStore(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def moons(store):
    """The moons-mlp example, trained once into the module's temporary cache."""
    ex = examples.load("moons-mlp", store.examples_dir)
    return ex, network_views.example_source("moons-mlp", store.examples_dir)


# --------------------------------------------------------------------------- 1. slices


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_saved_slice_recomputes_with_a_plain_forward_pass(kind, tmp_path):
    source, (state,) = _source(tmp_path, kind)
    result = compute_slice(source, {"steps": 5, "span": 1.0})
    arrays, meta = _roundtrip(result, tmp_path)
    assert meta["architecture"] == normalize_arch(ARCHS[kind]) and meta["loss"] == "cross_entropy"
    x, y, values = arrays["x"], arrays["y"], arrays["values"]
    assert np.allclose(x, np.linspace(-1, 1, 5)) and np.array_equal(x, y)
    assert values.shape == (5, 5) and arrays["directions"].shape[0] == 2
    for name in ("test_loss", "train_accuracy", "test_accuracy"):
        assert arrays[name].shape == (5, 5)
    train, test = _split(DATA[kind], "train"), _split(DATA[kind], "test")
    buffers = _file_buffers(arrays)  # the statistics come from the file, not from the test
    assert buffers.keys() == _buffers(state).keys() and (kind == "mlp") == (not buffers)
    assert all(torch.equal(buffers[k], v) for k, v in _buffers(state).items())
    d1, d2 = arrays["directions"]
    for i in range(5):
        for j in range(5):
            point = arrays["center"] + x[j] * d1 + y[i] * d2
            module = _module_at(meta["architecture"], point, buffers, meta["parameters"])
            loss, acc = _metrics(module, *train)
            assert values[i, j] == pytest.approx(loss, rel=1e-5), (i, j)
            assert arrays["train_accuracy"][i, j] == pytest.approx(acc, abs=1.01 / len(train[1]))
            if (i + j) % 2 == 0:
                t_loss, t_acc = _metrics(module, *test)
                assert arrays["test_loss"][i, j] == pytest.approx(t_loss, rel=1e-5)
                assert arrays["test_accuracy"][i, j] == pytest.approx(t_acc, abs=1.01 / len(test[1]))
    # the slice is not flat: the directions really move the loss
    assert values.max() - values.min() > 0.05


def test_a_volume_slice_recomputes_from_its_file_and_exports_to_every_format(tmp_path):
    """dims 3: values[k, j, i] is the loss at centre + a_i d1 + b_j d2 + c_k d3 (the spin
    models' axis order), recomputed here with a plain forward pass from the saved file; the
    volume is written as CSV (one row a point), VTK (a structured grid) and HTML (isosurfaces).
    """
    source, _ = _source(tmp_path, "mlp")
    result = compute_slice(source, {"dims": 3, "steps": 4, "span": 1.0})
    arrays, meta = _roundtrip(result, tmp_path)
    a, b, c = arrays["x"], arrays["y"], arrays["z"]
    assert arrays["values"].shape == (4, 4, 4) and arrays["directions"].shape[0] == 3
    assert arrays["test_loss"].shape == (4, 4, 4) and meta["dims"] == 3
    train = _split(DATA["mlp"], "train")
    d1, d2, d3 = arrays["directions"]
    for k, j, i in ((0, 0, 0), (3, 1, 2), (1, 3, 0), (2, 2, 3)):
        point = arrays["center"] + a[i] * d1 + b[j] * d2 + c[k] * d3
        module = _module_at(meta["architecture"], point, {}, meta["parameters"])
        assert arrays["values"][k, j, i] == pytest.approx(_metrics(module, *train)[0], rel=1e-5)
    rows = [ln for ln in formats.to_csv(result).splitlines() if not ln.startswith("#")]
    assert rows[0].split(",")[:4] == ["a", "b", "c", "loss"] and len(rows) == 1 + 4**3
    assert "POINTS 64 " in formats.to_vtk(result)
    (volume,) = formats.figure(result).data  # the HTML export's figure: level sets
    assert volume.type == "isosurface" and volume.isomin == pytest.approx(result.values.min())
    assert np.allclose(np.asarray(volume.value), result.values.ravel(), rtol=1e-6)
    with pytest.raises(LandscapeError, match=r"steps must be a whole number in \[2, 81\]; got 82"):
        compute_slice(source, {"dims": 3, "steps": 82})  # refused before any work
    with pytest.raises(LandscapeError, match="dims=3 needs 3 checkpoint"):
        compute_slice(source, {"dims": 3, "steps": 3, "directions": "through:checkpoint2"})


def test_pca_volume_of_an_upload_says_an_upload_has_too_few_checkpoints(tmp_path):
    source, _ = _source(tmp_path, "mlp", seeds=(0, 1, 2))
    with pytest.raises(LandscapeError, match="PCA directions of an upload need 4 checkpoints "
                       "for 3 directions, and an upload has at most 3: use filter or hessian"):
        compute_slice(source, {"dims": 3, "steps": 3, "directions": "pca"})


def test_statistics_stay_out_of_the_csv_table_even_in_the_grid_s_shape(tmp_path):
    """A 1-D slice of 4 steps through a CNN with 4 channels: its BatchNorm arrays have the
    grid's shape, yet they are statistics of the network, not columns of values per point."""
    source, _ = _source(tmp_path, "cnn")
    result = compute_slice(source, {"dims": 1, "steps": 4})
    assert result.extras["buffer.1.running_mean"].shape == result.values.shape
    header = next(ln for ln in formats.to_csv(result).splitlines() if not ln.startswith("#"))
    header = header.split(",")
    assert header == ["a", "loss", "test_loss", "train_accuracy", "test_accuracy"]


# --------------------------------------------------------------------------- 2. filter norm


def _parts(flat: np.ndarray, layout: list) -> list[tuple[str, np.ndarray]]:
    out, offset = [], 0
    for entry in layout:
        size = int(np.prod(entry["shape"]))
        out.append((entry["name"], flat[offset : offset + size].reshape(entry["shape"])))
        offset += size
    assert offset == len(flat)
    return out


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_filter_normalized_directions_match_each_filter_norm(kind, tmp_path):
    source, _ = _source(tmp_path, kind)
    result = compute_slice(source, {"steps": 2, "direction_seed": 3})
    layout, center = result.meta["parameters"], result.center
    assert {len(e["shape"]) for e in layout} == ({1, 2} if kind == "mlp" else {1, 2, 4})
    dirs = result.directions
    checked = 0
    for d in dirs:
        for (name, part), (_, theta) in zip(_parts(d, layout), _parts(center, layout), strict=True):
            if part.ndim >= 2:
                rows = np.linalg.norm(part.reshape(part.shape[0], -1), axis=1)
                ref = np.linalg.norm(theta.reshape(theta.shape[0], -1), axis=1)
                assert np.allclose(rows / ref, 1.0, atol=1e-5), name
                checked += len(rows)
            else:
                assert np.all(part == 0.0), name
    assert checked > 0
    # two different directions, both signs, reproducible for the seed, new for another seed
    assert not np.allclose(dirs[0], dirs[1])
    assert abs(dirs[0] @ dirs[1]) < 0.5 * np.linalg.norm(dirs[0]) * np.linalg.norm(dirs[1])
    assert (dirs > 0).any() and (dirs < 0).any()
    again = compute_slice(source, {"steps": 2, "direction_seed": 3}).directions
    assert np.array_equal(again, dirs)
    other = compute_slice(source, {"steps": 2, "direction_seed": 4}).directions
    assert not np.allclose(other, dirs)

    with_1d = compute_slice(source, {"steps": 2, "direction_seed": 3, "include_1d": True})
    assert "scaled as a whole" in with_1d.meta["normalization"]
    for d in with_1d.directions:
        for (name, part), (_, theta) in zip(_parts(d, layout), _parts(center, layout), strict=True):
            if part.ndim == 1:
                assert np.any(part != 0.0), name
                assert np.linalg.norm(part) == pytest.approx(np.linalg.norm(theta), rel=1e-10)


def test_a_zero_filter_of_the_centre_gets_a_zero_direction():
    shapes = [(3, 2), (3,)]
    center = np.arange(1.0, 10.0)
    center[2:4] = 0.0  # row 1 of the (3, 2) weight
    d = filter_normalized(shapes, center, seed=0, index=0, include_1d=True)
    assert np.all(d[2:4] == 0.0) and np.all(np.isfinite(d))
    assert np.linalg.norm(d[:2]) == pytest.approx(np.linalg.norm(center[:2]))
    assert np.linalg.norm(d[6:]) == pytest.approx(np.linalg.norm(center[6:]))


# --------------------------------------------------------------------------- 3. the centre


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_centre_of_an_odd_grid_is_exactly_the_models_own_loss(kind, tmp_path):
    source, (state,) = _source(tmp_path, kind)
    result = compute_slice(source, {"steps": 5, "span": 0.5})
    module = _module_from_state(ARCHS[kind], state)
    x, y = _split(DATA[kind], "train")
    with torch.no_grad():
        own = float(nn.functional.cross_entropy(module(x), y))  # float32, as a user computes it
    assert result.values[2, 2] == own
    assert result.meta["center_energy"] == own
    assert np.array_equal(result.center, _flat(ARCHS[kind], state))


# --------------------------------------------------------------------------- 4. buffers


def test_batchnorm_buffers_are_never_mutated_by_slices_or_paths(tmp_path):
    source, states = _source(tmp_path, "cnn", seeds=(0, 1))
    land = source.landscape
    before = {k: v.clone() for k, v in land.buffers.items()}
    module_before = {k: v.clone() for k, v in land.module.state_dict().items()}
    other_before = {k: v.clone() for k, v in source.buffers["checkpoint2"].items()}
    compute_slice(source, {"steps": 3})
    compute_path(source, {"from": "centre", "to": "checkpoint2", "steps": 5})
    compute_path(source, {"from": "centre", "to": "checkpoint2", "kind": "bezier", "steps": 5,
                          "bend_steps": 5})
    for k, v in before.items():
        assert torch.equal(land.buffers[k], v), k
    for k, v in module_before.items():
        assert torch.equal(land.module.state_dict()[k], v), k
    for k, v in other_before.items():
        assert torch.equal(source.buffers["checkpoint2"][k], v), k
    assert not land.module.training
    # and they are the checkpoint's own statistics, not the fresh module's (0 and 1)
    assert torch.equal(land.buffers["1.running_mean"], states[0]["1.running_mean"])


# --------------------------------------------------------------------------- 5. PCA


def test_pca_recovers_the_plane_of_a_planar_trajectory():
    g = np.random.default_rng(5)
    dim, steps = 30, 12
    q, _ = np.linalg.qr(g.standard_normal((dim, 2)))
    u, v = q.T
    center = g.standard_normal(dim)
    a, b = 3.0 * g.standard_normal(steps), g.standard_normal(steps)
    a[-1] = b[-1] = 0.0  # ends at the centre, like a training run
    trajectory = center + a[:, None] * u + b[:, None] * v
    dirs, ratio = pca_directions(trajectory, center, 2)
    assert np.allclose(dirs @ dirs.T, np.eye(2), atol=1e-12)
    for w in (u, v):  # u and v lie in span(dirs): nothing is left after projecting
        assert np.linalg.norm(w - dirs.T @ (dirs @ w)) < 1e-10
    assert ratio.sum() == pytest.approx(1.0, abs=1e-12)
    # variances: eigenvalues of the 2x2 Gram matrix of the coefficients (a, b)
    ab = np.stack([a, b], 1)
    eig = np.sort(np.linalg.eigvalsh(ab.T @ ab))[::-1]
    assert np.allclose(ratio, eig / eig.sum(), rtol=1e-10)
    assert np.all((trajectory[0] - center) @ dirs.T > 0)  # sign convention


def test_pca_slice_of_the_moons_example_saves_the_trajectory_coordinates(moons, tmp_path):
    ex, source = moons
    result = compute_slice(source, {"directions": "pca", "steps": 5})
    arrays, meta = _roundtrip(result, tmp_path)
    center, dirs = arrays["center"], arrays["directions"]
    trajectory = ex.trajectory.astype(np.float64)
    assert np.array_equal(center, _flat(ex.arch, ex.final))
    assert np.array_equal(trajectory[-1], center)
    assert np.array_equal(trajectory[0], _flat(ex.arch, ex.init))
    coords = arrays["trajectory_coords"]
    assert coords.shape == (len(trajectory), 2)
    assert np.allclose(coords, (trajectory - center) @ dirs.T, rtol=1e-12, atol=1e-12)
    assert np.all(coords[-1] == 0.0)
    assert np.all(coords[0] > 0)
    assert np.allclose(dirs @ dirs.T, np.eye(2), atol=1e-10)
    # the two directions carry the top two eigenvalues of the trajectory's Gram matrix
    diffs = trajectory - center
    eig = np.sort(np.linalg.eigvalsh(diffs @ diffs.T))[::-1]
    assert np.sum(coords**2) == pytest.approx(eig[0] + eig[1], rel=1e-8)
    assert meta["explained_variance"] == pytest.approx((eig[:2] / eig.sum()).tolist(), rel=1e-6)
    extent = np.abs(coords).max()
    assert np.allclose(arrays["x"], np.linspace(-1, 1, 5) * extent)
    loss, _ = _metrics(_module_from_state(ex.arch, ex.final), *_split("moons", "train"))
    assert arrays["values"][2, 2] == pytest.approx(loss, rel=1e-6)


# --------------------------------------------------------------------------- 6. linear path


def test_linear_path_from_init_to_centre_of_the_example(moons, tmp_path):
    ex, source = moons
    result = compute_path(source, {"from": "init", "to": "centre", "steps": 9})
    arrays, meta = _roundtrip(result, tmp_path)
    alpha, values = arrays["x"], arrays["values"]
    assert alpha[0] == -0.5 and alpha[-1] == 1.5 and np.allclose(np.diff(alpha), 0.25)
    at0, at1 = int(np.flatnonzero(alpha == 0.0)[0]), int(np.flatnonzero(alpha == 1.0)[0])
    train, test = _split("moons", "train"), _split("moons", "test")
    init_loss, _ = _metrics(_module_from_state(ex.arch, ex.init), *train)
    final_loss, _ = _metrics(_module_from_state(ex.arch, ex.final), *train)
    assert values[at0] == pytest.approx(init_loss, rel=1e-6)
    assert values[at1] == pytest.approx(final_loss, rel=1e-6)
    assert arrays["test_loss"][at0] == pytest.approx(
        _metrics(_module_from_state(ex.arch, ex.init), *test)[0], rel=1e-6)
    assert init_loss > 0.3 > 0.05 > final_loss
    inside = values[(alpha >= 0) & (alpha <= 1)]
    assert meta["barrier"] == pytest.approx(inside.max() - max(values[at0], values[at1]), abs=1e-12)
    assert meta["barrier"] >= 0.0
    # the saved start and direction give back the two checkpoints
    assert np.array_equal(arrays["center"], _flat(ex.arch, ex.init))
    assert np.allclose(arrays["center"] + arrays["directions"][0], _flat(ex.arch, ex.final),
                       atol=1e-6)


# --------------------------------------------------------------------------- 7. BN along a path


def test_batchnorm_statistics_interpolate_along_a_linear_path(tmp_path):
    a = _state(CNN, 0, var_range=(0.5, 0.7))
    b = _state(CNN, 1, var_range=(3.0, 4.0))  # 1.5 var_a - 0.5 var_b < 0 at alpha = -0.5
    source = checkpoint_source(_checkpoint(tmp_path, CNN, a, "a"),
                               {"checkpoint2": _checkpoint(tmp_path, CNN, b, "b")},
                               load_builtin("digits"))
    result = compute_path(source, {"from": "centre", "to": "checkpoint2", "steps": 5})
    alpha = result.axes[0]
    assert alpha.tolist() == [-0.5, 0.0, 0.5, 1.0, 1.5]
    train = _split("digits", "train")

    def mixed(t: float) -> dict:
        out = {}
        for k, va in a.items():
            if k.endswith("num_batches_tracked"):
                out[k] = va
            elif k.endswith("running_var"):
                out[k] = ((1 - t) * va + t * b[k]).clamp_min(0.0)
            else:
                out[k] = (1 - t) * va + t * b[k]
        return out

    half, _ = _metrics(_module_from_state(CNN, mixed(0.5)), *train)
    assert result.values[2] == pytest.approx(half, rel=1e-5)
    # with the centre's statistics instead, the loss at alpha = 0.5 is measurably different
    stale = {**mixed(0.5), **_buffers(a)}
    assert abs(_metrics(_module_from_state(CNN, stale), *train)[0] - half) > 1e-3
    # extrapolated variances are clamped at zero
    assert (mixed(-0.5)["1.running_var"] == 0).all()
    before, _ = _metrics(_module_from_state(CNN, mixed(-0.5)), *train)
    assert result.values[0] == pytest.approx(before, rel=1e-4)
    assert result.values[3] == pytest.approx(_metrics(_module_from_state(CNN, b), *train)[0],
                                             rel=1e-5)
    # the file holds both ends' statistics: alpha = 0.5 recomputed from it alone
    arrays, meta = _roundtrip(result, tmp_path)
    ends = [_file_buffers(arrays, f"buffer.{end}.") for end in ("from", "to")]
    assert all(torch.equal(ends[0][k], a[k]) and torch.equal(ends[1][k], b[k]) for k in ends[0])
    point = arrays["center"] + 0.5 * arrays["directions"][0]
    mid = {k: v if k.endswith("num_batches_tracked") else 0.5 * (v + ends[1][k])
           for k, v in ends[0].items()}
    module = _module_at(meta["architecture"], point, mid, meta["parameters"])
    assert arrays["values"][2] == pytest.approx(_metrics(module, *train)[0], rel=1e-5)


# --------------------------------------------------------------------------- 8. Bezier


TANH16 = {"type": "mlp", "sizes": [2, 16, 2], "act": "tanh"}


def _train_moons(seed: int, steps: int = 200) -> dict:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = build_network(TANH16)
    x, y = _split("moons", "train")
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


@pytest.fixture(scope="module")
def minima() -> tuple[dict, dict]:
    """Two tanh MLPs trained on moons from different seeds (a loss barrier lies between them)."""
    return _train_moons(1), _train_moons(2)


def _pair_source(tmp_path, arch: dict, a: dict, b: dict, data: str):
    return checkpoint_source(_checkpoint(tmp_path, arch, a, "a"),
                             {"checkpoint2": _checkpoint(tmp_path, arch, b, "b")}, load_builtin(data))


def test_bezier_curve_joins_two_minima_no_higher_than_the_straight_line(minima, tmp_path):
    a, b = minima
    source = _pair_source(tmp_path, TANH16, a, b, "moons")
    result = compute_path(source, {"from": "centre", "to": "checkpoint2", "kind": "bezier",
                                   "steps": 21, "bend_steps": 60})
    arrays, meta = _roundtrip(result, tmp_path)
    saved = Slice.from_arrays(arrays, meta)
    pts, t = saved.points(), arrays["x"]
    flat_a, flat_b = _flat(TANH16, a), _flat(TANH16, b)
    assert np.allclose(t, np.linspace(0, 1, 21))
    assert np.array_equal(pts[0], flat_a)
    assert np.allclose(pts[-1], flat_b, atol=1e-6)
    theta = arrays["center"] + arrays["directions"][1]
    w = np.stack([(1 - t) ** 2, 2 * t * (1 - t), t**2], 1)
    bezier = w @ np.stack([flat_a, theta, flat_b])
    assert np.allclose(pts, bezier, atol=1e-6)
    assert not np.allclose(theta, (flat_a + flat_b) / 2, atol=1e-3)  # the bend was trained

    train = _split("moons", "train")
    curve = np.array([_metrics(_module_at(TANH16, p, {}, meta["parameters"]), *train)[0]
                      for p in bezier])
    line = np.array([_metrics(_module_at(TANH16, (1 - s) * flat_a + s * flat_b, {}), *train)[0]
                     for s in t])
    assert np.allclose(arrays["values"], curve, rtol=1e-5)
    assert np.allclose(arrays["line_loss"], line, rtol=1e-5)
    ends = max(curve[0], curve[-1])
    assert meta["barrier"] == pytest.approx(curve.max() - ends, abs=1e-5)
    assert meta["line_barrier"] == pytest.approx(line.max() - ends, abs=1e-5)
    assert curve.max() <= line.max() + 0.01
    assert meta["barrier"] < 0.5 * meta["line_barrier"]  # two tanh minima: the bend pays off


# --------------------------------------------------------------------------- 9. examples


@pytest.fixture(scope="module")
def gate(store):
    """multiply-gate trained once by the library and cached in the store (shared with test 11)."""
    return examples.load("multiply-gate", store.examples_dir)


def test_example_training_is_deterministic_and_the_gate_learns_x_times_y(gate):
    again = examples.train("multiply-gate")
    assert set(again.final) == set(gate.final)
    for k, v in gate.final.items():
        assert torch.equal(again.final[k], v), k
    assert np.array_equal(again.trajectory, gate.trajectory)
    assert np.array_equal(again.loss_history, gate.loss_history)
    module = _module_from_state(gate.arch, gate.final)
    assert sum(p.numel() for p in module.parameters()) == 17  # 2-4-1: four hidden neurons
    for split in ("train", "test"):
        x, y = _split("multiply", split)
        assert torch.allclose(y[:, 0], x[:, 0] * x[:, 1])
        with torch.no_grad():
            mse = float(((module(x).double() - y.double()) ** 2).mean())
        assert mse < 0.01, split
    assert gate.loss_history[-1] < 0.01 < gate.loss_history[0]


def test_exploding_example_diverges_and_the_moons_example_converges(moons):
    ex = examples.train("exploding-mlp")
    history = ex.loss_history
    assert history[-1] > 1e3 and history[-1] > 100 * history[0]
    # ``final`` is the last point below the stop loss: its own loss is the one before last
    final_loss, _ = _metrics(_module_from_state(ex.arch, ex.final), *_split("moons", "train"))
    assert final_loss == pytest.approx(history[-2], rel=1e-4)
    assert final_loss < 1e6
    moons_ex, _ = moons
    assert moons_ex.loss_history[-1] < 0.05
    assert len(moons_ex.loss_history) == examples.RECIPES["moons-mlp"].steps


# --------------------------------------------------------------------------- 10. errors


def _landscape(arch: dict, data, loss: str = "cross_entropy") -> NetworkLandscape:
    return NetworkLandscape.create(arch, _state(arch, 0), data, loss)


def test_data_that_does_not_fit_the_network_is_refused():
    with pytest.raises(LandscapeError, match=r"samples have shape \(2,\).*inputs of shape \(3,\)"):
        _landscape({"type": "mlp", "sizes": [3, 8, 2]}, load_builtin("moons"))
    with pytest.raises(LandscapeError, match=r"samples have shape \(2,\)"):
        _landscape(CNN, load_builtin("moons"))
    labels = from_arrays("five", np.random.default_rng(0).normal(size=(40, 2)), np.arange(40) % 5)
    with pytest.raises(LandscapeError, match="labels go up to 4 but the network has 2 outputs"):
        _landscape(MLP, labels)
    with pytest.raises(LandscapeError, match="mse needs real-valued targets"):
        _landscape(MLP, load_builtin("moons"), "mse")
    with pytest.raises(LandscapeError, match="cross_entropy needs integer class labels"):
        _landscape({"type": "mlp", "sizes": [2, 8, 1]}, load_builtin("multiply"))


def test_bad_network_views_and_specs_are_refused(tmp_path):
    source, _ = _source(tmp_path, "mlp")
    with pytest.raises(LandscapeError, match="unknown directions 'sideways'"):
        compute_slice(source, {"directions": "sideways"})
    with pytest.raises(LandscapeError, match="need 3 checkpoints for 2 direction"):
        compute_slice(source, {"directions": "pca", "steps": 3})
    with pytest.raises(LandscapeError, match="no checkpoint named 'checkpoint2'"):
        compute_path(source, {"from": "centre", "to": "checkpoint2"})
    with pytest.raises(LandscapeError, match="choose an example or upload"):
        network_views.normalize_spec({"model": "network"})
    with pytest.raises(LandscapeError, match="choose an example or upload"):
        views.compute({"model": "network", "data": "moons"}, {"view": "slice"},
                      store=UploadStore(tmp_path))
    with pytest.raises(LandscapeError, match="unknown example 'nope'"):
        network_views.normalize_spec({"model": "network", "example": "nope"})
    with pytest.raises(LandscapeError, match="unknown example 'nope'"):
        examples.train("nope")


# --------------------------------------------------------------------------- 11. views


def test_views_compute_a_network_example_slice(gate, store):
    spec = {"model": "network", "example": "multiply-gate"}
    result = views.compute(spec, {"view": "slice", "steps": 3}, store=store)
    names = [(p["name"], p["shape"]) for p in result.meta["parameters"]]
    assert names == [("0.weight", [4, 2]), ("0.bias", [4]), ("2.weight", [1, 4]), ("2.bias", [1])]
    assert result.meta["model"] == spec and result.meta["loss"] == "mse"
    assert result.values.shape == (3, 3) and "train_accuracy" not in result.extras
    module = _module_from_state(gate.arch, gate.final)
    x, y = _split("multiply", "train")
    with torch.no_grad():
        mse = float(((module(x).double() - y.double()) ** 2).mean())
    assert result.values[1, 1] == pytest.approx(mse, rel=1e-5)

    key = views.request_key(spec, {"view": "slice"})
    assert key == views.request_key(dict(spec), {"view": "slice", "steps": 51})
    assert key != views.request_key({"model": "network", "example": "moons-mlp"}, {"view": "slice"})
    assert len(key) == 64


def test_bezier_path_ends_at_the_end_checkpoints_own_loss_with_batchnorm(tmp_path):
    a, b = _state(CNN, 0), _state(CNN, 1, var_range=(3.0, 4.0))
    source = _pair_source(tmp_path, CNN, a, b, "digits")
    train = _split("digits", "train")
    loss_a = _metrics(_module_from_state(CNN, a), *train)[0]
    loss_b = _metrics(_module_from_state(CNN, b), *train)[0]
    linear = compute_path(source, {"from": "centre", "to": "checkpoint2", "steps": 5})
    assert linear.values[1] == pytest.approx(loss_a, rel=1e-5)  # alpha = 0
    assert linear.values[3] == pytest.approx(loss_b, rel=1e-5)  # alpha = 1
    curve = compute_path(source, {"from": "centre", "to": "checkpoint2", "kind": "bezier",
                                  "steps": 5, "bend_steps": 2})
    assert curve.values[0] == pytest.approx(loss_a, rel=1e-5)
    assert curve.values[-1] == pytest.approx(loss_b, rel=1e-5)


@pytest.mark.parametrize("steps", [3, 6])
def test_linear_barrier_is_measured_against_the_two_checkpoints(minima, steps, tmp_path):
    a, b = minima
    source = _pair_source(tmp_path, TANH16, a, b, "moons")
    result = compute_path(source, {"from": "centre", "to": "checkpoint2", "steps": steps})
    alpha = result.axes[0]
    train = _split("moons", "train")
    ends = max(_metrics(_module_from_state(TANH16, st), *train)[0] for st in (a, b))
    flat_a, flat_b = _flat(TANH16, a), _flat(TANH16, b)
    inside = [_metrics(_module_at(TANH16, (1 - t) * flat_a + t * flat_b, {}), *train)[0]
              for t in alpha if 0 <= t <= 1]
    assert max(inside) - ends > 0.5  # a real barrier between the two minima
    assert result.meta["barrier"] == pytest.approx(max(*inside, ends) - ends, abs=1e-4)


@pytest.mark.parametrize("kernel", range(1, 8))
@pytest.mark.parametrize("image_size, pool", [(6, "none"), (6, "max"), (7, "avg"), (8, "max")])
def test_every_accepted_cnn_builds_a_working_network(kernel, image_size, pool):
    # an even kernel with padding kernel // 2 grows the image by 1 per layer: the final Linear
    # must count that (it used not to, and such uploads failed at the first forward pass)
    arch = normalize_arch({"type": "cnn", "image_size": image_size, "channels": [2, 3],
                           "kernel": kernel, "pool": pool})
    out = build_network(arch)(torch.zeros(4, 1, image_size, image_size))
    assert out.shape == (4, 10)
