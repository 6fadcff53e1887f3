"""The Hessian spectrum of a loss at a point: top eigenvalues, trace and spectral density.

PyHessian's three numbers (Yao et al. 2020), from Hessian-vector products only:

* the top-k eigenvalues by Lanczos (:func:`landscapes.networks.hessian.top_eigenpairs`);
* the trace, estimated as ``sum_i v_i^T H v_i + tr(P H P)``: exact on the span of the top-k
  Ritz vectors ``v_i`` (their Ritz values), and Girard-Hutchinson on the rest (``P`` projects
  onto the complement of that span, of dimension ``D - k``), with the standard error of the
  mean over the probes. The split is exact for any orthonormal ``v_i``; it removes the
  outliers' share of the variance, which dominates a trained network's (Hutch++, Meyer et al.
  2021). For the moons MLP, 16 probes' relative standard error falls from 32% (plain
  Hutchinson, Rademacher probes) to 0.39% (``benchmarks/spectrum.py``).
* the eigenvalue spectral density by stochastic Lanczos quadrature (Ubaru, Chen and Saad 2017;
  Ghorbani, Krishnan and Xiao 2019): for each probe ``q`` (a Gaussian vector projected onto the
  complement and normalized), ``steps`` Lanczos steps of ``P H P`` from ``q`` give nodes
  ``theta_j`` (Ritz values) and weights ``tau_j`` (squared first components of the tridiagonal's
  eigenvectors), so ``q^T f(H) q ~ sum_j tau_j f(theta_j)``. The density is

      rho(t) = (1 / D) [ sum_i g(t - lambda_i) + (D - k) / probes * sum_p sum_j tau_pj g(t - theta_pj) ]

  with ``g`` a Gaussian of standard deviation ``sigma`` (the broadening,
  :mod:`landscapes.spectra`): it integrates to 1 and its mean is the trace estimate over ``D``
  (Gaussian broadening keeps the mean).

Units: eigenvalues and the density's variable are in loss units per squared parameter unit;
the density is per unit of that variable. Lanczos runs in float64 with full
reorthogonalization; the products in the point's dtype (float32 for a network).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from landscapes import budget
from landscapes.errors import LandscapeError
from landscapes.networks.catalog import SPECTRUM_DEFAULTS
from landscapes.networks.hessian import Eigenpairs, hvp_function, top_eigenpairs
from landscapes.registry import Progress
from landscapes.seeding import rng
from landscapes.spectra import broadened_density, density_grid
from landscapes.viewspec import SEED, Interval, fill_view

Tensor = torch.Tensor
BASIS_BYTES = 256 * 2**20  # the Lanczos bases of the probes run together (float64) stay below,
# unless one probe's alone is larger (up to MAX_BASIS_BYTES)
MAX_BASIS_BYTES = 2**30  # one basis above this is refused before any work
MAX_GROUP = 16  # probes whose Lanczos runs advance together (one basis array)
SPECTRUM_CONSTRAINTS = {"top": Interval(int, 1, 64), "iterations": Interval(int, 2, 1000),
                        "probes": Interval(int, 2, 256), "steps": Interval(int, 2, 1000),
                        "seed": SEED}


@dataclass(frozen=True)
class Spectrum:
    """The estimates of :func:`hessian_spectrum` and what they were computed from.

    ``top`` the top-k eigenpairs; ``trace`` and ``trace_stderr`` (standard error of the mean
    over the probes); ``trace_samples`` (probes,) each probe's estimate of the whole trace;
    ``nodes`` and ``weights`` (probes, steps) the quadrature of each probe (rows of fewer steps,
    after a breakdown, padded with weight 0); ``grid`` and ``density`` the broadened density,
    ``sigma`` its broadening; ``dim`` the number of parameters D.
    """

    top: Eigenpairs
    trace: float
    trace_stderr: float
    trace_samples: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: float
    dim: int


def rows(hvp: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """``V (B, D) -> H V``, one product a row. (``torch.func.vmap`` over the rows was no faster
    for the moons MLP and 1.35x slower for the digits CNN, measured by
    ``benchmarks/spectrum.py``, and its activations grow with the batch.)"""
    return lambda vs: torch.stack([hvp(v) for v in vs])


def _deflated(hvp_rows: Callable[[Tensor], Tensor], top: Tensor) -> Callable[[Tensor], Tensor]:
    """``V -> P H P V`` (rows), ``P`` the projector onto the complement of ``top``'s rows."""
    def project(vs: Tensor) -> Tensor:
        for _ in range(2):
            vs = vs - (vs @ top.T) @ top
        return vs

    def apply(vs: Tensor) -> Tensor:
        w = hvp_rows(project(vs)).to(torch.float64)
        if not torch.isfinite(w).all():
            raise LandscapeError("spectrum: a Hessian-vector product is not finite (NaN or "
                                 "infinite loss curvature)")
        return project(w)

    return apply


