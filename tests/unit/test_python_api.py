"""docs/python-api.md runs, and its numbers are right: every ```python block is executed in
order in one namespace (like a notebook) in a temporary directory, then checked against plain
torch forward passes written here."""

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", DOC.read_text(), re.S | re.M)


@pytest.fixture(scope="module")
def doc(tmp_path_factory) -> dict:
    """The namespace after running the doc's blocks (and the directory they ran in)."""
    before, threads = Path.cwd(), torch.get_num_threads()
    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("python-api")
    os.chdir(work)
    namespace: dict = {"__name__": "python_api_doc"}
    try:
        for block in _blocks():
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 -- our own doc
    finally:
        os.chdir(before)
        torch.set_num_threads(threads)
    return {**namespace, "work": work}


def _train_loss(module: nn.Module, doc: dict) -> float:
    """The module's own mean cross-entropy on the landscape's train split, by plain torch."""
    data = doc["land"].landscape.data
    module.eval()
    with torch.no_grad():
        out = module(torch.as_tensor(data.x_train))
    return float(nn.functional.cross_entropy(out, torch.as_tensor(data.y_train)))


def test_the_doc_has_its_blocks():
    assert len(_blocks()) == 4


def test_the_slice_centre_is_the_module_s_own_loss(doc):
    plane = doc["plane"]
    assert doc["land"].method == "inplace" and plane.values.shape == (21, 21)
    assert plane.x[10] == 0 and plane.y[10] == 0
    assert plane.values[10, 10] == pytest.approx(_train_loss(doc["model"], doc), rel=1e-6)
    assert plane.meta["center_energy"] == plane.values[10, 10]


def test_the_path_ends_are_the_two_modules_losses(doc):
    line = doc["line"]
    at = {float(a): v for a, v in zip(line.x, line.values, strict=True)}
    assert at[0.0] == pytest.approx(_train_loss(doc["model"], doc), rel=1e-6)
    assert at[1.0] == pytest.approx(_train_loss(doc["start"], doc), rel=1e-5)
    assert np.isfinite(line.meta["barrier"])


def test_the_hessian_eigenvalues_are_rayleigh_quotients(doc):
    curv = doc["curv"]
    values, vectors = curv.eigenvalues, curv.directions
    assert values.shape == (2,) and values[0] >= values[1]
    land = doc["land"].landscape
    point = land.center.detach()
    hvp = torch.func.jvp(torch.func.grad(land.loss_function()), (point,),
                         (torch.as_tensor(vectors[0], dtype=torch.float32),))[1]
    assert float(hvp.double() @ torch.as_tensor(vectors[0])) == pytest.approx(values[0], rel=1e-3)


def test_the_generic_engine_equals_the_fast_one_on_a_zoo_mlp(doc):
    a, b = doc["a"], doc["b"]
    assert (doc["fast"].method, doc["generic"].method) == ("gemm", "inplace")
    np.testing.assert_allclose(b.values, a.values, rtol=1e-5)
    np.testing.assert_allclose(b.extras["test_loss"], a.extras["test_loss"], rtol=1e-5)


def test_the_saved_npz_reloads_without_pickle(doc):
    with np.load(doc["work"] / "x.npz", allow_pickle=False) as saved:
        np.testing.assert_array_equal(saved["values"], doc["plane"].values)
        np.testing.assert_array_equal(saved["directions"], doc["plane"].directions)


def test_the_figure_is_the_dashboard_s(doc):
    fig = doc["fig"]
    assert fig.data[0].type == "surface" and "ResMLP" in fig.layout.title.text


def test_reprs_are_one_short_line(doc):
    land = repr(doc["land"])
    assert land.startswith("ModuleLandscape(ResMLP: ") and land.endswith("method inplace)")
    assert repr(doc["plane"]).startswith("LandscapeResult(slice: filter, values (21, 21), min ")
    assert repr(doc["line"]).startswith("LandscapeResult(path: linear, values (21,)")
    assert all("\n" not in repr(doc[k]) for k in ("land", "plane", "line", "curv"))
