"""Independent reference computations, written from the formulas in README.md (The models).

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


def parse_vtk(text: str) -> tuple[tuple[int, ...], np.ndarray, dict[str, np.ndarray]]:
    """DIMENSIONS, POINTS (P, 3) and the SCALARS arrays of a legacy ASCII structured grid."""
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("DIMENSIONS"))
    dims = tuple(int(v) for v in header.split()[1:])
    start = next(i for i, line in enumerate(lines) if line.startswith("POINTS"))
    count = int(lines[start].split()[1])
    numbers, i = [], start + 1
    while len(numbers) < 3 * count:
        numbers += [float(v) for v in lines[i].split()]
        i += 1
    scalars = {}
    for k, line in enumerate(lines):
        if line.startswith("SCALARS"):
            values, j = [], k + 2  # after LOOKUP_TABLE
            while len(values) < count:
                values += [float(v) for v in lines[j].split()]
                j += 1
            scalars[line.split()[1]] = np.array(values)
    return dims, np.array(numbers).reshape(count, 3), scalars
