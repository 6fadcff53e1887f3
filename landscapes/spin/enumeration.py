"""Exact enumeration of an Ising model: every one of the 2^N states, its energy and overlap.

State index convention: spin ``i`` is bit ``i`` of the index, bit 1 -> +1, bit 0 -> -1.
The energies are built from two half-systems (low and high bits) so the work is one small
matrix product per half plus a (2^N_high, N_high) x (N_high, 2^N_low) cross term.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.spin.ising import IsingFunnel

MAX_ENUMERATION_SPINS = 20


@dataclass(frozen=True)
class Enumeration:
    """All 2^N states of one Ising model.

    ``energies`` (2^N,) per spin; ``overlaps`` (2^N,) native overlap Q; ``minima`` ascending
    indices of single-spin-flip local minima (no single flip lowers the energy); ``ground``
    the index of the lowest state whose overlap with the native state is >= 0 (its mirror
    ``~ground`` has the same energy).
    """

    energies: np.ndarray
    overlaps: np.ndarray
    minima: np.ndarray
    ground: int


def spins_from_index(index: np.ndarray | int, n: int) -> np.ndarray:
    """States (..., N) in {-1, +1} for integer indices (spin i = bit i, 1 -> +1)."""
    bits = (np.asarray(index)[..., None] >> np.arange(n)) & 1
    return bits.astype(np.float64) * 2.0 - 1.0


def index_from_spins(s: np.ndarray) -> np.ndarray:
    """Integer index of states (..., N) in {-1, +1}; inverse of :func:`spins_from_index`."""
    bits = (np.asarray(s) > 0).astype(np.int64)
    return (bits << np.arange(bits.shape[-1])).sum(-1)


def check_enumerable(n: int) -> None:
    if n > MAX_ENUMERATION_SPINS:
        raise LandscapeError(
            f"exact enumeration needs n <= {MAX_ENUMERATION_SPINS} (2^n states); got n={n}"
        )


def ising_energies(model: IsingFunnel) -> tuple[np.ndarray, np.ndarray]:
    """Energies per spin and native overlaps of all 2^N states, indexed by bit pattern."""
    n = model.n
    check_enumerable(n)
    low = n // 2
    k, xi = model.couplings, model.native
    s_low = spins_from_index(np.arange(2**low), low)  # (2^low, low)
    s_high = spins_from_index(np.arange(2 ** (n - low)), n - low)  # (2^high, high)
    k_ll, k_hh, k_hl = k[:low, :low], k[low:, low:], k[low:, :low]
    e_low = -0.5 * np.einsum("ai,ij,aj->a", s_low, k_ll, s_low)
    e_high = -0.5 * np.einsum("ai,ij,aj->a", s_high, k_hh, s_high)
    cross = (s_high @ k_hl) @ s_low.T  # (2^high, 2^low)
    energies = (e_high[:, None] + e_low[None, :] - cross).reshape(-1) / n
    return energies, overlaps_with(xi, n)


def overlaps_with(state: np.ndarray, n: int) -> np.ndarray:
    """Overlap s.state/N of every state (indexed by bit pattern) with one reference state (N,)."""
    state = np.asarray(state, dtype=np.float64)
    low = n // 2
    s_low = spins_from_index(np.arange(2**low), low)
    s_high = spins_from_index(np.arange(2 ** (n - low)), n - low)
    return ((s_high @ state[low:])[:, None] + (s_low @ state[:low])[None, :]).reshape(-1) / n


def local_minima(energies: np.ndarray, n: int) -> np.ndarray:
    """Indices of states that no single spin flip lowers (ties count as minima)."""
    is_min = np.ones(energies.shape, dtype=bool)
    for i in range(n):
        # flipping bit i swaps the middle axis of this view
        view = energies.reshape(-1, 2, 2**i)
        is_min &= (view <= view[:, ::-1, :]).reshape(-1)
    return np.flatnonzero(is_min)


def enumerate_ising(
    model: IsingFunnel, progress: Callable[[int, int], None] | None = None
) -> Enumeration:
    """Enumerate every state of ``model`` (N <= 20): energies, overlaps, minima, ground state."""
    energies, overlaps = ising_energies(model)
    if progress:
        progress(1, 2)
    minima = local_minima(energies, model.n)
    aligned = np.where(overlaps >= 0, energies, np.inf)
    ground = int(np.argmin(aligned))
    if progress:
        progress(2, 2)
    return Enumeration(energies, overlaps, minima, ground)
