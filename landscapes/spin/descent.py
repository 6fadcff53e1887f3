"""Descents from seeded random starts: where a landscape's local minima lie and how deep.

* :func:`sphere_descent` -- Riemannian gradient descent on |s|^2 = N for any model with a
  ``hamiltonian``; Barzilai-Borwein step sizes per point, halved on an energy increase.
  It stops when the tangent gradient's rms per component ``|grad_R H| / sqrt(N)`` is below
  ``tol``. Each minimum reports the smallest eigenvalue of the Riemannian Hessian of H (total
  energy, not per spin): positive at a true minimum.
* :func:`flip_descent` -- zero-temperature single-spin-flip descent for Ising: flip the spin
  whose flip lowers H most until none does (every spin aligned with its local field).
"""


from dataclasses import dataclass

import numpy as np
import torch

from landscapes import budget
from landscapes.registry import Progress
from landscapes.sphere import project_tangent, retract, riemannian_hessian_eigenvalues
from landscapes.spin.models import IsingFunnel, SpinModel


@dataclass(frozen=True)
class Descents:
    """Minima reached from ``starts``.

    ``states`` (K, N); ``energies`` (K,) per spin; ``overlaps`` (K,) with the native/planted
    state; ``steps`` (K,) iterations or flips used; ``converged`` (K,) bool;
    ``min_hessian_eig`` (K,) smallest Riemannian Hessian eigenvalue of H (NaN for flips).
    """

    starts: np.ndarray
    states: np.ndarray
    energies: np.ndarray
    overlaps: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    min_hessian_eig: np.ndarray
    method: str


def _tangent_grad(model: SpinModel, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Energies H (B,) and Riemannian gradients (B, N) of a batch on the sphere (the models'
    closed-form gradients: one pass over the couplings)."""
    h, grad = model.energy_gradient(s)
    return h, project_tangent(s, grad)


def sphere_descent(
    model: SpinModel,
    starts: np.ndarray,
    tol: float = 1e-7,
    max_steps: int = 20_000,
    step: float = 0.05,
    progress: Progress = None,
) -> Descents:
    """Riemannian gradient descent from each start (K, N) (points are retracted to the sphere).

    Step sizes are Barzilai-Borwein (``|ds|^2 / ds.dg``, clipped to [1e-3, 10]) per point, with
    a monotone safeguard: a step that raises the energy is refused and the step halved.
    """
    s = retract(torch.as_tensor(np.asarray(starts, dtype=np.float64)))
    n = s.shape[1]
    h, g = _tangent_grad(model, s)
    eta = torch.full((s.shape[0],), step, dtype=s.dtype)
    steps = torch.zeros(s.shape[0], dtype=torch.long)
    for it in range(max_steps):
        idx = torch.nonzero(torch.linalg.vector_norm(g, dim=1) / n**0.5 > tol).flatten()
        if idx.numel() == 0:
            break
        # only the points still moving are evaluated: converged ones cost nothing
        sa, ga, ha, eta_a = s[idx], g[idx], h[idx], eta[idx]
        trial = retract(sa - eta_a[:, None] * ga)
        h_trial, g_trial = _tangent_grad(model, trial)
        accept = h_trial <= ha
        ds, dg = trial - sa, g_trial - ga
        curvature = (ds * dg).sum(1)
        bb = torch.where(
            curvature > 0, ((ds * ds).sum(1) / curvature.clamp_min(1e-300)).clamp(1e-3, 10.0),
            2 * eta_a,
        )
        s[idx] = torch.where(accept[:, None], trial, sa)
        h[idx] = torch.where(accept, h_trial, ha)
        g[idx] = torch.where(accept[:, None], g_trial, ga)
        eta[idx] = torch.where(accept, bb, eta_a * 0.5)
        steps[idx] += 1
        budget.check()  # every step, with or without progress (a named point's descent)
        if progress and it % 100 == 0:
            progress(s.shape[0] - idx.numel(), s.shape[0])
    converged = torch.linalg.vector_norm(g, dim=1) / n**0.5 <= tol
    eigs = []
    for k, x in enumerate(s):
        eigs.append(riemannian_hessian_eigenvalues(model.hamiltonian, x, model.euclidean_hessian)[0])
        if progress and k % 16 == 15:
            progress(int(converged.sum()), s.shape[0])
    if progress:
        progress(s.shape[0], s.shape[0])
    states = s.numpy()
    return Descents(
        starts=np.asarray(starts, dtype=np.float64),
        states=states,
        energies=(h / n).numpy(),
        overlaps=model.overlap(states),
        steps=steps.numpy(),
        converged=converged.numpy(),
        min_hessian_eig=torch.stack(eigs).numpy(),
        method="riemannian gradient descent",
    )


def flip_descent(model: IsingFunnel, starts: np.ndarray, progress: Progress = None) -> Descents:
    """Greedy zero-temperature single-spin-flip descent from +-1 starts (K, N)."""
    s = np.sign(np.asarray(starts, dtype=np.float64))
    if np.any(s == 0):
        raise ValueError("flip descent needs +-1 starts")
    s0 = s.copy()
    k = model.couplings
    field = s @ k  # local fields h_i = sum_j K_ij s_j
    flips = np.zeros(len(s), dtype=np.int64)
    rows = np.arange(len(s))
    while True:
        delta = 2.0 * s * field  # change of H when flipping spin i
        i = np.argmin(delta, axis=1)
        active = delta[rows, i] < 0
        if not active.any():
            break
        budget.check()
        r, c = rows[active], i[active]
        s[r, c] *= -1.0
        field[r] += 2.0 * s[r, c][:, None] * k[c]
        flips += active
    if progress:
        progress(len(s), len(s))
    energies = -0.5 * np.einsum("ki,ij,kj->k", s, k, s) / model.n
    return Descents(
        starts=s0,
        states=s,
        energies=energies,
        overlaps=model.overlap(s),
        steps=flips,
        converged=np.ones(len(s), dtype=bool),
        min_hessian_eig=np.full(len(s), np.nan),
        method="greedy single-spin-flip descent (T = 0)",
    )


def descend(model: SpinModel, starts: np.ndarray, progress: Progress = None) -> Descents:
    """The natural descent of a model: spin flips for Ising, else gradient descent on the sphere."""
    if isinstance(model, IsingFunnel):  # the discrete model
        return flip_descent(model, starts, progress)
    return sphere_descent(model, starts, progress=progress)


def seeded_starts(model: SpinModel, indices: range | list[int]) -> np.ndarray:
    """Random starts number ``indices`` of ``model`` (each reproducible on its own)."""
    return np.stack([model.random_state(i) for i in indices])
