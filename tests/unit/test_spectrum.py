"""The Hessian spectrum (top eigenvalues, trace, stochastic Lanczos quadrature) against known
spectra: a symmetric matrix built from its eigenvalues, and the dense Hessian of the moons MLP."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from landscapes import spectra, views
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.io.npz import read_npz
from landscapes.networks import spectrum
from landscapes.networks.hessian import hvp_function
from landscapes.networks.spectrum import hessian_spectrum, normalize_spectrum_view
from landscapes.networks.store import UploadStore
from landscapes.networks.views import example_source
from landscapes.spectra import broadened_density


def _matrix(eigenvalues: np.ndarray, seed: int = 0) -> torch.Tensor:
    """A dense symmetric matrix with these eigenvalues (a random orthogonal basis)."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((eigenvalues.size,) * 2))
    return torch.as_tensor((q * eigenvalues) @ q.T)


@pytest.fixture(scope="module")
def known() -> tuple[np.ndarray, torch.Tensor]:
    """400 eigenvalues: a semicircle bulk on [-1, 1] (a GOE's, like a glass's Hessian) and three
    outliers 4, 7 and 12 (like a trained network's)."""
    rng = np.random.default_rng(1)
    g = rng.standard_normal((397, 397))
    bulk = np.linalg.eigvalsh((g + g.T) / np.sqrt(2 * 397) / 2)
    eigenvalues = np.sort(np.r_[bulk, 4.0, 7.0, 12.0])
    return eigenvalues, _matrix(eigenvalues)


def test_a_known_spectrum_its_top_trace_and_density(known):
    eigenvalues, matrix = known
    dim = eigenvalues.size
    s = hessian_spectrum(lambda v: matrix @ v, dim, k=3, iterations=40, probes=16, steps=40)
    np.testing.assert_allclose(s.top.values, [12.0, 7.0, 4.0], atol=1e-8)
    # the trace: within two standard errors of the exact one, and the error is small
    assert abs(s.trace - eigenvalues.sum()) < 2 * s.trace_stderr
    assert s.trace_stderr < 0.02 * abs(eigenvalues).sum()
    assert s.trace == pytest.approx(s.trace_samples.mean())
    assert s.trace_stderr == pytest.approx(s.trace_samples.std(ddof=1) / 4)
    # the density is a probability density whose mean is the trace / D (broadening keeps it)
    assert np.trapezoid(s.density, s.grid) == pytest.approx(1.0, abs=1e-6)
    assert np.trapezoid(s.grid * s.density, s.grid) == pytest.approx(s.trace / dim, rel=1e-6)
    # the bulk's second moment (quadrature exact to degree 2 * steps - 1) and its sign split
    second = (np.sum(s.top.values**2)
              + (dim - 3) * np.mean((s.weights * s.nodes**2).sum(1))) / dim
    assert second == pytest.approx(np.mean(eigenvalues**2), rel=0.05)
    below = np.trapezoid(np.where(s.grid < 0, s.density, 0.0), s.grid)
    assert below == pytest.approx(np.mean(eigenvalues < 0), abs=0.03)
    # each outlier holds 1/D of the mass, in a peak at it
    near = np.abs(s.grid - 7.0) < 4 * s.sigma
    assert np.trapezoid(np.where(near, s.density, 0.0), s.grid) == pytest.approx(1 / dim, rel=0.02)


def test_the_density_is_recomputed_from_its_quadrature(known):
    eigenvalues, matrix = known
    s = hessian_spectrum(lambda v: matrix @ v, eigenvalues.size, k=2, iterations=30, probes=4,
                         steps=20, seed=3)
    again = broadened_density(s.grid, s.top.values, s.nodes, s.weights, s.dim, s.sigma)
    np.testing.assert_allclose(again, s.density, rtol=1e-12)
    same = hessian_spectrum(lambda v: matrix @ v, eigenvalues.size, k=2, iterations=30,
                            probes=4, steps=20, seed=3)
    np.testing.assert_array_equal(same.density, s.density)  # seeded


def test_a_closed_krylov_space_keeps_its_nodes():
    """A matrix with three distinct eigenvalues: Lanczos closes after 3 steps of each probe; the
    quadrature then holds those three nodes, the padded ones weigh nothing."""
    eigenvalues = np.repeat([-1.0, 0.5, 2.0], [20, 20, 20])
    matrix = _matrix(eigenvalues)
    s = hessian_spectrum(lambda v: matrix @ v, 60, k=1, iterations=10, probes=3, steps=10)
    assert s.top.values[0] == pytest.approx(2.0)
    assert np.allclose(s.weights.sum(1), 1.0)
    heavy = s.nodes[s.weights > 1e-8]
    assert np.allclose(np.sort(np.unique(np.round(heavy, 8))), [-1.0, 0.5, 2.0])
    assert ((s.weights > 1e-8).sum(1) == 3).all()  # three nodes a probe, then breakdown


