"""Start-up benchmark: the ``landscapes`` command as a whole process, against a bare
``python -c "import torch"`` on the same machine.

Runs, alternately, ``--rounds`` times each (default 5): the bare torch import, ``landscapes
--help``, ``landscapes enumerate ising --n 16`` and ``landscapes funnel ising --n 16`` (each to a
temporary file), and one network command (a 21x21 slice of the moons example, whose network is
trained into a temporary cache before the rounds). Prints the median wall time of each and the
ratio of the spin commands to the bare import (target: enumerate at most 0.5x), and which heavy
modules each command imported (torch, numba, scipy.optimize, onnx: the spin commands none).

Usage: python benchmarks/startup.py [--rounds 5]

Wall times of short processes are noisy on a shared machine: compare ratios within one run.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "numba", "scipy.optimize", "onnx")
#: prints the heavy modules a command imported, after it ran (an exit hook of the process)
PROBE = ("import atexit, sys; atexit.register(lambda: print('loaded:', ','.join(m for m in {heavy} "
         "if m in sys.modules) or '-', file=sys.stderr)); from landscapes.cli import main; "
         "sys.exit(main(sys.argv[1:]))")


def landscapes(*args: str) -> list[str]:
    """The ``landscapes`` command line, run as its console script does (through its main)."""
    return [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of ``command`` as a whole process, and the heavy modules it reported."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[3:]) or command}: exit {result.returncode}\n"
                         f"{result.stderr[-2000:]}")
    loaded = [line.split(":", 1)[1].strip() for line in result.stderr.splitlines()
              if line.startswith("loaded:")]
    return seconds, loaded[-1] if loaded else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        env = {**os.environ, "FUNNELSCOPE_CACHE_DIR": str(out / "cache")}
        commands = {
            "python -c 'import torch'": [sys.executable, "-c", "import torch"],
            "landscapes --help": landscapes("--help"),
            "landscapes enumerate ising --n 16": landscapes(
                "enumerate", "ising", "--n", "16", "--out", str(out / "e.npz")),
            "landscapes funnel ising --n 16": landscapes(
                "funnel", "ising", "--n", "16", "--out", str(out / "f.npz")),
            "landscapes slice network (moons, 21x21)": landscapes(
                "slice", "network", "--example", "moons-mlp", "--steps", "21",
                "--cache-dir", str(out / "cache"), "--out", str(out / "n.npz")),
        }
        timed(commands["landscapes slice network (moons, 21x21)"], env)  # trains the example
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        loaded: dict[str, str] = {}
        for _ in range(args.rounds):
            for name, command in commands.items():
                wall, modules = timed(command, env)
                seconds[name].append(wall)
                loaded[name] = modules
    bare = statistics.median(seconds["python -c 'import torch'"])
    print(f"whole processes, median of {args.rounds} alternating runs ({os.cpu_count()} cores)")
    print(f"{'command':42s} {'median s':>9s} {'x bare torch':>13s}  heavy modules imported")
    for name, walls in seconds.items():
        median = statistics.median(walls)
        modules = "torch (all it does)" if name.startswith("python") else loaded.get(name) or "-"
        print(f"{name:42s} {median:9.2f} {median / bare:13.2f}  {modules}")
    enumerate_ratio = statistics.median(seconds["landscapes enumerate ising --n 16"]) / bare
    verdict = "met" if enumerate_ratio <= 0.5 else "NOT met"
    print(f"\nenumerate ising --n 16 / bare import torch = {enumerate_ratio:.2f}x "
          f"(target <= 0.5x: {verdict})")


if __name__ == "__main__":
    main()
