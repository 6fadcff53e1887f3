"""Funnel physics figures: enumeration and barrier-tree times (n = 16, 18, 20), how the funnel
sharpens with the native bias (ground-state basin share, number of minima; n = 16, averaged over
20 seeds), and how long the dashboard's funnel view takes once cached (n = 16).

Run: ``.venv/bin/python benchmarks/funnel.py`` (or ``make bench``). Times are the best of
``--repeat`` interleaved runs (enumeration, then tree, then again): the machines are shared, so
the ratio measured in the same run is the figure to compare (the target: enumeration plus
tree within 2x the enumeration alone at n = 20).
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from landscapes.spin.barriers import barrier_tree, default_threads, fold_mirror
from landscapes.spin.enumeration import enumerate_ising
from landscapes.spin.models import IsingFunnel


def interleaved(repeat: int, model: IsingFunnel, threads: int | None = None,
                clock=time.perf_counter) -> tuple[float, float, object]:  # noqa: ANN001
    """Best enumeration and best barrier-tree time over ``repeat`` alternating runs."""
    t_enum, t_tree, tree = np.inf, np.inf, None
    for _ in range(repeat):
        start = clock()
        result = enumerate_ising(model)
        middle = clock()
        tree = barrier_tree(result.energies, model.n, threads)
        end = clock()
        t_enum, t_tree = min(t_enum, middle - start), min(t_tree, end - middle)
    return t_enum, t_tree, tree


def timings(repeat: int) -> None:
    """Wall times in 1 thread and the default threads; and, in 1 thread, this thread's CPU time
    (time.thread_time: what other processes on a shared machine disturb least)."""
    barrier_tree(enumerate_ising(IsingFunnel.create(n=8)).energies, 8)  # compile (numba) first
    runs = [(threads, "wall", time.perf_counter) for threads in sorted({1, default_threads()})]
    for threads, kind, clock in [(1, "CPU", time.thread_time), *runs]:
        print(f"barrier tree in {threads} thread(s), {kind} time (the enumeration: numpy, as it "
              "comes):")
        for n in (16, 18, 20):
            model = IsingFunnel.create(n=n, native_bias=1.0, seed=0)
            t_enum, t_tree, tree = interleaved(repeat, model, threads, clock)
            print(f"  n={n}: enumeration {t_enum * 1e3:.1f} ms; barrier tree {t_tree * 1e3:.1f} ms;"
                  f" together {(t_enum + t_tree) / t_enum:.2f}x the enumeration (target <= 2); "
                  f"{len(tree.minima)} minima ({len(fold_mirror(tree).minima)} mirror classes)")


def bias_table(seeds: int) -> None:
    print(f"n=16, {seeds} seeds each: native bias J0 -> ground-state basin share (both mirrors), "
          "minima (mirror classes), mean +- std")
    for bias in (0.0, 1.0, 2.0, 3.0):
        shares, counts = [], []
        for seed in range(seeds):
            result = enumerate_ising(IsingFunnel.create(n=16, native_bias=bias, seed=seed))
            tree = fold_mirror(barrier_tree(result.energies, 16))
            shares.append(tree.basin_share[0])
            counts.append(len(tree.minima))
        print(f"  J0={bias:.0f}: basin share {np.mean(shares):.3f} +- {np.std(shares):.3f}; "
              f"minima {np.mean(counts):.1f} +- {np.std(counts):.1f}")


def cached_view(repeat: int) -> None:
    """The dashboard's funnel view for n = 16: first (computed) and cached (figures only)."""
    from app import create_app, ids
    from app.callbacks.panels import panel_output
    from app.config import Config
    from app.controls import MODEL_NAMES

    with tempfile.TemporaryDirectory() as tmp:
        store = create_app(Config(cache_dir=Path(tmp))).server.extensions["funnelscope_store"]
        controls = {name: None for name in MODEL_NAMES} | {
            ids.MODEL: "ising", ids.VIEW: "funnel", ids.ISING_N: 16, ids.NATIVE_BIAS: 2.0,
            ids.SEED: 0, ids.PATH_FROM: "random:0", ids.PATH_TO: "ground", ids.SPAN: 1.0,
            ids.STEPS: 51, ids.CENTER: "minimum:0", ids.DIRECTIONS: "random",
            ids.REFERENCE: "native"}
        start = time.perf_counter()
        panel_output(store, controls, {})
        first = time.perf_counter() - start
        best = np.inf
        for _ in range(repeat):
            start = time.perf_counter()
            panel_output(store, controls, {})
            best = min(best, time.perf_counter() - start)
    print(f"funnel view n=16 (J0=2): first {first:.2f} s (enumeration, tree, F(Q;T) grid, paths); "
          f"cached {best * 1e3:.0f} ms (cache read and figures; target < 1 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    timings(args.repeat)
    bias_table(args.seeds)
    cached_view(args.repeat)


if __name__ == "__main__":
    main()
