"""Large-N theory of the pure spherical p-spin glass (Auffinger, Ben Arous, Cerny 2013, "ABC").

Normalization (README.md, The models): H(s) = N^{-(p-1)/2} sum over ORDERED tuples J_{i1..ip} s_i1..s_ip,
J iid N(0, 1), |s|^2 = N. Then Cov(H(s), H(s')) = N^{-(p-1)} (s.s')^p = N (s.s'/N)^p, exactly
the ABC normalization, so their per-spin results apply directly. All energies here are per
spin (H/N) and negative for the low-lying states:

* threshold ``-E_inf`` with E_inf = 2 sqrt((p-1)/p) (p=3: -1.633): below it, critical points
  are (with overwhelming probability) local minima;
* ground state ``-E_0`` where -E_0 < -E_inf is the zero of the complexity of critical points
  (ABC Theorem 2.12 / 2.8): Theta_p(u) = 1/2 ln(p-1) - (p-2)/(4(p-1)) u^2 - I_1(u) for
  u <= -E_inf, with I_1(u) = -(u/E_inf^2) sqrt(u^2 - E_inf^2) - ln(-u + sqrt(u^2 - E_inf^2))
  + ln E_inf (p=3: -1.657).

p = 2 is degenerate: Theta_2 = -I_1 vanishes at u = -E_inf only, so ground = threshold =
-sqrt(2); directly, H = s.A s / sqrt(N) with A = (J + J^T)/2 a GOE matrix whose scaled
spectrum A/sqrt(N) is a semicircle of radius sqrt(2), so min H/N = -sqrt(2).

Hessian at a critical point: the Euclidean Hessian of H (total energy) restricted to the
tangent space is sqrt(p(p-1)) x GOE (off-diagonal variance p(p-1)/N), uncorrelated with H at
the same point (the covariance's mixed derivatives carry tangent components of s, which vanish).
The Riemannian Hessian subtracts (s.grad H / N) I = p e I (Euler: s.grad H = p H = p N e), so
its spectrum is a semicircle of radius 2 sqrt(p(p-1)) centred at -p e (positive for e < 0);
its left edge reaches 0 exactly at e = -E_inf.
"""

import numpy as np


def _e_inf(p: int) -> float:
    if p < 2:
        raise ValueError(f"p must be >= 2; got {p}")
    return 2.0 * np.sqrt((p - 1) / p)


def threshold_energy(p: int) -> float:
    """Threshold energy per spin -E_inf = -2 sqrt((p-1)/p) (p=3: -1.633)."""
    return -_e_inf(p)


def complexity(u: float, p: int) -> float:
    """ABC annealed complexity Theta_p(u) of critical points at energy per spin u <= 0."""
    e_inf = _e_inf(p)
    if u > 0:
        raise ValueError("complexity defined here for u <= 0")
    base = 0.5 * np.log(p - 1) - (p - 2) / (4 * (p - 1)) * u * u
    if u >= -e_inf:
        return float(base)
    root = np.sqrt(u * u - e_inf * e_inf)
    i1 = -(u / e_inf**2) * root - np.log(-u + root) + np.log(e_inf)
    return float(base - i1)


def ground_state_energy(p: int, tol: float = 1e-13) -> float:
    """Ground-state energy per spin -E_0: the zero of :func:`complexity` below -E_inf.

    Found by bisection (Theta_p > 0 at -E_inf for p >= 3 and decreases to -inf); p = 2 returns
    the degenerate -E_inf = -sqrt(2). p=3: -1.6571...
    """
    e_inf = _e_inf(p)
    if p == 2:
        return -e_inf
    hi = -e_inf  # complexity > 0
    lo = 2.0 * hi
    while complexity(lo, p) > 0:
        lo *= 2.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if complexity(mid, p) > 0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def hessian_spectrum_bounds(p: int, energy: float) -> tuple[float, float, float]:
    """(centre, radius, left edge) of the Riemannian Hessian semicircle of H at energy per spin.

    centre = -p e, radius = 2 sqrt(p(p-1)); eigenvalues in units of H per unit |ds|^2.
    """
    center = -p * energy
    radius = 2.0 * np.sqrt(p * (p - 1))
    return center, radius, center - radius


def semicircle_density(x: np.ndarray, p: int, energy: float) -> np.ndarray:
    """Large-N density of Riemannian Hessian eigenvalues of H (total energy, on |s|^2 = N) at a
    critical point of energy per spin ``energy``: semicircle with centre -p e, radius
    R = 2 sqrt(p(p-1)): rho(x) = 2/(pi R^2) sqrt(R^2 - (x - c)^2), zero outside; mean c,
    variance R^2/4 = p(p-1)."""
    c, r, _ = hessian_spectrum_bounds(p, energy)
    d = np.asarray(x, dtype=np.float64) - c
    return np.where(np.abs(d) < r, 2.0 / (np.pi * r * r) * np.sqrt(np.clip(r * r - d * d, 0, None)), 0.0)
