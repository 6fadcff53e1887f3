"""Top Hessian eigenpairs of a loss at a point, from Hessian-vector products only (Lanczos).

Conventions:

* The Hessian is never formed: :func:`hvp_function` gives ``v -> H v`` by forward-over-reverse
  differentiation (``torch.func.jvp`` of ``torch.func.grad``), in the dtype of the point (float32
  for a :class:`~landscapes.networks.landscape.NetworkLandscape`).
* :func:`top_eigenpairs` runs Lanczos with full reorthogonalisation; the Krylov basis, the
  tridiagonal matrix and its eigendecomposition are float64 (``dtype``).
* "Top" means the *largest algebraic* eigenvalues (as in PyHessian and Li et al. 2018), not the
  largest in magnitude: a strongly negative curvature direction is not "top".
* Eigenvalues are in loss units per squared parameter unit; eigenvectors are unit vectors (D,)
  in the flat parameter order of the landscape, with the sign fixed so that the entry of
  largest magnitude is positive.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from landscapes import budget
from landscapes.errors import LandscapeError
from landscapes.seeding import rng

if TYPE_CHECKING:
    from landscapes.networks.landscape import NetworkLandscape

Tensor = torch.Tensor

# beta <= BREAKDOWN * eps * |T| counts as a Lanczos breakdown (an invariant Krylov subspace)
BREAKDOWN = 100.0


@dataclass(frozen=True)
class Eigenpairs:
    """Ritz approximations to the top-k Hessian eigenpairs.

    ``values`` (k,) descending; ``vectors`` (k, D) unit rows, ``vectors[i]`` belongs to
    ``values[i]``; ``iterations`` the Lanczos steps taken (one Hessian-vector product each, the k
    residual products not counted); ``residuals`` (k,) ``|H v_i - values[i] v_i|`` (2-norm,
    one extra Hessian-vector product per pair).
    """

    values: np.ndarray
    vectors: np.ndarray
    iterations: int
    residuals: np.ndarray


def hvp_function(loss: Callable[[Tensor], Tensor], point: Tensor) -> Callable[[Tensor], Tensor]:
    """``v -> H v`` with ``H`` the Hessian of ``loss`` at ``point`` (D,), without forming ``H``.

    Forward-over-reverse: ``jvp(grad(loss), (point,), (v,))``. ``v`` is cast to the point's dtype
    and device, so products are computed (and returned) in the point's precision.
    """
    point = point.detach()
    gradient = torch.func.grad(loss)

    def hvp(v: Tensor) -> Tensor:
        v = v.to(device=point.device, dtype=point.dtype)
        return torch.func.jvp(gradient, (point,), (v,))[1]

    return hvp


def _check_arguments(dim: int, k: int, iterations: int) -> None:
    for name, value in (("dim", dim), ("k", k), ("iterations", iterations)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise LandscapeError(f"Hessian eigenpairs: {name} must be a positive integer; got {value!r}")
    if k > iterations:
        raise LandscapeError(
            f"Hessian eigenpairs: k={k} eigenpairs need at least k Lanczos iterations; "
            f"got iterations={iterations}"
        )
    if k > dim:
        raise LandscapeError(
            f"Hessian eigenpairs: k={k} is more than the {dim} dimensions of the parameter space"
        )


def _apply(hvp: Callable[[Tensor], Tensor], v: Tensor) -> tuple[Tensor, float]:
    """``H v`` in the dtype of ``v``, checked for shape and finiteness; and the product's eps."""
    w = hvp(v)
    if tuple(w.shape) != tuple(v.shape):
        raise LandscapeError(
            f"Hessian-vector product has shape {tuple(w.shape)}; expected {tuple(v.shape)}"
        )
    if not torch.isfinite(w).all():
        raise LandscapeError("Hessian-vector product is not finite (NaN or infinite loss curvature)")
    eps = torch.finfo(w.dtype).eps if w.dtype.is_floating_point else 0.0
    return w.detach().to(device=v.device, dtype=v.dtype), eps


def _orthogonalize(w: Tensor, basis: Tensor) -> Tensor:
    """``w`` minus its projection on the rows of ``basis`` (classical Gram-Schmidt, twice)."""
    for _ in range(2):
        w = w - basis.T @ (basis @ w)
    return w


