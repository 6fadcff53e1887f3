"""Skip connections: how rough the loss landscape of the digits resnet is with and without them.

The examples ``digits-resnet`` and ``digits-plainnet`` are the same deep CNN (stem + residual
blocks, BatchNorm) with and without identity skips, trained alike
(``landscapes/networks/examples.py``). For each, a filter-normalized 2-D slice through the
trained weights (Li et al. 2018; by default the guided scenario's slice, direction seed 0) and
its roughness (:mod:`landscapes.roughness`): grid local minima (strict, 8 neighbours); the
fraction of points where the slice's discrete Hessian is not positive definite, over the whole
slice and over the points whose loss is below ln 10 (a guess's: the low region, away from the
walls where the frozen BatchNorm statistics blow the loss up); the median
|lambda_min / lambda_max|; then the ratio plain / residual of each.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/skips.py [--steps 21] [--span 1.0] [--seed 0]
[--cache DIR]`` (the examples are trained into ``--cache`` on first use: seconds each).
"""

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from landscapes.networks.views import compute_slice, example_source
from landscapes.roughness import Roughness, nonconvex_fraction

PAIR = ("digits-resnet", "digits-plainnet")


GUESS = math.log(10)  # the loss of a uniform guess over the ten digits


@dataclass(frozen=True)
class Row:
    """One example's figures."""

    rough: Roughness
    low_nonconvex: float  # non-convex share among points with loss below GUESS
    centre: float
    seconds: float


def measure(name: str, cache: Path, steps: int, span: float, seed: int) -> Row:
    """Example ``name``'s slice (directions from ``seed``) and its figures."""
    start = time.perf_counter()
    source = example_source(name, cache)
    result = compute_slice(source, {"dims": 2, "steps": steps, "span": span,
                                    "directions": "filter", "direction_seed": seed})
    return Row(Roughness.of(result.values), nonconvex_fraction(result.values, GUESS),
               result.meta["center_energy"], time.perf_counter() - start)


def _ratio(plain: float, residual: float) -> str:
    return f"{plain / residual:.2f}" if residual else "inf" if plain else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=21, help="grid points per axis")
    parser.add_argument("--span", type=float, default=1.0, help="half-width in filter norms")
    parser.add_argument("--cache", help="where the examples are trained (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=0, help="direction seed (0: the scenario's)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache or tmp)
        rows = {name: measure(name, cache, args.steps, args.span, args.seed) for name in PAIR}
    print(f"{args.steps}x{args.steps} filter-normalized slice, span {args.span:g}, "
          f"direction seed {args.seed}")
    print(f"{'example':16s} {'centre loss':>11s} {'minima':>7s} {'non-convex':>10s} "
          f"{'(loss<ln10)':>11s} {'|l_min/l_max|':>13s} {'seconds':>8s}")
    for name, row in rows.items():
        print(f"{name:16s} {row.centre:11.4f} {row.rough.minima:7d} {row.rough.nonconvex:10.3f} "
              f"{row.low_nonconvex:11.3f} {row.rough.curvature_ratio:13.3f} {row.seconds:8.1f}")
    residual, plain = rows[PAIR[0]], rows[PAIR[1]]
    print(f"{'plain / resnet':16s} {'':11s} "
          f"{_ratio(plain.rough.minima, residual.rough.minima):>7s} "
          f"{_ratio(plain.rough.nonconvex, residual.rough.nonconvex):>10s} "
          f"{_ratio(plain.low_nonconvex, residual.low_nonconvex):>11s} "
          f"{_ratio(plain.rough.curvature_ratio, residual.rough.curvature_ratio):>13s}")


if __name__ == "__main__":
    main()
