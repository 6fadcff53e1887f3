"""Network slice timings: a 51x51 filter-normalized plane of the moons MLP and the digits CNN,
each beside a plain one-point-at-a-time loop measured in the same run, and the Lanczos time.

Run: ``.venv/bin/python benchmarks/networks.py [--steps 51] [--threads 1]`` (or ``make bench``).
The library evaluates train loss, test loss and both accuracies per point; the baseline writes
each point into the module with ``vector_to_parameters`` and computes the train loss only.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from landscapes import network_views
from landscapes.hessian import hessian_directions
from landscapes.slices import grid_coefficients


def baseline(source: network_views.NetworkSource, directions: np.ndarray, axis: np.ndarray
             ) -> np.ndarray:
    """Train loss at every grid point, one point at a time, the way a first script would."""
    land = source.landscape
    module = land.module
    module.load_state_dict(land.state_dict_at(land.center))
    x, y = land.tensors("train")
    pts = land.center.double().numpy() + grid_coefficients([axis, axis]) @ directions
    out = np.empty(len(pts))
    with torch.no_grad():
        for k, p in enumerate(pts):
            torch.nn.utils.vector_to_parameters(torch.as_tensor(p, dtype=torch.float32),
                                                module.parameters())
            out[k] = float(torch.nn.functional.cross_entropy(module(x), y))
    return out.reshape(len(axis), len(axis))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=51)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}; grid {args.steps}x{args.steps}")
    with tempfile.TemporaryDirectory() as cache:
        for name in ("moons-mlp", "digits-cnn"):
            start = time.perf_counter()
            source = network_views.example_source(name, Path(cache))
            train_time = time.perf_counter() - start
            view = {"steps": args.steps, "span": 1.0, "directions": "filter"}
            start = time.perf_counter()
            result = network_views.compute_slice(source, view)
            ours = time.perf_counter() - start
            start = time.perf_counter()
            plain = baseline(source, result.directions, result.axes[0])
            base = time.perf_counter() - start
            assert np.allclose(plain, result.values, rtol=1e-4, atol=1e-6)
            land = source.landscape
            print(f"{name}: {land.dim:,} parameters, {len(land.data.x_train)} train + "
                  f"{len(land.data.x_test)} test samples (trained in {train_time:.1f} s)")
            print(f"  slice (train+test loss, accuracy): {ours:.2f} s; plain loop (train loss "
                  f"only): {base:.2f} s; ratio {base / ours:.2f}")
            start = time.perf_counter()
            eig = hessian_directions(land, k=2, iterations=20)
            print(f"  Lanczos top-2 Hessian eigenpairs (20 HVPs): {time.perf_counter() - start:.2f} s;"
                  f" eigenvalues {eig.values[0]:.4g}, {eig.values[1]:.4g}")


if __name__ == "__main__":
    main()
