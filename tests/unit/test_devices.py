"""Devices: a GPU that is asked for but missing falls back to the CPU with a note, never an error."""

import numpy as np
import pytest
import torch

from landscapes.errors import LandscapeError
from landscapes.networks import views as network_views
from landscapes.networks.architectures import build_network
from landscapes.networks.devices import resolve_device
from landscapes.networks.landscape import NetworkLandscape
from tests.unit.test_cli import run

NO_GPU = not torch.cuda.is_available()


def test_device_names():
    assert resolve_device(None) == (torch.device("cpu"), None)
    assert resolve_device(" CPU ") == (torch.device("cpu"), None)
    for bad in ("tpu", "cuda:x", "cpu:1", "auto:0"):
        with pytest.raises(LandscapeError, match="use cpu, cuda, cuda:K or auto"):
            resolve_device(bad)


@pytest.mark.skipif(not NO_GPU, reason="checks the fallback of a machine without a GPU")
def test_a_missing_gpu_falls_back_to_the_cpu_with_a_note():
    device, note = resolve_device("cuda")
    assert device == torch.device("cpu") and "no CUDA GPU is available" in note
    assert resolve_device("auto") == (torch.device("cpu"), None)  # auto: no note, it is a choice
    assert resolve_device("cuda:1")[0] == torch.device("cpu")


def _landscape() -> NetworkLandscape:
    from landscapes.networks.datasets import load_builtin

    arch = {"type": "mlp", "sizes": [2, 8, 2], "act": "tanh"}
    torch.manual_seed(0)
    state = build_network(arch).state_dict()
    return NetworkLandscape.create(arch, state, load_builtin("moons"), "cross_entropy")


def test_the_reference_loop_runs_on_the_landscape_device():
    land = _landscape()
    assert land.on(torch.device("cpu")) is land
    moved = land.on(torch.device("meta"))  # a non-CPU device: the GEMM program (CPU-tuned) is off
    assert moved.method == "loop" and moved.method_meta()["device"] == "meta"
    assert land.method == "gemm" and land.device == torch.device("cpu")
    points = land.center[None].repeat(3, 1) + 0.1 * torch.randn(3, land.dim)
    np.testing.assert_allclose(land.evaluate_splits(points, method="loop"),
                               land.evaluate_splits(points), rtol=1e-4, atol=1e-5)
    source = network_views.NetworkSource(land)
    assert network_views.on_device(source, None) is source


@pytest.mark.skipif(not NO_GPU, reason="checks the fallback of a machine without a GPU")
def test_cli_device_cuda_falls_back_with_a_note(tmp_path, capsys):
    out = tmp_path / "s.npz"
    code, stdout, err = run(["slice", "network", "--example", "moons-mlp", "--steps", "3",
                             "--device", "cuda", "--cache-dir", str(tmp_path), "--out", str(out)],
                            capsys)
    assert code == 0 and out.exists() and str(out) in stdout
    assert "landscapes: note: cuda: no CUDA GPU is available here; computing on the CPU" in err
    code, _, err = run(["slice", "network", "--example", "moons-mlp", "--device", "tpu",
                        "--out", str(out)], capsys)
    assert code == 2 and "unknown device 'tpu'" in err


def test_dashboard_device_setting(tmp_path, caplog):
    from app import create_app
    from app.config import Config

    assert Config.from_env({"FUNNELSCOPE_DEVICE": "auto"}).device == "auto"
    store = create_app(Config(cache_dir=tmp_path, device="cpu")).server.extensions[
        "funnelscope_store"]
    assert store.device == torch.device("cpu")
    if NO_GPU:
        create_app(Config(cache_dir=tmp_path, device="cuda"))
        assert "no CUDA GPU is available" in caplog.text


@pytest.mark.skipif(NO_GPU, reason="needs a CUDA GPU (a session with the device machine)")
def test_a_slice_computed_on_the_gpu_equals_the_cpu_slice():
    """On a machine with a GPU: the zoo MLP (reference loop on the GPU) and a module outside the
    zoo (vmap on the GPU) give the CPU's numbers to float32 rounding."""
    from landscapes.networks.datasets import from_arrays
    from tests.unit.test_module_landscape import _data, _trained_residual

    view = {"steps": 9, "span": 1.0, "directions": "filter"}
    zoo = network_views.NetworkSource(_landscape())
    module = network_views.NetworkSource(NetworkLandscape.from_module(
        _trained_residual(), from_arrays("toy", *_data()), "cross_entropy"))
    for source, gpu_method in ((zoo, "loop"), (module, "vmap")):
        on_gpu = network_views.on_device(source, torch.device("cuda"))
        assert on_gpu.landscape.method == gpu_method
        cpu = network_views.compute_slice(source, view)
        gpu = network_views.compute_slice(on_gpu, view)
        assert gpu.meta["evaluation"]["device"].startswith("cuda")
        np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-4, atol=1e-5)
