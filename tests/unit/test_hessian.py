"""Lanczos top Hessian eigenpairs against dense Hessians (torch.func.hessian) and known quadratics."""

import numpy as np
import pytest
import torch

from landscapes.errors import LandscapeError
from landscapes.networks.architectures import build_network
from landscapes.networks.datasets import load_builtin
from landscapes.networks.hessian import Eigenpairs, hessian_directions, hvp_function, top_eigenpairs
from landscapes.networks.landscape import NetworkLandscape

TINY = {"type": "mlp", "sizes": [2, 5, 2], "act": "tanh"}


@pytest.fixture(scope="module")
def tiny() -> NetworkLandscape:
    torch.manual_seed(7)
    state = build_network(TINY).state_dict()
    return NetworkLandscape.create(TINY, state, load_builtin("moons"), "cross_entropy")


def _float64_loss(landscape: NetworkLandscape):
    """The tiny MLP's mean cross-entropy written out by hand in float64 (no library code path)."""
    x = torch.as_tensor(landscape.data.x_train, dtype=torch.float64)
    y = torch.as_tensor(landscape.data.y_train)

    def loss(flat: torch.Tensor) -> torch.Tensor:
        w1, b1 = flat[:10].reshape(5, 2), flat[10:15]
        w2, b2 = flat[15:25].reshape(2, 5), flat[25:27]
        logits = torch.tanh(x @ w1.T + b1) @ w2.T + b2
        return (torch.logsumexp(logits, 1) - logits.gather(1, y[:, None])[:, 0]).mean()

    return loss


@pytest.fixture(scope="module")
def dense(tiny):
    """Dense float64 Hessian of the tiny network's training loss at its centre, eigh'd."""
    assert tiny.dim == 27
    center = tiny.center.to(torch.float64)
    loss64 = _float64_loss(tiny)
    assert float(loss64(center)) == pytest.approx(float(tiny.loss_function()(tiny.center)), rel=1e-5)
    hessian = torch.func.hessian(loss64)(center)
    values, vectors = torch.linalg.eigh(hessian)
    return hessian, values.flip(0).numpy(), vectors.flip(1).T.numpy()


def _quadratic(eigenvalues: list[float], seed: int = 0):
    """loss(x) = x^T A x / 2 with A = Q diag(eigenvalues) Q^T, Q a seeded random rotation."""
    dim = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed),
                                       dtype=torch.float64))
    a = q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T
    return (lambda x: 0.5 * x @ a @ x), a, q.T


@pytest.mark.parametrize("iterations", [27, 30])
def test_lanczos_matches_the_dense_hessian_of_a_tiny_network(tiny, dense, iterations):
    _, values, vectors = dense
    assert values[0] - values[1] > 1e-2  # a clear gap, so the eigenvectors are well defined
    result = hessian_directions(tiny, k=2, iterations=iterations, seed=3)
    assert isinstance(result, Eigenpairs)
    assert result.values.shape == (2,) and result.vectors.shape == (2, 27)
    np.testing.assert_allclose(result.values, values[:2], rtol=1e-4)
    cosines = np.abs(np.sum(result.vectors * vectors[:2], axis=1))
    assert np.all(cosines > 0.999), cosines
    assert np.all(result.residuals < 1e-4 * values[0])
    assert 2 <= result.iterations <= 27


def test_hvp_matches_dense_hessian_times_vector(tiny, dense):
    hessian = dense[0]
    hvp = hvp_function(tiny.loss_function(), tiny.center)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        v = torch.randn(27, generator=gen, dtype=torch.float64)
        got = hvp(v)
        assert got.dtype == torch.float32 and got.shape == (27,)
        want = hessian @ v
        scale = float(want.abs().max())
        np.testing.assert_allclose(got.double().numpy(), want.numpy(), atol=1e-5 * scale)


def test_hvp_of_a_quadratic_is_exact():
    loss, a, _ = _quadratic([4.0, 2.0, -1.0, 0.5, 3.0])
    point = torch.linspace(-1, 1, 5, dtype=torch.float64)
    v = torch.tensor([0.3, -1.0, 2.0, 0.1, 0.7], dtype=torch.float64)
    np.testing.assert_allclose(hvp_function(loss, point)(v).numpy(), (a @ v).numpy(), atol=1e-12)