def _random_unit(dim: int, seed: int, index: int, basis: Tensor | None, dtype: torch.dtype) -> Tensor:
    v = torch.as_tensor(rng(seed, "lanczos", index).standard_normal(dim), dtype=dtype)
    if basis is not None:
        v = _orthogonalize(v, basis)
    return v / torch.linalg.vector_norm(v)


def top_eigenpairs(hvp: Callable[[Tensor], Tensor], dim: int, k: int = 2, iterations: int = 20,
                   seed: int = 0, dtype: torch.dtype = torch.float64) -> Eigenpairs:
    """The ``k`` largest (algebraic, not absolute) eigenpairs of the symmetric operator ``hvp``.

    Lanczos with full reorthogonalisation from a seeded Gaussian start vector (the stream
    ``rng(seed, "lanczos")``), ``iterations`` steps (capped at ``dim``), then the Ritz pairs of
    the tridiagonal matrix (``torch.linalg.eigh``). The basis and tridiagonal are ``dtype``
    (float64); ``hvp`` receives ``dtype`` vectors and may compute in its own precision (its
    result is cast back). On breakdown (``beta ~ 0``: the Krylov subspace is invariant) the
    iteration stops early, unless fewer than ``k`` basis vectors exist yet, in which case it
    restarts from a fresh random vector orthogonal to the basis. Like any single-vector Lanczos
    it may find only one copy of an eigenvalue of multiplicity > 1. Memory: ``iterations x dim``
    numbers of ``dtype``.

    Raises :class:`LandscapeError` (a ``ValueError``) for ``k > iterations``, ``k > dim``,
    non-positive arguments, or a Hessian-vector product of the wrong shape or not finite.
    """
    _check_arguments(dim, k, iterations)
    steps = min(iterations, dim)
    eps = torch.finfo(dtype).eps
    q = _random_unit(dim, seed, 0, None, dtype)
    basis = torch.empty(steps, dim, dtype=dtype)  # rows 0..j are the Lanczos vectors so far
    basis[0] = q
    alphas: list[float] = []
    betas: list[float] = []
    scale, restarts = 0.0, 0
    for j in range(steps):
        budget.check()  # the Lanczos iterations count against the view's compute budget
        w, hvp_eps = _apply(hvp, q)
        eps = max(eps, hvp_eps)
        alpha = float(q @ w)
        w = _orthogonalize(w, basis[: j + 1])
        beta = float(torch.linalg.vector_norm(w))
        alphas.append(alpha)
        scale = max(scale, abs(alpha), beta)
        if j == steps - 1:
            break
        if beta <= BREAKDOWN * eps * scale:
            if len(alphas) >= k:
                break
            restarts += 1
            betas.append(0.0)
            q = _random_unit(dim, seed, restarts, basis[: j + 1], dtype)
        else:
            betas.append(beta)
            q = w / beta
        basis[j + 1] = q
    m = len(alphas)
    basis = basis[:m]
    tri = torch.diag(torch.tensor(alphas, dtype=dtype))
    if m > 1:
        off = torch.tensor(betas, dtype=dtype)
        tri = tri + torch.diag(off, 1) + torch.diag(off, -1)
    theta, s = torch.linalg.eigh(tri)
    order = torch.argsort(theta, descending=True)[:k]
    values = theta[order]
    vectors = s[:, order].T @ basis
    vectors = vectors / torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
    lead = vectors.abs().argmax(dim=1)
    signs = torch.sign(vectors[torch.arange(k), lead])
    vectors = vectors * signs[:, None]
    residuals = torch.stack([
        torch.linalg.vector_norm(_apply(hvp, v)[0] - lam * v)
        for lam, v in zip(values, vectors, strict=True)
    ])
    return Eigenpairs(values.numpy(), vectors.numpy(), m, residuals.numpy())


def hessian_directions(landscape: "NetworkLandscape", k: int = 2, iterations: int = 20, seed: int = 0,
                       split: str = "train") -> Eigenpairs:
    """Top-k Hessian eigenpairs of a network landscape's mean loss on ``split`` at its centre.

    ``landscape`` is a :class:`~landscapes.networks.landscape.NetworkLandscape`; products run in
    its float32, the Lanczos algebra in float64 (see :func:`top_eigenpairs`).
    """
    hvp = hvp_function(landscape.loss_function(split), landscape.center)
    return top_eigenpairs(hvp, landscape.dim, k=k, iterations=iterations, seed=seed)
