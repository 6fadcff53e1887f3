"""Spherical p-spin glass: energy against the definition, variance, gradients, Hessians."""

import re

import numpy as np
import pytest
import torch

from landscapes.errors import LandscapeError
from landscapes.sphere import retract, riemannian_hessian_eigenvalues, tangent_basis
from landscapes.spin.descent import _tangent_grad, seeded_starts, sphere_descent
from landscapes.spin.models import IsingFunnel, PSpinGlass, build_model, normalize_spec
from tests.unit.reference import pspin_energy_einsum


@pytest.mark.parametrize(("p", "planted", "order"), [(2, 0.0, 2), (3, 0.7, 2), (4, 1.3, 3)])
def test_energy_matches_the_definition(p, planted, order):
    m = PSpinGlass.create(n=9, p=p, planted=planted, planted_order=order, seed=4)
    s = np.stack([m.random_state(k) for k in range(6)])
    expected = [pspin_energy_einsum(m.couplings, m.native, planted, order, x) for x in s]
    assert np.allclose(m.energy(torch.as_tensor(s)).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_points_and_planted_state_lie_on_the_sphere():
    m = PSpinGlass.create(n=30, p=3, seed=1)
    assert np.linalg.norm(m.native) ** 2 == pytest.approx(30)
    assert np.linalg.norm(m.random_state(7)) ** 2 == pytest.approx(30)


@pytest.mark.parametrize("p", [2, 3])
def test_glass_energy_variance_is_n(p):
    """E[H(s)^2] = N at any point of the sphere, averaged over couplings."""
    n, ratios = 40, []
    for seed in range(10):
        m = PSpinGlass.create(n=n, p=p, seed=seed)
        s = torch.as_tensor(seeded_starts(m, range(200)))
        ratios.append((m.hamiltonian(s) ** 2).mean().item() / n)
    # 2000 samples of H^2/N (chi-square like, sd ~ sqrt(2)): mean within ~4 standard errors
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.13)


def test_glass_is_homogeneous_of_degree_p():
    """Euler: s . grad H = p H for the pure glass, and H(c s) = c^p H(s)."""
    m = PSpinGlass.create(n=12, p=3, seed=2)
    s = torch.as_tensor(seeded_starts(m, range(4)))
    grad = torch.func.grad(lambda x: m.hamiltonian(x).sum())(s)
    assert torch.allclose((grad * s).sum(1), 3 * m.hamiltonian(s))
    assert torch.allclose(m.hamiltonian(1.7 * s), 1.7**3 * m.hamiltonian(s))


def test_riemannian_gradient_matches_finite_differences():
    m = PSpinGlass.create(n=16, p=3, planted=0.8, seed=3)
    s = torch.as_tensor(m.random_state(0))
    _, grad = _tangent_grad(m, s[None])
    assert abs(float(grad[0] @ s)) < 1e-10  # tangent
    rng = np.random.default_rng(0)
    for _ in range(3):
        u = torch.as_tensor(rng.standard_normal(16))
        u = u - (u @ s) / 16 * s
        eps = 1e-5
        plus = m.hamiltonian(retract(s + eps * u)[None])[0]
        minus = m.hamiltonian(retract(s - eps * u)[None])[0]
        assert float((plus - minus) / (2 * eps)) == pytest.approx(float(grad[0] @ u), rel=1e-6)


def test_riemannian_hessian_trace_matches_second_differences_along_geodesics():
    m = PSpinGlass.create(n=8, p=3, planted=0.5, seed=6)
    s = torch.as_tensor(m.random_state(1))
    eigs = riemannian_hessian_eigenvalues(m.hamiltonian, s)
    radius, h = 8**0.5, 1e-4
    trace = 0.0
    for u in tangent_basis(s).T:  # unit tangent vectors; unit-speed geodesics
        pts = torch.stack([
            np.cos(t / radius) * s + radius * np.sin(t / radius) * u for t in (-h, 0.0, h)
        ])
        e = m.hamiltonian(pts)
        trace += float(e[0] - 2 * e[1] + e[2]) / h**2
    assert len(eigs) == 7
    assert float(eigs.sum()) == pytest.approx(trace, rel=1e-4)


