"""Weight decay added to a computed slice (landscapes/networks/regularization.py)."""

import numpy as np
import pytest
import torch

from landscapes.errors import LandscapeError
from landscapes.networks.regularization import squared_norm, with_weight_decay
from landscapes.slices import Slice, evaluate_grid


def _slice(dims: int, seed: int = 0) -> Slice:
    rng = np.random.default_rng(seed)
    d = 50
    center = rng.standard_normal(d)
    directions = rng.standard_normal((dims, d))
    axes = [np.linspace(-1.0, 1.5, 7 + k) for k in range(dims)]
    loss = lambda x: (x**2).sum(dim=1).sin()  # noqa: E731 -- any loss will do
    values = evaluate_grid(loss, center, directions, axes, "euclidean")
    return Slice(axes, values, center, directions, "euclidean", {"unit": "loss"})


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_squared_norm_equals_the_norm_of_every_grid_point(dims):
    result = _slice(dims)
    direct = np.linalg.norm(result.points(), axis=1) ** 2
    assert np.allclose(squared_norm(result).ravel(), direct, rtol=1e-12)
    assert squared_norm(result).shape == result.values.shape


def test_weight_decay_adds_lambda_times_the_squared_norm():
    result = _slice(2, seed=3)
    lam = 0.01
    reg = lambda x: (x**2).sum(dim=1).sin() + lam * (x**2).sum(dim=1)  # noqa: E731
    recomputed = evaluate_grid(reg, result.center, result.directions, result.axes, "euclidean")
    assert np.allclose(with_weight_decay(result, lam), recomputed, rtol=1e-12, atol=1e-12)
    assert np.array_equal(with_weight_decay(result, 0.0), result.values)


def test_a_path_with_per_point_coefficients():
    result = _slice(2, seed=5)
    coefs = np.random.default_rng(1).standard_normal((9, 2))
    path = Slice([np.arange(9.0)], np.zeros(9), result.center, result.directions, "euclidean",
                 {}, {"coefficients": coefs})
    direct = np.linalg.norm(result.center + coefs @ result.directions, axis=1) ** 2
    assert np.allclose(squared_norm(path), direct, rtol=1e-12)


def test_sphere_slices_and_bad_strengths_are_refused():
    result = _slice(2)
    sphere = Slice(result.axes, result.values, result.center, result.directions, "sphere")
    with pytest.raises(LandscapeError, match="network slices"):
        squared_norm(sphere)
    for bad in (-1.0, float("nan")):
        with pytest.raises(LandscapeError, match="finite number >= 0"):
            with_weight_decay(result, bad)


def test_torch_sgd_weight_decay_is_half_lambda():
    # SGD's weight_decay=wd adds wd * theta to the gradient: the gradient of (wd/2)|theta|^2
    theta = torch.nn.Parameter(torch.tensor([3.0, -4.0]))
    opt = torch.optim.SGD([theta], lr=1.0, weight_decay=0.2)
    theta.grad = torch.zeros(2)
    opt.step()
    lam = 0.2 / 2
    assert torch.allclose(theta.detach(), torch.tensor([3.0, -4.0]) * (1 - 2 * lam))
