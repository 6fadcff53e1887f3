"""Spin-model timings: exact enumeration and p-spin slices, each against a plain baseline.

Run: ``.venv/bin/python benchmarks/spin.py`` (or ``make bench``). Prints seconds per task, the
best of ``--repeat`` runs, and the ratio to a straightforward baseline timed in the same run
(these machines are shared and noisy: compare ratios, not raw seconds across runs).
"""

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from landscapes import views
from landscapes.directions import random_directions
from landscapes.slices import evaluate_grid
from landscapes.spin.enumeration import enumerate_ising, spins_from_index
from landscapes.spin.models import build_model
from landscapes.spin.polynomial_slices import sphere_grid


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def baseline_enumeration(couplings: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Every state's energy as -1/2 s.K.s / N, in chunks (no half-system split)."""
    n = len(couplings)
    out = np.empty(2**n)
    for start in range(0, 2**n, chunk):
        s = spins_from_index(np.arange(start, min(start + chunk, 2**n)), n)
        out[start : start + len(s)] = -0.5 * ((s @ couplings) * s).sum(1) / n
    return out


def baseline_slice(model, result) -> np.ndarray:
    """The same grid one point at a time with einsum (the way a first script would)."""
    pts = result.points()
    j, n = model.couplings, model.n
    return np.array([np.einsum("ijk,i,j,k->", j, s, s, s) * n ** (-(model.p - 1) / 2) / n
                     for s in pts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")

    ising = build_model({"model": "ising", "n": 20, "native_bias": 1.0, "seed": 0})
    ours = best_of(args.repeat, lambda: enumerate_ising(ising))
    base = best_of(1, lambda: baseline_enumeration(ising.couplings))
    assert np.allclose(enumerate_ising(ising).energies, baseline_enumeration(ising.couplings))
    print(f"enumerate ising n=20 (2^20 energies + minima): {ours:.3f} s; "
          f"baseline chunked s.K.s {base:.3f} s; ratio {base / ours:.1f}x faster")

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(Path(sys.executable).parent / "landscapes"), "enumerate", "ising", "--n", "20",
               "--out", f"{tmp}/e.npz"]
        cli = best_of(args.repeat, lambda: subprocess.run(cmd, check=True, capture_output=True))
    print(f"`landscapes enumerate ising --n 20` wall time (process start, imports, write): "
          f"{cli:.2f} s")

    spec = {"model": "pspin", "n": 100, "p": 3, "seed": 0}
    model = build_model(spec)
    center = best_of(1, lambda: views.resolve_point(model, "minimum:0"))
    print(f"p-spin n=100 p=3: descent to minimum:0 (slice centre): {center:.2f} s")
    view = {"view": "slice", "dims": 2, "steps": 51, "span": 1.0, "center": "minimum:0"}
    grid = best_of(args.repeat, lambda: views.compute(spec, view))  # centre now memoized
    result = views.compute(spec, view)
    base = best_of(1, lambda: baseline_slice(model, result))
    assert np.allclose(baseline_slice(model, result), result.values.ravel())
    print(f"51x51 p-spin slice n=100 p=3 (2601 points, centre cached): {grid:.3f} s; "
          f"baseline point-by-point einsum {base:.2f} s; ratio {base / grid:.1f}x faster")
    print(f"51x51 p-spin slice n=100 p=3 including its centre's descent: {center + grid:.2f} s")
    polynomial_slice(args.repeat)


def polynomial_slice(repeat: int) -> None:
    """A 201x201 sphere slice at N=200, p=3: polynomial coefficients vs pointwise model.energy."""
    model = build_model({"model": "pspin", "n": 200, "p": 3, "planted": 0.5, "seed": 0})
    center = model.random_state(0)  # couplings exist before timing
    directions = random_directions(center, 2, seed=0, geometry="sphere")
    axes = [np.linspace(-1.0, 1.0, 201)] * 2
    fast = best_of(max(repeat, 5), lambda: sphere_grid(model, center, directions, axes))
    start = time.perf_counter()
    pointwise = evaluate_grid(model.energy, center, directions, axes, "sphere")
    slow = time.perf_counter() - start
    ours = sphere_grid(model, center, directions, axes)
    assert ours is not None
    rel = float(np.max(np.abs(ours - pointwise)) / np.max(np.abs(pointwise)))
    assert rel < 1e-9, rel
    print(f"201x201 p-spin sphere slice n=200 p=3 (couplings built): polynomial {fast * 1e3:.1f} ms; "
          f"pointwise evaluate_grid(model.energy) {slow:.2f} s; ratio {slow / fast:.0f}x faster; "
          f"max |diff| / max |value| {rel:.1e}")


if __name__ == "__main__":
    main()