def test_probes_in_groups_and_density_in_blocks_change_nothing(known, monkeypatch):
    """The probes run MAX_GROUP at a time from one stream of draws, and the density is summed
    DENSITY_BLOCK nodes at a time: one probe a group, or a tiny block, gives the same spectrum."""
    eigenvalues, matrix = known
    def run():
        return hessian_spectrum(lambda v: matrix @ v, eigenvalues.size, k=2, iterations=20,
                                probes=5, steps=12, seed=4)

    together = run()
    monkeypatch.setattr(spectrum, "MAX_GROUP", 1)
    monkeypatch.setattr(spectra, "DENSITY_BLOCK", 7)
    apart = run()
    np.testing.assert_allclose(apart.nodes, together.nodes, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(apart.density, together.density, rtol=1e-9)


def test_the_smallest_networks():
    """Top eigenvalues are capped so that two dimensions are left to the probes; fewer than 3
    parameters have no spectral density."""
    eigenvalues = np.arange(1.0, 10.0)  # 9 parameters, the view's default top 8
    matrix = _matrix(eigenvalues)
    s = hessian_spectrum(lambda v: matrix @ v, 9, k=8, iterations=9, probes=2, steps=60)
    np.testing.assert_allclose(s.top.values, np.arange(9.0, 2.0, -1), atol=1e-8)
    assert s.trace == pytest.approx(45.0, rel=0.1)
    with pytest.raises(LandscapeError, match="a network of 2 parameters is too small"):
        hessian_spectrum(lambda v: v, 2)


@pytest.mark.parametrize(("view", "words"), [
    ({"probes": 1}, "spectrum: probes must be a whole number in [2, 256]; got 1"),
    ({"steps": 5000}, "spectrum: steps must be a whole number in [2, 1000]; got 5000"),
    ({"top": 9, "iterations": 5}, "iterations (5) must be at least top (9)"),
    ({"bins": 3}, "spectrum: unknown setting(s) bins"),
])
def test_a_bad_view_is_refused_with_its_reason(view, words):
    with pytest.raises(LandscapeError, match=words.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        normalize_spectrum_view({"view": "spectrum", **view})


def test_a_basis_too_large_is_refused_before_any_work():
    calls = []
    with pytest.raises(LandscapeError, match="1000 Lanczos steps of 2,000,000 parameters hold "
                                             "14.9 GiB; use at most 67 steps"):
        hessian_spectrum(lambda v: calls.append(v) or v, 2_000_000, steps=1000, iterations=8)
    with pytest.raises(LandscapeError, match="100 Lanczos iterations of 2,000,000 parameters "
                                             "hold 1.5 GiB; use at most 67 iterations"):
        hessian_spectrum(lambda v: calls.append(v) or v, 2_000_000, steps=60, iterations=100)
    assert calls == []


@pytest.fixture(scope="module")
def moons(tmp_path_factory):
    """The moons MLP (4,482 parameters), its train-loss Hessian-vector product at the centre and
    the store its example is trained into."""
    store = UploadStore(tmp_path_factory.mktemp("spectrum"))
    land = example_source("moons-mlp", store.examples_dir).landscape
    return land, hvp_function(land.loss_function("train"), land.center), store


@pytest.fixture(scope="module")
def moons_eigenvalues(moons) -> np.ndarray:
    """Every eigenvalue of the moons MLP's dense Hessian (4,482 products, 512 at a time)."""
    land, hvp, _ = moons
    eye = torch.eye(land.dim)
    rows = [torch.func.vmap(hvp)(eye[i: i + 512]).double() for i in range(0, land.dim, 512)]
    dense = torch.cat(rows).numpy()
    return np.linalg.eigvalsh((dense + dense.T) / 2)


@pytest.mark.slow
def test_the_moons_mlp_spectrum_matches_its_dense_hessian(moons, moons_eigenvalues):
    """The issue's test: the SLQ density's mean within 1% of the exact spectrum's, the trace
    within 2 standard errors, the top eigenvalues within 1e-4."""
    land, hvp, _ = moons
    exact = moons_eigenvalues
    s = hessian_spectrum(hvp, land.dim)  # the view's defaults: 8 top, 16 probes x 60 steps
    np.testing.assert_allclose(s.top.values, exact[::-1][:8], atol=1e-4)
    assert abs(s.trace - exact.sum()) < 2 * s.trace_stderr
    mean = np.trapezoid(s.grid * s.density, s.grid)
    assert mean == pytest.approx(exact.mean(), rel=0.01)
    second = np.trapezoid(s.grid**2 * s.density, s.grid) - s.sigma**2  # minus the broadening's
    assert second == pytest.approx(np.mean(exact**2), rel=0.05)


def test_the_view_and_the_command_write_what_recomputes_the_density(moons, tmp_path):
    """``landscapes spectrum network`` as a whole process: the npz holds the arrays the issue
    names, meta says how they were made, and the density follows from the saved quadrature."""
    _, _, store = moons
    out = tmp_path / "spectrum.npz"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "landscapes"), "spectrum", "network", "--example",
         "moons-mlp", "--cache-dir", str(store.root), "--probes", "4", "--lanczos-steps", "20",
         "--top", "3", "--iterations", "30", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote the Hessian spectrum (4,482 parameters: trace ")
    arrays, meta = read_npz(out)
    for name in ("grid", "density", "top_eigenvalues", "trace", "trace_stderr"):
        assert name in arrays
    assert meta["kind"] == "spectrum" and meta["probes"] == 4 and meta["lanczos_steps"] == 20
    assert meta["view"] == normalize_spectrum_view(
        {"top": 3, "iterations": 30, "probes": 4, "steps": 20})
    np.testing.assert_allclose(
        broadened_density(arrays["grid"], arrays["top_eigenvalues"], arrays["ritz_values"],
                          arrays["ritz_weights"], meta["dim"], meta["sigma"]),
        arrays["density"], rtol=1e-10)
    assert float(arrays["trace"]) == pytest.approx(arrays["trace_samples"].mean())
    # the library gives the same file's numbers (one seed, one computation)
    result = views.compute({"model": "network", "example": "moons-mlp"}, meta["view"],
                           store=store)
    np.testing.assert_allclose(result.arrays["density"], arrays["density"], rtol=1e-6)
    # the CSV is the density by grid point; a VTK is refused (no grid to write)
    formats.write(result, tmp_path / "s.csv", "csv")
    text = (tmp_path / "s.csv").read_text()
    skip = int(re.search(r"skiprows=(\d+)", text).group(1))  # as its first line says
    assert text.splitlines()[skip - 1] == "t,density"
    table = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=skip)
    np.testing.assert_allclose(table[:, 1], result.arrays["density"], rtol=1e-6)
    with pytest.raises(LandscapeError, match="no grid to write as VTK"):
        formats.check_format("spectrum", "vtk")
    json.dumps(meta)


def test_the_glass_spectrum_is_every_eigenvalue_at_its_lowest_minimum(tmp_path, capsys):
    """``landscapes spectrum pspin``: the minima view's lowest minimum's Hessian, every
    eigenvalue, drawn as a density like a network's; the file recomputes it."""
    from landscapes import cli
    from landscapes.sphere import riemannian_hessian_eigenvalues
    from landscapes.spin.models import build_model
    from landscapes.spin.spectrum import SPECTRUM_DEFAULTS

    parsed = cli.build_parser().parse_args(["spectrum", "pspin", "--out", "x.npz"])
    assert parsed.starts == SPECTRUM_DEFAULTS["starts"]  # the view's own default
    out = tmp_path / "glass.npz"
    model = ["pspin", "--n", "24", "--p", "3", "--seed", "2"]
    assert cli.main(["spectrum", *model, "--starts", "8", "--out", str(out)]) == 0
    assert "23 eigenvalues at the lowest of 8 minima" in capsys.readouterr().out
    arrays, meta = read_npz(out)
    minima = views.compute({"model": "pspin", "n": 24, "p": 3, "seed": 2},
                           {"view": "minima", "starts": 8})
    np.testing.assert_allclose(arrays["eigenvalues"], np.sort(minima.arrays["spectrum"]))
    assert meta["lowest_energy"] == minima.meta["lowest_energy"] and meta["exact"]
    assert float(arrays["trace"]) == pytest.approx(arrays["eigenvalues"].sum())
    assert np.trapezoid(arrays["density"], arrays["grid"]) == pytest.approx(1.0, abs=1e-6)
    # the Hessian again, from the file's minimum and couplings alone
    spin = build_model(meta["model"])
    np.testing.assert_allclose(spin.arrays()["couplings"], arrays["couplings"])
    again = riemannian_hessian_eigenvalues(spin.hamiltonian,
                                           torch.as_tensor(arrays["lowest_state"]),
                                           spin.euclidean_hessian).numpy()
    np.testing.assert_allclose(np.sort(again), arrays["eigenvalues"], rtol=1e-6, atol=1e-8)
    # the flags of the other family are refused, as is the Ising model
    assert cli.main(["spectrum", *model, "--probes", "4", "--out", str(out)]) == 2
    assert "--probes applies to networks" in capsys.readouterr().err
    assert cli.main(["spectrum", "ising", "--out", str(out)]) == 2
    assert "the Ising model has no Hessian" in capsys.readouterr().err