def lanczos_quadrature(apply: Callable[[Tensor], Tensor], starts: Tensor, steps: int,
                       progress: Callable[[int], None] | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (B, steps) of ``steps`` Lanczos steps from each row of ``starts``
    (B, D), unit rows, float64), run together (``apply`` maps rows to rows). Full
    reorthogonalization against each row's own basis; a row whose Krylov space closes
    (breakdown) keeps the nodes it has, the rest of its row weight 0. ``progress(B)`` after
    each step (the operator products it made)."""
    rows, dim = starts.shape
    basis = torch.zeros(rows, steps, dim, dtype=torch.float64)
    alphas = torch.zeros(rows, steps, dtype=torch.float64)
    betas = torch.zeros(rows, steps, dtype=torch.float64)
    length = torch.full((rows,), steps, dtype=torch.long)
    q = starts
    live = torch.ones(rows, dtype=torch.bool)
    for j in range(steps):
        budget.check()
        basis[:, j] = q
        w = apply(q)
        alphas[:, j] = (w * q).sum(1)
        for _ in range(2):  # against this row's basis so far
            w = w - torch.einsum("bj,bjd->bd", torch.einsum("bjd,bd->bj", basis[:, : j + 1], w),
                                 basis[:, : j + 1])
        beta = torch.linalg.vector_norm(w, dim=1)
        scale = torch.maximum(alphas[:, : j + 1].abs().amax(1), betas[:, : j + 1].amax(1))
        closed = live & (beta <= 1e-10 * torch.clamp(scale, min=1e-300))
        length[closed] = j + 1
        live &= ~closed
        betas[:, j] = torch.where(live, beta, torch.zeros_like(beta))
        q = torch.where(live[:, None], w / torch.clamp(beta, min=1e-300)[:, None],
                        torch.zeros_like(w))
        if progress:
            progress(rows)
        if not live.any():
            break
    nodes = np.zeros((rows, steps))
    weights = np.zeros((rows, steps))
    for b in range(rows):
        m = int(length[b])
        tri = torch.diag(alphas[b, :m]) + torch.diag(betas[b, : m - 1], 1) + \
            torch.diag(betas[b, : m - 1], -1)
        theta, s = torch.linalg.eigh(tri)
        nodes[b, :m], weights[b, :m] = theta.numpy(), (s[0] ** 2).numpy()
        if m < steps:
            nodes[b, m:] = theta[-1].item()  # weight 0: where they sit changes nothing
    return nodes, weights


def hessian_spectrum(hvp: Callable[[Tensor], Tensor], dim: int, k: int = 8,
                     iterations: int = 60, probes: int = 16, steps: int = 60, seed: int = 0,
                     progress: Callable[[int, int], None] | None = None) -> Spectrum:
    """Top-``k`` eigenvalues (``iterations`` Lanczos steps), the trace and the spectral density
    (``probes`` probes of ``steps`` Lanczos steps each) of the symmetric operator ``hvp`` on
    R^dim, as the module docstring says; the arguments are checked as the view's
    (:func:`normalize_spectrum_view`). Seeded: the top eigenpairs from ``rng(seed,
    "lanczos")``, the probes from ``rng(seed, "slq")``. ``progress(done, total)`` counts
    Hessian-vector products; raising from it cancels.

    Memory: the probes run in groups of at most :data:`MAX_GROUP` whose float64 Lanczos bases
    hold at most :data:`BASIS_BYTES` (one probe's alone may be larger); a single basis (steps or
    iterations x dim x 8 bytes) above :data:`MAX_BASIS_BYTES` is refused before any work; the
    density is broadened in blocks (:func:`landscapes.spectra.broadened_density`).
    """
    view = normalize_spectrum_view({"top": k, "iterations": iterations, "probes": probes,
                                    "steps": steps, "seed": seed})  # the view's own checks
    k, iterations, probes, steps, seed = (view[name] for name in (
        "top", "iterations", "probes", "steps", "seed"))
    if dim < 3:
        raise LandscapeError(f"spectrum: a network of {dim} parameters is too small for a "
                             "spectral density (at least 3)")
    k = min(k, dim - 2)  # leaves the probes a complement of 2 dimensions or more
    iterations, steps = min(iterations, dim), min(steps, dim - k)
    most = MAX_BASIS_BYTES // (dim * 8)  # Lanczos vectors of this many parameters in a basis
    for name, count in (("steps", steps), ("iterations", iterations)):
        if count > most:
            raise LandscapeError(f"spectrum: {count} Lanczos {name} of {dim:,} parameters hold "
                                 f"{count * dim * 8 / 2**30:.1f} GiB; use at most {most} {name}")
    per_probe = steps * dim * 8
    total = iterations + k + probes * steps
    done = 0

    def report(count: int) -> None:
        nonlocal done
        done += count
        if progress:
            progress(min(done, total), total)

    top = top_eigenpairs(hvp, dim, k=k, iterations=iterations, seed=seed)
    report(iterations + k)
    vectors = torch.linalg.qr(torch.as_tensor(top.vectors, dtype=torch.float64).T)[0].T
    apply = _deflated(rows(hvp), vectors)
    draws = rng(seed, "slq")  # drawn group by group: the same numbers as all at once
    group = max(1, min(MAX_GROUP, BASIS_BYTES // per_probe))
    parts = []
    for first in range(0, probes, group):
        raw = torch.as_tensor(draws.standard_normal((min(group, probes - first), dim)),
                              dtype=torch.float64)
        for _ in range(2):  # into the complement of the top eigenvectors
            raw = raw - (raw @ vectors.T) @ vectors
        starts = raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True)
        parts.append(lanczos_quadrature(apply, starts, steps, report))
    nodes = np.concatenate([p[0] for p in parts])
    weights = np.concatenate([p[1] for p in parts])
    # each probe's first moment q^T (P H P) q, times D - k: Girard-Hutchinson of tr(P H P)
    samples = top.values.sum() + (dim - k) * (nodes * weights).sum(1)
    lo = min(nodes.min(), top.values.min())
    hi = max(nodes.max(), top.values.max())
    grid, sigma = density_grid(lo, hi)
    density = broadened_density(grid, top.values, nodes, weights, dim, sigma)
    return Spectrum(top, float(samples.mean()), float(samples.std(ddof=1) / np.sqrt(probes)),
                    samples, nodes, weights, grid, density, sigma, dim)


def normalize_spectrum_view(view: dict) -> dict:
    """Canonical spectrum view: :data:`SPECTRUM_DEFAULTS` filled in, every value in its range
    (:data:`SPECTRUM_CONSTRAINTS`) and at least ``top`` iterations."""
    out = fill_view({"view": "spectrum", **view}, {"spectrum": SPECTRUM_DEFAULTS},
                    SPECTRUM_CONSTRAINTS, "spectrum")
    if out["iterations"] < out["top"]:
        raise LandscapeError(f"spectrum: iterations ({out['iterations']}) must be at least top "
                             f"({out['top']}): each of the top eigenvalues needs a Lanczos step")
    return out


def spectrum_arrays(loss: Callable[[Tensor], Tensor], point: Tensor, view: dict,
                    progress: Progress = None) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and meta of a ``spectrum`` view of ``loss`` at ``point`` (a canonical view:
    :func:`normalize_spectrum_view`).

    Arrays: ``grid`` and ``density`` (G,) the broadened density; ``top_eigenvalues`` and
    ``top_residuals`` (k,); ``trace`` and ``trace_stderr`` (0-d); ``trace_samples`` (probes,);
    ``ritz_values`` and ``ritz_weights`` (probes, steps) the quadrature, from which
    :func:`landscapes.spectra.broadened_density` recomputes ``density`` with meta's ``sigma``
    and ``dim``.
    """
    s = hessian_spectrum(hvp_function(loss, point), int(point.numel()), view["top"],
                         view["iterations"], view["probes"], view["steps"], view["seed"],
                         progress)
    arrays = {"grid": s.grid, "density": s.density, "top_eigenvalues": s.top.values,
              "top_residuals": s.top.residuals, "trace": np.asarray(s.trace),
              "trace_stderr": np.asarray(s.trace_stderr), "trace_samples": s.trace_samples,
              "ritz_values": s.nodes, "ritz_weights": s.weights}
    meta = {
        "kind": "spectrum", "view": view, "dim": s.dim, "sigma": s.sigma,
        "top": len(s.top.values), "lanczos_iterations": s.top.iterations,
        "lanczos_steps": int(s.nodes.shape[1]), "probes": int(s.nodes.shape[0]),
        "trace": s.trace, "trace_stderr": s.trace_stderr,
        "top_eigenvalues": [float(v) for v in s.top.values],
        "hessian": "of the mean train loss at the centre, by Hessian-vector products "
                   "(forward-over-reverse autodiff)",
        "eigenvalue_unit": "loss per squared parameter unit",
        "estimators": "top eigenvalues: Lanczos with full reorthogonalization; trace: the "
                      "top Ritz values plus Girard-Hutchinson on their complement (one sample "
                      "a probe, standard error of the mean); density: stochastic Lanczos "
                      "quadrature on that complement, Gaussian-broadened",
        "density_formula": "density(t) = (1/dim) [sum_i g(t - top_eigenvalues_i) + (dim - top)"
                           " / probes * sum_pj ritz_weights_pj g(t - ritz_values_pj)], g a "
                           "normal density of standard deviation sigma",
    }
    return arrays, meta
