"""Geometry of the sphere |s|^2 = N on which the continuous spin models live.

Conventions: a point ``s`` has ``|s|^2 = N`` (radius sqrt(N)); arrays are torch float64 with
points in the last dimension, batched over leading dimensions. The Riemannian gradient is the
Euclidean gradient minus its radial part; the Riemannian Hessian on the tangent space is
``P (hess - (s . grad / N) I) P`` with ``P`` the tangent projector.
"""

from collections.abc import Callable

import torch

from landscapes.chunks import OneThread


def retract(s: torch.Tensor) -> torch.Tensor:
    """Radial projection onto the sphere: ``sqrt(N) s / |s|`` (row-wise)."""
    n = s.shape[-1]
    return s * (n**0.5 / torch.linalg.vector_norm(s, dim=-1, keepdim=True))


def project_tangent(s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The part of ``v`` orthogonal to ``s`` (the tangent component at ``s``)."""
    coef = (v * s).sum(-1, keepdim=True) / (s * s).sum(-1, keepdim=True)
    return v - coef * s


def tangent_basis(s: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis (N, N-1) of the tangent space at one point ``s`` (N,)."""
    n = s.shape[0]
    frame = torch.cat([s[:, None], torch.eye(n, dtype=s.dtype, device=s.device)], dim=1)
    q, _ = torch.linalg.qr(frame)
    return q[:, 1:n]


def riemannian_hessian_eigenvalues(
    hamiltonian: Callable[[torch.Tensor], torch.Tensor], s: torch.Tensor,
    euclidean_hessian: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Eigenvalues (N-1,), ascending, of the Riemannian Hessian of ``hamiltonian`` at ``s``.

    ``hamiltonian`` maps a batch (B, N) to total energies (B,) (not per spin). The Euclidean
    Hessian comes from ``euclidean_hessian(s)`` (N, N) when the model has a closed form, else
    from torch.func (fine for the N <= a few hundred of the spin models here); both are safe to
    compute from several threads at once.
    """

    def h_single(x: torch.Tensor) -> torch.Tensor:
        return hamiltonian(x[None, :])[0]

    with OneThread():  # the same bits on any thread count (chunked views: landscapes.chunks)
        grad = torch.func.grad(h_single)(s)
        if euclidean_hessian is not None:
            hess = euclidean_hessian(s)
        else:
            # reverse-over-reverse: torch.func.hessian's forward-mode AD fails when two threads
            # of one process use it at once (gunicorn threads, the dev server)
            hess = torch.func.jacrev(torch.func.jacrev(h_single))(s)
        radial = torch.dot(s, grad) / s.shape[0]
        basis = tangent_basis(s)
        shifted = hess - radial * torch.eye(s.shape[0], dtype=s.dtype, device=s.device)
        return torch.linalg.eigvalsh(basis.T @ shifted @ basis)


def geodesic_chord_parameters(a: torch.Tensor, b: torch.Tensor, arc: torch.Tensor) -> torch.Tensor:
    """Chord parameters ``t`` with ``retract(a + t (b - a))`` at arc fraction ``arc`` from a to b.

    The great circle through ``a`` and ``b`` (angle ``omega`` apart) is also the radial image of
    the chord; the point at angle ``theta = arc * omega`` is reached at
    ``t = sin(theta) / (sin(theta) + sin(omega - theta))``. Valid for arc in (-1, 2) as long as
    the denominator stays positive; ``a`` and ``b`` must not be antipodal.
    """
    n = a.shape[-1]
    cos_omega = torch.clamp(torch.dot(a, b) / n, -1.0, 1.0)
    omega = torch.arccos(cos_omega)
    if omega < 1e-12:
        return arc.clone()
    theta = arc * omega
    return torch.sin(theta) / (torch.sin(theta) + torch.sin(omega - theta))
