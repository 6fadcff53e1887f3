"""The spherical p-spin glass with an optional planted (funnel) term, after Choromanska et al.

    H(s) = N^{-(p-1)/2} sum_{i1..ip} J_{i1..ip} s_i1 ... s_ip  -  lambda N m^r,

``J`` iid N(0, 1) over *ordered* index tuples (the full N^p tensor), ``|s|^2 = N``,
``m = s.v / N`` the overlap with a planted state ``|v|^2 = N``. ``lambda = 0`` (``planted``) is
the pure glass; ``r = 2`` (``planted_order``) with ``lambda > 0`` adds a funnel toward ``v``.
For the glass part ``E[H(s)^2] = N`` at any fixed ``s`` on the sphere. Energies are reported per
spin (H/N).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.seeding import rng

if TYPE_CHECKING:
    import torch

ORDERS = (2, 3, 4)
MAX_COUPLINGS = 20_000_000  # entries of the N^p tensor (160 MB in float64)
CHUNK_ELEMENTS = 4_000_000  # intermediate elements per evaluated batch (32 MB)


@dataclass(frozen=True, eq=False)
class PSpinGlass:
    """One drawn instance. ``couplings`` is J with shape (N,)*p; ``native`` is v (N,)."""

    n: int
    p: int
    planted: float
    planted_order: int
    seed: int
    couplings: np.ndarray
    native: np.ndarray

    name = "pspin"
    discrete = False

    @classmethod
    def create(
        cls, n: int = 64, p: int = 3, planted: float = 0.0, planted_order: int = 2, seed: int = 0
    ) -> PSpinGlass:
        import torch

        from landscapes.sphere import retract

        if p not in ORDERS:
            raise LandscapeError(f"pspin: p must be one of {ORDERS}; got {p}")
        if n < 2:
            raise LandscapeError(f"pspin: n must be >= 2; got {n}")
        if n**p > MAX_COUPLINGS:
            largest = int(MAX_COUPLINGS ** (1 / p))
            raise LandscapeError(
                f"pspin: n={n} with p={p} needs {n**p:,} couplings (limit {MAX_COUPLINGS:,}); "
                f"use n <= {largest} for p={p}"
            )
        if not np.isfinite(planted) or planted < 0:
            raise LandscapeError(f"pspin: planted (lambda) must be >= 0; got {planted}")
        if planted_order < 1:
            raise LandscapeError(f"pspin: planted_order (r) must be >= 1; got {planted_order}")
        couplings = rng(seed, "couplings").standard_normal((n,) * p)
        v = torch.as_tensor(rng(seed, "native").standard_normal(n))
        native = retract(v).numpy()
        return cls(n, p, float(planted), int(planted_order), int(seed), couplings, native)

    @property
    def spec(self) -> dict:
        return {
            "model": self.name,
            "n": self.n,
            "p": self.p,
            "planted": self.planted,
            "planted_order": self.planted_order,
            "seed": self.seed,
        }

    def glass_hamiltonian(self, s: torch.Tensor) -> torch.Tensor:
        """The glass part N^{-(p-1)/2} J.s^p of a batch (B, N), evaluated in memory-bounded chunks."""
        import torch

        n, p = self.n, self.p
        j = torch.as_tensor(self.couplings, dtype=s.dtype, device=s.device).reshape(-1, n)
        chunk = max(1, CHUNK_ELEMENTS // n ** (p - 1))
        parts = []
        for part in torch.split(s, chunk):
            t = part @ j.T  # contracts the last index: (b, N^(p-1))
            for _ in range(p - 1):
                t = (t.reshape(part.shape[0], -1, n) * part[:, None, :]).sum(-1)
            parts.append(t.reshape(-1))
        return torch.cat(parts) * n ** (-(p - 1) / 2)

    def hamiltonian(self, s: torch.Tensor) -> torch.Tensor:
        """Total energy H (not per spin) of a batch (B, N)."""
        import torch

        h = self.glass_hamiltonian(s)
        if self.planted > 0:
            v = torch.as_tensor(self.native, dtype=s.dtype, device=s.device)
            m = (s @ v) / self.n
            h = h - self.planted * self.n * m**self.planted_order
        return h

    def energy(self, s: torch.Tensor) -> torch.Tensor:
        """Energy per spin H/N of a batch (B, N)."""
        return self.hamiltonian(s) / self.n

    @cached_property
    def symmetric_couplings(self) -> np.ndarray:
        """J averaged over the p! orders of its indices: the same H, and for it
        grad H = p N^{-(p-1)/2} J_sym.s^{p-1} and hess H = p(p-1) N^{-(p-1)/2} J_sym.s^{p-2}."""
        orders = list(itertools.permutations(range(self.p)))
        out = np.zeros_like(self.couplings)
        for order in orders:
            out += np.transpose(self.couplings, order)
        return out / len(orders)

    def energy_gradient(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Total energies H (B,) and Euclidean gradients (B, N) of a batch (B, N), in one pass
        over the symmetrized couplings (memory-bounded chunks; no autograd)."""
        import torch

        n, p = self.n, self.p
        j = torch.as_tensor(self.symmetric_couplings, dtype=s.dtype, device=s.device).reshape(n, -1)
        chunk = max(1, CHUNK_ELEMENTS // n ** (p - 1))
        fields = []
        for part in torch.split(s, chunk):
            t = part @ j  # contracts the first index: (b, N^(p-1))
            for _ in range(p - 2):
                t = (t.reshape(part.shape[0], -1, n) * part[:, None, :]).sum(-1)
            fields.append(t)  # J_sym . s^{p-1}: (b, N)
        scale = n ** (-(p - 1) / 2)
        field = torch.cat(fields)
        h = scale * (field * s).sum(-1)
        grad = p * scale * field
        if self.planted > 0:
            v = torch.as_tensor(self.native, dtype=s.dtype, device=s.device)
            m, r = (s @ v) / n, self.planted_order
            h = h - self.planted * n * m**r
            grad = grad - (self.planted * r * m ** (r - 1))[:, None] * v
        return h, grad

    def euclidean_hessian(self, s: torch.Tensor) -> torch.Tensor:
        """Hessian (N, N) of the total energy H at one point s (N,)."""
        import torch

        n, p = self.n, self.p
        t = torch.as_tensor(self.symmetric_couplings, dtype=s.dtype, device=s.device)
        for _ in range(p - 2):
            t = t @ s  # contracts the last index
        hess = p * (p - 1) * n ** (-(p - 1) / 2) * t
        if self.planted > 0 and self.planted_order >= 2:
            v = torch.as_tensor(self.native, dtype=s.dtype, device=s.device)
            m, r = float(s @ v) / n, self.planted_order
            hess = hess - self.planted * r * (r - 1) * m ** (r - 2) / n * torch.outer(v, v)
        return hess

    def overlap(self, s: np.ndarray) -> np.ndarray:
        """Planted overlap m = v.s / N of states (..., N)."""
        return np.asarray(s) @ self.native / self.n

    def random_state(self, index: int) -> np.ndarray:
        """Uniform random point number ``index`` on the sphere |s|^2 = N."""
        import torch

        from landscapes.sphere import retract

        g = torch.as_tensor(rng(self.seed, "start", index).standard_normal(self.n))
        return retract(g).numpy()

    def arrays(self) -> dict[str, np.ndarray]:
        """What an export needs to recompute any energy: ``couplings`` J and ``native`` v."""
        return {"couplings": self.couplings, "native": self.native}

    @property
    def energy_convention(self) -> str:
        return (
            "H(s) = N^{-(p-1)/2} sum J[i1..ip] s_i1..s_ip - planted N (native.s/N)^planted_order, "
            "J = couplings over ordered tuples; values are H/N"
        )