def test_quadratic_with_known_spectrum_gives_the_largest_algebraic_eigenpairs():
    eigenvalues = [10.1, 7.3, 3.7, 1.0, 0.5, 0.25, -0.5, -2.0, -25.0, 0.1, 0.05, 0.0]
    loss, a, rows = _quadratic(eigenvalues, seed=2)
    hvp = hvp_function(loss, torch.zeros(12, dtype=torch.float64))
    result = top_eigenpairs(hvp, 12, k=3, iterations=12, seed=5)
    np.testing.assert_allclose(result.values, [10.1, 7.3, 3.7], rtol=1e-10)  # not -25 (largest |.|)
    np.testing.assert_allclose(result.vectors @ result.vectors.T, np.eye(3), atol=1e-10)
    cosines = np.abs(np.sum(result.vectors * rows[:3].numpy(), axis=1))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-10)
    assert np.all(result.residuals < 1e-10)
    direct = np.linalg.norm(result.vectors @ a.numpy() - result.values[:, None] * result.vectors, axis=1)
    np.testing.assert_allclose(result.residuals, direct, atol=1e-12)
    lead = np.abs(result.vectors).argmax(1)
    assert np.all(result.vectors[np.arange(3), lead] > 0)  # sign convention


def test_lanczos_converges_on_a_large_quadratic_with_few_iterations():
    eigenvalues = [50.0, 30.0] + list(np.linspace(0.0, 1.0, 198))
    loss, _, rows = _quadratic(eigenvalues, seed=4)
    hvp = hvp_function(loss, torch.zeros(200, dtype=torch.float64))
    result = top_eigenpairs(hvp, 200, k=2, iterations=20)
    assert result.iterations == 20
    np.testing.assert_allclose(result.values, [50.0, 30.0], rtol=1e-8)
    assert np.all(np.abs(np.sum(result.vectors * rows[:2].numpy(), axis=1)) > 1 - 1e-8)


def test_breakdown_exits_early_and_iterations_are_capped_at_the_dimension():
    # three distinct eigenvalues: the Krylov space of any start vector has dimension 3
    loss, _, _ = _quadratic([5.0, 5.0, 5.0, 2.0, 2.0, -1.0, -1.0, -1.0], seed=1)
    hvp = hvp_function(loss, torch.zeros(8, dtype=torch.float64))
    result = top_eigenpairs(hvp, 8, k=2, iterations=50)
    assert result.iterations == 3
    np.testing.assert_allclose(result.values, [5.0, 2.0], rtol=1e-10)
    assert np.all(result.residuals < 1e-10)
    loss, _, _ = _quadratic([4.0, 3.0, 2.0, 1.0])
    assert top_eigenpairs(hvp_function(loss, torch.zeros(4, dtype=torch.float64)), 4,
                          iterations=50).iterations == 4


def test_breakdown_with_fewer_than_k_vectors_restarts_orthogonally():
    hvp = hvp_function(lambda x: 1.5 * x @ x, torch.zeros(6, dtype=torch.float64))  # H = 3 I
    result = top_eigenpairs(hvp, 6, k=2, iterations=10)
    assert result.iterations == 2
    np.testing.assert_allclose(result.values, [3.0, 3.0], rtol=1e-12)
    np.testing.assert_allclose(result.vectors @ result.vectors.T, np.eye(2), atol=1e-12)


def test_seed_makes_results_reproducible(tiny):
    first = hessian_directions(tiny, k=2, iterations=8, seed=11)
    again = hessian_directions(tiny, k=2, iterations=8, seed=11)
    other = hessian_directions(tiny, k=2, iterations=8, seed=12)
    np.testing.assert_array_equal(first.vectors, again.vectors)
    assert not np.array_equal(first.values, other.values)


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 3, "iterations": 2}, "k=3 eigenpairs need at least k Lanczos iterations"),
    ({"k": 5, "iterations": 10}, "k=5 is more than the 4 dimensions"),
    ({"k": 0}, "k must be a positive integer"),
    ({"iterations": 0}, "iterations must be a positive integer"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    hvp = hvp_function(lambda x: x @ x, torch.zeros(4, dtype=torch.float64))
    with pytest.raises(LandscapeError, match=message):
        top_eigenpairs(hvp, 4, **kwargs)
    with pytest.raises(ValueError):
        top_eigenpairs(hvp, 4, **kwargs)


def test_bad_hessian_vector_products_are_reported():
    with pytest.raises(LandscapeError, match="shape"):
        top_eigenpairs(lambda v: v[:3], 4)
    with pytest.raises(LandscapeError, match="not finite"):
        top_eigenpairs(lambda v: v * float("nan"), 4)
