"""Every view of an uploaded ONNX network: filter, PCA of the uploaded checkpoints,
Hessian and through-checkpoint slices, linear and Bezier paths, each against plain torch on the
module that was exported (three exports of one residual MLP with different weights)."""

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from landscapes import views
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.networks.architectures import build_network
from landscapes.networks.datasets import Dataset, from_arrays
from landscapes.networks.store import UploadStore
from landscapes.networks.uploads import load_checkpoint, save_checkpoint
from landscapes.networks.views import (
    NetworkSource,
    center_summary,
    checkpoint_source,
    compute_path,
    compute_slice,
)
from landscapes.plots.slices import surface_figure
from landscapes.slices import Slice
from tests.unit.test_onnx import Residual, _export

NAMES = ("center", "checkpoint2", "checkpoint3")


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> dict:
    """Three residual MLPs of one graph (the second and third: the first's weights perturbed),
    each exported to ONNX, and toy classification data for them."""
    torch.manual_seed(0)
    modules = [Residual().eval()]
    for scale in (0.3, 0.5):
        other = copy.deepcopy(modules[0])
        with torch.no_grad():
            for p in other.parameters():
                p.add_(scale * torch.randn_like(p))
        modules.append(other)
    tmp = tmp_path_factory.mktemp("onnx-views")
    x = torch.randn(6, 3)
    files = {}
    for name, module in zip(NAMES, modules, strict=True):
        (tmp / name).mkdir()
        files[name] = _export(module, x, tmp / name)
    rng = np.random.default_rng(0)
    data = from_arrays("toy", rng.standard_normal((50, 3)).astype(np.float32),
                       rng.integers(0, 2, 50))
    return {"modules": dict(zip(NAMES, modules, strict=True)), "files": files, "data": data}


def _source(uploads: dict, names: tuple[str, ...] = NAMES) -> NetworkSource:
    ckpts = {name: load_checkpoint(uploads["files"][name], f"{name}.onnx") for name in names}
    center = ckpts.pop("center")
    return checkpoint_source(center, ckpts, uploads["data"])


def _torch_loss(module: nn.Module, data: Dataset) -> float:
    """The module's own mean cross-entropy on the train split (plain torch)."""
    with torch.no_grad():
        out = module(torch.as_tensor(data.x_train))
        return float(nn.functional.cross_entropy(out, torch.as_tensor(data.y_train)))


def _flat(module: nn.Module) -> np.ndarray:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()]).double().numpy()


def test_an_onnx_upload_is_described_by_its_graph(uploads, one_torch_thread):
    source = _source(uploads, ("center",))
    text = center_summary(source)
    loss = _torch_loss(uploads["modules"]["center"], source.landscape.data)
    assert text.startswith("ONNX graph, 138 parameters in 8 tensors, input (batch, 3); ")
    assert f"loss at this checkpoint {loss:.6g} (cross_entropy)" in text


def test_filter_slice_of_an_onnx_upload_is_centered_on_its_loss(uploads, one_torch_thread):
    source = _source(uploads, ("center",))
    result = compute_slice(source, {"steps": 5, "span": 0.5})
    loss = _torch_loss(uploads["modules"]["center"], source.landscape.data)
    assert result.values.shape == (5, 5) and np.isfinite(result.values).all()
    assert result.values[2, 2] == pytest.approx(loss, rel=1e-5)
    assert result.meta["architecture"]["type"] == "onnx"