def test_descents_end_at_minima_with_positive_definite_hessian():
    m = PSpinGlass.create(n=32, p=3, seed=0)
    starts = seeded_starts(m, range(6))
    result = sphere_descent(m, starts)
    assert result.converged.all()
    assert np.all(result.min_hessian_eig > 0)
    start_e = m.energy(torch.as_tensor(starts)).numpy()
    assert np.all(result.energies < start_e)
    assert np.allclose(np.linalg.norm(result.states, axis=1) ** 2, 32)
    # minima of the p=3 glass sit near the threshold energy -2 sqrt(2/3) = -1.633 per spin
    assert np.all((result.energies > -1.9) & (result.energies < -1.3))


def test_a_strong_planted_term_pulls_minima_to_the_planted_state():
    m = PSpinGlass.create(n=32, p=3, planted=3.0, planted_order=2, seed=0)
    result = sphere_descent(m, seeded_starts(m, range(4)))
    assert np.all(np.abs(result.overlaps) > 0.9)


def test_the_coupling_tensor_size_is_limited_with_a_clear_message():
    with pytest.raises(LandscapeError, match=r"n <= 66 for p=4"):
        PSpinGlass.create(n=128, p=4)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"model": "glass"}, "unknown model 'glass'"),
        ({"model": "pspin", "p": 5}, "pspin: p must be one of 2, 3 or 4; got 5"),
        ({"model": "pspin", "q": 1}, "unknown parameter"),
        ({"model": "pspin", "n": 3.5}, "whole number"),
        ({"model": "pspin", "planted": "a lot"},
         "pspin: planted must be a number in [0, 100]; got 'a lot'"),
        ({"model": "ising", "native_bias": float("nan")},
         "native_bias must be a number in [0, 100]; got nan"),
    ],
)
def test_bad_specs_are_refused_with_a_specific_message(spec, message):
    with pytest.raises(LandscapeError, match=re.escape(message)):
        build_model(spec)


def test_specs_are_canonical():
    assert normalize_spec({"model": "pspin", "n": 64.0}) == normalize_spec(
        {"model": "pspin", "n": 64, "p": 3, "planted": 0, "seed": 0}
    )


def test_hessians_can_be_computed_from_several_threads_at_once():
    from concurrent.futures import ThreadPoolExecutor

    m = PSpinGlass.create(n=24, p=3, seed=1)
    points = [torch.as_tensor(m.random_state(k)) for k in range(8)]
    alone = [riemannian_hessian_eigenvalues(m.hamiltonian, s) for s in points]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda s: riemannian_hessian_eigenvalues(m.hamiltonian, s), points))
    assert all(torch.allclose(a, b) for a, b in zip(alone, together, strict=True))


@pytest.mark.parametrize(("p", "planted", "order"), [(2, 0.0, 2), (3, 0.0, 2), (3, 1.5, 1),
                                                     (3, 0.7, 2), (4, 0.5, 3)])
def test_closed_form_gradient_and_hessian_match_autograd(p, planted, order):
    """energy_gradient / euclidean_hessian (symmetrized couplings) against torch.func."""
    model = PSpinGlass.create(n=9, p=p, planted=planted, planted_order=order, seed=2)
    s = torch.as_tensor(np.stack([model.random_state(k) for k in range(3)])) * 1.1  # off-sphere
    h, grad = model.energy_gradient(s)
    np.testing.assert_allclose(h, model.hamiltonian(s), rtol=1e-12, atol=1e-12)
    auto = torch.func.vmap(torch.func.grad(lambda x: model.hamiltonian(x[None])[0]))(s)
    np.testing.assert_allclose(grad, auto, rtol=1e-10, atol=1e-10)
    hess = torch.func.jacrev(torch.func.jacrev(lambda x: model.hamiltonian(x[None])[0]))(s[0])
    np.testing.assert_allclose(model.euclidean_hessian(s[0]), hess, rtol=1e-10, atol=1e-10)


def test_ising_closed_form_gradient_and_hessian():
    model = IsingFunnel.create(n=8, native_bias=1.0, seed=1)
    s = torch.as_tensor(np.stack([model.random_state(k) for k in range(2)]))
    h, grad = model.energy_gradient(s)
    auto = torch.func.vmap(torch.func.grad(lambda x: model.hamiltonian(x[None])[0]))(s)
    np.testing.assert_allclose(h, model.hamiltonian(s), rtol=1e-12)
    np.testing.assert_allclose(grad, auto, rtol=1e-12, atol=1e-12)
    hess = torch.func.jacrev(torch.func.jacrev(lambda x: model.hamiltonian(x[None])[0]))(s[0])
    np.testing.assert_allclose(model.euclidean_hessian(s[0]), hess, atol=1e-12)
