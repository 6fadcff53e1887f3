"""The Hessian spectrum view: its time and accuracy against the dense Hessian's spectrum.

For each example network (default: the moons MLP and the digits CNN), at its trained weights:

* the spectrum as the dashboard and ``landscapes spectrum`` compute it (the view's defaults:
  8 top eigenvalues by 60 Lanczos iterations, 16 probes x 60 Lanczos steps) -- wall time;
* the baseline: the dense Hessian (one Hessian-vector product per parameter) and its exact
  eigenvalues (``numpy.linalg.eigvalsh``) -- wall time and the ratio;
* how close the estimates come to the exact spectrum: the top eigenvalues' largest error, the
  trace's error in standard errors, the density's mean's relative error;
* the trace's relative standard error with the top-k Ritz values counted exactly (this view's
  estimator) against plain Hutchinson on as many Rademacher probes (no deflation), and the
  ratio (its square: how many times more probes plain Hutchinson needs for the same error).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/spectrum.py [--examples moons-mlp digits-cnn]
[--cache DIR]`` (examples are trained into ``--cache`` on first use: seconds each).
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from landscapes.networks.catalog import SPECTRUM_DEFAULTS
from landscapes.networks.hessian import hvp_function
from landscapes.networks.spectrum import hessian_spectrum
from landscapes.networks.views import example_source
from landscapes.seeding import rng


def _timed(call):
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


def dense_eigenvalues(hvp, dim: int) -> np.ndarray:
    """Every eigenvalue of the dense Hessian (its columns one product each), ascending."""
    eye = torch.eye(dim)
    dense = torch.stack([hvp(eye[i]) for i in range(dim)]).double().numpy()
    return np.linalg.eigvalsh((dense + dense.T) / 2)


def plain_hutchinson(hvp, dim: int, probes: int, seed: int = 0) -> tuple[float, float]:
    """Trace and standard error from ``probes`` Rademacher vectors, no deflation."""
    samples = []
    for z in rng(seed, "hutchinson").choice([-1.0, 1.0], size=(probes, dim)):
        v = torch.as_tensor(z, dtype=torch.float32)
        samples.append(float(v @ hvp(v)))
    values = np.asarray(samples)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(probes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="+", default=["moons-mlp", "digits-cnn"])
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "funnelscope-bench")
    args = parser.parse_args()
    view = SPECTRUM_DEFAULTS
    print(f"defaults: top {view['top']} ({view['iterations']} Lanczos iterations), "
          f"{view['probes']} probes x {view['steps']} Lanczos steps; torch threads "
          f"{torch.get_num_threads()}")
    for name in args.examples:
        land = example_source(name, args.cache / "examples").landscape
        hvp = hvp_function(land.loss_function("train"), land.center)
        s, t_spectrum = _timed(lambda hvp=hvp, dim=land.dim: hessian_spectrum(
            hvp, dim, view["top"], view["iterations"], view["probes"], view["steps"]))
        exact, t_dense = _timed(lambda hvp=hvp, dim=land.dim: dense_eigenvalues(hvp, dim))
        top_error = np.abs(s.top.values - exact[::-1][: len(s.top.values)]).max()
        mean = np.trapezoid(s.grid * s.density, s.grid)
        print(f"{name} ({land.dim:,} parameters): trace {s.trace:.5g} +- {s.trace_stderr:.2g} "
              f"(exact {exact.sum():.5g}: {(s.trace - exact.sum()) / s.trace_stderr:+.2f} "
              f"standard errors), top eigenvalue {s.top.values[0]:.5g}")
        print(f"  time: spectrum {t_spectrum:.1f} s, dense Hessian + eigvalsh {t_dense:.1f} s: "
              f"{t_dense / t_spectrum:.1f}x")
        print(f"  top eigenvalues' largest error {top_error:.1e}; density's mean off by "
              f"{(mean - exact.mean()) / exact.mean():+.2%}")
        trace, stderr = plain_hutchinson(hvp, land.dim, view["probes"])
        deflated, plain = s.trace_stderr / abs(s.trace), stderr / abs(trace)
        print(f"  trace's relative standard error with {view['probes']} probes: deflated "
              f"{deflated:.2%}, plain Hutchinson {plain:.2%}: {plain / deflated:.1f}x smaller, "
              f"worth {(plain / deflated) ** 2:.0f}x the probes")


if __name__ == "__main__":
    main()