def test_pca_of_three_onnx_checkpoints_is_the_svd_of_their_differences(uploads,
                                                                        one_torch_thread):
    source = _source(uploads)
    result = compute_slice(source, {"directions": "pca", "steps": 5})
    points = np.stack([_flat(uploads["modules"][name]) for name in NAMES])
    center = points[0]
    np.testing.assert_allclose(result.center, center, rtol=1e-6, atol=1e-7)
    diffs = points[1:] - center  # independent: numpy's SVD of the differences from the center
    _, sing, vt = np.linalg.svd(diffs, full_matrices=False)
    dirs = result.directions
    for k in range(2):  # the same axes up to sign, the sign making checkpoint2's coordinate > 0
        assert abs(dirs[k] @ vt[k]) == pytest.approx(1.0, abs=1e-6)
    coords = result.extras["checkpoint_coords"]
    np.testing.assert_allclose(coords, (points - center) @ dirs.T, rtol=1e-6, atol=1e-6)
    assert np.all(coords[0] == 0) and np.all(coords[1] > 0)
    # the plane holds all three checkpoints: each is center + its coordinates @ directions
    np.testing.assert_allclose(center + coords @ dirs, points, atol=1e-5)
    assert result.meta["explained_variance"] == pytest.approx((sing**2 / np.sum(sing**2)).tolist(),
                                                              rel=1e-6)
    assert result.meta["pca_points"] == list(NAMES)
    own = [_torch_loss(uploads["modules"][name], source.landscape.data) for name in NAMES]
    assert result.meta["pca_point_losses"] == pytest.approx(own, rel=1e-5)
    extent = np.abs(coords).max()
    np.testing.assert_allclose(result.axes[0], np.linspace(-1, 1, 5) * extent, rtol=1e-12)
    assert result.values[2, 2] == pytest.approx(own[0], rel=1e-5)
    names = [trace.name for trace in surface_figure(result).data]
    assert "checkpoint2" in names and "checkpoint3" in names


def test_an_onnx_pca_slice_exports_and_reopens(uploads, one_torch_thread):
    """Every format writes it; the .npz opens again with the checkpoints' coordinates."""
    result = compute_slice(_source(uploads), {"directions": "pca", "steps": 3})
    for fmt in ("csv", "vtk", "html"):
        assert formats.to_bytes(result, fmt)
    opened = formats.open_export(formats.to_bytes(result, "npz"), "pca.npz")
    assert isinstance(opened, Slice)
    np.testing.assert_array_equal(opened.extras["checkpoint_coords"],
                                  result.extras["checkpoint_coords"])
    assert opened.meta["pca_points"] == list(NAMES)
    assert "checkpoint3" in [trace.name for trace in formats.figure(opened).data]


def test_pca_of_an_upload_with_two_checkpoints_is_refused_in_one_line(uploads):
    source = _source(uploads, ("center", "checkpoint2"))
    with pytest.raises(LandscapeError, match="upload a third checkpoint or use through-checkpoint"
                       ) as info:
        compute_slice(source, {"directions": "pca", "steps": 3})
    assert "\n" not in str(info.value)
    one = compute_slice(source, {"directions": "pca", "dims": 1, "steps": 3})  # a line is enough
    assert one.extras["checkpoint_coords"].shape == (2, 1)


def test_pca_of_a_module_from_python_is_refused_in_one_line(uploads):
    import landscapes

    x, y = uploads["data"].x_train, uploads["data"].y_train
    land = landscapes.from_module(uploads["modules"]["center"], x, y, loss="cross_entropy")
    with pytest.raises(LandscapeError, match="need a recorded training trajectory .* or uploaded "
                       "checkpoints; use filter or hessian directions"):
        land.slice(directions="pca", steps=3)


def test_pca_of_zoo_checkpoints_goes_through_the_store(tmp_path, one_torch_thread):
    """A zoo upload's PCA through the registry (the spec names stored keys), as the panel asks."""
    arch = {"type": "mlp", "sizes": [2, 4, 2], "act": "tanh"}
    store = UploadStore(tmp_path / "cache")
    keys, flats = {}, []
    for k, name in enumerate(NAMES):
        torch.manual_seed(k)
        module = build_network(arch)
        flats.append(_flat(module))
        path = save_checkpoint(tmp_path / f"{name}.safetensors", arch, module.state_dict(),
                               "cross_entropy")
        keys[name] = store.put_checkpoint(path.read_bytes(), path.name)
    spec = {"model": "network", "checkpoint": keys["center"], "checkpoint2": keys["checkpoint2"],
            "checkpoint3": keys["checkpoint3"], "data": "moons", "loss": None}
    result = views.compute(spec, {"view": "slice", "directions": "pca", "steps": 3}, store=store)
    assert result.meta["pca_points"] == list(NAMES)
    coords = result.extras["checkpoint_coords"]
    np.testing.assert_allclose(result.center + coords @ result.directions, np.stack(flats),
                               atol=1e-6)
    assert sum(result.meta["explained_variance"]) == pytest.approx(1.0)


