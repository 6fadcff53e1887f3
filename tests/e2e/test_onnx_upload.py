"""An uploaded ONNX network in a real browser: a residual MLP exported to ONNX three
times (other weights, the same graph) with its data file; the panel says why the built-in data
do not fit it, draws its surface and the path between the first two checkpoints, asks for a
third checkpoint for a PCA plane, then draws the PCA plane of all three."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect

from tests.e2e.test_networks import UPDATE_MS, _choose_network, _wait_title
from tests.unit.test_onnx import Residual

# the right surface's first trace: [type, rows, every z value finite]
SURFACE_Z = """() => { const s = document.querySelector('#right-surface .js-plotly-plot')._fullData[0];
  const rows = Array.from(s.z, row => Array.from(row));
  return [s.type, rows.length, rows.every(row => row.every(Number.isFinite))]; }"""
TRACE_NAMES = "() => document.querySelector('#right-{graph} .js-plotly-plot').data.map(t => t.name)"


def _export(model: torch.nn.Module, path: Path) -> Path:
    """``model`` as an ONNX file with a symbolic batch dimension (as the docs tell users)."""
    pytest.importorskip("onnxscript")
    x = torch.randn(4, 3)
    torch.onnx.export(model, (x,), str(path), dynamo=True, external_data=False,
                      dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    return path


def _files(tmp_path: Path) -> dict[str, Path]:
    """Three ONNX checkpoints of one residual MLP (3 inputs, 2 classes) and its data X, y."""
    torch.manual_seed(0)
    model = Residual().eval()
    files = {"center": _export(model, tmp_path / "residual.onnx")}
    for name, scale in (("checkpoint2", 0.3), ("checkpoint3", 0.5)):
        other = copy.deepcopy(model)
        with torch.no_grad():
            for p in other.parameters():
                p.add_(scale * torch.randn_like(p))
        files[name] = _export(other, tmp_path / f"residual-{name}.onnx")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)).astype(np.float32)
    np.savez(tmp_path / "points.npz", X=x, y=(x[:, 0] * x[:, 1] > 0).astype(np.int64))
    return {**files, "data": tmp_path / "points.npz"}


def _upload(page: Page, slot: str, path: Path) -> None:
    page.locator(f"#right-{slot} input[type=file]").set_input_files(str(path))
    expect(page.locator(f"#right-{slot}-status")).to_contain_text(f"accepted: {path.name}",
                                                                  timeout=UPDATE_MS)


def _surface_is_drawn(page: Page) -> None:
    kind, rows, finite = page.evaluate(SURFACE_Z)
    assert (kind, rows, finite) == ("surface", 21, True)


def test_upload_an_onnx_network_and_see_its_surface_and_path(
    dashboard: Page, browser_errors: list[str], tmp_path: Path
) -> None:
    files = _files(tmp_path)
    _choose_network(dashboard, "right")  # 21 x 21
    dashboard.locator("#right-net-source").click()
    dashboard.get_by_text("my upload", exact=True).click()
    _upload(dashboard, "upload-checkpoint", files["center"])  # on the Data control's moons
    status = dashboard.locator("#right-upload-checkpoint-status")
    expect(status).to_contain_text("residual.onnx takes inputs of shape (batch, 3), but the "
                                   "data's rows X[i] have shape (2)", timeout=UPDATE_MS)
    _upload(dashboard, "upload-data", files["data"])
    expect(status).to_contain_text("accepted: residual.onnx (ONNX graph, 138 parameters in 8 "
                                   "tensors, input (batch, 3); loss at this checkpoint ",
                                   timeout=UPDATE_MS)
    _upload(dashboard, "upload-checkpoint2", files["checkpoint2"])
    _wait_title(dashboard, "right",
                "uploaded checkpoint (ONNX graph, 138 parameters) on points.npz, cross_entropy")
    _surface_is_drawn(dashboard)
    dashboard.wait_for_function(f"() => ({TRACE_NAMES.format(graph='path')})().join() "
                                "=== 'train,test'", timeout=UPDATE_MS)
    expect(dashboard.locator("#right-path")).to_contain_text("center -> checkpoint2")

    dashboard.locator("#right-net-directions").click()
    dashboard.get_by_text("PCA of the trajectory or checkpoints", exact=True).click()
    expect(dashboard.locator("#right-message")).to_contain_text(
        "upload a third checkpoint", timeout=UPDATE_MS)  # two checkpoints make no plane
    _upload(dashboard, "upload-checkpoint3", files["checkpoint3"])
    _wait_title(dashboard, "right", "PCA explained variance")
    _surface_is_drawn(dashboard)
    names = dashboard.evaluate(f"({TRACE_NAMES.format(graph='surface')})")
    assert "checkpoint2" in names and "checkpoint3" in names, names
    dashboard.screenshot(path=str(tmp_path / "onnx-upload.png"), full_page=True)
    dashboard.locator("#right-surface").screenshot(path=str(tmp_path / "onnx-surface.png"))
    text = dashboard.content().lower()
    assert "internal error" not in text and "traceback" not in text
    assert browser_errors == []
