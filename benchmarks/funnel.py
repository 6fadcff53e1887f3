"""Funnel physics figures: enumeration and barrier-tree times (n = 16, 18, 20), and how the
funnel sharpens with the native bias (ground-state basin share, number of minima; n = 16,
averaged over 20 seeds).

Run: ``.venv/bin/python benchmarks/funnel.py`` (or ``make bench``).
"""

import time

import numpy as np

from landscapes.barriers import barrier_tree
from landscapes.enumeration import enumerate_ising
from landscapes.models import IsingFunnel


def best_of(repeat: int, fn):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    for n in (16, 18, 20):
        model = IsingFunnel.create(n=n, native_bias=1.0, seed=0)
        t_enum, result = best_of(3, lambda m=model: enumerate_ising(m))
        t_tree, tree = best_of(3, lambda r=result, k=n: barrier_tree(r.energies, k))
        print(f"n={n}: enumeration {t_enum:.3f} s; barrier tree {t_tree:.3f} s "
              f"(together {(t_enum + t_tree) / t_enum:.1f}x the enumeration); "
              f"{len(tree.minima)} minima")
    print("n=16, 20 seeds each: native bias J0 -> ground-state basin share (both mirrors), "
          "number of minima")
    for bias in (0.0, 1.0, 2.0, 3.0):
        shares, counts = [], []
        for seed in range(20):
            result = enumerate_ising(IsingFunnel.create(n=16, native_bias=bias, seed=seed))
            tree = barrier_tree(result.energies, 16)
            ground_energy = tree.minimum_energies[0]
            ground_basins = np.isclose(tree.minimum_energies, ground_energy, rtol=0, atol=1e-12)
            shares.append(tree.basin_share[ground_basins].sum())
            counts.append(len(tree.minima))
        print(f"  J0={bias:.0f}: basin share {np.mean(shares):.3f} +- {np.std(shares):.3f}; "
              f"minima {np.mean(counts):.1f} +- {np.std(counts):.1f}")


if __name__ == "__main__":
    main()