def _dense_hessian_eigenvalues(module: nn.Module, data: Dataset) -> np.ndarray:
    """Eigenvalues (descending) of the dense Hessian of the mean train cross-entropy in the flat
    parameters, by torch.autograd.functional.hessian through functional_call (float64)."""
    module = copy.deepcopy(module).double()
    names = [n for n, _ in module.named_parameters()]
    shapes = [p.shape for _, p in module.named_parameters()]
    x = torch.as_tensor(data.x_train, dtype=torch.float64)
    y = torch.as_tensor(data.y_train)

    def loss(flat: torch.Tensor) -> torch.Tensor:
        parts = torch.split(flat, [s.numel() for s in shapes])
        params = {n: p.reshape(s) for n, p, s in zip(names, parts, shapes, strict=True)}
        return nn.functional.cross_entropy(functional_call(module, params, (x,)), y)

    flat = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
    hessian = torch.autograd.functional.hessian(loss, flat)
    return np.sort(np.linalg.eigvalsh(hessian.numpy()))[::-1]


def test_hessian_slice_of_an_onnx_upload_has_the_dense_top_eigenvalues(uploads,
                                                                       one_torch_thread):
    source = _source(uploads, ("center",))
    result = compute_slice(source, {"directions": "hessian", "steps": 3})
    dense = _dense_hessian_eigenvalues(uploads["modules"]["center"], source.landscape.data)
    assert result.meta["hessian_eigenvalues"] == pytest.approx(dense[:2].tolist(), rel=1e-4)
    assert np.isfinite(result.values).all()


def test_through_checkpoint_slices_land_on_the_checkpoints_losses(uploads, one_torch_thread):
    source = _source(uploads)
    data = source.landscape.data
    own = {name: _torch_loss(uploads["modules"][name], data) for name in NAMES}
    line = compute_slice(source, {"dims": 1, "steps": 5, "directions": "through:checkpoint2"})
    assert line.values[-1] == pytest.approx(own["checkpoint2"], rel=1e-5)  # coefficient 1
    assert line.values[2] == pytest.approx(own["center"], rel=1e-5)
    plane = compute_slice(source, {"steps": 3,
                                   "directions": "through:checkpoint2,checkpoint3"})
    assert plane.values[1, 2] == pytest.approx(own["checkpoint2"], rel=1e-5)  # (a, b) = (1, 0)
    assert plane.values[2, 1] == pytest.approx(own["checkpoint3"], rel=1e-5)  # (0, 1)


@pytest.mark.parametrize("kind", ["linear", "bezier"])
def test_paths_between_onnx_checkpoints_end_on_their_own_losses(uploads, kind,
                                                                one_torch_thread):
    source = _source(uploads, ("center", "checkpoint2"))
    data = source.landscape.data
    result = compute_path(source, {"from": "center", "to": "checkpoint2", "kind": kind,
                                   "steps": 5, "bend_steps": 10})
    alpha = result.axes[0]
    start = result.values[alpha == 0.0][0]
    end = result.values[alpha == 1.0][0]
    assert start == pytest.approx(_torch_loss(uploads["modules"]["center"], data), rel=1e-5)
    assert end == pytest.approx(_torch_loss(uploads["modules"]["checkpoint2"], data), rel=1e-5)
    assert np.isfinite(result.values).all() and result.meta["path_kind"] == kind
