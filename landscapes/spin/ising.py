"""The Ising spin funnel: a Sherrington-Kirkpatrick glass plus a bias toward a native state.

    H(s) = - sum_{i<j} (J0/N xi_i xi_j + J_ij) s_i s_j,   s_i = +-1,   J_ij ~ N(0, 1/N) iid,

with ``xi`` a random +-1 native state. ``J0 = 0`` (``native_bias``) is the SK glass; large ``J0``
is a minimally frustrated (Go-like) funnel toward ``+-xi``. We store the full symmetric coupling
matrix ``K_ij = J0/N xi_i xi_j + J_ij`` (zero diagonal), so ``H(s) = -1/2 s.K.s``. Energies are
reported per spin (H/N). Continuous views use the spherical relaxation: the same quadratic H on
``|s|^2 = N``. The native overlap is ``Q = xi.s / N``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.seeding import rng

if TYPE_CHECKING:
    import torch

MIN_SPINS = 2
MAX_SPINS = 24


@dataclass(frozen=True, eq=False)
class IsingFunnel:
    """One drawn instance. ``couplings`` is K (N, N); ``native`` is xi (N,) in {-1, +1}."""

    n: int
    native_bias: float
    seed: int
    couplings: np.ndarray
    native: np.ndarray

    name = "ising"
    discrete = True

    @classmethod
    def create(cls, n: int = 16, native_bias: float = 0.0, seed: int = 0) -> IsingFunnel:
        if not MIN_SPINS <= n <= MAX_SPINS:
            raise LandscapeError(f"ising: n must be between {MIN_SPINS} and {MAX_SPINS}; got {n}")
        if not np.isfinite(native_bias) or native_bias < 0:
            raise LandscapeError(f"ising: native_bias (J0) must be >= 0; got {native_bias}")
        native = rng(seed, "native").choice(np.array([-1.0, 1.0]), size=n)
        upper = np.triu(rng(seed, "couplings").normal(0.0, 1.0 / np.sqrt(n), size=(n, n)), k=1)
        glass = upper + upper.T
        funnel = native_bias / n * np.outer(native, native)
        np.fill_diagonal(funnel, 0.0)
        return cls(n, float(native_bias), int(seed), glass + funnel, native)

    @property
    def spec(self) -> dict:
        return {"model": self.name, "n": self.n, "native_bias": self.native_bias, "seed": self.seed}

    def hamiltonian(self, s: torch.Tensor) -> torch.Tensor:
        """Total energy H (not per spin) of a batch of states (B, N), on or off the sphere."""
        import torch

        k = torch.as_tensor(self.couplings, dtype=s.dtype, device=s.device)
        return -0.5 * ((s @ k) * s).sum(-1)

    def energy(self, s: torch.Tensor) -> torch.Tensor:
        """Energy per spin H/N of a batch (B, N)."""
        return self.hamiltonian(s) / self.n

    def energy_gradient(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Total energies H (B,) and their Euclidean gradients -K s (B, N) of a batch (B, N)."""
        import torch

        field = s @ torch.as_tensor(self.couplings, dtype=s.dtype, device=s.device)
        return -0.5 * (field * s).sum(-1), -field

    def euclidean_hessian(self, s: torch.Tensor) -> torch.Tensor:
        """Hessian (N, N) of H at one point: -K (the same everywhere)."""
        import torch

        return -torch.as_tensor(self.couplings, dtype=s.dtype, device=s.device)

    def overlap(self, s: np.ndarray) -> np.ndarray:
        """Native overlap Q = xi.s / N of states (..., N)."""
        return np.asarray(s) @ self.native / self.n

    def random_state(self, index: int) -> np.ndarray:
        """Random +-1 start number ``index`` (on the sphere: |s|^2 = N)."""
        return rng(self.seed, "start", index).choice(np.array([-1.0, 1.0]), size=self.n)

    def arrays(self) -> dict[str, np.ndarray]:
        """What an export needs to recompute any energy: ``couplings`` K and ``native`` xi."""
        return {"couplings": self.couplings, "native": self.native}

    @property
    def energy_convention(self) -> str:
        return "H(s) = -1/2 s.K.s with K = couplings (symmetric, zero diagonal); values are H/N"
