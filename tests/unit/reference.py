"""Independent reference computations, written from the formulas in DESIGN.md.

They deliberately avoid the library's code paths (plain loops and einsum over the stored
arrays), so a test that compares against them checks the library, not itself.
"""

import itertools

import numpy as np


def ising_energy_loops(couplings: np.ndarray, s: np.ndarray) -> float:
    """H/N = -(1/N) sum_{i<j} K_ij s_i s_j by explicit loops."""
    n = len(s)
    total = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            total -= couplings[i, j] * s[i] * s[j]
    return total / n


def pspin_energy_einsum(couplings, native, planted, order, s) -> float:
    """H/N from the definition: N^{-(p-1)/2} J.s^p - lambda N (v.s/N)^r, all over N."""
    n, p = len(s), couplings.ndim
    letters = "abcd"[:p]
    glass = np.einsum(f"{letters},{','.join(letters)}->", couplings, *([s] * p))
    h = glass * n ** (-(p - 1) / 2) - planted * n * (native @ s / n) ** order
    return h / n


def all_states(n: int) -> np.ndarray:
    """Every +-1 state, index = bit pattern (spin i = bit i, 1 -> +1), by itertools."""
    states = np.empty((2**n, n))
    for index, bits in enumerate(itertools.product([0, 1], repeat=n)):
        states[index] = np.array(bits[::-1]) * 2.0 - 1.0  # bits[::-1][i] is bit i
    return states


def energy_from_export(arrays: dict, meta: dict, s: np.ndarray) -> float:
    """Energy per spin of state ``s`` from an export's arrays and meta alone."""
    spec = meta["model"]
    if spec["model"] == "ising":
        return ising_energy_loops(arrays["couplings"], s)
    return pspin_energy_einsum(
        arrays["couplings"], arrays["native"], spec["planted"], spec["planted_order"], s
    )
