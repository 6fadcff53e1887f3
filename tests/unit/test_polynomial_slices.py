"""Polynomial sphere slices equal the pointwise evaluation of ``model.energy`` point by point."""

import numpy as np
import pytest

from landscapes import views
from landscapes.errors import LandscapeError
from landscapes.slices import evaluate_grid
from landscapes.spin.models import build_model
from landscapes.spin.polynomial_slices import (
    contract_slots,
    monomial_coefficients,
    sphere_grid,
    sphere_values,
)

RTOL, ATOL = 1e-9, 1e-12

PSPINS = [
    {"model": "pspin", "n": n, "p": p, "planted": planted, "planted_order": r, "seed": p + r}
    for n, p in [(11, 2), (9, 3), (7, 4)]
    for planted, r in [(0.0, 2), (0.7, 1), (1.3, 2), (0.5, 3)]
]
ISING = {"model": "ising", "n": 12, "native_bias": 1.5, "seed": 3}


def _ids(spec: dict) -> str:
    if spec["model"] == "ising":
        return "ising"
    return f"p{spec['p']}-lam{spec['planted']}-r{spec['planted_order']}"


def _grid(model, dims: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """An off-sphere centre, random non-orthogonal directions, off-centre uneven axes."""
    gen = np.random.default_rng(seed)
    center = 1.7 * gen.standard_normal(model.n)
    directions = gen.standard_normal((dims, model.n)) + 0.4 * center  # correlated with c
    axes = [np.sort(gen.uniform(-1.5, 2.5, 4 + k)) for k in range(dims)]
    return center, directions, axes


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("spec", [*PSPINS, ISING], ids=_ids)
def test_polynomial_grid_equals_pointwise(spec, dims):
    model = build_model(spec)
    center, directions, axes = _grid(model, dims, seed=dims)
    expected = evaluate_grid(model.energy, center, directions, axes, "sphere")
    got = sphere_grid(model, center, directions, axes)
    assert got is not None and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_tangent_slice_at_a_sphere_point_and_wide_span():
    model = build_model({"model": "pspin", "n": 20, "p": 3, "planted": 1.0, "seed": 5})
    center = model.random_state(0)
    gen = np.random.default_rng(1)
    directions = gen.standard_normal((2, model.n))
    directions -= np.outer(directions @ center, center) / model.n
    axes = [np.linspace(-6.0, 4.0, 31), np.linspace(-3.0, 5.0, 17)]
    expected = evaluate_grid(model.energy, center, directions, axes, "sphere")
    np.testing.assert_allclose(sphere_grid(model, center, directions, axes), expected,
                               rtol=RTOL, atol=ATOL)


def test_coefficients_sum_every_placement_of_the_directions():
    """J is not symmetric: the a*b coefficient of J.u^2 is J(d1, d2) + J(d2, d1)."""
    gen = np.random.default_rng(0)
    j, e = gen.standard_normal((5, 5)), gen.standard_normal((3, 5))
    t = contract_slots(j, e)
    assert np.allclose(t, e @ j @ e.T)
    coefs = monomial_coefficients(t)
    assert coefs.shape == (3, 3)
    assert coefs[1, 1] == pytest.approx(t[1, 2] + t[2, 1])
    assert coefs[0, 1] == pytest.approx(t[0, 2] + t[2, 0])
    assert coefs[2, 0] == pytest.approx(t[1, 1]) and coefs[0, 0] == pytest.approx(t[0, 0])
    assert coefs[1, 2] == 0 and coefs[2, 2] == 0


def test_contract_slots_order_three_matches_einsum():
    gen = np.random.default_rng(2)
    j, e = gen.standard_normal((4, 4, 4)), gen.standard_normal((3, 4))
    assert np.allclose(contract_slots(j, e), np.einsum("ijk,ai,bj,ck->abc", j, e, e, e))


@pytest.mark.parametrize("directions", ["random", "through:native,random:1"])
def test_views_slice_uses_the_polynomial_and_equals_pointwise(directions):
    spec = {"model": "pspin", "n": 12, "p": 3, "planted": 0.8, "seed": 4}
    view = {"view": "slice", "dims": 2, "steps": 9, "span": 1.2, "center": "random:0",
            "directions": directions}
    calls = []
    result = views.compute(spec, view, progress=lambda done, total: calls.append((done, total)))
    assert result.meta["method"] == "polynomial"
    assert calls[-1] == (81, 81)
    model = build_model(spec)
    expected = evaluate_grid(model.energy, result.center, result.directions, result.axes, "sphere")
    np.testing.assert_allclose(result.values, expected, rtol=RTOL, atol=ATOL)
    assert result.values[4, 4] == pytest.approx(result.meta["center_energy"], rel=1e-12)


class _Other:
    n = 3
    name = "other"

    def energy(self, s):
        return (s**2).sum(-1)


def test_unsupported_model_falls_back_to_pointwise():
    other = _Other()
    center, directions = np.ones(3), np.eye(3)[:1]
    axes = [np.linspace(-1, 1, 5)]
    assert sphere_grid(other, center, directions, axes) is None
    values, method = sphere_values(other, center, directions, axes)
    assert method == "pointwise" and np.allclose(values, 3.0)


def test_errors_match_evaluate_grid():
    model = build_model(PSPINS[4])
    center, directions, axes = _grid(model, 2, seed=0)
    with pytest.raises(LandscapeError, match="2 axes need 2 directions"):
        sphere_grid(model, center, directions[:1], axes)
    with pytest.raises(LandscapeError, match="components"):
        sphere_grid(model, center[:-1], directions[:, :-1], axes)
    with pytest.raises(LandscapeError, match="too large"):
        sphere_grid(model, center, directions, [np.zeros(2000), np.zeros(2000)])
